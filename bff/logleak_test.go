package bff_test

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bff-project/bff/bff"
	"github.com/bff-project/bff/e2e/harness"
)

// A whole session's life (sign-in, API calls, a token refresh, the session
// list, sign-out) logged at debug level into a buffer: no token, code,
// verifier, cookie value, client secret or key may appear in it, and no
// browser response may carry a token, except the ID token the contract puts
// in the end-session redirect (id_token_hint), sent after the session and
// its refresh token are gone.
func TestSessionLifeLeaksNothing(t *testing.T) {
	rec := &providerRecorder{base: &http.Transport{}}
	env := harness.Start(t, harness.Options{
		AccessTokenLifetime: 2 * time.Second,
		Config: func(c *bff.Config) {
			c.HTTPClient = &http.Client{Transport: rec}
			c.OIDC.RefreshSkew = 500 * time.Millisecond
		},
	})
	bffURL := env.Default.URL
	b := env.NewBrowser()
	s := signInAs(t, b, bffURL, "/", harness.UserName, harness.UserPassword)
	cookie := b.Cookie(bffURL, sessionCookie)
	user := b.User(t, bffURL, http.StatusOK)
	call := func(path string) {
		t.Helper()
		if resp, body := b.Call(t, http.MethodGet, bffURL+path, nil); resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s = %d %s, want 200", path, resp.StatusCode, body)
		}
	}
	call("/api/orders/whoami")
	call("/api/profile/whoami")
	before := env.OP.Counts().Refresh
	time.Sleep(2500 * time.Millisecond) // every access token is now expired
	call("/api/orders/whoami")
	call("/api/profile/whoami")
	call("/bff/sessions")
	if env.OP.Counts().Refresh <= before {
		t.Fatal("no refresh happened; the test would prove nothing about the refresh path")
	}
	resp, _ := b.Get(t, bffURL+user.Session.LogoutURL)
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("logout = %d, want 302", resp.StatusCode)
	}
	endSession, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	hint := endSession.Query().Get("id_token_hint")

	issued := env.OP.IssuedTokens()
	codes, verifiers := rec.seen()
	secrets := secretSet{}
	for i, tok := range issued {
		secrets.addToken("issued token "+strconv.Itoa(i), tok)
	}
	for i, v := range verifiers {
		secrets.add("PKCE verifier "+strconv.Itoa(i), v)
	}
	secrets.add("client secret", harness.ClientSecret)
	keySecrets(secrets, "encryption key", env.Key)

	for _, r := range b.Seen() {
		var text strings.Builder
		for name, values := range r.Header {
			text.WriteString(name + ": " + strings.Join(values, "\n") + "\n")
		}
		text.WriteString(r.Body)
		scanned := text.String()
		if strings.Contains(r.URL, "/bff/logout") && hint != "" {
			// The end-session redirect (Location and http.Redirect's
			// little HTML body) is the one allowed place.
			scanned = strings.ReplaceAll(scanned, hint, "")
		}
		if found := secrets.findIn(scanned); len(found) > 0 {
			t.Errorf("response %d %s contains %v", r.Status, r.URL, found)
		}
	}

	logs := env.Logs.String()
	for _, want := range []string{"signed in", "signed out"} {
		if !strings.Contains(logs, want) {
			t.Fatalf("BFF log has no %q line; is the logger wired?", want)
		}
	}
	secrets.add("session cookie", cookie)
	if c := responseCookie(s.login, loginCookie); c != nil {
		secrets.add("login cookie", c.Value)
	}
	for i, c := range codes {
		secrets.add("authorization code "+strconv.Itoa(i), c)
	}
	if found := secrets.findIn(logs); len(found) > 0 {
		t.Errorf("BFF log contains %v", found)
	}
}
