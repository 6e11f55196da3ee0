package bff_test

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bff-project/bff/bff"
	"github.com/bff-project/bff/e2e/harness"
)

const (
	sessionCookie = "__Host-bff"
	loginCookie   = "__Host-bff-login"
)

// providerRecorder is the BFF's HTTP client transport toward the provider.
// It records the code and PKCE verifier of every token request, which no
// browser-facing surface shows, so tests can look for them elsewhere.
type providerRecorder struct {
	base      http.RoundTripper
	mu        sync.Mutex
	codes     []string
	verifiers []string
}

func (p *providerRecorder) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Method == http.MethodPost && req.Body != nil {
		body, err := io.ReadAll(req.Body)
		req.Body.Close()
		if err != nil {
			return nil, err
		}
		req.Body = io.NopCloser(bytes.NewReader(body))
		if form, err := url.ParseQuery(string(body)); err == nil {
			p.mu.Lock()
			if v := form.Get("code_verifier"); v != "" {
				p.verifiers = append(p.verifiers, v)
			}
			if c := form.Get("code"); c != "" {
				p.codes = append(p.codes, c)
			}
			p.mu.Unlock()
		}
	}
	return p.base.RoundTrip(req)
}

func (p *providerRecorder) seen() (codes, verifiers []string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.codes...), append([]string(nil), p.verifiers...)
}

// start starts an environment whose BFF talks to the provider through a
// providerRecorder; mutate may change the config further.
func start(t *testing.T, mutate func(*bff.Config)) (*harness.Env, *providerRecorder) {
	t.Helper()
	rec := &providerRecorder{base: &http.Transport{}}
	env := harness.Start(t, harness.Options{Config: func(c *bff.Config) {
		c.HTTPClient = &http.Client{Transport: rec}
		if mutate != nil {
			mutate(c)
		}
	}})
	return env, rec
}

var authRequestIDField = regexp.MustCompile(`name="authRequestID" value="([^"]+)"`)

// signIn is every hop of one sign-in, for tests to inspect.
type signIn struct {
	login     *http.Response // GET /bff/login
	authorize *url.URL       // where /bff/login sent the browser
	callback  *url.URL       // where the provider sent the browser back
	final     *http.Response // GET /bff/callback
	finalBody string
}

// startSignIn runs /bff/login and the provider's login form, stopping
// before the callback.
func startSignIn(t *testing.T, b *harness.Browser, bffURL, returnURL, user, pass string) *signIn {
	t.Helper()
	u := bffURL + "/bff/login"
	if returnURL != "" {
		u += "?returnUrl=" + url.QueryEscape(returnURL)
	}
	resp, body := b.Get(t, u)
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("GET /bff/login = %d %s, want 302", resp.StatusCode, body)
	}
	s := &signIn{login: resp}
	var err error
	if s.authorize, err = resp.Request.URL.Parse(resp.Header.Get("Location")); err != nil {
		t.Fatal(err)
	}
	form, formBody := b.Follow(t, resp, body)
	m := authRequestIDField.FindStringSubmatch(formBody)
	if form.StatusCode != http.StatusOK || m == nil {
		t.Fatalf("login form not reached: %d %s", form.StatusCode, formBody)
	}
	s.callback = b.SubmitLogin(t, form.Request.URL, m[1], user, pass)
	return s
}

// signInAs signs in fully and fails the test unless the callback redirects.
func signInAs(t *testing.T, b *harness.Browser, bffURL, returnURL, user, pass string) *signIn {
	t.Helper()
	s := startSignIn(t, b, bffURL, returnURL, user, pass)
	s.final, s.finalBody = b.Get(t, s.callback.String())
	if s.final.StatusCode != http.StatusFound {
		t.Fatalf("GET /bff/callback = %d %s, want 302", s.final.StatusCode, s.finalBody)
	}
	return s
}

