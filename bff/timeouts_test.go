package bff_test

import (
	"encoding/base64"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bff-project/bff/bff"
	"github.com/bff-project/bff/e2e/harness"
	"github.com/bff-project/bff/session"
)

// userStatus asks /bff/user with exactly this cookie value, from a fresh
// browser, so that the answer depends on the server alone and not on
// whether a cookie jar dropped an expired cookie.
func userStatus(t *testing.T, env *harness.Env, bffURL, cookie string) (int, harness.User) {
	t.Helper()
	b := env.NewBrowser()
	setCookie(t, b, bffURL, sessionCookie, cookie)
	var u harness.User
	code := b.JSON(t, http.MethodGet, bffURL+"/bff/user", &u)
	return code, u
}

// sleepUntil sleeps until t.
func sleepUntil(at time.Time) { time.Sleep(time.Until(at)) }

// withCookie sends method u with exactly this session cookie and X-CSRF,
// from a fresh browser, and returns the status.
func withCookie(t *testing.T, env *harness.Env, method, u, cookie string) int {
	t.Helper()
	b := env.NewBrowser()
	setCookie(t, b, u, sessionCookie, cookie)
	resp, _ := b.Call(t, method, u, nil)
	return resp.StatusCode
}

// Ways of using a session in TestSessionTimeouts.
var (
	// apiCall is activity: it extends the idle timeout.
	apiCall = func(t *testing.T, env *harness.Env, bffURL, cookie string) {
		if code := withCookie(t, env, http.MethodGet, bffURL+"/api/orders/whoami", cookie); code != http.StatusOK {
			t.Fatalf("API call = %d, want 200", code)
		}
	}
	// keepalive is the SPA's "stay signed in".
	keepalive = func(t *testing.T, env *harness.Env, bffURL, cookie string) {
		if code := withCookie(t, env, http.MethodPost, bffURL+"/bff/keepalive", cookie); code != http.StatusNoContent {
			t.Fatalf("POST /bff/keepalive = %d, want 204", code)
		}
	}
	// readOnly reads who is signed in, the session list and the event
	// stream, and tries a logout with a wrong sid (a cross-site GET under
	// same_site lax): none of it is activity.
	readOnly = func(t *testing.T, env *harness.Env, bffURL, cookie string) {
		for _, p := range []string{"/bff/user", "/bff/sessions", "/bff/logout?sid=wrong"} {
			withCookie(t, env, http.MethodGet, bffURL+p, cookie)
		}
		b := env.NewBrowser()
		setCookie(t, b, bffURL, sessionCookie, cookie)
		harness.OpenStream(t, b.Client, bffURL+"/bff/events", http.Header{"Sec-Fetch-Site": {"same-origin"}})
		b.Client.CloseIdleConnections()
	}
)

