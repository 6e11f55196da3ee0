package bff_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/bff-project/bff/bff"
	"github.com/bff-project/bff/bff/config"
	"github.com/bff-project/bff/e2e/harness"
)

// loginFrom starts a sign-in as a browser behind the trusted proxy at
// 127.0.0.1 whose client address is xff (none when "").
func loginFrom(t *testing.T, b *harness.Browser, bffURL, xff string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, bffURL+"/bff/login", nil)
	if err != nil {
		t.Fatal(err)
	}
	if xff != "" {
		req.Header.Set("X-Forwarded-For", xff)
	}
	return b.Do(t, req)
}

// Issue 13: the default per-address limit (30 a minute) refused most of an
// office behind one NAT, and the whole site behind a balancer missing from
// trusted_proxies. Under the default config, 500 sign-in starts a minute
// from one address all succeed, whether the address is a known client
// behind a trusted proxy or an unlisted proxy itself.
func TestLoginRateLimitDefaultAdmitsANAT(t *testing.T) {
	for _, tt := range []struct {
		name    string
		trusted []string
		xff     string
	}{
		{"one public address behind a trusted proxy", []string{"127.0.0.1"}, "198.51.100.20"},
		{"an unlisted proxy (private peer)", nil, "198.51.100.20"},
		{"a private peer", nil, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			env := harness.Start(t, harness.Options{Config: func(c *bff.Config) {
				c.RateLimit = config.RateLimitConfig{} // the defaults
				c.TrustedProxies = tt.trusted
			}})
			b := env.NewBrowser()
			for i := range 500 {
				if resp, body := loginFrom(t, b, env.Default.URL, tt.xff); resp.StatusCode != http.StatusFound {
					t.Fatalf("sign-in start %d = %d %s, want 302", i+1, resp.StatusCode, body)
				}
			}
		})
	}
}

// Past the limit an address gets 429 with Retry-After; other addresses, and
// IPv6 clients in another /64, are not affected; one /64 is one client.
func TestLoginRateLimitPerAddress(t *testing.T) {
	env := harness.Start(t, harness.Options{Config: func(c *bff.Config) {
		c.RateLimit = config.RateLimitConfig{LoginPerMinute: 1, Burst: 3}
		c.TrustedProxies = []string{"127.0.0.1"}
	}})
	b := env.NewBrowser()
	spend := func(xff string, n int) {
		t.Helper()
		for i := range n {
			if resp, body := loginFrom(t, b, env.Default.URL, xff); resp.StatusCode != http.StatusFound {
				t.Fatalf("sign-in %d from %s = %d %s, want 302", i+1, xff, resp.StatusCode, body)
			}
		}
	}
	refused := func(xff string) {
		t.Helper()
		resp, body := loginFrom(t, b, env.Default.URL, xff)
		if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" || !strings.Contains(body, "rate_limited") {
			t.Errorf("sign-in from %s past the burst = %d %q (Retry-After %q), want 429 rate_limited with Retry-After",
				xff, resp.StatusCode, body, resp.Header.Get("Retry-After"))
		}
	}
	spend("203.0.113.7", 3)
	refused("203.0.113.7")
	spend("203.0.113.8", 3) // another client
	spend("2001:db8:1:2::1", 3)
	refused("2001:db8:1:2:ffff::9") // same /64
	spend("2001:db8:1:3::1", 3)     // another /64
	if resp, _ := b.Call(t, http.MethodGet, env.Default.URL+"/bff/user", nil); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("/bff/user while sign-in is limited = %d, want 401 (only sign-in is limited)", resp.StatusCode)
	}
}

// A callback is limited only when it carries a live flow (it would cost a
// provider call); stray callbacks are refused for what they are and do not
// use up the client's sign-ins.
func TestLoginRateLimitCallbacks(t *testing.T) {
	env := harness.Start(t, harness.Options{Config: func(c *bff.Config) {
		c.RateLimit = config.RateLimitConfig{LoginPerMinute: 1, Burst: 1}
		c.TrustedProxies = []string{"127.0.0.1"}
	}})
	b := env.NewBrowser()
	callback := func(query string) (*http.Response, string) {
		req, _ := http.NewRequest(http.MethodGet, env.Default.URL+"/bff/callback?"+query, nil)
		req.Header.Set("X-Forwarded-For", "203.0.113.50")
		return b.Do(t, req)
	}
	for range 5 {
		if resp, body := callback("state=forged&code=x"); resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "invalid_state") {
			t.Fatalf("stray callback = %d %s, want 400 invalid_state", resp.StatusCode, body)
		}
	}
	// A real sign-in from that address still completes: its one callback
	// is the first that counts.
	formURL, id := b.StartLogin(t, env.Default.URL, "/")
	cb := b.SubmitLogin(t, formURL, id, harness.UserName, harness.UserPassword)
	if resp, body := callback(cb.RawQuery); resp.StatusCode != http.StatusFound {
		t.Fatalf("callback = %d %s, want 302", resp.StatusCode, body)
	}
}
