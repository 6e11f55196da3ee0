package devop

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

const (
	testRedirect   = "http://127.0.0.1:1/bff/callback"
	testPostLogout = "http://127.0.0.1:1/"
)

type testEnv struct {
	t        *testing.T
	p        *Provider
	srv      *httptest.Server
	provider *oidc.Provider
	ctx      context.Context

	mu      sync.Mutex
	logouts []url.Values // back-channel logout requests received
}

func newTestEnv(t *testing.T) *testEnv {
	t.Helper()
	return newTestEnvWith(t, nil)
}

// newTestEnvWith is newTestEnv with the provider's config changed by mutate.
func newTestEnvWith(t *testing.T, mutate func(*Config)) *testEnv {
	t.Helper()
	e := &testEnv{t: t}
	bcl := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil {
			http.Error(w, "bad form", http.StatusBadRequest)
			return
		}
		e.mu.Lock()
		e.logouts = append(e.logouts, r.PostForm)
		e.mu.Unlock()
	}))
	t.Cleanup(bcl.Close)

	e.srv = httptest.NewUnstartedServer(nil)
	cfg := Config{
		Issuer: "http://" + e.srv.Listener.Addr().String(),
		Users: []User{{Subject: "u-alice", Username: "alice", Password: "alice-pw", Email: "alice@example.com",
			Name: "Alice Example", GivenName: "Alice", FamilyName: "Example"}},
		Clients: []Client{
			{ID: "bff", Secret: "bff-secret", RedirectURIs: []string{testRedirect},
				PostLogoutRedirectURIs: []string{testPostLogout}, BackChannelLogoutURI: bcl.URL + "/bcl",
				FrontChannelLogoutURI: "https://rp.example/fcl"},
			{ID: "bff-post", Secret: "post-secret", RedirectURIs: []string{testRedirect}, AuthMethod: "client_secret_post"},
		},
		APIScopes: []string{"orders.read", "orders.write"},
	}
	if mutate != nil {
		mutate(&cfg)
	}
	p, err := New(cfg)
	if err != nil {
		t.Fatalf("New() error = %v", err)
	}
	e.p = p
	e.srv.Config.Handler = p
	e.srv.Start()
	t.Cleanup(e.srv.Close)
	e.ctx = oidc.ClientContext(context.Background(), e.srv.Client())
	e.provider, err = oidc.NewProvider(e.ctx, p.Issuer())
	if err != nil {
		t.Fatalf("oidc.NewProvider() error = %v", err)
	}
	return e
}

func (e *testEnv) oauth2Config(clientID string, scopes ...string) *oauth2.Config {
	secret, style := "bff-secret", oauth2.AuthStyleInHeader
	if clientID == "bff-post" {
		secret, style = "post-secret", oauth2.AuthStyleInParams
	}
	ep := e.provider.Endpoint()
	ep.AuthStyle = style
	if len(scopes) == 0 {
		scopes = []string{oidc.ScopeOpenID, "profile", "email", oidc.ScopeOfflineAccess}
	}
	return &oauth2.Config{ClientID: clientID, ClientSecret: secret, Endpoint: ep, RedirectURL: testRedirect, Scopes: scopes}
}

func (e *testEnv) browser() *http.Client {
	jar, err := cookiejar.New(nil)
	if err != nil {
		e.t.Fatal(err)
	}
	return &http.Client{Jar: jar, Timeout: 10 * time.Second}
}

// signIn runs code+PKCE for clientID and returns the token response and
// the verified ID token.
func (e *testEnv) signIn(clientID string, opts ...oauth2.AuthCodeOption) (*oauth2.Token, *oidc.IDToken) {
	e.t.Helper()
	conf := e.oauth2Config(clientID)
	verifier, state, nonce := oauth2.GenerateVerifier(), "state-123", "nonce-456"
	opts = append(opts, oidc.Nonce(nonce), oauth2.S256ChallengeOption(verifier))
	cb, err := e.p.SignIn(e.ctx, e.browser(), conf.AuthCodeURL(state, opts...), "alice", "alice-pw")
	if err != nil {
		e.t.Fatalf("SignIn() error = %v", err)
	}
	if got := cb.Scheme + "://" + cb.Host + cb.Path; got != testRedirect {
		e.t.Fatalf("callback = %q, want %q", got, testRedirect)
	}
	if got := cb.Query().Get("state"); got != state {
		e.t.Fatalf("callback state = %q, want %q", got, state)
	}
	tok, err := conf.Exchange(e.ctx, cb.Query().Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		e.t.Fatalf("Exchange() error = %v", err)
	}
	raw, _ := tok.Extra("id_token").(string)
	idt, err := e.provider.Verifier(&oidc.Config{ClientID: clientID}).Verify(e.ctx, raw)
	if err != nil {
		e.t.Fatalf("Verify(id_token) error = %v", err)
	}
	if idt.Nonce != nonce {
		e.t.Errorf("id_token nonce = %q, want %q", idt.Nonce, nonce)
	}
	return tok, idt
}

// tokenCall POSTs form to the token endpoint as the "bff" client (basic
// auth) and decodes the JSON answer.
func (e *testEnv) tokenCall(form url.Values) (int, map[string]any) {
	e.t.Helper()
	return e.post(e.provider.Endpoint().TokenURL, form, "bff", "bff-secret")
}