func responseCookie(resp *http.Response, name string) *http.Cookie {
	for _, c := range resp.Cookies() {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// setCookie puts a cookie into b's jar for u, replacing one of that name.
func setCookie(t *testing.T, b *harness.Browser, u, name, value string) {
	t.Helper()
	pu, err := url.Parse(u)
	if err != nil {
		t.Fatal(err)
	}
	b.Client.Jar.SetCookies(pu, []*http.Cookie{{Name: name, Value: value, Path: "/", Secure: true, HttpOnly: true}})
}

// flip changes one character in the middle of s to another base64url one.
func flip(s string) string {
	if s == "" {
		return "x"
	}
	i := len(s) / 2
	c := byte('A')
	if s[i] == 'A' {
		c = 'B'
	}
	return s[:i] + string(c) + s[i+1:]
}

func TestSignIn(t *testing.T) {
	tests := []struct {
		name         string
		sameSite     string // session.same_site; "" = default
		returnURL    string // "" = none given
		wantSameSite http.SameSite
		wantLocation string
	}{
		{name: "default strict, no returnUrl", wantSameSite: http.SameSiteStrictMode, wantLocation: "/"},
		{name: "lax", sameSite: "lax", returnURL: "/", wantSameSite: http.SameSiteLaxMode, wantLocation: "/"},
		{name: "deep returnUrl", returnURL: "/deep/path?x=1#frag", wantSameSite: http.SameSiteStrictMode, wantLocation: "/deep/path?x=1#frag"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env, rec := start(t, func(c *bff.Config) { c.Session.SameSite = tt.sameSite })
			bffURL := env.Default.URL
			b := env.NewBrowser()
			s := signInAs(t, b, bffURL, tt.returnURL, harness.UserName, harness.UserPassword)
			checkAuthorizeRequest(t, s.authorize, env, bffURL, rec)
			checkLoginCookie(t, s, b, bffURL)

			if got := s.final.Header.Get("Location"); got != tt.wantLocation {
				t.Errorf("callback Location = %q, want %q", got, tt.wantLocation)
			}
			c := responseCookie(s.final, sessionCookie)
			if c == nil || c.Value == "" {
				t.Fatalf("callback set no %s cookie; Set-Cookie = %q", sessionCookie, s.final.Header.Values("Set-Cookie"))
			}
			if !c.HttpOnly || !c.Secure || c.Path != "/" || c.Domain != "" || c.SameSite != tt.wantSameSite {
				t.Errorf("session cookie = HttpOnly %v, Secure %v, Path %q, Domain %q, SameSite %v; want true, true, \"/\", \"\", %v",
					c.HttpOnly, c.Secure, c.Path, c.Domain, c.SameSite, tt.wantSameSite)
			}
			checkUser(t, b, bffURL, c.Value)
		})
	}
}

// checkAuthorizeRequest checks the redirect to the provider: code flow,
// PKCE S256 over the verifier the BFF later sends, state, nonce and the
// exact redirect URI.
func checkAuthorizeRequest(t *testing.T, authorize *url.URL, env *harness.Env, bffURL string, rec *providerRecorder) {
	t.Helper()
	if got := authorize.Scheme + "://" + authorize.Host; got != env.OPURL {
		t.Errorf("/bff/login redirects to origin %q, want the provider %q", got, env.OPURL)
	}
	q := authorize.Query()
	for _, p := range []struct{ key, want string }{
		{"response_type", "code"},
		{"code_challenge_method", "S256"},
		{"client_id", harness.ClientID},
		{"redirect_uri", bffURL + "/bff/callback"},
	} {
		if got := q.Get(p.key); got != p.want {
			t.Errorf("authorize %s = %q, want %q", p.key, got, p.want)
		}
	}
	for _, key := range []string{"state", "nonce", "code_challenge"} {
		if got := q.Get(key); len(got) < 22 {
			t.Errorf("authorize %s = %q, want a random value of at least 128 bits", key, got)
		}
	}
	if q.Get("state") == q.Get("nonce") {
		t.Errorf("state and nonce are both %q, want independent values", q.Get("state"))
	}
	if scopes := strings.Fields(q.Get("scope")); !contains(scopes, "openid") {
		t.Errorf("authorize scope = %q, want it to include openid", q.Get("scope"))
	}
	_, verifiers := rec.seen()
	if len(verifiers) != 1 {
		t.Fatalf("token requests carried %d code_verifiers, want 1", len(verifiers))
	}
	sum := sha256.Sum256([]byte(verifiers[0]))
	if want := base64.RawURLEncoding.EncodeToString(sum[:]); q.Get("code_challenge") != want {
		t.Errorf("code_challenge = %q, want BASE64URL(SHA256(code_verifier)) = %q", q.Get("code_challenge"), want)
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// checkLoginCookie checks the login-flow cookie /bff/login set and that the
// callback cleared it.
func checkLoginCookie(t *testing.T, s *signIn, b *harness.Browser, bffURL string) {
	t.Helper()
	c := responseCookie(s.login, loginCookie)
	if c == nil || c.Value == "" {
		t.Fatalf("/bff/login set no %s cookie; Set-Cookie = %q", loginCookie, s.login.Header.Values("Set-Cookie"))
	}
	if !c.HttpOnly || !c.Secure || c.Path != "/" || c.Domain != "" || c.SameSite != http.SameSiteLaxMode {
		t.Errorf("login cookie = HttpOnly %v, Secure %v, Path %q, Domain %q, SameSite %v; want true, true, \"/\", \"\", Lax",
			c.HttpOnly, c.Secure, c.Path, c.Domain, c.SameSite)
	}
	if c.MaxAge <= 0 || c.MaxAge > 600 {
		t.Errorf("login cookie Max-Age = %d, want 1..600", c.MaxAge)
	}
	if !c.Expires.IsZero() && time.Until(c.Expires) > 601*time.Second {
		t.Errorf("login cookie Expires = %v, want at most 10 minutes ahead", c.Expires)
	}
	cleared := responseCookie(s.final, loginCookie)
	if cleared == nil || cleared.MaxAge >= 0 {
		t.Errorf("callback Set-Cookie for %s = %v, want it deleted (Max-Age=0)", loginCookie, cleared)
	}
	if got := b.Cookie(bffURL, loginCookie); got != "" {
		t.Errorf("browser still holds %s = %q after the callback, want none", loginCookie, got)
	}
}

// checkUser checks /bff/user's JSON shape against the contract.
func checkUser(t *testing.T, b *harness.Browser, bffURL, cookieValue string) {
	t.Helper()
	resp, body := b.Call(t, http.MethodGet, bffURL+"/bff/user", nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /bff/user = %d %s, want 200", resp.StatusCode, body)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("/bff/user Content-Type = %q, want application/json", ct)
	}
	if cc := resp.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("/bff/user Cache-Control = %q, want no-store", cc)
	}
	var u struct {
		Sub     string         `json:"sub"`
		Claims  map[string]any `json:"claims"`
		Session map[string]any `json:"session"`
	}
	if err := json.Unmarshal([]byte(body), &u); err != nil {
		t.Fatalf("/bff/user body %s: %v", body, err)
	}
	sess := func(k string) string { v, _ := u.Session[k].(string); return v }
	if u.Sub != harness.UserSubject {
		t.Errorf("sub = %q, want %q", u.Sub, harness.UserSubject)
	}
	if got := u.Claims["email"]; got != "alice@example.test" {
		t.Errorf("claims.email = %v, want alice@example.test", got)
	}
	if got := u.Claims["name"]; got != "Alice Example" {
		t.Errorf("claims.name = %v, want Alice Example", got)
	}
	if got := u.Claims["sub"]; got != harness.UserSubject {
		t.Errorf("claims.sub = %v, want %q", got, harness.UserSubject)
	}
	id := sess("id")
	if id == "" {
		t.Fatalf("session.id is empty in %s", body)
	}
	if id == cookieValue || strings.Contains(cookieValue, id) || strings.Contains(id, cookieValue) {
		t.Errorf("session.id %q is (part of) the cookie value %q, want an unrelated public ID", id, cookieValue)
	}
	if strings.Contains(body, cookieValue) {
		t.Errorf("/bff/user body contains the session cookie value")
	}
	times := map[string]time.Time{}
	for _, k := range []string{"created_at", "expires_at", "idle_expires_at"} {
		v, err := time.Parse(time.RFC3339Nano, sess(k))
		if err != nil {
			t.Errorf("session.%s = %q, want an RFC 3339 time: %v", k, sess(k), err)
		}
		times[k] = v
	}
	now := time.Now()
	if c := times["created_at"]; c.After(now) || now.Sub(c) > time.Minute {
		t.Errorf("session.created_at = %v, want about now (%v)", c, now)
	}
	if e, c := times["expires_at"], times["created_at"]; e.Sub(c) != 24*time.Hour {
		t.Errorf("session.expires_at - created_at = %v, want the default lifetime 24h", e.Sub(c))
	}
	if ie := times["idle_expires_at"]; ie.Before(now) || ie.After(times["expires_at"]) {
		t.Errorf("session.idle_expires_at = %v, want between now and expires_at %v", ie, times["expires_at"])
	}
	if got, want := sess("logout_url"), "/bff/logout?sid="+url.QueryEscape(id); got != want {
		t.Errorf("session.logout_url = %q, want %q", got, want)
	}
	// The sign-in's strength is the ID token's.
	wantACR, _ := u.Claims["acr"].(string)
	if got := u.Session["acr"]; got != wantACR {
		t.Errorf("session.acr = %v, want the ID token's %q", got, wantACR)
	}
	if got, want := fmt.Sprint(u.Session["amr"]), fmt.Sprint(u.Claims["amr"]); got != want {
		t.Errorf("session.amr = %s, want the ID token's %s", got, want)
	}
	authTime, err := time.Parse(time.RFC3339, sess("auth_time"))
	if at, _ := u.Claims["auth_time"].(float64); err != nil || authTime.Unix() != int64(at) {
		t.Errorf("session.auth_time = %q, want the ID token's auth_time %v as RFC 3339", sess("auth_time"), u.Claims["auth_time"])
	}
}

// badResponse checks an error answer to a navigation or fetch: the wanted
// status, the contract's error code, and none of the details that belong in
// the log only.
func checkErrorAnswer(t *testing.T, resp *http.Response, body string, wantStatus int, wantCode string) {
	t.Helper()
	if resp.StatusCode != wantStatus {
		t.Errorf("status = %d, want %d; body %s", resp.StatusCode, wantStatus, body)
	}
	ct := resp.Header.Get("Content-Type")
	switch {
	case strings.HasPrefix(ct, "application/json"):
		var e struct {
			Error       string `json:"error"`
			Description string `json:"error_description"`
		}
		if err := json.Unmarshal([]byte(body), &e); err != nil {
			t.Errorf("error body %q is not JSON: %v", body, err)
		}
		if e.Error != wantCode || e.Description == "" {
			t.Errorf("error body = %+v, want error %q and a description", e, wantCode)
		}
	case strings.HasPrefix(ct, "text/html"):
		if !strings.Contains(body, "<h1") || !strings.Contains(body, wantCode) {
			t.Errorf("error page does not show a heading and the code %q:\n%s", wantCode, body)
		}
	default:
		t.Errorf("error Content-Type = %q, want JSON or HTML", ct)
	}
	for _, leak := range []string{"goroutine", ".go:", "panic", "oauth2:", "securecookie", "cause", "runtime error", "cannot ", "failed"} {
		if strings.Contains(strings.ToLower(body), leak) {
			t.Errorf("error body contains internal detail %q:\n%s", leak, body)
		}
	}
}

// checkNoSessionSet checks that resp set no (non-empty) session cookie.
func checkNoSessionSet(t *testing.T, resp *http.Response) {
	t.Helper()
	if c := responseCookie(resp, sessionCookie); c != nil && c.Value != "" {
		t.Errorf("response set %s = %q, want no session cookie", sessionCookie, c.Value)
	}
}

// callbackTest is one bad callback. run drives a browser b (with no
// session) to the point of the bad request and returns its answer.
type callbackTest struct {
	name       string
	run        func(t *testing.T, env *harness.Env, b *harness.Browser) (*http.Response, string)
	wantStatus int
	wantCode   string
	notInBody  string // text the attacker chose, which must not be reflected
}

func (tt callbackTest) check(t *testing.T) {
	env, _ := start(t, nil)
	b := env.NewBrowser()
	resp, body := tt.run(t, env, b)
	checkErrorAnswer(t, resp, body, tt.wantStatus, tt.wantCode)
	checkNoSessionSet(t, resp)
	if tt.notInBody != "" && strings.Contains(body, tt.notInBody) {
		t.Errorf("error body reflects %q:\n%s", tt.notInBody, body)
	}
	if got := b.Cookie(env.Default.URL, sessionCookie); got != "" {
		t.Errorf("browser holds %s = %q after a failed callback, want none", sessionCookie, got)
	}
	b.User(t, env.Default.URL, http.StatusUnauthorized)
}

// withQuery returns u with the query values in set replaced (or removed
// when the value is "").
func withQuery(u *url.URL, set map[string]string) string {
	c := *u
	q := c.Query()
	for k, v := range set {
		if v == "" {
			q.Del(k)
		} else {
			q.Set(k, v)
		}
	}
	c.RawQuery = q.Encode()
	return c.String()
}

func TestCallbackRejectsBadInput(t *testing.T) {
	const description = "Your account is locked. Call +1-555-0100 now <script>alert(1)</script>"
	tests := []callbackTest{
		{
			name: "missing state",
			run: func(t *testing.T, env *harness.Env, b *harness.Browser) (*http.Response, string) {
				s := startSignIn(t, b, env.Default.URL, "/", harness.UserName, harness.UserPassword)
				return b.Get(t, withQuery(s.callback, map[string]string{"state": ""}))
			},
			wantStatus: http.StatusBadRequest, wantCode: "invalid_state",
		},
		{
			name: "forged state",
			run: func(t *testing.T, env *harness.Env, b *harness.Browser) (*http.Response, string) {
				s := startSignIn(t, b, env.Default.URL, "/", harness.UserName, harness.UserPassword)
				return b.Get(t, withQuery(s.callback, map[string]string{"state": "forged-" + strconv.FormatInt(time.Now().UnixNano(), 36)}))
			},
			wantStatus: http.StatusBadRequest, wantCode: "invalid_state",
		},
		{
			name: "callback in a browser that did not start the sign-in",
			run: func(t *testing.T, env *harness.Env, b *harness.Browser) (*http.Response, string) {
				victim := env.NewBrowser()
				s := startSignIn(t, victim, env.Default.URL, "/", harness.UserName, harness.UserPassword)
				return b.Get(t, s.callback.String())
			},
			wantStatus: http.StatusBadRequest, wantCode: "invalid_state",
		},
		{
			// An attacker holding a copy of the login cookie replays the
			// callback after the user finished it: the state is spent on
			// the server, whatever the cookie says.
			name: "reused state (replayed callback URL with the login cookie)",
			run: func(t *testing.T, env *harness.Env, b *harness.Browser) (*http.Response, string) {
				victim := env.NewBrowser()
				s := startSignIn(t, victim, env.Default.URL, "/", harness.UserName, harness.UserPassword)
				setCookie(t, b, env.Default.URL, loginCookie, victim.Cookie(env.Default.URL, loginCookie))
				if resp, body := victim.Get(t, s.callback.String()); resp.StatusCode != http.StatusFound {
					t.Fatalf("first callback = %d %s, want 302", resp.StatusCode, body)
				}
				return b.Get(t, s.callback.String())
			},
			wantStatus: http.StatusBadRequest, wantCode: "invalid_state",
		},
		{
			name: "replayed code",
			run: func(t *testing.T, env *harness.Env, b *harness.Browser) (*http.Response, string) {
				other := env.NewBrowser()
				used := signInAs(t, other, env.Default.URL, "/", harness.UserName, harness.UserPassword)
				s := startSignIn(t, b, env.Default.URL, "/", harness.OtherName, harness.OtherPass)
				return b.Get(t, withQuery(s.callback, map[string]string{"code": used.callback.Query().Get("code")}))
			},
			wantStatus: http.StatusBadRequest, wantCode: "invalid_grant",
		},
		{
			name: "wrong iss",
			run: func(t *testing.T, env *harness.Env, b *harness.Browser) (*http.Response, string) {
				s := startSignIn(t, b, env.Default.URL, "/", harness.UserName, harness.UserPassword)
				return b.Get(t, withQuery(s.callback, map[string]string{"iss": "https://evil.example"}))
			},
			wantStatus: http.StatusBadRequest, wantCode: "invalid_issuer",
		},
		{
			name: "iss that only differs by a trailing slash",
			run: func(t *testing.T, env *harness.Env, b *harness.Browser) (*http.Response, string) {
				s := startSignIn(t, b, env.Default.URL, "/", harness.UserName, harness.UserPassword)
				return b.Get(t, withQuery(s.callback, map[string]string{"iss": env.OPURL + "/"}))
			},
			wantStatus: http.StatusBadRequest, wantCode: "invalid_issuer",
		},
		{
			name: "provider error access_denied",
			run: func(t *testing.T, env *harness.Env, b *harness.Browser) (*http.Response, string) {
				s := startSignIn(t, b, env.Default.URL, "/", harness.UserName, harness.UserPassword)
				return b.Get(t, withQuery(s.callback, map[string]string{
					"code": "", "error": "access_denied", "error_description": description,
					"state": s.authorize.Query().Get("state"),
				}))
			},
			wantStatus: http.StatusBadRequest, wantCode: "access_denied", notInBody: "Call +1-555",
		},
		{
			name: "provider error with an odd code",
			run: func(t *testing.T, env *harness.Env, b *harness.Browser) (*http.Response, string) {
				s := startSignIn(t, b, env.Default.URL, "/", harness.UserName, harness.UserPassword)
				return b.Get(t, withQuery(s.callback, map[string]string{
					"code": "", "error": "<b>pwned</b>", "error_description": description,
					"state": s.authorize.Query().Get("state"),
				}))
			},
			wantStatus: http.StatusBadRequest, wantCode: "access_denied", notInBody: "pwned",
		},
		{
			name: "tampered login cookie",
			run: func(t *testing.T, env *harness.Env, b *harness.Browser) (*http.Response, string) {
				s := startSignIn(t, b, env.Default.URL, "/", harness.UserName, harness.UserPassword)
				v := b.Cookie(env.Default.URL, loginCookie)
				if v == "" {
					t.Fatalf("no %s cookie after /bff/login", loginCookie)
				}
				setCookie(t, b, env.Default.URL, loginCookie, flip(v))
				return b.Get(t, s.callback.String())
			},
			wantStatus: http.StatusBadRequest, wantCode: "invalid_state",
		},
		{
			name: "login cookie from a BFF with another key",
			run: func(t *testing.T, env *harness.Env, b *harness.Browser) (*http.Response, string) {
				s := startSignIn(t, b, env.Default.URL, "/", harness.UserName, harness.UserPassword)
				env.Default.Config.Session.EncryptionKeys = []string{otherKey}
				env.Default.Restart(t)
				return b.Get(t, s.callback.String())
			},
			wantStatus: http.StatusBadRequest, wantCode: "invalid_state",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, tt.check)
	}
}

// otherKey is an encryption key unlike the harness's.
var otherKey = base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{0x17}, 32))

