package bff_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/bff-project/bff/bff"
	"github.com/bff-project/bff/e2e/harness"
)

// tokenAudiences sets apis[0].token_audiences (the orders route).
func tokenAudiences(aud ...string) func(*bff.Config) {
	return func(c *bff.Config) { c.APIs[0].TokenAudiences = aud }
}

// TestTokenAudienceRefusedAndRemembered: a token whose aud is not what
// the route accepts is not forwarded (403 token_audience_mismatch), the
// session and the other routes carry on, and the refusal is remembered:
// the next call is refused without asking the provider again, since
// each ask would rotate the refresh token for the same answer.
func TestTokenAudienceRefusedAndRemembered(t *testing.T) {
	// devop issues orders-api tokens; the route accepts only another aud.
	r := newRig(t, harness.Options{Config: tokenAudiences("orders-api-v2")})
	code, _, e := r.api(t, "/api/orders/x")
	if code != http.StatusForbidden || e.Error != "token_audience_mismatch" {
		t.Fatalf("GET /api/orders/x = %d %+v, want 403 token_audience_mismatch", code, e)
	}
	refreshes := r.env.OP.Counts().Refresh
	for range 3 {
		if code, _, e := r.api(t, "/api/orders/x"); code != http.StatusForbidden || e.Error != "token_audience_mismatch" {
			t.Fatalf("again: %d %+v, want 403 token_audience_mismatch", code, e)
		}
	}
	if got := r.env.OP.Counts().Refresh; got != refreshes {
		t.Errorf("the provider was asked %d more times after the refusal, want 0 until the token is due", got-refreshes)
	}
	if a := r.mustAPI(t, "/api/profile/y"); a.API != "profile" {
		t.Errorf("the other route answered %+v", a)
	}
	r.b.User(t, r.url, http.StatusOK)
	if logs := r.env.Logs.String(); !strings.Contains(logs, `"route":"/api/orders/"`) || !strings.Contains(logs, "orders-api-v2") {
		t.Errorf("no log line names the route and what it wanted:\n%s", logs)
	}
}

// TestTokenAudiencesAccepted: token_audiences is the whole list of aud
// values the route accepts.
func TestTokenAudiencesAccepted(t *testing.T) {
	r := newRig(t, harness.Options{Config: tokenAudiences("orders-api-v2", "orders-api")})
	if a := r.mustAPI(t, "/api/orders/x"); a.API != "orders" {
		t.Errorf("GET /api/orders/x answered %+v", a)
	}
}