func (e *testEnv) post(endpoint string, form url.Values, user, pass string) (int, map[string]any) {
	e.t.Helper()
	req, err := http.NewRequest(http.MethodPost, endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if user != "" {
		req.SetBasicAuth(url.QueryEscape(user), url.QueryEscape(pass))
	}
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatalf("POST %s: %v", endpoint, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var m map[string]any
	_ = json.Unmarshal(body, &m)
	return resp.StatusCode, m
}

// accessClaims verifies an access token's signature, issuer and expiry and
// returns its claims.
func (e *testEnv) accessClaims(raw string) map[string]any {
	e.t.Helper()
	tok, err := e.provider.Verifier(&oidc.Config{SkipClientIDCheck: true}).Verify(e.ctx, raw)
	if err != nil {
		e.t.Fatalf("Verify(access_token) error = %v", err)
	}
	var c map[string]any
	if err := tok.Claims(&c); err != nil {
		e.t.Fatal(err)
	}
	return c
}

func audOf(c map[string]any) []string {
	switch v := c["aud"].(type) {
	case string:
		return []string{v}
	case []any:
		var out []string
		for _, a := range v {
			s, _ := a.(string)
			out = append(out, s)
		}
		return out
	}
	return nil
}

func str(m map[string]any, k string) string { s, _ := m[k].(string); return s }

func TestSetDown(t *testing.T) {
	e := newTestEnv(t)
	tok, _ := e.signIn("bff")
	e.p.SetDown(true)
	refresh := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}}
	if status, resp := e.tokenCall(refresh); status != http.StatusServiceUnavailable {
		t.Errorf("token endpoint while down: %d %v, want 503", status, resp)
	}
	if status, _ := e.post(e.p.Issuer()+revocationPath, url.Values{"token": {tok.RefreshToken}}, "bff", "bff-secret"); status != http.StatusServiceUnavailable {
		t.Errorf("revocation endpoint while down: %d, want 503", status)
	}
	for _, path := range []string{"/.well-known/openid-configuration", "/keys"} {
		resp, err := http.Get(e.p.Issuer() + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("GET %s while down = %d, want 200", path, resp.StatusCode)
		}
	}
	if !e.p.RefreshTokenActive(tok.RefreshToken) {
		t.Errorf("RefreshTokenActive() = false after an outage, want true")
	}
	e.p.SetDown(false)
	if status, resp := e.tokenCall(refresh); status != 200 {
		t.Errorf("token endpoint back up: %d %v, want 200", status, resp)
	}
}

func TestSetAccessTokenLifetime(t *testing.T) {
	e := newTestEnv(t)
	tok, _ := e.signIn("bff")
	e.p.SetAccessTokenLifetime(2 * time.Second)
	_, resp := e.tokenCall(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}})
	if got, _ := resp["expires_in"].(float64); got < 1 || got > 2 {
		t.Errorf("expires_in = %v, want 1..2", resp["expires_in"])
	}
}

func TestDiscovery(t *testing.T) {
	e := newTestEnv(t)
	var d struct {
		Issuer                   string   `json:"issuer"`
		RevocationEndpoint       string   `json:"revocation_endpoint"`
		EndSessionEndpoint       string   `json:"end_session_endpoint"`
		GrantTypesSupported      []string `json:"grant_types_supported"`
		CodeChallengeMethods     []string `json:"code_challenge_methods_supported"`
		BackchannelLogoutSupport bool     `json:"backchannel_logout_supported"`
	}
	if err := e.provider.Claims(&d); err != nil {
		t.Fatal(err)
	}
	if d.Issuer != e.p.Issuer() || d.RevocationEndpoint == "" || d.EndSessionEndpoint == "" || !d.BackchannelLogoutSupport {
		t.Errorf("discovery = %+v, want issuer, revocation and end_session endpoints, back-channel logout", d)
	}
	for _, g := range []string{"authorization_code", "refresh_token", "client_credentials", "urn:ietf:params:oauth:grant-type:token-exchange"} {
		if !slices.Contains(d.GrantTypesSupported, g) {
			t.Errorf("grant_types_supported = %v, want %s", d.GrantTypesSupported, g)
		}
	}
	if !slices.Contains(d.CodeChallengeMethods, "S256") {
		t.Errorf("code_challenge_methods_supported = %v, want S256", d.CodeChallengeMethods)
	}
}

func TestNewValidates(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want []string // substrings of the error
	}{
		{name: "no issuer", cfg: Config{}, want: []string{"Issuer is required"}},
		{name: "issuer with path", cfg: Config{Issuer: "http://127.0.0.1:9000/op"}, want: []string{"without path"}},
		{name: "many problems", cfg: Config{Issuer: "http://127.0.0.1:9000",
			Users:   []User{{Username: "x"}},
			Clients: []Client{{ID: "c"}, {ID: "c", Secret: "s", AuthMethod: "private_key_jwt"}}},
			want: []string{"Users[0]", "Clients[0]", "duplicate ID", "AuthMethod"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.cfg)
			if err == nil {
				t.Fatalf("New() error = nil, want %v", tt.want)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("New() error = %q, want it to mention %q", err, w)
				}
			}
		})
	}
}