func TestSessionTimeouts(t *testing.T) {
	tests := []struct {
		name     string
		idle     time.Duration
		lifetime time.Duration
		// uses are when (after sign-in) the session is used, by use, and
		// must still be valid.
		uses []time.Duration
		use  func(t *testing.T, env *harness.Env, bffURL, cookie string)
		// endsAt is when (after sign-in) the session must be over on the
		// server.
		endsAt time.Duration
	}{
		{
			name: "idle timeout ends an unused session",
			idle: 2 * time.Second, lifetime: time.Hour,
			endsAt: 2500 * time.Millisecond,
		},
		{
			name: "API calls extend the idle timeout",
			idle: 2 * time.Second, lifetime: time.Hour,
			uses: []time.Duration{1200 * time.Millisecond, 2400 * time.Millisecond, 3600 * time.Millisecond}, use: apiCall,
			endsAt: 3600*time.Millisecond + 2500*time.Millisecond,
		},
		{
			name: "keepalive extends the idle timeout",
			idle: 2 * time.Second, lifetime: time.Hour,
			uses: []time.Duration{1200 * time.Millisecond, 2400 * time.Millisecond, 3600 * time.Millisecond}, use: keepalive,
			endsAt: 3600*time.Millisecond + 2500*time.Millisecond,
		},
		{
			// Issue 17: /bff/user polling used to keep a session alive.
			// Each round of reads may take most of a second on a loaded
			// machine; the touch interval (idle/10) is far shorter, so the
			// old code extended the session at every round.
			name: "reading the session does not extend the idle timeout",
			idle: 4 * time.Second, lifetime: time.Hour,
			uses: []time.Duration{time.Second, 2 * time.Second, 3 * time.Second}, use: readOnly,
			endsAt: 4500 * time.Millisecond,
		},
		{
			name: "absolute lifetime ends a session in use",
			idle: 2 * time.Second, lifetime: 4 * time.Second,
			uses: []time.Duration{time.Second, 2 * time.Second, 3 * time.Second}, use: apiCall,
			endsAt: 4400 * time.Millisecond,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			env, _ := start(t, func(c *bff.Config) {
				c.Session.IdleTimeout = tt.idle
				c.Session.Lifetime = tt.lifetime
			})
			bffURL := env.Default.URL
			b := env.NewBrowser()
			signInAs(t, b, bffURL, "/", harness.UserName, harness.UserPassword)
			signedIn := time.Now()
			cookie := b.Cookie(bffURL, sessionCookie)
			first := b.User(t, bffURL, http.StatusOK)
			for _, at := range tt.uses {
				sleepUntil(signedIn.Add(at))
				tt.use(t, env, bffURL, cookie)
				code, u := userStatus(t, env, bffURL, cookie)
				if code != http.StatusOK || u.Session.ID != first.Session.ID {
					t.Fatalf("%v after sign-in: /bff/user = %d (session %q), want 200 (session %q)", at, code, u.Session.ID, first.Session.ID)
				}
			}
			sleepUntil(signedIn.Add(tt.endsAt))
			if code, _ := userStatus(t, env, bffURL, cookie); code != http.StatusUnauthorized {
				t.Errorf("%v after sign-in: /bff/user = %d, want 401", tt.endsAt, code)
			}
			// Gone from the store, not just refused: a restart (new
			// cache) still finds nothing.
			env.Default.Restart(t)
			if code, _ := userStatus(t, env, bffURL, cookie); code != http.StatusUnauthorized {
				t.Errorf("after restart: /bff/user = %d, want 401", code)
			}
		})
	}
}

func TestSessionSurvivesRestart(t *testing.T) {
	env, _ := start(t, nil)
	b := env.NewBrowser()
	signInAs(t, b, env.Default.URL, "/", harness.UserName, harness.UserPassword)
	before := b.User(t, env.Default.URL, http.StatusOK)
	env.Default.Restart(t)
	after := b.User(t, env.Default.URL, http.StatusOK)
	if after.Session.ID != before.Session.ID || after.Sub != before.Sub {
		t.Errorf("after restart: session %q sub %q, want session %q sub %q", after.Session.ID, after.Sub, before.Session.ID, before.Sub)
	}
	if resp, body := b.Call(t, http.MethodGet, env.Default.URL+"/api/orders/whoami", nil); resp.StatusCode != http.StatusOK {
		t.Errorf("API call after restart = %d %s, want 200", resp.StatusCode, body)
	}
}