// Replaying the callback URL in the browser that just used it fails and
// neither replaces nor ends the session it made.
func TestCallbackReplayInSameBrowser(t *testing.T) {
	env, _ := start(t, nil)
	b := env.NewBrowser()
	s := signInAs(t, b, env.Default.URL, "/", harness.UserName, harness.UserPassword)
	before := b.User(t, env.Default.URL, http.StatusOK)
	cookie := b.Cookie(env.Default.URL, sessionCookie)

	resp, body := b.Get(t, s.callback.String())
	checkErrorAnswer(t, resp, body, http.StatusBadRequest, "invalid_state")
	if c := responseCookie(resp, sessionCookie); c != nil {
		t.Errorf("replayed callback set %s (%q, Max-Age %d), want the cookie untouched", sessionCookie, c.Value, c.MaxAge)
	}
	if got := b.Cookie(env.Default.URL, sessionCookie); got != cookie {
		t.Errorf("session cookie changed from %q to %q", cookie, got)
	}
	if after := b.User(t, env.Default.URL, http.StatusOK); after.Session.ID != before.Session.ID {
		t.Errorf("session id = %q after the replay, want %q", after.Session.ID, before.Session.ID)
	}
}

// An iss parameter equal to the configured issuer is accepted: the check
// compares, it does not refuse every iss.
func TestCallbackAcceptsMatchingIss(t *testing.T) {
	env, _ := start(t, nil)
	b := env.NewBrowser()
	s := startSignIn(t, b, env.Default.URL, "/", harness.UserName, harness.UserPassword)
	resp, body := b.Get(t, withQuery(s.callback, map[string]string{"iss": env.OPURL}))
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("callback with iss=%s = %d %s, want 302", env.OPURL, resp.StatusCode, body)
	}
	b.User(t, env.Default.URL, http.StatusOK)
}

