package config

import (
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strings"
)

// This file holds the provider presets (oidc.provider): each provider's
// known quirks, as defaults (applyProvider, from SetDefaults), problems
// (validator.provider) and warnings (providerWarnings, from Audit). What a
// preset changes in requests at run time (Entra ID's audience in the
// scope) is oidcclient's; everything else is a default here, so that
// `bff check` and the README say what is in force.

// Provider presets, the values of oidc.provider.
const (
	ProviderGeneric  = "generic"
	ProviderEntra    = "entra"
	ProviderOkta     = "okta"
	ProviderAuth0    = "auth0"
	ProviderKeycloak = "keycloak"
	ProviderGoogle   = "google"
)

var providers = []string{ProviderGeneric, ProviderEntra, ProviderOkta, ProviderAuth0, ProviderKeycloak, ProviderGoogle}

// GoogleIssuer is Google's one issuer.
const GoogleIssuer = "https://accounts.google.com"

// applyProvider fills in the preset's defaults. It runs before the
// generic defaults, is idempotent, and copies what it changes.
func (c *Config) applyProvider() {
	o := &c.OIDC
	switch o.Provider {
	case ProviderAuth0:
		// Auth0's issuer is its domain with a trailing slash; discovery
		// answers with it and go-oidc compares exactly. Only Auth0's own
		// domains are known to be Auth0's (a custom domain is too, but
		// cannot be told apart from any other issuer).
		if u, err := url.Parse(o.Issuer); err == nil && strings.HasSuffix(u.Hostname(), ".auth0.com") && u.Path == "" {
			o.Issuer += "/"
		}
		// Auth0 reads one audience at sign-in, and without one silently
		// issues a token for the tenant's default audience (or an opaque
		// one for /userinfo). Ask for the first signed-in route's.
		if _, set := o.AuthParams["audience"]; !set {
			if aud := firstSignInAudience(c.APIs); aud != "" {
				o.AuthParams = maps.Clone(o.AuthParams)
				if o.AuthParams == nil {
					o.AuthParams = map[string]string{}
				}
				o.AuthParams["audience"] = aud
			}
		}
	case ProviderEntra:
		// Entra ID offers front-channel logout only.
		if o.FrontchannelLogout == nil {
			o.FrontchannelLogout = new(true)
		}
		c.APIs = slices.Clone(c.APIs)
		for i := range c.APIs {
			a := &c.APIs[i]
			// One request may name one resource's scopes only
			// (AADSTS28000): each API's token comes from the refresh
			// grant, none at sign-in.
			if a.AtSignIn == nil {
				a.AtSignIn = new(false)
			}
			a.Scopes = entraScopes(a.Audience, a.Scopes)
		}
	case ProviderKeycloak, ProviderOkta:
		// Their refresh grant ignores audience: an API's own token comes
		// from token exchange (Keycloak's standard token exchange v2,
		// Okta's on-behalf-of exchange).
		c.APIs = slices.Clone(c.APIs)
		for i := range c.APIs {
			if a := &c.APIs[i]; a.Exchange == "" && a.Audience != "" {
				a.Exchange = "token-exchange"
			}
		}
	case ProviderGoogle:
		setDefault(&o.Issuer, GoogleIssuer)
		// Google refuses the offline_access scope and issues a refresh
		// token only for access_type=offline, on a consent screen.
		if len(o.Scopes) == 0 {
			o.Scopes = []string{"openid", "profile", "email"}
		}
		_, hasAccess := o.AuthParams["access_type"]
		_, hasPrompt := o.AuthParams["prompt"]
		if !hasAccess || !hasPrompt {
			o.AuthParams = maps.Clone(o.AuthParams)
			if o.AuthParams == nil {
				o.AuthParams = map[string]string{}
			}
			if !hasAccess {
				o.AuthParams["access_type"] = "offline"
			}
			if !hasPrompt {
				o.AuthParams["prompt"] = "consent"
			}
		}
	}
	setDefault(&o.Provider, ProviderGeneric)
}

func setDefault(p *string, v string) {
	if *p == "" {
		*p = v
	}
}

// firstSignInAudience is the audience of the first user route asked for
// at sign-in.
func firstSignInAudience(apis []APIConfig) string {
	for _, a := range apis {
		if a.Audience != "" && a.SignIn() && (a.Token == "" || a.Token == "user" || a.Token == "user-optional") {
			return a.Audience
		}
	}
	return ""
}

// entraScopes are an Entra ID API's scopes, named by its App ID URI
// (audience): <audience>/.default when none are listed, and the
// audience put before each listed one that names no resource.
func entraScopes(audience string, scopes []string) []string {
	if audience == "" {
		return scopes
	}
	if len(scopes) == 0 {
		return []string{strings.TrimSuffix(audience, "/") + "/.default"}
	}
	out := make([]string, len(scopes))
	for i, s := range scopes {
		if strings.Contains(s, "/") {
			out[i] = s
		} else {
			out[i] = strings.TrimSuffix(audience, "/") + "/" + s
		}
	}
	return out
}

