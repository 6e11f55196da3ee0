package bff_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/bff-project/bff/bff"
	"github.com/bff-project/bff/e2e/harness"
)

func scrape(t *testing.T, b *harness.Browser, u string) string {
	t.Helper()
	resp, body := b.Get(t, u+"/metrics")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics = %d", resp.StatusCode)
	}
	return body
}

// After a session's life, /metrics has every documented series and no
// label or value that names a user, a session or a token.
func TestMetrics(t *testing.T) {
	env := harness.Start(t, harness.Options{})
	u := env.Default.URL
	b := env.NewBrowser()
	b.Login(t, u, harness.UserName, harness.UserPassword)
	user := b.User(t, u, http.StatusOK)
	b.Call(t, http.MethodGet, u+"/api/orders/whoami", nil)
	b.Call(t, http.MethodGet, u+"/api/profile/whoami", nil)
	b.Get(t, u+"/")
	b.Get(t, u+user.Session.LogoutURL)
	body := scrape(t, env.NewBrowser(), u)

	for _, want := range []string{
		`bff_http_requests_total{class="api",code="200"}`,
		`bff_http_requests_total{class="bff",code="302"}`,
		`bff_http_requests_total{class="static",code="200"}`,
		`bff_proxy_request_duration_seconds_count{route="/api/orders/"}`,
		`bff_logins_total{result="started"} 1`,
		`bff_logins_total{result="ok"} 1`,
		`bff_logouts_total{kind="user"} 1`,
		`bff_token_revocations_total{result="ok"} 1`,
		`bff_sessions_created_total 1`,
		`bff_sessions_ended_total{reason="logout"} 1`,
		`bff_session_store_duration_seconds_count{op="commit"}`,
		`bff_build_info{version=`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	for _, leak := range []string{harness.UserSubject, "alice@example.test", user.Session.ID, harness.ClientSecret} {
		if strings.Contains(body, leak) {
			t.Errorf("/metrics contains %q", leak)
		}
	}
	for _, tok := range env.OP.IssuedTokens() {
		if strings.Contains(body, tok) {
			t.Error("/metrics contains an issued token")
		}
	}
}

// /healthz answers while the process runs; /readyz only once the store
// answers and discovery has loaded, with the reason otherwise.
func TestReadiness(t *testing.T) {
	key := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{9}, 32))
	down := httptest.NewServer(http.NotFoundHandler()) // discovery answers 404
	defer down.Close()
	srv, err := bff.New(context.Background(), bff.Config{
		PublicURL: "https://app.example",
		OIDC:      bff.OIDCConfig{Issuer: down.URL, ClientID: "c", ClientSecret: "s"},
		Session:   bff.SessionConfig{Path: t.TempDir() + "/s.db", EncryptionKeys: []string{key}},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	get := func(path string) (int, string) {
		rec := httptest.NewRecorder()
		srv.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		b, _ := io.ReadAll(rec.Body)
		return rec.Code, string(b)
	}
	if code, _ := get("/healthz"); code != http.StatusOK {
		t.Errorf("/healthz = %d, want 200", code)
	}
	code, body := get("/readyz")
	if code != http.StatusServiceUnavailable || !strings.Contains(body, "discovery") {
		t.Errorf("/readyz with the provider down = %d %s, want 503 naming discovery", code, body)
	}

	env := harness.Start(t, harness.Options{})
	b := env.NewBrowser()
	if resp, body := b.Get(t, env.Default.URL+"/readyz"); resp.StatusCode != http.StatusOK {
		t.Errorf("/readyz with everything up = %d %s, want 200", resp.StatusCode, body)
	}
	if err := env.Default.Server.Close(); err != nil {
		t.Fatal(err)
	}
	if resp, body := b.Get(t, env.Default.URL+"/readyz"); resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(body, "store") {
		t.Errorf("/readyz with the store closed = %d %s, want 503 naming the store", resp.StatusCode, body)
	}
	env.Default.Restart(t) // reopen so cleanup closes a live server
}

// /bff/login is limited per client IP: past the burst, 429 with
// Retry-After, and the provider is not asked for anything.
func TestLoginRateLimit(t *testing.T) {
	env := harness.Start(t, harness.Options{Config: func(c *bff.Config) {
		c.RateLimit = bff.RateLimitConfig{LoginPerMinute: 1, Burst: 3}
	}})
	b := env.NewBrowser()
	for i := range 3 {
		if resp, _ := b.Get(t, env.Default.URL+"/bff/login"); resp.StatusCode != http.StatusFound {
			t.Fatalf("login %d = %d, want 302", i+1, resp.StatusCode)
		}
	}
	resp, body := b.Get(t, env.Default.URL+"/bff/login")
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" || !strings.Contains(body, "rate_limited") {
		t.Errorf("4th login = %d %q (Retry-After %q), want 429 rate_limited with Retry-After", resp.StatusCode, body, resp.Header.Get("Retry-After"))
	}
	if resp, _ := b.Call(t, http.MethodGet, env.Default.URL+"/bff/user", nil); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("/bff/user while login is limited = %d, want 401 (only sign-in is limited)", resp.StatusCode)
	}
}
