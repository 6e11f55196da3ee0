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
	"github.com/bff-project/bff/bff/config"
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
	srv, err := bff.New(context.Background(), bff.Config{Config: config.Config{
		PublicURL: "https://app.example",
		OIDC:      config.OIDCConfig{Issuer: down.URL, ClientID: "c", ClientSecret: "s"},
		Session:   config.SessionConfig{Path: t.TempDir() + "/s.db", EncryptionKeys: []string{key}},
	}})
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

// Issue 13: with metrics_listen set, the main listener must not serve
// /metrics (nor the SPA in its place): the metrics are only on their own
// listener.
func TestMetricsOnlyOnMetricsListen(t *testing.T) {
	env := harness.Start(t, harness.Options{Config: func(c *bff.Config) { c.MetricsListen = "127.0.0.1:0" }})
	b := env.NewBrowser()
	for _, path := range []string{"/metrics", "/metrics/", "/metrics?x=1"} {
		resp, body := b.Get(t, env.Default.URL+path)
		if resp.StatusCode != http.StatusNotFound || strings.Contains(body, "bff_build_info") || strings.Contains(body, "<html") {
			t.Errorf("GET %s on the main listener = %d %.100q, want 404 without metrics or the SPA", path, resp.StatusCode, body)
		}
	}
	rec := httptest.NewRecorder()
	env.Default.Server.MetricsHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), "bff_build_info") {
		t.Errorf("metrics handler = %d, want 200 with bff_build_info", rec.Code)
	}
}
