package bff_test

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bff-project/bff/e2e/harness"
)

// User agents for browsers whose sessions must be told apart.
const (
	uaFirefoxLinux  = "Mozilla/5.0 (X11; Linux x86_64; rv:130.0) Gecko/20100101 Firefox/130.0"
	uaChromeWindows = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
	uaSafariMac     = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.6 Safari/605.1.15"
)

// sessionHolder is one browser signed in to env.Default, with what the
// session-ending tests need to check that its session really ended: the
// cookie value (to replay it) and the refresh and ID tokens the provider
// issued for it.
type sessionHolder struct {
	*harness.Browser
	env          *harness.Env
	url          string
	user         harness.User // /bff/user right after sign-in
	sid          string       // the provider's session ID (ID token sid)
	cookie       string
	refreshToken string
	idToken      string
}

// holdSession signs in as name in a new browser with user agent ua (the
// harness default when empty). It must not run concurrently with other
// sign-ins on env: it finds the session's tokens by what the provider
// issued meanwhile.
func holdSession(t testing.TB, env *harness.Env, name, pass, ua string) *sessionHolder {
	t.Helper()
	b := env.NewBrowser()
	b.Client.Timeout = 20 * time.Second // a hang fails the test, naming the request
	if ua != "" {
		b.UserAgent = ua
	}
	before := len(env.OP.IssuedTokens())
	b.Login(t, env.Default.URL, name, pass)
	h := &sessionHolder{Browser: b, env: env, url: env.Default.URL}
	// The token endpoint answers access, refresh and ID token in this
	// order; the refresh token is the one that is not a JWT.
	for _, tok := range env.OP.IssuedTokens()[before:] {
		switch strings.Count(tok, ".") {
		case 0:
			h.refreshToken = tok
		case 2:
			h.idToken = tok // the last JWT is the ID token
		}
	}
	if h.refreshToken == "" || h.idToken == "" {
		t.Fatalf("sign-in as %s: provider issued no refresh or ID token", name)
	}
	h.user = b.User(t, h.url, http.StatusOK)
	h.sid, _ = h.user.Claims["sid"].(string)
	if h.sid == "" {
		t.Fatalf("sign-in as %s: ID token claims have no sid: %v", name, h.user.Claims)
	}
	h.cookie = b.Cookie(h.url, "__Host-bff")
	if h.cookie == "" {
		t.Fatalf("sign-in as %s: no session cookie", name)
	}
	return h
}

// signedIn reports whether the browser's session still works.
func (h *sessionHolder) signedIn(t testing.TB) bool {
	t.Helper()
	resp, body := h.Call(t, http.MethodGet, h.url+"/bff/user", nil)
	switch resp.StatusCode {
	case http.StatusOK:
		return true
	case http.StatusUnauthorized:
		return false
	}
	t.Fatalf("GET /bff/user = %d %s, want 200 or 401", resp.StatusCode, body)
	return false
}

// replayCookie sends the session's original cookie value from a browser
// without a jar entry, as a thief holding a copy would, and returns the
// status of /bff/user.
func (h *sessionHolder) replayCookie(t testing.TB) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, h.url+"/bff/user", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-CSRF", "1")
	req.Header.Set("Cookie", "__Host-bff="+h.cookie)
	resp, _ := oneShot(t, h.env, req)
	return resp.StatusCode
}

// oneShot sends req from a new browser with an empty cookie jar and closes
// its connections afterwards, so that fuzzing does not run out of file
// descriptors.
func oneShot(t testing.TB, env *harness.Env, req *http.Request) (*http.Response, string) {
	t.Helper()
	b := env.NewBrowser()
	b.Client.Timeout = 20 * time.Second // a hang fails the test, naming the request
	defer b.Client.CloseIdleConnections()
	return b.Do(t, req)
}

// refreshActive reports whether the provider still accepts the session's
// refresh token.
func (h *sessionHolder) refreshActive() bool {
	return h.env.OP.RefreshTokenActive(h.refreshToken)
}

