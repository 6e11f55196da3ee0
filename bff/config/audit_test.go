package config

import (
	"strings"
	"testing"
)

func TestAudit(t *testing.T) {
	if got := validConfig().Audit(); len(got) != 0 {
		t.Fatalf("Audit() of a sound config = %q, want no warnings", got)
	}
	tests := []struct {
		name   string
		mutate func(*Config)
		want   string // substring of the one warning; "" means none
	}{
		{"public_url http public host", func(c *Config) { c.PublicURL = "http://app.example.com" }, "public_url uses plain http"},
		{"public_url http localhost", func(c *Config) { c.PublicURL = "http://localhost:8080" }, ""},
		{"public_url http loopback IP", func(c *Config) { c.PublicURL = "http://[::1]:8080" }, ""},
		{"same_site lax", func(c *Config) { c.Session.SameSite = "lax" }, "session.same_site is lax"},
		{"same_site strict", func(c *Config) { c.Session.SameSite = "strict" }, ""},
		{"single key", func(c *Config) { c.Session.EncryptionKeys = c.Session.EncryptionKeys[:1] }, "at least every 90 days"},
		{"upstream http public", func(c *Config) { c.APIs[0].Upstream = "http://api.example.com" }, "apis[0].upstream uses plain http"},
		{"upstream http public IP", func(c *Config) { c.APIs[0].Upstream = "http://203.0.113.7:80" }, "apis[0].upstream uses plain http"},
		{"upstream https public", func(c *Config) { c.APIs[0].Upstream = "https://api.example.com" }, ""},
		{"upstream http RFC 1918", func(c *Config) { c.APIs[0].Upstream = "http://192.168.1.10:9000" }, ""},
		{"upstream http ULA", func(c *Config) { c.APIs[0].Upstream = "http://[fd12::1]:9000" }, ""},
		{"upstream http .svc", func(c *Config) { c.APIs[0].Upstream = "http://orders.default.svc" }, ""},
		{"upstream http .local", func(c *Config) { c.APIs[0].Upstream = "http://orders.svc.cluster.local:80" }, ""},
		{"upstream http single label", func(c *Config) { c.APIs[0].Upstream = "http://orders:9001" }, ""},
		{"no offline_access", func(c *Config) { c.OIDC.Scopes = []string{"openid", "profile"} }, "oidc.scopes lacks offline_access"},
		{"client_secret_post over http", func(c *Config) {
			c.OIDC.Issuer, c.OIDC.TokenEndpointAuthMethod = "http://localhost:9999", "client_secret_post"
		}, "client_secret_post while oidc.issuer is plain http"},
		{"client_secret_post over https", func(c *Config) { c.OIDC.TokenEndpointAuthMethod = "client_secret_post" }, ""},
		{"trust everyone", func(c *Config) { c.TrustedProxies = []string{"0.0.0.0/0"} }, "trusted_proxies[0] trusts every address"},
		{"trust a subnet", func(c *Config) { c.TrustedProxies = []string{"10.0.0.0/8"} }, ""},
		{"rate limit off", func(c *Config) { c.RateLimit.LoginPerMinute = -1 }, "rate limit is off"},
		{"amr without acr", func(c *Config) { c.APIs[0].Require = []RuleConfig{{AMR: []string{"otp"}}} }, "apis[0].require[0] has amr but no acr"},
		{"amr with acr", func(c *Config) { c.APIs[0].Require = []RuleConfig{{AMR: []string{"otp"}, ACR: []string{"mfa"}}} }, ""},
		{"metrics on the main listener", func(c *Config) { c.MetricsListen = "" }, "metrics_listen is not set"},
		{"route left out of sign-in", func(c *Config) {
			off := false
			c.APIs[0].Resource, c.APIs[0].AtSignIn = "https://orders.example/", &off
		}, "apis[0].at_sign_in is false: its resource and scopes are not requested at sign-in"},
		{"route without resource left out of sign-in", func(c *Config) { off := false; c.APIs[0].Scopes, c.APIs[0].AtSignIn = nil, &off }, ""},
		{"metrics on the main listener, local", func(c *Config) { c.MetricsListen, c.PublicURL = "", "http://localhost:8080" }, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := validConfig()
			tt.mutate(&c)
			got := c.Audit()
			if tt.want == "" {
				if len(got) != 0 {
					t.Errorf("Audit() = %q, want no warnings", got)
				}
				return
			}
			if len(got) != 1 || !strings.Contains(got[0], tt.want) {
				t.Errorf("Audit() = %q, want one warning containing %q", got, tt.want)
			}
		})
	}
}
