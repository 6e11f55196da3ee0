package config

import (
	"fmt"
	"net/netip"
	"net/url"
	"slices"
)

// This file holds Config.Audit: start-up warnings about risky settings.

// Audit returns start-up warnings: settings that work but weaken security or
// surprise operators. Each is a sentence naming the key. cmd/bff logs them
// at WARN and `bff check` prints them. Problems that stop start-up are
// [Config.Validate]'s job, not Audit's.
func (c Config) Audit() []string {
	c.SetDefaults()
	var w []string
	if u, err := url.Parse(c.PublicURL); err == nil && u.Scheme == "http" && u.Host != "" && !isLoopbackHost(u.Hostname()) {
		w = append(w, "public_url uses plain http for a non-loopback host: browsers will not store the Secure __Host- session cookie and traffic is readable; use https")
	}
	if c.Session.SameSite == "lax" {
		w = append(w, "session.same_site is lax: the session cookie is sent on top-level navigations from other sites; use strict unless sign-in links from other sites must land signed in")
	}
	if len(c.Session.EncryptionKeys) == 1 {
		w = append(w, "session.encryption_keys has a single key: plan rotation by prepending a new key (bff keygen) and later dropping the old one; the README documents rotating at least every 90 days")
	}
	for i, a := range c.APIs {
		if u, err := url.Parse(a.Upstream); err == nil && u.Scheme == "http" && u.Host != "" && !isPrivateHost(u.Hostname()) {
			w = append(w, fmt.Sprintf("apis[%d].upstream uses plain http to a public host: access tokens cross the network unencrypted; use https", i))
		}
	}
	for i, a := range c.APIs {
		for j, r := range a.Require {
			if len(r.AMR) > 0 && len(r.ACR) == 0 {
				w = append(w, fmt.Sprintf("apis[%d].require[%d] has amr but no acr: OpenID Connect cannot ask a provider for authentication methods, so its step-up sign-in only forces a fresh login (prompt=login); add the acr value your provider maps to those methods", i, j))
			}
		}
	}
	w = append(w, c.providerWarnings()...)
	if !slices.Contains(c.OIDC.Scopes, "offline_access") && c.OIDC.Provider != ProviderGoogle {
		w = append(w, "oidc.scopes lacks offline_access: without a refresh token, sessions end when the access token expires")
	}
	if u, err := url.Parse(c.OIDC.Issuer); err == nil && u.Scheme == "http" && c.OIDC.ClientAuth == "client_secret_post" {
		w = append(w, "oidc.client_auth is client_secret_post while oidc.issuer is plain http: the client secret is sent unencrypted; use https")
	}
	for i, a := range c.APIs {
		// Entra ID's preset turns it off on purpose (one API per request).
		if !a.SignIn() && (a.Resource != "" || len(a.Scopes) > 0) && c.OIDC.Provider != ProviderEntra {
			w = append(w, fmt.Sprintf("apis[%d].at_sign_in is false: its resource and scopes are not requested at sign-in, so a strict RFC 8707 provider refuses its token (invalid_target, invalid_scope); some rotate the refresh token while refusing", i))
		}
	}
	for i, p := range c.TrustedProxies {
		if pfx, err := netip.ParsePrefix(p); err == nil && pfx.Bits() == 0 {
			w = append(w, fmt.Sprintf("trusted_proxies[%d] trusts every address: any client can forge X-Forwarded-For and evade the login rate limit; list only your load balancers", i))
		}
	}
	if u, err := url.Parse(c.PublicURL); err == nil && u.Host != "" && !isLoopbackHost(u.Hostname()) && c.MetricsListen == "" {
		w = append(w, "metrics_listen is not set: /metrics is served on listen to anyone who reaches the BFF; set metrics_listen to an address only your monitoring reaches")
	}
	if c.RateLimit.LoginPerMinute < 0 {
		w = append(w, "rate_limit.login_per_minute is negative: the login and callback rate limit is off")
	}
	return w
}
