package bff_test

import (
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/bff-project/bff/bff"
	"github.com/bff-project/bff/bff/config"
	"github.com/bff-project/bff/e2e/devop"
	"github.com/bff-project/bff/e2e/harness"
)

// clientRoute adds /api/client/: the orders sample API called with the
// BFF's own client-credentials token.
func clientRoute(c *bff.Config) {
	c.APIs = append(c.APIs, config.APIConfig{Prefix: "/api/client/", Upstream: c.APIs[0].Upstream, StripPrefix: true,
		Token: "client", Audience: "orders-api", Scopes: []string{"orders.read"}})
}

// TestClientTokenRoute: a "client" route sends the BFF's own token (sub is
// the client), with or without a user session; it still needs X-CSRF like
// every API route; the token is obtained once and then cached.
func TestClientTokenRoute(t *testing.T) {
	r := newRig(t, harness.Options{Config: clientRoute})
	signedIn := r.b
	anon := r.env.NewBrowser()
	tests := []struct {
		name      string
		b         *harness.Browser
		csrf      bool
		wantCode  int
		wantError string
		wantCalls devop.Counts
	}{
		{name: "no session", b: anon, csrf: true, wantCode: 200, wantCalls: devop.Counts{ClientCredentials: 1}},
		{name: "no session, cached", b: anon, csrf: true, wantCode: 200},
		{name: "with session, same client token", b: signedIn, csrf: true, wantCode: 200},
		{name: "no X-CSRF", b: anon, wantCode: http.StatusForbidden, wantError: "csrf"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := r.env.OP.Counts()
			req, err := http.NewRequest(http.MethodGet, r.url+"/api/client/reports", nil)
			if err != nil {
				t.Fatal(err)
			}
			if tt.csrf {
				req.Header.Set("X-CSRF", "1")
			}
			req.Header.Set("Authorization", "Bearer browser-token")
			resp, body := tt.b.Do(t, req)
			if resp.StatusCode != tt.wantCode {
				t.Fatalf("GET /api/client/reports = %d %s, want %d", resp.StatusCode, body, tt.wantCode)
			}
			if got := countsDelta(before, r.env.OP.Counts()); got != tt.wantCalls {
				t.Errorf("provider calls = %+v, want %+v", got, tt.wantCalls)
			}
			if tt.wantError != "" {
				var e errorAnswer
				if err := decodeJSON(body, &e); err != nil || e.Error != tt.wantError {
					t.Errorf("body = %s, want error %q", body, tt.wantError)
				}
				return
			}
			var a sampleAnswer
			if err := decodeJSON(body, &a); err != nil {
				t.Fatal(err)
			}
			if a.API != "orders" || a.Sub != harness.ClientID || !slices.Equal(a.Audience, []string{"orders-api"}) ||
				!slices.Contains(a.Scopes, "orders.read") || a.Path != "/reports" {
				t.Errorf("answer = %+v, want orders API, sub %s, aud [orders-api], scope orders.read, path /reports", a, harness.ClientID)
			}
		})
	}
}

// TestClientTokenRenewedWhenDue: a client token past its renewal time is
// renewed once for many concurrent calls; while the provider is down the
// call fails with 503 provider_unavailable.
func TestClientTokenRenewedWhenDue(t *testing.T) {
	r := newAnonRig(t, harness.Options{AccessTokenLifetime: 2 * time.Second, Config: withConfig(clientRoute, refreshSkew(time.Second))})
	r.mustAPI(t, "/api/client/x")
	bu := r.newBurster(t, 50)
	r.env.OP.SetAccessTokenLifetime(5 * time.Minute)
	time.Sleep(dueAfter(2 * time.Second))

	r.env.OP.SetDown(true)
	if code, _, e := r.api(t, "/api/client/x"); code != http.StatusServiceUnavailable || e.Error != "provider_unavailable" {
		t.Errorf("GET /api/client/x while down = %d %q, want 503 provider_unavailable", code, e.Error)
	}
	r.env.OP.SetDown(false)

	before := r.env.OP.Counts()
	if failures := bu.burst("/api/client/x", "orders", 50); len(failures) > 0 {
		t.Errorf("%d of 50 calls failed, first: %s", len(failures), failures[0])
	}
	if got := countsDelta(before, r.env.OP.Counts()); got != (devop.Counts{ClientCredentials: 1}) {
		t.Errorf("provider calls = %+v, want one client_credentials grant", got)
	}
	checkNoTokenInLogs(t, r.env)
}
