package bff

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"

	"github.com/bff-project/bff/bff/config"
	"github.com/bff-project/bff/bff/oidcclient"
)

// This file holds Check, for `bff check`: Validate, Audit and provider discovery.

// Check validates cfg and fetches the provider's discovery document
// ({issuer}/.well-known/openid-configuration, 10s timeout, using
// cfg.HTTPClient when set), as `bff check` does. problems holds every
// *[config.Error] (nil when cfg is usable); warnings holds Audit's
// warnings and notes about what the provider does not advertise.
func Check(ctx context.Context, cfg Config) (problems []error, warnings []string) {
	cfg.SetDefaults()
	problems = config.Problems(nil, cfg.Validate())
	warnings = cfg.Audit()
	if cfg.OIDC.Issuer != "" && !slices.ContainsFunc(problems, func(p error) bool {
		ce, ok := p.(*config.Error)
		return ok && ce.Key == "oidc.issuer"
	}) {
		valid := len(problems) == 0
		p, w := checkDiscovery(ctx, cfg)
		problems = append(problems, p...)
		warnings = append(warnings, w...)
		if valid && len(p) == 0 {
			problems = append(problems, checkClient(ctx, cfg)...)
		}
	}
	if cfg.SPA.Dir != "" {
		if fi, err := os.Stat(cfg.SPA.Dir); err != nil || !fi.IsDir() {
			problems = append(problems, &config.Error{Key: "spa.dir", Problem: "not a readable directory"})
		}
	}
	return problems, warnings
}

func problem(key, format string, args ...any) error {
	return &config.Error{Key: key, Problem: fmt.Sprintf(format, args...)}
}

// checkClient builds the provider client as start-up does (the key and
// certificate files load) and checks what the configuration requires of
// the provider (PAR, DPoP, the fapi2 profile).
func checkClient(ctx context.Context, cfg Config) []error {
	c, _, err := newProviderClient(cfg, cfg.PublicURL)
	if err == nil {
		err = asConfigError(c.Check(ctx))
	}
	if errors.Is(err, oidcclient.ErrUnavailable) {
		return nil // discovery's own failure is reported by checkDiscovery
	}
	return config.Problems(nil, err)
}

func checkDiscovery(ctx context.Context, cfg Config) (problems []error, warnings []string) {
	d, err := oidcclient.FetchMetadata(ctx, cfg.OIDC.Issuer, cfg.HTTPClient)
	if err != nil {
		return []error{problem("oidc.issuer", "discovery failed: %v", err)}, nil
	}
	if len(d.TokenAuthMethods) > 0 && !slices.Contains(d.TokenAuthMethods, cfg.OIDC.ClientAuth) {
		problems = append(problems, problem("oidc.client_auth", "the provider does not support it (see token_endpoint_auth_methods_supported)"))
	}
	switch {
	case len(d.CodeChallengeMethods) == 0:
		warnings = append(warnings, "oidc.issuer does not advertise PKCE (code_challenge_methods_supported): make sure it enforces S256")
	case !slices.Contains(d.CodeChallengeMethods, "S256"):
		problems = append(problems, problem("oidc.issuer", "the provider does not support PKCE S256"))
	}
	if len(d.GrantTypes) > 0 {
		for i, a := range cfg.APIs {
			if a.Exchange == "token-exchange" && !slices.Contains(d.GrantTypes, oidcclient.GrantTokenExchange) {
				problems = append(problems, problem(fmt.Sprintf("apis[%d].exchange", i), "the provider does not support token exchange (see grant_types_supported)"))
			}
			if a.Token == "client" && !slices.Contains(d.GrantTypes, "client_credentials") {
				problems = append(problems, problem(fmt.Sprintf("apis[%d].token", i), "the provider does not support client_credentials (see grant_types_supported)"))
			}
		}
	}
	if d.EndSessionEndpoint == "" {
		warnings = append(warnings, "oidc.issuer has no end_session_endpoint: logout ends the BFF session but not the sign-in at the provider")
	}
	if d.RevocationEndpoint == "" {
		warnings = append(warnings, "oidc.issuer has no revocation_endpoint: logout cannot revoke refresh tokens")
	}
	if !d.BackchannelLogout {
		warnings = append(warnings, "oidc.issuer does not advertise back-channel logout: signing out at the provider leaves BFF sessions open until they expire")
	}
	return problems, warnings
}