func TestSessionCookieRejected(t *testing.T) {
	tests := []struct {
		name   string
		cookie func(t *testing.T, env *harness.Env) string
	}{
		{"flipped character", func(t *testing.T, env *harness.Env) string {
			b := env.NewBrowser()
			signInAs(t, b, env.Default.URL, "/", harness.UserName, harness.UserPassword)
			return flip(b.Cookie(env.Default.URL, sessionCookie))
		}},
		{"truncated", func(t *testing.T, env *harness.Env) string {
			b := env.NewBrowser()
			signInAs(t, b, env.Default.URL, "/", harness.UserName, harness.UserPassword)
			v := b.Cookie(env.Default.URL, sessionCookie)
			return v[:len(v)-1]
		}},
		{"from another BFF with a different encryption key", func(t *testing.T, env *harness.Env) string {
			other := env.StartInstance(filepath.Join(t.TempDir(), "other.db"), func(c *bff.Config) {
				c.Session.EncryptionKeys = []string{otherKey}
			})
			b := env.NewBrowser()
			signInAs(t, b, other.URL, "/", harness.UserName, harness.UserPassword)
			b.User(t, other.URL, http.StatusOK)
			return b.Cookie(other.URL, sessionCookie)
		}},
		{"garbage", func(*testing.T, *harness.Env) string { return "%%%not-a-token" + strings.Repeat("x", 500) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env, _ := start(t, nil)
			value := tt.cookie(t, env)
			b := env.NewBrowser()
			setCookie(t, b, env.Default.URL, sessionCookie, value)
			resp, body := b.Call(t, http.MethodGet, env.Default.URL+"/bff/user", nil)
			checkErrorAnswer(t, resp, body, http.StatusUnauthorized, "unauthenticated")
			resp, body = b.Call(t, http.MethodGet, env.Default.URL+"/api/orders/whoami", nil)
			checkErrorAnswer(t, resp, body, http.StatusUnauthorized, "unauthenticated")
		})
	}
}

