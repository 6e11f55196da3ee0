package bff

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/bff-project/bff/bff/config"
)

// discoveryServer serves an OpenID discovery document whose issuer is the
// server's own URL, with fields changed by edit.
func discoveryServer(t *testing.T, edit func(map[string]any)) *httptest.Server {
	t.Helper()
	var srv *httptest.Server
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/.well-known/openid-configuration" {
			http.NotFound(w, r)
			return
		}
		doc := map[string]any{
			"issuer":                                srv.URL,
			"authorization_endpoint":                srv.URL + "/authorize",
			"token_endpoint":                        srv.URL + "/token",
			"jwks_uri":                              srv.URL + "/keys",
			"userinfo_endpoint":                     srv.URL + "/userinfo",
			"end_session_endpoint":                  srv.URL + "/logout",
			"revocation_endpoint":                   srv.URL + "/revoke",
			"backchannel_logout_supported":          true,
			"response_types_supported":              []string{"code"},
			"subject_types_supported":               []string{"public"},
			"id_token_signing_alg_values_supported": []string{"RS256"},
			"code_challenge_methods_supported":      []string{"S256"},
			"token_endpoint_auth_methods_supported": []string{"client_secret_basic", "client_secret_post"},
			"grant_types_supported":                 []string{"authorization_code", "refresh_token"},
		}
		if edit != nil {
			edit(doc)
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(doc)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestCheck(t *testing.T) {
	tests := []struct {
		name         string
		edit         func(map[string]any)
		mutate       func(*Config)
		wantProblem  string // key: substring; "" means none
		wantWarnings []string
	}{
		{name: "sound provider"},
		{
			name:        "auth method not supported",
			edit:        func(d map[string]any) { d["token_endpoint_auth_methods_supported"] = []string{"private_key_jwt"} },
			wantProblem: "oidc.client_auth: the provider does not support it",
		},
		{
			name:        "no S256",
			edit:        func(d map[string]any) { d["code_challenge_methods_supported"] = []string{"plain"} },
			wantProblem: "oidc.issuer: the provider does not support PKCE S256",
		},
		{
			name:        "no token exchange",
			mutate:      func(c *Config) { c.APIs[0].Exchange = "token-exchange" },
			wantProblem: "apis[0].exchange: the provider does not support token exchange",
		},
		{
			name:        "no client credentials",
			mutate:      func(c *Config) { c.APIs[0].Token = "client" },
			wantProblem: "apis[0].token: the provider does not support client_credentials",
		},
		{
			name: "bare provider",
			edit: func(d map[string]any) {
				for _, k := range []string{"end_session_endpoint", "revocation_endpoint", "backchannel_logout_supported", "code_challenge_methods_supported"} {
					delete(d, k)
				}
			},
			wantWarnings: []string{"advertise PKCE", "no end_session_endpoint", "no revocation_endpoint", "back-channel logout"},
		},
		{
			name:        "issuer mismatch",
			edit:        func(d map[string]any) { d["issuer"] = "https://other.example.com" },
			wantProblem: "oidc.issuer: discovery failed",
		},
		{
			name:         "config problems and audit warnings too",
			mutate:       func(c *Config) { c.OIDC.ClientID = ""; c.Session.SameSite = "lax"; c.SPA.Dir = "/nonexistent/dir" },
			wantProblem:  "oidc.client_id: required",
			wantWarnings: []string{"session.same_site is lax"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := discoveryServer(t, tt.edit)
			cfg := validConfig()
			cfg.OIDC.Issuer = srv.URL
			if tt.mutate != nil {
				tt.mutate(&cfg)
			}
			problems, warnings := Check(t.Context(), cfg)
			if tt.wantProblem == "" && len(problems) > 0 {
				t.Errorf("Check() problems = %q, want none", problems)
			}
			if tt.wantProblem != "" && !containsError(problems, tt.wantProblem) {
				t.Errorf("Check() problems = %q, want one containing %q", problems, tt.wantProblem)
			}
			if len(tt.wantWarnings) == 0 && len(warnings) > 0 {
				t.Errorf("Check() warnings = %q, want none", warnings)
			}
			for _, w := range tt.wantWarnings {
				if !containsString(warnings, w) {
					t.Errorf("Check() warnings = %q, want one containing %q", warnings, w)
				}
			}
		})
	}
}

func TestCheckUnreachableIssuer(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens here now
	cfg := validConfig()
	cfg.OIDC.Issuer = "http://" + addr
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	problems, _ := Check(ctx, cfg)
	if !containsError(problems, "config: oidc.issuer: discovery failed") {
		t.Errorf("Check(unreachable issuer) problems = %q, want oidc.issuer discovery failure", problems)
	}
	if len(problems) != 1 {
		t.Errorf("Check(unreachable issuer) = %d problems, want 1", len(problems))
	}
}

func TestCheckSkipsDiscoveryForBadIssuer(t *testing.T) {
	cfg := validConfig()
	cfg.OIDC.Issuer = "http://idp.example.com" // invalid: http on a public host
	problems, _ := Check(t.Context(), cfg)
	if len(problems) != 1 || !containsError(problems, "oidc.issuer: must use https") {
		t.Errorf("Check() problems = %q, want only the issuer's validation problem", problems)
	}
}

func containsError(errs []error, substr string) bool {
	for _, e := range errs {
		if strings.Contains(e.Error(), substr) {
			return true
		}
	}
	return false
}

func containsString(list []string, substr string) bool {
	for _, s := range list {
		if strings.Contains(s, substr) {
			return true
		}
	}
	return false
}

// validConfig is a sound configuration for Check to start from.
func validConfig() Config {
	return Config{Config: config.Config{
		PublicURL:     "https://app.example.com",
		MetricsListen: "127.0.0.1:9090",
		OIDC:          config.OIDCConfig{Issuer: "https://idp.example.com", ClientID: "spa-bff", ClientSecret: "not-a-real-secret"},
		Session: config.SessionConfig{EncryptionKeys: []string{
			"AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=", "AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI=",
		}},
		APIs: []config.APIConfig{{Prefix: "/api/orders/", Upstream: "http://orders.internal:9001", Audience: "orders-api"}},
	}}
}
