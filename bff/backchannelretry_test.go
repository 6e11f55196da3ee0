package bff_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"testing"

	"github.com/bff-project/bff/bff"
	"github.com/bff-project/bff/e2e/harness"
	"github.com/bff-project/bff/session/redistest"
)

// TestBackchannelLogoutRetryAfterStoreFault: a logout token whose sessions
// could not be ended (the store failed) is answered 503 and stays usable,
// so the provider's retry of the same token ends them.
func TestBackchannelLogoutRetryAfterStoreFault(t *testing.T) {
	rs := redistest.Start(t)
	env := harness.Start(t, harness.Options{Config: func(c *bff.Config) {
		c.Session.Store = "redis"
		c.Session.RedisURL = rs.URL
	}})
	h := holdSession(t, env, harness.UserName, harness.UserPassword, "")

	rc := redistest.Client(t, rs.URL)
	ctx := context.Background()
	// The sid index key (see redisstore.Store): made the wrong type, so that
	// reading it fails, as a store fault would.
	sum := sha256.Sum256([]byte(h.sid))
	key := "bff:i:sid:" + base64.RawURLEncoding.EncodeToString(sum[:18])
	if n, _ := rc.Do(ctx, rc.B().Exists().Key(key).Build()).AsInt64(); n != 1 {
		t.Fatalf("sid index key %s not found", key)
	}
	if err := rc.Do(ctx, rc.B().Rename().Key(key).Newkey(key+".saved").Build()).Error(); err != nil {
		t.Fatal(err)
	}
	if err := rc.Do(ctx, rc.B().Set().Key(key).Value("wrong type").Build()).Error(); err != nil {
		t.Fatal(err)
	}

	tok, err := env.OP.SignLogoutToken(env.OP.LogoutTokenClaims(harness.ClientID, "", h.sid))
	if err != nil {
		t.Fatal(err)
	}
	if resp, body := postLogoutToken(t, env, env.Default.URL, tok); resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("back-channel logout during the fault = %d %s, want 503", resp.StatusCode, body)
	}

	if err := rc.Do(ctx, rc.B().Rename().Key(key+".saved").Newkey(key).Build()).Error(); err != nil {
		t.Fatal(err)
	}
	if resp, body := postLogoutToken(t, env, env.Default.URL, tok); resp.StatusCode != http.StatusOK {
		t.Errorf("the provider's retry of the same token = %d %s, want 200", resp.StatusCode, body)
	}
	h.Browser.User(t, env.Default.URL, http.StatusUnauthorized)
	if resp, _ := postLogoutToken(t, env, env.Default.URL, tok); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("a third delivery, after success = %d, want 400 (replayed jti)", resp.StatusCode)
	}
}