// readPayloads reads testdata/openredirects.txt (one Go string literal per
// line); returnurl_test.go in package bff reads it the same way.
func readPayloads(t *testing.T) []string {
	t.Helper()
	f, err := os.Open("testdata/openredirects.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		s, err := strconv.Unquote(line)
		if err != nil {
			t.Fatalf("openredirects.txt: %q: %v", line, err)
		}
		out = append(out, s)
	}
	if len(out) < 60 {
		t.Fatalf("openredirects.txt has %d payloads, want at least 60", len(out))
	}
	return out
}

func TestLoginReturnURL(t *testing.T) {
	type test struct {
		name   string
		raw    string
		accept bool
	}
	var tests []test
	for _, p := range readPayloads(t) {
		tests = append(tests, test{name: "refuse " + strconv.Quote(p), raw: p})
	}
	for _, p := range []string{"/", "/a/b?c=d#e", "/deep/path?x=1#frag", "/path%20with%20space", "/search?q=a%20b", "/caf%C3%A9", "/?next=//evil.com"} {
		tests = append(tests, test{name: "accept " + strconv.Quote(p), raw: p, accept: true})
	}
	env, _ := start(t, nil)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := env.NewBrowser()
			resp, body := b.Do(t, mustRequest(t, env.Default.URL+"/bff/login?returnUrl="+url.QueryEscape(tt.raw)))
			if tt.accept {
				if resp.StatusCode != http.StatusFound {
					t.Fatalf("GET /bff/login?returnUrl=%q = %d %s, want 302", tt.raw, resp.StatusCode, body)
				}
				if c := responseCookie(resp, loginCookie); c == nil {
					t.Errorf("no %s cookie set", loginCookie)
				}
				return
			}
			checkErrorAnswer(t, resp, body, http.StatusBadRequest, "invalid_return_url")
			if strings.Contains(body, "evil") {
				t.Errorf("error body reflects the return URL: %s", body)
			}
			if c := responseCookie(resp, loginCookie); c != nil {
				t.Errorf("refused login set %s = %q, want no cookie", loginCookie, c.Value)
			}
			if loc := resp.Header.Get("Location"); loc != "" {
				t.Errorf("refused login answered Location %q", loc)
			}
		})
	}
}