// Keys rotate both ways: a new key is prepended and old sessions stay; the
// old key is dropped and only sessions sealed under it end, with 401.
func TestKeyRotation(t *testing.T) {
	env, _ := start(t, nil)
	bffURL := env.Default.URL
	oldKey, newKey := env.Key, base64.StdEncoding.EncodeToString([]byte("a brand-new 32-byte session key!"))
	restartWith := func(keys ...string) {
		t.Helper()
		env.Default.Config.Session.EncryptionKeys = keys
		env.Default.Restart(t)
	}
	sameSession := func(step string, b *harness.Browser, want harness.User) {
		t.Helper()
		got := b.User(t, bffURL, http.StatusOK)
		if got.Session.ID != want.Session.ID {
			t.Errorf("%s: session %q, want %q", step, got.Session.ID, want.Session.ID)
		}
	}

	underOld := env.NewBrowser()
	signInAs(t, underOld, bffURL, "/", harness.UserName, harness.UserPassword)
	oldUser := underOld.User(t, bffURL, http.StatusOK)
	// Made under [old] and not used again until only [new] is left.
	unusedOld := env.NewBrowser()
	signInAs(t, unusedOld, bffURL, "/", harness.OtherName, harness.OtherPass)
	// A sign-in under way while the key changes can still be finished.
	midFlight := env.NewBrowser()
	flight := startSignIn(t, midFlight, bffURL, "/", harness.OtherName, harness.OtherPass)

	restartWith(newKey, oldKey)
	sameSession("[new, old]: session made under [old]", underOld, oldUser)
	if resp, body := midFlight.Get(t, flight.callback.String()); resp.StatusCode != http.StatusFound {
		t.Errorf("[new, old]: callback of a sign-in started under [old] = %d %s, want 302", resp.StatusCode, body)
	}

	underNew := env.NewBrowser()
	signInAs(t, underNew, bffURL, "/", harness.UserName, harness.UserPassword)
	newUser := underNew.User(t, bffURL, http.StatusOK)

	restartWith(newKey)
	sameSession("[new]: session made under [new, old]", underNew, newUser)
	resp, body := unusedOld.Call(t, http.MethodGet, bffURL+"/bff/user", nil)
	checkErrorAnswer(t, resp, body, http.StatusUnauthorized, "unauthenticated")
	resp, body = unusedOld.Call(t, http.MethodGet, bffURL+"/api/orders/whoami", nil)
	checkErrorAnswer(t, resp, body, http.StatusUnauthorized, "unauthenticated")
}

// A copy of the bolt file yields no token, no cookie and no personal data.
func TestStoreDumpHasNoSecrets(t *testing.T) {
	env, _ := start(t, nil)
	bffURL := env.Default.URL
	b := env.NewBrowser()
	signInAs(t, b, bffURL, "/", harness.UserName, harness.UserPassword)
	for _, api := range []string{"/api/orders/whoami", "/api/profile/whoami"} {
		if resp, body := b.Call(t, http.MethodGet, bffURL+api, nil); resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s = %d %s, want 200", api, resp.StatusCode, body)
		}
	}
	user := b.User(t, bffURL, http.StatusOK)
	cookie := b.Cookie(bffURL, sessionCookie)
	if err := env.Default.Server.Close(); err != nil {
		t.Fatalf("Close() = %v", err)
	}
	dump, err := os.ReadFile(env.DBPath)
	if err != nil {
		t.Fatal(err)
	}
	// The dump is the right file: the session is in it, under the hash of
	// the cookie.
	if !strings.Contains(string(dump), session.StoreKey(cookie)) {
		t.Fatalf("%s does not hold the session's store key; wrong file?", filepath.Base(env.DBPath))
	}

	secrets := secretSet{}
	issued := env.OP.IssuedTokens()
	if len(issued) < 4 {
		t.Fatalf("provider issued %d tokens, want >= 4", len(issued))
	}
	for i, tok := range issued {
		secrets.addToken("issued token "+strconv.Itoa(i), tok)
	}
	secrets.add("session cookie", cookie)
	secrets.add("email", "alice@example.test")
	secrets.add("name", "Alice Example")
	secrets.add("subject", harness.UserSubject)
	secrets.add("public session id", user.Session.ID)
	secrets.add("client secret", harness.ClientSecret)
	keySecrets(secrets, "encryption key", env.Key)
	if found := secrets.findIn(string(dump)); len(found) > 0 {
		t.Errorf("bolt file contains %v", found)
	}
}
