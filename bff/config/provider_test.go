package config

import (
	"reflect"
	"slices"
	"strings"
	"testing"
)

// withProvider is validConfig with preset p and its routes changed by
// apis.
func withProvider(p string, apis ...APIConfig) Config {
	c := validConfig()
	c.OIDC.Provider = p
	if len(apis) > 0 {
		c.APIs = apis
	}
	return c
}

func TestProviderDefaults(t *testing.T) {
	orders := APIConfig{Prefix: "/api/orders/", Upstream: "http://orders.internal", Audience: "https://orders.example.com"}
	billing := APIConfig{Prefix: "/api/billing/", Upstream: "http://billing.internal", Audience: "https://billing.example.com"}
	for _, tc := range []struct {
		name  string
		in    Config
		check func(t *testing.T, c Config)
	}{
		{"generic changes nothing", withProvider("", orders), func(t *testing.T, c Config) {
			if c.OIDC.Provider != ProviderGeneric || c.OIDC.AuthParams != nil || c.OIDC.Frontchannel() || c.APIs[0].Exchange != "refresh" || len(c.APIs[0].Scopes) != 0 {
				t.Errorf("generic: %+v", c.OIDC)
			}
		}},
		{"auth0 asks for the first signed-in route's audience, with the issuer's slash", func() Config {
			c := withProvider(ProviderAuth0,
				APIConfig{Prefix: "/api/anon/", Upstream: "http://x", Audience: "https://client.example.com", Token: "client"}, orders, billing)
			c.OIDC.Issuer = "https://tenant.eu.auth0.com"
			return c
		}(), func(t *testing.T, c Config) {
			if got := c.OIDC.AuthParams["audience"]; got != orders.Audience {
				t.Errorf("auth_params.audience = %q, want %q", got, orders.Audience)
			}
			if c.OIDC.Issuer != "https://tenant.eu.auth0.com/" {
				t.Errorf("issuer = %q, want a trailing slash", c.OIDC.Issuer)
			}
		}},
		{"auth0 leaves another domain's issuer alone", withProvider(ProviderAuth0, orders), func(t *testing.T, c Config) {
			if c.OIDC.Issuer != "https://idp.example.com" {
				t.Errorf("issuer = %q", c.OIDC.Issuer)
			}
		}},
		{"auth0 keeps an audience set by hand", func() Config {
			c := withProvider(ProviderAuth0, orders)
			c.OIDC.AuthParams = map[string]string{"audience": "https://own.example.com"}
			return c
		}(), func(t *testing.T, c Config) {
			if got := c.OIDC.AuthParams["audience"]; got != "https://own.example.com" {
				t.Errorf("auth_params.audience = %q", got)
			}
		}},
		{"entra: .default per API, none at sign-in, front-channel logout", withProvider(ProviderEntra,
			APIConfig{Prefix: "/a/", Upstream: "http://x", Audience: "api://6f1c2a"},
			APIConfig{Prefix: "/b/", Upstream: "http://x", Audience: "api://billing/", Scopes: []string{"Bills.Read", "https://graph.microsoft.com/User.Read"}}),
			func(t *testing.T, c Config) {
				if got := c.APIs[0].Scopes; !slices.Equal(got, []string{"api://6f1c2a/.default"}) {
					t.Errorf("apis[0].scopes = %q", got)
				}
				if got := c.APIs[1].Scopes; !slices.Equal(got, []string{"api://billing/Bills.Read", "https://graph.microsoft.com/User.Read"}) {
					t.Errorf("apis[1].scopes = %q", got)
				}
				if c.APIs[0].SignIn() || c.APIs[1].SignIn() || !c.OIDC.Frontchannel() {
					t.Errorf("at_sign_in %v %v, frontchannel %v: want false false true", c.APIs[0].SignIn(), c.APIs[1].SignIn(), c.OIDC.Frontchannel())
				}
			}},
		{"entra leaves front-channel logout off when told", func() Config {
			c := withProvider(ProviderEntra)
			c.OIDC.FrontchannelLogout = new(false)
			return c
		}(), func(t *testing.T, c Config) {
			if c.OIDC.Frontchannel() {
				t.Error("frontchannel_logout: false was overridden")
			}
		}},
		{"keycloak exchanges for an audience", withProvider(ProviderKeycloak, orders,
			APIConfig{Prefix: "/c/", Upstream: "http://x", Audience: "c", Exchange: "refresh"}, APIConfig{Prefix: "/d/", Upstream: "http://x"}),
			func(t *testing.T, c Config) {
				if got := []string{c.APIs[0].Exchange, c.APIs[1].Exchange, c.APIs[2].Exchange}; !slices.Equal(got, []string{"token-exchange", "refresh", "refresh"}) {
					t.Errorf("exchanges = %q, want token-exchange where unset with an audience", got)
				}
			}},
		{"okta exchanges for an audience", withProvider(ProviderOkta, orders), func(t *testing.T, c Config) {
			if c.APIs[0].Exchange != "token-exchange" {
				t.Errorf("exchange = %q", c.APIs[0].Exchange)
			}
		}},
		{"google: offline access its way", func() Config {
			c := withProvider(ProviderGoogle, APIConfig{Prefix: "/g/", Upstream: "http://x"})
			c.OIDC.Issuer = ""
			return c
		}(), func(t *testing.T, c Config) {
			if c.OIDC.Issuer != GoogleIssuer || slices.Contains(c.OIDC.Scopes, "offline_access") ||
				c.OIDC.AuthParams["access_type"] != "offline" || c.OIDC.AuthParams["prompt"] != "consent" {
				t.Errorf("google: issuer %q scopes %q auth_params %v", c.OIDC.Issuer, c.OIDC.Scopes, c.OIDC.AuthParams)
			}
		}},
		{"google keeps a prompt set by hand", func() Config {
			c := withProvider(ProviderGoogle, APIConfig{Prefix: "/g/", Upstream: "http://x"})
			c.OIDC.AuthParams = map[string]string{"prompt": "select_account consent"}
			return c
		}(), func(t *testing.T, c Config) {
			if c.OIDC.AuthParams["prompt"] != "select_account consent" || c.OIDC.AuthParams["access_type"] != "offline" {
				t.Errorf("auth_params %v", c.OIDC.AuthParams)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := tc.in
			before := deepCopy(in)
			c := in
			c.SetDefaults()
			tc.check(t, c)
			again := deepCopy(c)
			again.SetDefaults()
			if !reflect.DeepEqual(again, c) {
				t.Errorf("SetDefaults is not idempotent:\n%+v\n%+v", c, again)
			}
			if !reflect.DeepEqual(in, before) {
				t.Errorf("SetDefaults changed the Config it was copied from")
			}
		})
	}
}

// deepCopy copies what SetDefaults may change in place.
func deepCopy(c Config) Config {
	c.APIs = slices.Clone(c.APIs)
	for i := range c.APIs {
		c.APIs[i].Scopes = slices.Clone(c.APIs[i].Scopes)
	}
	if c.OIDC.AuthParams != nil {
		m := make(map[string]string, len(c.OIDC.AuthParams))
		for k, v := range c.OIDC.AuthParams {
			m[k] = v
		}
		c.OIDC.AuthParams = m
	}
	c.OIDC.Scopes = slices.Clone(c.OIDC.Scopes)
	return c
}

func TestProviderProblems(t *testing.T) {
	res := APIConfig{Prefix: "/r/", Upstream: "http://x", Resource: "https://orders.example.com/"}
	for _, tc := range []struct {
		name    string
		cfg     Config
		key     string
		message string
	}{
		{"unknown preset", withProvider("azure"), "oidc.provider", "one of generic, entra"},
		{"auth0 resource", withProvider(ProviderAuth0, res), "apis[0].resource", "Auth0 reads audience"},
		{"auth0 token exchange", withProvider(ProviderAuth0, APIConfig{Prefix: "/r/", Upstream: "http://x", Audience: "a", Exchange: "token-exchange"}),
			"apis[0].exchange", "no RFC 8693"},
		{"entra resource", withProvider(ProviderEntra, res), "apis[0].resource", "AADSTS901002"},
		{"entra common endpoint", func() Config {
			c := withProvider(ProviderEntra)
			c.OIDC.Issuer = "https://login.microsoftonline.com/common/v2.0"
			return c
		}(), "oidc.issuer", "common endpoint has no fixed issuer"},
		{"entra two APIs at sign-in", withProvider(ProviderEntra,
			APIConfig{Prefix: "/a/", Upstream: "http://x", Audience: "api://a", AtSignIn: new(true)},
			APIConfig{Prefix: "/b/", Upstream: "http://x", Audience: "api://b", AtSignIn: new(true)}), "apis[1].at_sign_in", "AADSTS28000"},
		{"entra token exchange", withProvider(ProviderEntra, APIConfig{Prefix: "/a/", Upstream: "http://x", Audience: "api://a", Exchange: "token-exchange"}),
			"apis[0].exchange", "on-behalf-of"},
		{"keycloak resource", withProvider(ProviderKeycloak, res), "apis[0].resource", "Keycloak does not read resource"},
		{"google offline_access", func() Config {
			c := withProvider(ProviderGoogle, APIConfig{Prefix: "/g/", Upstream: "http://x"})
			c.OIDC.Issuer, c.OIDC.Scopes = GoogleIssuer, []string{"openid", "offline_access"}
			return c
		}(), "oidc.scopes", "refuses offline_access"},
		{"google route audience", func() Config {
			c := withProvider(ProviderGoogle, APIConfig{Prefix: "/g/", Upstream: "http://x", Audience: "a"})
			c.OIDC.Issuer = GoogleIssuer
			return c
		}(), "apis[0].audience", "one access token"},
		{"token_audiences with a space", func() Config {
			c := validConfig()
			c.APIs[0].TokenAudiences = []string{"a b"}
			return c
		}(), "apis[0].token_audiences[0]", "without spaces"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var found []string
			for _, e := range configErrors(t, tc.cfg.Validate()) {
				found = append(found, e.Key+": "+e.Problem)
				if e.Key == tc.key && strings.Contains(e.Problem, tc.message) {
					return
				}
			}
			t.Errorf("Validate() = %q, want %s: …%s…", found, tc.key, tc.message)
		})
	}
}

