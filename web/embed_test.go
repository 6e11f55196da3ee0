package web

import (
	"regexp"
	"strings"
	"testing"
)

func TestEmbeddedDemo(t *testing.T) {
	ts := server(t, Config{})
	tests := []struct {
		name       string
		path       string
		wantStatus int
		wantType   string
	}{
		{name: "index", path: "/", wantStatus: 200, wantType: "text/html; charset=utf-8"},
		{name: "client route", path: "/profile/settings", wantStatus: 200, wantType: "text/html; charset=utf-8"},
		{name: "app.js", path: "/app.js", wantStatus: 200, wantType: "text/javascript; charset=utf-8"},
		{name: "style.css", path: "/style.css", wantStatus: 200, wantType: "text/css; charset=utf-8"},
		{name: "favicon", path: "/favicon.svg", wantStatus: 200, wantType: "image/svg+xml"},
		{name: "missing asset", path: "/missing.js", wantStatus: 404},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, body := do(t, ts, "GET", tt.path, nil)
			if res.StatusCode != tt.wantStatus {
				t.Fatalf("GET %s status = %d, want %d", tt.path, res.StatusCode, tt.wantStatus)
			}
			checkSecurityHeaders(t, res.Header, DefaultCSP)
			if tt.wantStatus != 200 {
				return
			}
			if got := res.Header.Get("Content-Type"); got != tt.wantType {
				t.Errorf("GET %s Content-Type = %q, want %q", tt.path, got, tt.wantType)
			}
			if res.Header.Get("ETag") == "" {
				t.Errorf("GET %s has no ETag", tt.path)
			}
			if body == "" {
				t.Errorf("GET %s body is empty", tt.path)
			}
		})
	}
}

// TestEmbeddedDemoContract checks the ids, classes and states that browser
// tests rely on, and that the pages keep to DefaultCSP.
func TestEmbeddedDemoContract(t *testing.T) {
	ts := server(t, Config{})
	_, index := do(t, ts, "GET", "/", nil)
	_, js := do(t, ts, "GET", "/app.js", nil)

	for _, id := range []string{"sign-in", "sign-out", "user-name", "claims", "api-result", "sessions", "signout-others",
		"expiring-banner", "expiring-text", "expiring-stay", "session-ended"} {
		if !strings.Contains(index, `id="`+id+`"`) {
			t.Errorf("index.html has no element with id %q", id)
		}
	}
	if !strings.Contains(index, `<body data-state="loading">`) {
		t.Errorf(`index.html body does not start in data-state "loading"`)
	}
	// Classes and states app.js creates.
	for _, want := range []string{
		"api-call", "session-row", "session-signout", "current", "dataset.prefix",
		"'signed-in'", "'signed-out'", "dataset.state",
		"'X-CSRF': '1'", "/bff/user", "/bff/apis", "/bff/sessions", "/bff/login?returnUrl=",
		"logout_url", "whoami", "visibilitychange", "This device", "Your session ended",
		"new EventSource('/bff/events')", "'expiring'", "'ended'", "/bff/keepalive", "dataset.endedReason",
	} {
		if !strings.Contains(js+index, want) {
			t.Errorf("demo SPA does not contain %q", want)
		}
	}

	// DefaultCSP forbids inline code: every script has a src, no <style>
	// element, no style= or on*= attribute.
	for _, bad := range []*regexp.Regexp{
		regexp.MustCompile(`<script(?:\s[^>]*)?>\s*[^<\s]`),
		regexp.MustCompile(`(?i)<style`),
		regexp.MustCompile(`(?i)\sstyle=`),
		regexp.MustCompile(`(?i)\son[a-z]+=`),
		regexp.MustCompile(`(?i)javascript:`),
	} {
		if m := bad.FindString(index); m != "" {
			t.Errorf("index.html has %q, which DefaultCSP blocks", m)
		}
	}
	for _, tag := range regexp.MustCompile(`(?i)<script[^>]*>`).FindAllString(index, -1) {
		if !strings.Contains(tag, ` src="/`) {
			t.Errorf("index.html has %q, want every script loaded from this origin by src", tag)
		}
	}
	// app.js inserts data with textContent only.
	for _, bad := range []string{"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function"} {
		if strings.Contains(js, bad) {
			t.Errorf("app.js uses %s", bad)
		}
	}
	// Absolute asset URLs, so the SPA fallback at /a/b/c still loads them.
	for _, ref := range []string{`src="/app.js"`, `href="/style.css"`} {
		if !strings.Contains(index, ref) {
			t.Errorf("index.html does not reference %s", ref)
		}
	}
}
