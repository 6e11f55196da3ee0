package bff_test

import (
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/bff-project/bff/bff"
	"github.com/bff-project/bff/e2e/harness"
)

// countKeyFetches counts the BFF's GETs of the provider's JWKS.
type countKeyFetches struct {
	n    atomic.Int32
	next http.RoundTripper
}

func (c *countKeyFetches) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/keys") {
		c.n.Add(1)
	}
	return c.next.RoundTrip(r)
}

// TestForgedLogoutTokensDoNotFetchKeys: the back-channel endpoint is open
// to anyone, so forged tokens must not make the BFF fetch the provider's
// keys on every request (go-oidc's RemoteKeySet would), while genuine
// tokens keep working.
func TestForgedLogoutTokensDoNotFetchKeys(t *testing.T) {
	fetches := &countKeyFetches{next: http.DefaultTransport}
	env := harness.Start(t, harness.Options{Config: func(c *bff.Config) {
		c.HTTPClient = &http.Client{Transport: fetches}
	}})
	h := holdSession(t, env, harness.UserName, harness.UserPassword, "")
	attacker := foreignKey(t)
	claims := env.OP.LogoutTokenClaims(harness.ClientID, "", h.sid)

	const forged = 40
	for i := range forged {
		kid := fmt.Sprintf("attacker-%d", i) // a new key ID every time
		if i%2 == 0 {
			kid = jwsHeader(t, mustSign(t, env, claims))["kid"].(string) // the provider's own
		}
		claims["jti"] = fmt.Sprintf("forged-%d", i)
		resp, body := postLogoutToken(t, env, env.Default.URL, signJWS(t, attacker, kid, "logout+jwt", claims))
		if resp.StatusCode != http.StatusBadRequest {
			t.Fatalf("forged token %d = %d %s, want 400", i, resp.StatusCode, body)
		}
	}
	if n := fetches.n.Load(); n > 2 {
		t.Errorf("%d forged logout tokens made %d JWKS fetches, want at most 2", forged, n)
	}
	h.Browser.User(t, env.Default.URL, http.StatusOK)

	delete(claims, "jti")
	genuine := mustSign(t, env, env.OP.LogoutTokenClaims(harness.ClientID, "", h.sid))
	if resp, body := postLogoutToken(t, env, env.Default.URL, genuine); resp.StatusCode != http.StatusOK {
		t.Fatalf("genuine token after the forgeries = %d %s, want 200", resp.StatusCode, body)
	}
	h.Browser.User(t, env.Default.URL, http.StatusUnauthorized)
}

func mustSign(t *testing.T, env *harness.Env, claims map[string]any) string {
	t.Helper()
	tok, err := env.OP.SignLogoutToken(claims)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}
