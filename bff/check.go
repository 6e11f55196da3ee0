package bff

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"slices"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
)

// This file holds Check, for `bff check`: Validate, Audit and provider discovery.

// Check validates cfg and fetches the provider's discovery document
// ({issuer}/.well-known/openid-configuration, 10s timeout, using
// cfg.HTTPClient when set), as `bff check` does. problems holds every
// *[ConfigError] (nil when cfg is usable); warnings holds [Config.Audit]'s
// warnings and notes about what the provider does not advertise.
func Check(ctx context.Context, cfg Config) (problems []error, warnings []string) {
	cfg.SetDefaults()
	problems = flattenErrors(cfg.Validate())
	warnings = cfg.Audit()
	if checkIssuer(cfg.OIDC.Issuer) == "" {
		p, w := checkDiscovery(ctx, cfg)
		problems = append(problems, p...)
		warnings = append(warnings, w...)
	}
	if cfg.SPA.Dir != "" {
		if fi, err := os.Stat(cfg.SPA.Dir); err != nil || !fi.IsDir() {
			problems = append(problems, configErr("spa.dir", "not a readable directory"))
		}
	}
	return problems, warnings
}

// discovery is the part of the provider metadata Check looks at
// (OpenID Connect Discovery 1.0 section 3, RFC 8414).
type discovery struct {
	TokenAuthMethods     []string `json:"token_endpoint_auth_methods_supported"`
	CodeChallengeMethods []string `json:"code_challenge_methods_supported"`
	GrantTypes           []string `json:"grant_types_supported"`
	EndSession           string   `json:"end_session_endpoint"`
	Revocation           string   `json:"revocation_endpoint"`
	BackchannelLogout    bool     `json:"backchannel_logout_supported"`
}

func checkDiscovery(ctx context.Context, cfg Config) (problems []error, warnings []string) {
	client := cfg.HTTPClient
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	p, err := oidc.NewProvider(oidc.ClientContext(ctx, client), cfg.OIDC.Issuer)
	if err != nil {
		return []error{configErr("oidc.issuer", "discovery failed: %v", err)}, nil
	}
	var d discovery
	if err := p.Claims(&d); err != nil {
		return []error{configErr("oidc.issuer", "discovery document: %v", err)}, nil
	}
	if len(d.TokenAuthMethods) > 0 && !slices.Contains(d.TokenAuthMethods, cfg.OIDC.TokenEndpointAuthMethod) {
		problems = append(problems, configErr("oidc.token_endpoint_auth_method", "the provider does not support it (see token_endpoint_auth_methods_supported)"))
	}
	switch {
	case len(d.CodeChallengeMethods) == 0:
		warnings = append(warnings, "oidc.issuer does not advertise PKCE (code_challenge_methods_supported): make sure it enforces S256")
	case !slices.Contains(d.CodeChallengeMethods, "S256"):
		problems = append(problems, configErr("oidc.issuer", "the provider does not support PKCE S256"))
	}
	if len(d.GrantTypes) > 0 {
		for i, a := range cfg.APIs {
			if a.Exchange == "token-exchange" && !slices.Contains(d.GrantTypes, "urn:ietf:params:oauth:grant-type:token-exchange") {
				problems = append(problems, configErr(fmt.Sprintf("apis[%d].exchange", i), "the provider does not support token exchange (see grant_types_supported)"))
			}
			if a.Token == "client" && !slices.Contains(d.GrantTypes, "client_credentials") {
				problems = append(problems, configErr(fmt.Sprintf("apis[%d].token", i), "the provider does not support client_credentials (see grant_types_supported)"))
			}
		}
	}
	if d.EndSession == "" {
		warnings = append(warnings, "oidc.issuer has no end_session_endpoint: logout ends the BFF session but not the sign-in at the provider")
	}
	if d.Revocation == "" {
		warnings = append(warnings, "oidc.issuer has no revocation_endpoint: logout cannot revoke refresh tokens")
	}
	if !d.BackchannelLogout {
		warnings = append(warnings, "oidc.issuer does not advertise back-channel logout: signing out at the provider leaves BFF sessions open until they expire")
	}
	return problems, warnings
}

// flattenErrors lists the leaves of a tree of joined errors.
func flattenErrors(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, flattenErrors(e)...)
		}
		return out
	}
	return []error{err}
}