// mustRequest is a GET as a script's fetch makes it (JSON errors).
func mustRequest(t *testing.T, u string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", "application/json")
	return req
}

// TestLoginLongReturnURLs: flows with long return URLs (up to the limit)
// never stop a new sign-in from starting: the login cookie drops the
// oldest flows to fit, and the newest completes to its return URL. Such
// flows can be planted by a cross-site link, so this guards availability.
func TestLoginLongReturnURLs(t *testing.T) {
	env, _ := start(t, nil)
	b := env.NewBrowser()
	long := func(i int) string { return fmt.Sprintf("/tab%d?q=", i) + strings.Repeat("x", 1000) }
	for i := range 6 {
		resp, body := b.Get(t, env.Default.URL+"/bff/login?returnUrl="+url.QueryEscape(long(i)))
		if resp.StatusCode != http.StatusFound || responseCookie(resp, loginCookie) == nil {
			t.Fatalf("login %d with a %d-byte return URL = %d %s, want 302 with a login cookie",
				i, len(long(i)), resp.StatusCode, body)
		}
	}
	want := long(6)
	formURL, id := b.StartLogin(t, env.Default.URL, want)
	cb := b.SubmitLogin(t, formURL, id, harness.UserName, harness.UserPassword)
	resp, body := b.Get(t, cb.String())
	if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != want {
		t.Fatalf("callback = %d Location %q %s, want 302 to the newest return URL", resp.StatusCode, resp.Header.Get("Location"), body)
	}
	b.User(t, env.Default.URL, http.StatusOK)

	resp, body = b.Get(t, env.Default.URL+"/bff/login?returnUrl="+url.QueryEscape("/"+strings.Repeat("x", 1024)))
	checkErrorAnswer(t, resp, body, http.StatusBadRequest, "invalid_return_url")
}