// TestProvidersValid: each preset with a configuration its provider
// supports validates, and warns only about what it should.
func TestProvidersValid(t *testing.T) {
	for _, tc := range []struct {
		cfg  Config
		warn string // "" none
	}{
		{withProvider(ProviderAuth0), ""},
		{withProvider(ProviderEntra, APIConfig{Prefix: "/a/", Upstream: "http://orders.internal", Audience: "api://a"}), ""},
		{withProvider(ProviderKeycloak), "no /realms/<realm> path"},
		{withProvider(ProviderOkta), "org authorization server"},
		{func() Config {
			c := withProvider(ProviderGoogle, APIConfig{Prefix: "/g/", Upstream: "http://orders.internal"})
			c.OIDC.Issuer = GoogleIssuer
			return c
		}(), ""},
		{withProvider(ProviderGoogle, APIConfig{Prefix: "/g/", Upstream: "http://orders.internal"}), "is not Google's"},
	} {
		t.Run(tc.cfg.OIDC.Provider, func(t *testing.T) {
			if err := tc.cfg.Validate(); err != nil {
				t.Fatalf("Validate() = %v", err)
			}
			w := tc.cfg.Audit()
			if tc.warn == "" && len(w) > 0 || tc.warn != "" && !slices.ContainsFunc(w, func(s string) bool { return strings.Contains(s, tc.warn) }) {
				t.Errorf("Audit() = %q, want a warning with %q", w, tc.warn)
			}
		})
	}
}