// metricSample scrapes env.Default's /metrics and returns the value of one
// series, written as in the exposition format (name{labels}), or 0 when it
// is absent.
func metricSample(t testing.TB, env *harness.Env, series string) float64 {
	t.Helper()
	resp, body := oneShot(t, env, newRequest(t, http.MethodGet, env.Default.URL+"/metrics"))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics = %d, want 200", resp.StatusCode)
	}
	sc := bufio.NewScanner(strings.NewReader(body))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		name, value, ok := strings.Cut(sc.Text(), " ")
		if ok && name == series {
			v, err := strconv.ParseFloat(value, 64)
			if err != nil {
				t.Fatalf("metric %s = %q: %v", series, value, err)
			}
			return v
		}
	}
	return 0
}

// endSessionEndpoint reads the provider's end_session_endpoint from its
// discovery document.
func endSessionEndpoint(t testing.TB, env *harness.Env) string {
	t.Helper()
	resp, err := http.Get(env.OPURL + "/.well-known/openid-configuration")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var d struct {
		EndSession string `json:"end_session_endpoint"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&d); err != nil || d.EndSession == "" {
		t.Fatalf("discovery has no end_session_endpoint (%v)", err)
	}
	return d.EndSession
}

// logoutCase is one way of asking the BFF to sign a browser out.
type logoutCase struct {
	name string
	// request builds the logout request for h.
	request func(t *testing.T, h, other *sessionHolder) *http.Request
	// ends is whether the request signs out; if not, wantStatus and
	// wantError (a JSON error code, "" for an HTML answer) describe the
	// refusal.
	ends       bool
	wantStatus int
	wantError  string
}

func newRequest(t testing.TB, method, u string, header ...string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	return req
}

func TestLogout(t *testing.T) {
	env := harness.Start(t, harness.Options{})
	endSession := endSessionEndpoint(t, env)
	postLogout := env.Default.URL + "/"
	base := env.Default.URL

	tests := []logoutCase{
		{
			name: "GET with the session's sid",
			request: func(t *testing.T, h, _ *sessionHolder) *http.Request {
				return newRequest(t, http.MethodGet, base+h.user.Session.LogoutURL, "Accept", "text/html")
			},
			ends: true,
		},
		{
			name: "POST with X-CSRF",
			request: func(t *testing.T, h, _ *sessionHolder) *http.Request {
				return newRequest(t, http.MethodPost, base+"/bff/logout", "X-CSRF", "1")
			},
			ends: true,
		},
		{
			name: "GET without sid",
			request: func(t *testing.T, h, _ *sessionHolder) *http.Request {
				return newRequest(t, http.MethodGet, base+"/bff/logout", "Accept", "text/html")
			},
			wantStatus: http.StatusBadRequest,
		},
		{
			name: "GET with a wrong sid",
			request: func(t *testing.T, h, _ *sessionHolder) *http.Request {
				return newRequest(t, http.MethodGet, base+"/bff/logout?sid=not-my-session", "Accept", "text/html")
			},
			wantStatus: http.StatusBadRequest,
		},
		{
			name: "GET with the sid of another session of the same user",
			request: func(t *testing.T, h, other *sessionHolder) *http.Request {
				return newRequest(t, http.MethodGet, base+other.user.Session.LogoutURL, "Accept", "text/html")
			},
			wantStatus: http.StatusBadRequest,
		},
		{
			name: "GET with the provider sid instead of the session ID",
			request: func(t *testing.T, h, _ *sessionHolder) *http.Request {
				return newRequest(t, http.MethodGet, base+"/bff/logout?sid="+url.QueryEscape(h.sid), "Accept", "text/html")
			},
			wantStatus: http.StatusBadRequest,
		},
		{
			name: "POST without X-CSRF",
			request: func(t *testing.T, h, _ *sessionHolder) *http.Request {
				return newRequest(t, http.MethodPost, base+"/bff/logout", "Accept", "application/json")
			},
			wantStatus: http.StatusForbidden,
			wantError:  "csrf",
		},
		{
			name: "POST with X-CSRF but Sec-Fetch-Site cross-site",
			request: func(t *testing.T, h, _ *sessionHolder) *http.Request {
				return newRequest(t, http.MethodPost, base+"/bff/logout", "X-CSRF", "1", "Sec-Fetch-Site", "cross-site", "Accept", "application/json")
			},
			wantStatus: http.StatusForbidden,
			wantError:  "csrf",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := holdSession(t, env, harness.UserName, harness.UserPassword, "")
			other := holdSession(t, env, harness.UserName, harness.UserPassword, "")
			revocations := env.OP.Counts().Revocation
			resp, body := h.Do(t, tt.request(t, h, other))
			if tt.ends {
				tt.checkEnded(t, h, resp, endSession, postLogout, revocations)
			} else {
				tt.checkRefused(t, h, resp, body, revocations)
			}
			if !other.signedIn(t) || !other.refreshActive() {
				t.Errorf("the user's other session ended too, want it signed in")
			}
		})
	}
}

func (tt logoutCase) checkEnded(t *testing.T, h *sessionHolder, resp *http.Response, endSession, postLogout string, revocations int) {
	t.Helper()
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("logout = %d, want 302", resp.StatusCode)
	}
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		t.Fatalf("Location %q: %v", resp.Header.Get("Location"), err)
	}
	q := loc.Query()
	loc.RawQuery = ""
	if got := loc.String(); got != endSession {
		t.Errorf("Location = %q, want the provider's end_session_endpoint %q", got, endSession)
	}
	for _, c := range []struct{ param, want string }{
		{"id_token_hint", h.idToken},
		{"post_logout_redirect_uri", postLogout},
		{"client_id", harness.ClientID},
	} {
		if got := q.Get(c.param); got != c.want {
			t.Errorf("end_session %s = %.40q, want %.40q", c.param, got, c.want)
		}
	}
	if q.Get("state") == "" {
		t.Errorf("end_session state is empty, want a value")
	}
	cleared := false
	for _, c := range resp.Cookies() {
		if c.Name == "__Host-bff" {
			cleared = c.MaxAge < 0 && c.Value == ""
		}
	}
	if !cleared {
		t.Errorf("Set-Cookie = %q, want __Host-bff cleared (Max-Age<0)", resp.Header.Values("Set-Cookie"))
	}
	if h.signedIn(t) {
		t.Errorf("GET /bff/user after logout = 200, want 401")
	}
	if got := h.replayCookie(t); got != http.StatusUnauthorized {
		t.Errorf("GET /bff/user with the old cookie value = %d, want 401", got)
	}
	if h.refreshActive() {
		t.Errorf("RefreshTokenActive(session's refresh token) = true after logout, want false")
	}
	if got := h.env.OP.Counts().Revocation; got != revocations+1 {
		t.Errorf("Counts().Revocation = %d, want %d", got, revocations+1)
	}
	// The provider accepts the redirect as built: it knows the ID token and
	// the post-logout URI, and sends the browser back with our state.
	presp, body := h.Get(t, resp.Header.Get("Location"))
	if got := presp.Header.Get("Location"); presp.StatusCode != http.StatusFound || !strings.HasPrefix(got, postLogout) ||
		!strings.Contains(got, "state="+url.QueryEscape(q.Get("state"))) {
		t.Errorf("provider end_session = %d Location %q %.200s, want 302 to %s with the state", presp.StatusCode, got, body, postLogout)
	}
}

func (tt logoutCase) checkRefused(t *testing.T, h *sessionHolder, resp *http.Response, body string, revocations int) {
	t.Helper()
	if resp.StatusCode != tt.wantStatus {
		t.Errorf("logout = %d, want %d", resp.StatusCode, tt.wantStatus)
	}
	if tt.wantError != "" {
		var e struct {
			Error string `json:"error"`
		}
		if err := json.Unmarshal([]byte(body), &e); err != nil || e.Error != tt.wantError {
			t.Errorf("logout body = %q, want error %q", body, tt.wantError)
		}
	}
	for _, c := range resp.Cookies() {
		if c.Name == "__Host-bff" {
			t.Errorf("refused logout set cookie %q, want no Set-Cookie", c.String())
		}
	}
	if !h.signedIn(t) {
		t.Errorf("GET /bff/user after a refused logout = 401, want 200")
	}
	if !h.refreshActive() {
		t.Errorf("RefreshTokenActive() after a refused logout = false, want true")
	}
	if got := h.env.OP.Counts().Revocation; got != revocations {
		t.Errorf("Counts().Revocation = %d, want %d (unchanged)", got, revocations)
	}
}

func TestLogoutWithoutSession(t *testing.T) {
	env := harness.Start(t, harness.Options{})
	postLogout := env.Default.URL + "/"
	ended := holdSession(t, env, harness.UserName, harness.UserPassword, "")
	if resp, _ := ended.Call(t, http.MethodPost, env.Default.URL+"/bff/logout", nil); resp.StatusCode != http.StatusFound {
		t.Fatalf("first logout = %d, want 302", resp.StatusCode)
	}
	tests := []struct {
		name   string
		cookie string // sent as __Host-bff when not empty
		method string
	}{
		{"GET without cookie", "", http.MethodGet},
		{"POST without cookie", "", http.MethodPost},
		{"GET with an unknown cookie", "bm90LWEtc2Vzc2lvbg", http.MethodGet},
		{"GET with the cookie of an ended session", ended.cookie, http.MethodGet},
		{"POST with the cookie of an ended session", ended.cookie, http.MethodPost},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			revocations := env.OP.Counts().Revocation
			req := newRequest(t, tt.method, env.Default.URL+"/bff/logout?sid=x", "X-CSRF", "1")
			if tt.cookie != "" {
				req.Header.Set("Cookie", "__Host-bff="+tt.cookie)
			}
			resp, body := oneShot(t, env, req)
			if got := resp.Header.Get("Location"); resp.StatusCode != http.StatusFound || got != postLogout {
				t.Errorf("logout = %d Location %q %.200s, want 302 to %q", resp.StatusCode, got, body, postLogout)
			}
			if got := env.OP.Counts().Revocation; got != revocations {
				t.Errorf("Counts().Revocation = %d, want %d (nothing to revoke)", got, revocations)
			}
			if c := resp.Header.Values("Set-Cookie"); len(c) != 0 {
				t.Errorf("Set-Cookie = %q, want none: a request without a session changes no cookie", c)
			}
		})
	}
}

// Issue 13: a link to /bff/logout on another site arrives without the
// SameSite=Strict cookie; deleting the browser's cookie then signed the
// user out in the browser while the session and its refresh token lived
// on at the server. Such a request changes nothing.
func TestLogoutCrossSiteLinkChangesNothing(t *testing.T) {
	env := harness.Start(t, harness.Options{})
	h := holdSession(t, env, harness.UserName, harness.UserPassword, "")
	for _, method := range []string{http.MethodGet, http.MethodPost} {
		// What the browser sends for a cross-site navigation or form post:
		// no cookie (SameSite=Strict), Sec-Fetch-Site cross-site.
		req := newRequest(t, method, env.Default.URL+"/bff/logout?sid="+url.QueryEscape(h.user.Session.ID),
			"Sec-Fetch-Site", "cross-site", "Sec-Fetch-Mode", "navigate")
		resp, body := crossSite(t, h.Browser, req)
		if resp.StatusCode != http.StatusFound && resp.StatusCode != http.StatusForbidden {
			t.Errorf("cross-site %s /bff/logout = %d %.200s, want 302 or 403", method, resp.StatusCode, body)
		}
		if c := resp.Header.Values("Set-Cookie"); len(c) != 0 {
			t.Errorf("cross-site %s /bff/logout Set-Cookie = %q, want none", method, c)
		}
	}
	if !h.signedIn(t) {
		t.Error("the browser's session ended after cross-site logout links")
	}
	if h.Cookie(h.url, "__Host-bff") != h.cookie {
		t.Error("the browser's session cookie changed")
	}
	if !h.refreshActive() {
		t.Error("the session's refresh token was revoked")
	}
}

// crossSite sends req as b would from another site under SameSite=Strict:
// without b's cookies, but with any cookie the answer sets landing in b's
// jar.
func crossSite(t testing.TB, b *harness.Browser, req *http.Request) (*http.Response, string) {
	t.Helper()
	client := *b.Client
	client.Jar = setOnlyJar{b.Client.Jar}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body)
}

// setOnlyJar stores what answers set and sends nothing.
type setOnlyJar struct{ http.CookieJar }

func (setOnlyJar) Cookies(*url.URL) []*http.Cookie { return nil }

// Issue 13: HEAD /bff/logout skipped the sid guard and ended the session.
// Only GET with the right sid and POST with X-CSRF end a session; every
// other method is 405 and changes nothing.
func TestLogoutOtherMethods(t *testing.T) {
	env := harness.Start(t, harness.Options{})
	h := holdSession(t, env, harness.UserName, harness.UserPassword, "")
	for _, method := range []string{http.MethodHead, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodOptions, "PURGE"} {
		req := newRequest(t, method, env.Default.URL+"/bff/logout?sid="+url.QueryEscape(h.user.Session.ID), "X-CSRF", "1")
		resp, body := h.Do(t, req)
		if resp.StatusCode != http.StatusMethodNotAllowed {
			t.Errorf("%s /bff/logout = %d %.200s, want 405", method, resp.StatusCode, body)
		}
		if c := resp.Header.Values("Set-Cookie"); len(c) != 0 {
			t.Errorf("%s /bff/logout Set-Cookie = %q, want none", method, c)
		}
	}
	if !h.signedIn(t) || !h.refreshActive() {
		t.Fatal("a method other than GET and POST ended the session")
	}
	// Nor do the other state-changing GET endpoints answer HEAD.
	for _, path := range []string{"/bff/login", "/bff/callback?state=x&code=y"} {
		req := newRequest(t, http.MethodHead, env.Default.URL+path)
		if resp, _ := h.Do(t, req); resp.StatusCode != http.StatusMethodNotAllowed {
			t.Errorf("HEAD %s = %d, want 405", path, resp.StatusCode)
		}
	}
}

// A provider that is down must not keep anyone signed in: the local session
// ends, and the failed revocation is logged and counted.
func TestLogoutProviderDown(t *testing.T) {
	env := harness.Start(t, harness.Options{})
	h := holdSession(t, env, harness.UserName, harness.UserPassword, "")
	const failed = `bff_token_revocations_total{result="failed"}`
	if got := metricSample(t, env, failed); got != 0 {
		t.Fatalf("%s before logout = %v, want 0", failed, got)
	}
	revocations := env.OP.Counts().Revocation

	env.OP.SetDown(true)
	resp, _ := h.Get(t, env.Default.URL+h.user.Session.LogoutURL)
	env.OP.SetDown(false)

	if resp.StatusCode != http.StatusFound {
		t.Errorf("logout while the provider is down = %d, want 302", resp.StatusCode)
	}
	if h.signedIn(t) {
		t.Errorf("GET /bff/user after logout = 200, want 401")
	}
	if got := h.replayCookie(t); got != http.StatusUnauthorized {
		t.Errorf("GET /bff/user with the old cookie value = %d, want 401", got)
	}
	if got := env.OP.Counts().Revocation; got != revocations+1 {
		t.Errorf("Counts().Revocation = %d, want %d (one attempt)", got, revocations+1)
	}
	if got := metricSample(t, env, failed); got != 1 {
		t.Errorf("%s = %v, want 1", failed, got)
	}
	if got := metricSample(t, env, `bff_token_revocations_total{result="ok"}`); got != 0 {
		t.Errorf(`bff_token_revocations_total{result="ok"} = %v, want 0`, got)
	}
	if !logHas(t, env.Logs.String(), "WARN", "revocation") {
		t.Errorf("logs have no WARN line about the revocation:\n%s", env.Logs.String())
	}
	for _, tok := range env.OP.IssuedTokens() {
		if strings.Contains(env.Logs.String(), tok) {
			t.Errorf("logs contain a token issued by the provider (%.12s…)", tok)
		}
	}
	// The revocation could not be delivered, so the provider still honours
	// the refresh token until it expires; the BFF has forgotten it.
	t.Logf("RefreshTokenActive() after a failed revocation = %v", h.refreshActive())
}

// logHas reports whether a JSON log line at level has a message containing
// msg.
func logHas(t *testing.T, logs, level, msg string) bool {
	t.Helper()
	for _, line := range strings.Split(logs, "\n") {
		var l struct {
			Level string `json:"level"`
			Msg   string `json:"msg"`
		}
		if json.Unmarshal([]byte(line), &l) == nil && l.Level == level && strings.Contains(l.Msg, msg) {
			return true
		}
	}
	return false
}