// provider reports settings the preset's provider cannot honour.
func (v *validator) provider(c Config) {
	o := c.OIDC
	if !slices.Contains(providers, o.Provider) {
		v.add("oidc.provider", "must be one of %s", strings.Join(providers, ", "))
		return
	}
	api := func(i int, k string) string { return fmt.Sprintf("apis[%d].%s", i, k) }
	for i, a := range c.APIs {
		if a.Resource == "" {
			continue
		}
		switch o.Provider {
		case ProviderAuth0:
			v.add(api(i, "resource"), "Auth0 reads audience, not resource (RFC 8707): set apis[%d].audience to the API's identifier", i)
		case ProviderEntra:
			v.add(api(i, "resource"), "Entra ID's v2 endpoint refuses the resource parameter (AADSTS901002): set apis[%d].audience to the API's App ID URI", i)
		case ProviderKeycloak:
			v.add(api(i, "resource"), "Keycloak does not read resource indicators (RFC 8707): set apis[%d].audience to the API's client ID", i)
		case ProviderGoogle:
			v.add(api(i, "resource"), "Google issues one access token for its APIs: routes cannot ask for a resource")
		}
	}
	switch o.Provider {
	case ProviderEntra:
		if u, err := url.Parse(o.Issuer); err == nil {
			if seg := strings.Split(strings.Trim(u.Path, "/"), "/")[0]; slices.Contains([]string{"common", "organizations", "consumers"}, seg) {
				v.add("oidc.issuer", "Entra ID's %s endpoint has no fixed issuer (its discovery names {tenantid}); use https://login.microsoftonline.com/<tenant ID>/v2.0", seg)
			}
		}
		signIn := 0
		for i, a := range c.APIs {
			if a.SignIn() && len(a.Scopes) > 0 {
				if signIn++; signIn > 1 {
					v.add(api(i, "at_sign_in"), "Entra ID refuses scopes of more than one API in one request (AADSTS28000): at most one route may set at_sign_in: true")
				}
			}
			if a.Exchange == "token-exchange" {
				v.add(api(i, "exchange"), "Entra ID has no RFC 8693 token exchange (its on-behalf-of flow is for APIs, not clients): use refresh")
			}
		}
	case ProviderAuth0:
		for i, a := range c.APIs {
			if a.Exchange == "token-exchange" {
				v.add(api(i, "exchange"), "Auth0 has no RFC 8693 token exchange for access tokens: use refresh (multi-resource refresh tokens)")
			}
		}
	case ProviderGoogle:
		if slices.Contains(o.Scopes, "offline_access") {
			v.add("oidc.scopes", "Google refuses offline_access (invalid_scope); the preset asks for a refresh token with access_type=offline and prompt=consent")
		}
		for i, a := range c.APIs {
			if a.Audience != "" || len(a.Scopes) > 0 || a.Exchange == "token-exchange" {
				v.add(api(i, "audience"), "Google issues one access token, for the scopes asked at sign-in: list Google API scopes in oidc.scopes and leave the route's audience, scopes and exchange unset")
			}
		}
	}
}

// providerWarnings are the preset's start-up warnings: settings that
// work but that the provider likely treats otherwise than meant.
func (c Config) providerWarnings() []string {
	var w []string
	o := c.OIDC
	switch o.Provider {
	case ProviderOkta:
		if u, err := url.Parse(o.Issuer); err == nil && !strings.HasPrefix(u.Path, "/oauth2/") {
			w = append(w, "oidc.issuer is an Okta org authorization server: its access tokens are for Okta's own APIs and yours cannot validate them; use a custom authorization server (https://<domain>/oauth2/default or /oauth2/<id>)")
		}
		for i, a := range c.APIs {
			if a.Resource != "" {
				w = append(w, fmt.Sprintf("apis[%d].resource: Okta's authorization servers have one audience each and do not read resource indicators; the token will be checked for it", i))
			}
		}
	case ProviderKeycloak:
		if u, err := url.Parse(o.Issuer); err == nil && !strings.Contains(u.Path, "/realms/") {
			w = append(w, "oidc.issuer has no /realms/<realm> path: Keycloak's issuer is https://<host>/realms/<realm> (before Keycloak 17: /auth/realms/<realm>)")
		}
	}
	if o.Provider == ProviderGoogle && strings.TrimSuffix(o.Issuer, "/") != GoogleIssuer {
		w = append(w, "oidc.issuer is not Google's ("+GoogleIssuer+") while oidc.provider is google")
	}
	if o.Provider == ProviderKeycloak || o.Provider == ProviderOkta {
		for i, a := range c.APIs {
			if a.Audience != "" && a.Exchange == "refresh" {
				w = append(w, fmt.Sprintf("apis[%d].exchange is refresh: %s's refresh grant ignores audience, so the token will be refused as token_audience_mismatch; use token-exchange", i, o.Provider))
			}
		}
	}
	return w
}
