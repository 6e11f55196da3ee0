package bff_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/bff-project/bff/bff"
	"github.com/bff-project/bff/e2e/harness"
)

// slowRevocation delays the BFF's calls to the provider's revocation
// endpoint, as a provider that hangs would.
type slowRevocation struct{ delay time.Duration }

func (s slowRevocation) RoundTrip(r *http.Request) (*http.Response, error) {
	if strings.HasSuffix(r.URL.Path, "/revoke") {
		time.Sleep(s.delay)
	}
	return http.DefaultTransport.RoundTrip(r)
}

// A provider that is slow to revoke delays sign-out by at most about a
// second; the revocation still happens, in the background.
func TestLogoutDoesNotWaitForSlowRevocation(t *testing.T) {
	env := harness.Start(t, harness.Options{Config: func(c *bff.Config) {
		c.HTTPClient = &http.Client{Transport: slowRevocation{delay: 2500 * time.Millisecond}}
	}})
	b := env.NewBrowser()
	b.Login(t, env.Default.URL, harness.UserName, harness.UserPassword)
	user := b.User(t, env.Default.URL, http.StatusOK)
	before := env.OP.Counts().Revocation

	start := time.Now()
	resp, _ := b.Get(t, env.Default.URL+user.Session.LogoutURL)
	took := time.Since(start)
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("logout = %d, want 302", resp.StatusCode)
	}
	if took > 2*time.Second {
		t.Errorf("logout took %v with a slow revocation endpoint, want about 1s at most", took)
	}
	b.User(t, env.Default.URL, http.StatusUnauthorized)

	deadline := time.Now().Add(5 * time.Second)
	for env.OP.Counts().Revocation == before {
		if time.Now().After(deadline) {
			t.Fatal("the revocation never reached the provider")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Signing in again in the same browser replaces the session (a new ID, no
// fixation) and revokes the replaced session's refresh token.
func TestReloginEndsAndRevokesThePreviousSession(t *testing.T) {
	env := harness.Start(t, harness.Options{})
	b := env.NewBrowser()
	b.Login(t, env.Default.URL, harness.UserName, harness.UserPassword)
	first := b.User(t, env.Default.URL, http.StatusOK)
	oldCookie := b.Cookie(env.Default.URL, sessionCookie)
	before := env.OP.Counts().Revocation

	b.Login(t, env.Default.URL, harness.UserName, harness.UserPassword)
	second := b.User(t, env.Default.URL, http.StatusOK)
	if second.Session.ID == first.Session.ID || b.Cookie(env.Default.URL, sessionCookie) == oldCookie {
		t.Error("signing in again kept the session ID or cookie")
	}
	if got := env.OP.Counts().Revocation - before; got != 1 {
		t.Errorf("revocations at re-login = %d, want 1", got)
	}
	var list struct {
		Sessions []struct{ ID string } `json:"sessions"`
	}
	if code := b.JSON(t, http.MethodGet, env.Default.URL+"/bff/sessions", &list); code != http.StatusOK || len(list.Sessions) != 1 {
		t.Errorf("sessions after re-login = %d %+v, want exactly the new one", code, list.Sessions)
	}
}

// Review of issue 13: the provider's redirect back is a cross-site
// navigation, so the SameSite=Strict session cookie never reaches the
// callback; the session a browser had before signing in again lived on,
// with its refresh token. The session is remembered when the sign-in
// starts (a same-site request that carries the cookie).
func TestReloginWithoutCookieAtCallback(t *testing.T) {
	env := harness.Start(t, harness.Options{})
	h := holdSession(t, env, harness.UserName, harness.UserPassword, "")
	formURL, id := h.StartLogin(t, env.Default.URL, "/")
	cb := h.SubmitLogin(t, formURL, id, harness.UserName, harness.UserPassword)
	// What a browser sends on the redirect back: the Lax login cookie only.
	req := newRequest(t, http.MethodGet, cb.String())
	req.Header.Set("Cookie", "__Host-bff-login="+h.Cookie(env.Default.URL, "__Host-bff-login"))
	resp, body := crossSite(t, h.Browser, req)
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("callback = %d %.200s, want 302", resp.StatusCode, body)
	}
	if code := h.replayCookie(t); code != http.StatusUnauthorized {
		t.Errorf("the previous session's cookie = %d, want 401: it must have ended", code)
	}
	if h.refreshActive() {
		t.Error("the previous session's refresh token is still active")
	}
	var list struct {
		Sessions []struct{ ID string } `json:"sessions"`
	}
	if code := h.JSON(t, http.MethodGet, env.Default.URL+"/bff/sessions", &list); code != http.StatusOK || len(list.Sessions) != 1 {
		t.Errorf("sessions after signing in again = %d %+v, want exactly the new one", code, list.Sessions)
	}
}
