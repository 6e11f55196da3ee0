package oidcclient

import (
	"context"
	"errors"
	"slices"
	"sync"
)

// offers is what discovery says the provider can do for a FAPI-grade
// client (RFC 8414, RFC 9126, RFC 9449, RFC 8705, RFC 9207).
type offers struct {
	PAREndpoint           string            `json:"pushed_authorization_request_endpoint"`
	RequirePAR            bool              `json:"require_pushed_authorization_requests"`
	DPoPAlgs              []string          `json:"dpop_signing_alg_values_supported"`
	MTLSAliases           map[string]string `json:"mtls_endpoint_aliases"`
	IntrospectionEndpoint string            `json:"introspection_endpoint"`
	AuthMethods           []string          `json:"token_endpoint_auth_methods_supported"`
	AuthSigningAlgs       []string          `json:"token_endpoint_auth_signing_alg_values_supported"`
	CodeChallengeMethods  []string          `json:"code_challenge_methods_supported"`
	ISSParameter          bool              `json:"authorization_response_iss_parameter_supported"`
}

// dpopES256 reports whether the provider takes DPoP proofs signed the
// way DPoPKey signs them.
func (o *offers) dpopES256() bool { return slices.Contains(o.DPoPAlgs, "ES256") }

// checkOffers reports every requirement of the configuration the
// provider cannot meet, as *ConfigError values naming the key.
func (c *Client) checkOffers(o *offers) error {
	var errs []error
	bad := func(key, problem string) { errs = append(errs, &ConfigError{Key: key, Problem: problem}) }
	switch {
	case c.cfg.PAR == ModeRequire && o.PAREndpoint == "":
		bad("oidc.par", "require: the provider advertises no pushed_authorization_request_endpoint (RFC 9126)")
	case o.RequirePAR && o.PAREndpoint == "":
		bad("oidc.par", "the provider requires pushed authorization requests but advertises no pushed_authorization_request_endpoint")
	case o.RequirePAR && c.cfg.PAR == ModeOff:
		bad("oidc.par", "off: the provider requires pushed authorization requests (require_pushed_authorization_requests); use auto")
	}
	if c.cfg.DPoP == ModeRequire && !o.dpopES256() {
		bad("oidc.dpop", "require: the provider does not advertise DPoP with ES256 (dpop_signing_alg_values_supported, RFC 9449)")
	}
	if c.cfg.Profile == ProfileFAPI2 {
		if !o.ISSParameter {
			bad("oidc.profile", "fapi2: the provider does not advertise the RFC 9207 iss parameter (authorization_response_iss_parameter_supported)")
		}
		if !slices.Contains(o.CodeChallengeMethods, "S256") {
			bad("oidc.profile", "fapi2: the provider does not advertise PKCE S256 (code_challenge_methods_supported)")
		}
		if len(o.AuthMethods) > 0 && !slices.Contains(o.AuthMethods, c.cfg.AuthMethod) {
			bad("oidc.client_auth", "fapi2: the provider does not offer "+c.cfg.AuthMethod+" (token_endpoint_auth_methods_supported)")
		}
	}
	return errors.Join(errs...)
}

// Check fetches discovery now (unless it is loaded) and reports whether
// the provider can serve this configuration: a *[ConfigError] (errors.As
// finds it) names the key it cannot meet, for instance oidc.par when PAR
// is required and the provider has no PAR endpoint; [ErrUnavailable] when
// it could not be asked.
func (c *Client) Check(ctx context.Context) error {
	_, err := c.metadata(ctx)
	return err
}

// Features are the client features in force with the provider's
// discovery: for the start-up log.
type Features struct {
	ClientAuth string // the client authentication method
	PAR        bool   // authorization requests are pushed (RFC 9126)
	DPoP       bool   // tokens are DPoP-bound (RFC 9449)
	MTLS       bool   // client-authenticated calls go to mtls_endpoint_aliases
}

// Features reports what is in force; ok is false while discovery is not
// loaded.
func (c *Client) Features() (f Features, ok bool) {
	c.mu.Lock()
	m := c.meta
	c.mu.Unlock()
	method := c.cfg.AuthMethod
	if method == "" {
		method = AuthSecretBasic
	}
	f.ClientAuth = method
	if m == nil {
		return f, false
	}
	f.PAR, f.DPoP = m.parURL != "", m.dpop
	f.MTLS = m.mtlsAliased
	return f, true
}

// nonces remembers the last DPoP-Nonce each server gave (RFC 9449 section
// 8), by origin, so the next proof carries it and is not challenged.
type nonces struct{ m sync.Map }

func (n *nonces) get(origin string) string {
	v, _ := n.m.Load(origin)
	s, _ := v.(string)
	return s
}

func (n *nonces) set(origin, v string) {
	if v != "" {
		n.m.Store(origin, v)
	}
}
