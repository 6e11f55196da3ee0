package browser

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/fetch"
	"github.com/chromedp/chromedp"

	"github.com/bff-project/bff/e2e/harness"
)

// sessionCookie is the BFF's session cookie (DESIGN.md, "Cookies").
const sessionCookie = "__Host-bff"

// endWait bounds how long a signed-in tab may take to notice its session
// has ended elsewhere. The SPA hears it on its event stream in
// milliseconds; the bound only fails a tab that never hears it.
const endWait = 6 * time.Second

// wantAudiences maps each API the harness configures to the audience its
// sample API must receive in the bearer token.
var wantAudiences = map[string]string{
	"/api/orders/":  "orders-api",
	"/api/profile/": "profile-api",
}

// TestJourney walks one user through the demo SPA in a real browser:
// signed-out view, the provider's login form, the signed-in view, a call
// to each API, a reload, and sign-out through the provider's
// end_session_endpoint. It records the browser's traffic and storage all
// along, and its subtest fails if any token the provider issued reached
// the browser.
func TestJourney(t *testing.T) {
	chromiumPath(t) // skip before starting servers
	env := harness.Start(t, harness.Options{})
	app := env.Default.URL
	endSession := discover(t, env.OPURL).EndSession
	b := newTab(t, "browser")
	rec := record(b, app, env.OPURL)
	console := watchConsole(b)

	signIn(b, app, env.OPURL, true)
	checkUserShown(b)

	callEachAPI(b)
	b.waitFor("the sessions panel", `document.querySelectorAll("#sessions .session-row").length === 1 &&
		document.querySelectorAll("#sessions .session-row.current").length === 1`, stepTimeout)
	// Scroll the greeting away so the picture holds both cards, with the
	// API result, and the sessions panel, under the sticky top bar.
	var ignored bool
	b.eval("scroll to the cards", `(window.scrollTo(0, document.querySelector(".grid").getBoundingClientRect().top + scrollY -
		document.querySelector(".topbar").offsetHeight - 16), true)`, &ignored)
	b.screenshot("signed-in.png")
	b.eval("scroll back", `(window.scrollTo(0, 0), true)`, &ignored)
	if c := rec.snapshot("signed in"); strings.Contains(c, sessionCookie) {
		t.Errorf("document.cookie = %q: the session cookie is readable by scripts, want HttpOnly", c)
	}

	b.markDocument()
	b.run("reload", chromedp.Reload())
	b.waitState(app, "signed-in", stepTimeout)
	checkUserShown(b)

	signOut(t, b, env, endSession)
	rec.snapshot("signed out")
	console.check()

	t.Run("NoTokenReachesTheBrowser", func(t *testing.T) {
		checkNoTokens(t, env, rec, endSession)
	})
}

// signOut clicks #sign-out and checks the session is over: the cookie
// the browser held no longer works (tried from a plain Go client, as a
// thief holding a copy would), and it was already dead, with its refresh
// token revoked, when the browser was sent to the provider's
// end_session_endpoint with id_token_hint.
func signOut(t *testing.T, b *tab, env *harness.Env, endSession string) {
	t.Helper()
	app := env.Default.URL
	cookie := b.cookie(app, sessionCookie)
	if cookie == "" {
		t.Fatalf("the browser holds no %s cookie for %s while signed in", sessionCookie, app)
	}
	if got, err := userStatus(app, cookie); err != nil || got != http.StatusOK {
		t.Fatalf("GET /bff/user with the browser's cookie = %d, %v; want 200", got, err)
	}

	// Sign-out redirects the browser to the provider's end_session_endpoint
	// with id_token_hint. Hold that request until the test has checked that
	// the session and its refresh token were already gone when it was sent.
	hold := holdRequests(b, endSession+"*", func() string {
		var problems []string
		if got, err := userStatus(app, cookie); err != nil || got != http.StatusUnauthorized {
			problems = append(problems, fmt.Sprintf("GET /bff/user with the old cookie = %d, %v; want 401", got, err))
		}
		for i, tok := range env.OP.IssuedTokens() {
			if env.OP.RefreshTokenActive(tok) {
				problems = append(problems, fmt.Sprintf("issued token #%d is still an active refresh token", i))
			}
		}
		return strings.Join(problems, "; ")
	})
	b.markDocument()
	b.click("#sign-out")
	b.waitState(app, "signed-out", stepTimeout)
	if got := hold.results(); len(got) != 1 {
		t.Errorf("requests to the end_session_endpoint = %d, want 1 (results %q)", len(got), got)
	} else if got[0] != "" {
		t.Errorf("when the browser was sent to the end_session_endpoint: %s", got[0])
	}
	if got, err := userStatus(app, cookie); err != nil || got != http.StatusUnauthorized {
		t.Errorf("GET /bff/user with the cookie from before sign-out = %d, %v; want 401", got, err)
	}
	if c := b.cookie(app, sessionCookie); c != "" {
		t.Errorf("after sign-out the browser still holds a %s cookie", sessionCookie)
	}
	// The provider's post-logout redirect appends the BFF's logout state;
	// the SPA drops it from the address bar.
	var final string
	b.eval("read the URL", "location.href", &final)
	if final != app+"/" {
		t.Errorf("after sign-out the address bar shows %s, want %s/", final, app)
	}
}

// checkUserShown checks the signed-in view shows alice.
func checkUserShown(b *tab) {
	b.t.Helper()
	if got := b.text("#user-name"); !strings.Contains(got, "Alice") {
		b.t.Errorf("#user-name = %q, want it to contain %q", got, "Alice")
	}
	if got := b.text("#claims"); !strings.Contains(got, "alice@example.test") {
		b.t.Errorf("#claims = %q, want it to show the email alice@example.test", got)
	}
}

// whoami is the sample API's answer.
type whoami struct {
	API      string   `json:"api"`
	Sub      string   `json:"sub"`
	ACR      string   `json:"acr"`
	Audience []string `json:"audience"`
}

// callEachAPI clicks every .api-call button and checks the sample API got
// the user's token for its own audience.
func callEachAPI(b *tab) {
	b.t.Helper()
	b.waitFor("the API buttons", `document.querySelectorAll(".api-call").length > 0`, stepTimeout)
	prefixes := b.attrs(".api-call", "data-prefix")
	want := make([]string, 0, len(wantAudiences))
	for p := range wantAudiences {
		want = append(want, p)
	}
	slices.Sort(want)
	if !slices.Equal(prefixes, want) {
		b.t.Errorf(".api-call buttons for %q, want %q", prefixes, want)
	}
	for _, p := range prefixes {
		var ignored bool
		b.eval("clear the result", `delete document.querySelector("#api-result").dataset.status`, &ignored)
		b.click(fmt.Sprintf(`.api-call[data-prefix=%q]`, p))
		b.waitFor("the result of "+p, `!!document.querySelector("#api-result").dataset.status`, stepTimeout)
		status := b.attrs("#api-result", "data-status")
		body := b.text("#api-result")
		if len(status) != 1 || status[0] != "200" {
			b.t.Errorf("%s: #api-result data-status = %q, want 200 (body %s)", p, status, body)
			continue
		}
		var got whoami
		if err := json.Unmarshal([]byte(body), &got); err != nil {
			b.t.Errorf("%s: #api-result = %q, not the sample API's JSON: %v", p, body, err)
			continue
		}
		if !slices.Contains(got.Audience, wantAudiences[p]) {
			b.t.Errorf("%s: the API received a token for audience %q, want %q", p, got.Audience, wantAudiences[p])
		}
		if got.Sub != harness.UserSubject {
			b.t.Errorf("%s: the API received a token for sub %q, want %q", p, got.Sub, harness.UserSubject)
		}
	}
}

// checkNoTokens searches everything the browser received, sent and stored
// for the tokens the provider issued.
//
// One exception is by design: RP-initiated logout redirects the browser to
// the provider's end_session_endpoint with id_token_hint, the ID token
// (OpenID Connect RP-Initiated Logout 1.0, section 2, which the BFF follows
// so the provider knows whose session to end). So the ID token appears in
// the Location header of /bff/logout's redirect and in the URL of the
// request to the end_session_endpoint, and nowhere else. Only there, and
// only the id_token_hint parameter, is excluded; the journey checked that
// the session and its refresh token were gone before that request left.
func checkNoTokens(t *testing.T, env *harness.Env, rec *recorder, endSession string) {
	tokens := env.OP.IssuedTokens()
	if len(tokens) < 3 {
		t.Fatalf("the provider issued %d tokens, want at least an access, a refresh and an ID token", len(tokens))
	}
	logoutRedirect := func(it seen) bool {
		switch it.what {
		case "request URL":
			return strings.HasPrefix(it.url, endSession+"?")
		case "redirect response headers", "raw response headers":
			return strings.HasPrefix(location(it.text), endSession+"?")
		}
		return false
	}
	found, hints := rec.search(tokens, logoutRedirect)
	for _, f := range found {
		t.Errorf("token #%d (%s…) reached the browser: %s of %s: %.300s",
			f.token, tokens[f.token][:min(12, len(tokens[f.token]))], f.item.what, f.item.url, f.item.text)
	}
	if len(hints) == 0 {
		t.Errorf("no id_token_hint seen on the way to %s: the logout exception above no longer matches what the BFF does", endSession)
	}
	for _, h := range hints {
		if !slices.Contains(tokens, h) {
			t.Errorf("id_token_hint %.20s… is not a token the provider issued", h)
		} else if claims, ok := idTokenClaims(h); !ok {
			t.Errorf("id_token_hint is not an ID token for %s: %s", harness.ClientID, claims)
		}
	}

	// The search is only as good as what was recorded.
	if !rec.has("raw response headers", sessionCookie+"=") {
		t.Errorf("no Set-Cookie %s recorded: the recorder misses the raw response headers", sessionCookie)
	}
	if bodies := rec.bodies(env.Default.URL + "/bff/user"); len(bodies) == 0 || !strings.Contains(strings.Join(bodies, ""), harness.UserSubject) {
		t.Errorf("no /bff/user body with %q recorded (%d bodies): the recorder misses bodies", harness.UserSubject, len(bodies))
	}
	for p, aud := range wantAudiences {
		if bodies := rec.bodies(env.Default.URL + p); !strings.Contains(strings.Join(bodies, ""), aud) {
			t.Errorf("no %s body with %q recorded: the recorder misses bodies", p, aud)
		}
	}
	for _, e := range rec.bodyErrors() {
		if strings.Contains(e, "/bff/") || strings.Contains(e, "/api/") {
			t.Errorf("body not recorded, so not searched: %s", e)
		} else {
			t.Logf("body not recorded (a document replaced by navigation): %s", e)
		}
	}
}

// idTokenClaims returns jwt's payload and whether it is an ID token for
// the BFF's client: aud holds the client ID, there is an auth_time, and no
// scope, which the provider's access tokens always carry (they have an
// auth_time too, for APIs that ask for a step-up).
func idTokenClaims(jwt string) (string, bool) {
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		return "not a JWT", false
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return "payload not base64url", false
	}
	var c struct {
		Aud      any     `json:"aud"`
		AuthTime *int64  `json:"auth_time"`
		Scope    *string `json:"scope"`
	}
	if json.Unmarshal(payload, &c) != nil || c.AuthTime == nil || c.Scope != nil {
		return string(payload), false
	}
	switch aud := c.Aud.(type) {
	case string:
		return string(payload), aud == harness.ClientID
	case []any:
		return string(payload), slices.Contains(aud, any(harness.ClientID))
	}
	return string(payload), false
}

// TestSignOutOtherDevice signs alice in on two devices (two browsers with
// separate profiles). Device A's session panel lists both; A signs B out;
// B's open tab hears it on its event stream, without a reload, and A stays
// signed in.
func TestSignOutOtherDevice(t *testing.T) {
	chromiumPath(t) // skip before starting servers
	env := harness.Start(t, harness.Options{})
	app := env.Default.URL
	devB := newTab(t, "device B")
	devA := newTab(t, "device A")
	consoleB, consoleA := watchConsole(devB), watchConsole(devA)
	signIn(devB, app, env.OPURL, false)
	signIn(devA, app, env.OPURL, false) // second, so A's panel lists both

	devB.waitFor("B's own session row", `document.querySelectorAll("#sessions .session-row.current").length === 1`, stepTimeout)
	idB := devB.attrs("#sessions .session-row.current", "data-id")[0]
	devA.waitFor("two sessions in A's panel", `document.querySelectorAll("#sessions .session-row").length === 2`, stepTimeout)
	idA := devA.attrs("#sessions .session-row.current", "data-id")
	if len(idA) != 1 || idA[0] == idB {
		t.Fatalf("device A's current session rows = %q, want exactly one, not B's %q", idA, idB)
	}
	if got := devA.attrs("#sessions .session-row:not(.current)", "data-id"); !slices.Equal(got, []string{idB}) {
		t.Fatalf("device A's other session rows = %q, want B's [%q]", got, idB)
	}

	devB.markDocument()
	start := time.Now()
	devA.click(fmt.Sprintf(`#sessions .session-row[data-id=%q] .session-signout`, idB))
	devB.waitFor("B's open tab to show signed-out without a reload",
		`window.__e2eOld === true && document.body.dataset.state === "signed-out"`, endWait)
	t.Logf("device B noticed the sign-out after %v", time.Since(start).Round(10*time.Millisecond))
	checkSessionEnded(devB)
	checkEndedReason(devB, "revoked")
	devB.screenshot("session-ended.png")

	devA.waitFor("A's panel to list only A", `document.querySelectorAll("#sessions .session-row").length === 1 &&
		document.querySelectorAll("#sessions .session-row.current").length === 1`, stepTimeout)
	if got := devA.fetchJSON("/bff/user", nil); got != http.StatusOK {
		t.Errorf("device A: GET /bff/user = %d after signing B out, want 200", got)
	}
	if got := devB.fetchJSON("/bff/user", nil); got != http.StatusUnauthorized {
		t.Errorf("device B: GET /bff/user = %d after being signed out, want 401", got)
	}
	devA.waitState(app, "signed-in", time.Second)
	consoleA.check()
	consoleB.check()
}

// TestBackChannelLogout signs a browser in, has the provider send a
// back-channel logout token for the session's sid, and checks the open tab
// shows the signed-out view, told why by its event stream.
func TestBackChannelLogout(t *testing.T) {
	chromiumPath(t) // skip before starting servers
	env := harness.Start(t, harness.Options{})
	app := env.Default.URL
	b := newTab(t, "browser")
	console := watchConsole(b)
	signIn(b, app, env.OPURL, false)

	var u harness.User
	if got := b.fetchJSON("/bff/user", &u); got != http.StatusOK {
		t.Fatalf("GET /bff/user = %d, want 200", got)
	}
	sid, _ := u.Claims["sid"].(string)
	if sid == "" {
		t.Fatalf("/bff/user claims have no sid: %v", u.Claims)
	}

	b.markDocument()
	ctx, cancel := context.WithTimeout(t.Context(), stepTimeout)
	defer cancel()
	backChannelLogout(ctx, t, env, "", sid)
	b.waitFor("the open tab to show signed-out without a reload",
		`window.__e2eOld === true && document.body.dataset.state === "signed-out"`, endWait)
	checkSessionEnded(b)
	checkEndedReason(b, "backchannel")
	console.check()
}

// backChannelLogout has the provider send a back-channel logout token for
// sub and/or sid to the BFF.
//
// The harness builds the provider with the default HTTP client, which does
// not trust the BFF test server's self-signed certificate, so the
// provider's own POST fails verification. Until the harness gives devop an
// HTTPClient that trusts it, the test sends the provider's signed logout
// token itself, as the provider would, and logs that it did.
func backChannelLogout(ctx context.Context, t *testing.T, env *harness.Env, sub, sid string) {
	t.Helper()
	err := env.OP.BackChannelLogout(ctx, sub, sid)
	var certErr *tls.CertificateVerificationError
	if err == nil {
		return
	}
	if !errors.As(err, &certErr) {
		t.Fatalf("BackChannelLogout(%q, %q) = %v", sub, sid, err)
	}
	t.Logf("the provider could not reach the BFF (%v); posting its logout token from the test", err)
	token, err := env.OP.SignLogoutToken(env.OP.LogoutTokenClaims(harness.ClientID, sub, sid))
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, env.Default.URL+"/bff/backchannel-logout",
		strings.NewReader(url.Values{"logout_token": {token}}.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := insecureClient().Do(req)
	if err != nil {
		t.Fatalf("POST /bff/backchannel-logout: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST /bff/backchannel-logout = %d, want 200", resp.StatusCode)
	}
}

// insecureClient trusts any certificate: the BFF test servers use
// httptest's self-signed one. Loopback only.
func insecureClient() *http.Client {
	return &http.Client{
		Timeout:   5 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}},
	}
}

// checkSessionEnded checks the signed-out view tells the user why.
func checkSessionEnded(b *tab) {
	b.t.Helper()
	var visible bool
	b.eval("read #session-ended", `(() => { const e = document.querySelector("#session-ended");
		return !!e && !e.hidden && e.getClientRects().length > 0; })()`, &visible)
	if !visible {
		b.t.Errorf("%s: the 'session ended' notice is not shown after the session ended elsewhere", b.name)
	}
}

// checkEndedReason checks the signed-out view came from an ended event
// with reason.
func checkEndedReason(b *tab, reason string) {
	b.t.Helper()
	var got string
	b.eval("read the ended reason", `document.body.dataset.endedReason || ""`, &got)
	if got != reason {
		b.t.Errorf("%s: signed out for %q, want the ended event's %q", b.name, got, reason)
	}
}

// signIn signs alice in through the SPA and the provider's login form;
// with shots it takes the signed-out and login screenshots on the way.
func signIn(b *tab, app, opURL string, shots bool) {
	b.t.Helper()
	b.run("open the app", chromedp.Navigate(app+"/"))
	b.waitState(app, "signed-out", stepTimeout)
	if got := b.text("#sign-in"); got != "Sign in" {
		b.t.Errorf("#sign-in text = %q, want %q", got, "Sign in")
	}
	if shots {
		b.screenshot("signed-out.png")
	}
	b.click("#sign-in")
	b.waitFor("the provider's login form", fmt.Sprintf(
		`location.origin === %q && !!document.querySelector("#username")`, opURL), stepTimeout)
	if shots {
		b.screenshot("login.png")
	}
	b.run("type the credentials",
		chromedp.SendKeys("#username", harness.UserName, chromedp.ByQuery),
		chromedp.SendKeys("#password", harness.UserPassword, chromedp.ByQuery))
	b.click("#submit")
	b.waitState(app, "signed-in", stepTimeout)
}

// discovery is the part of the provider's discovery document tests use.
type discovery struct {
	EndSession string `json:"end_session_endpoint"`
}

func discover(t *testing.T, opURL string) discovery {
	t.Helper()
	resp, err := http.Get(opURL + "/.well-known/openid-configuration")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var d discovery
	if err := json.NewDecoder(resp.Body).Decode(&d); err != nil || d.EndSession == "" {
		t.Fatalf("discovery: end_session_endpoint %q, %v", d.EndSession, err)
	}
	return d
}

// userStatus calls /bff/user with cookie from a plain Go client, as an
// attacker holding a copied cookie would.
func userStatus(app, cookie string) (int, error) {
	req, err := http.NewRequest(http.MethodGet, app+"/bff/user", nil)
	if err != nil {
		return 0, err
	}
	req.Header.Set("X-CSRF", "1")
	req.AddCookie(&http.Cookie{Name: sessionCookie, Value: cookie})
	resp, err := insecureClient().Do(req)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

// held pauses the tab's requests matching a pattern (CDP Fetch domain),
// runs check while each is paused and then lets it go.
type held struct {
	mu  sync.Mutex
	out []string
	wg  sync.WaitGroup
}

func holdRequests(b *tab, pattern string, check func() string) *held {
	b.t.Helper()
	h := &held{}
	chromedp.ListenTarget(b.ctx, func(ev any) {
		ev2, ok := ev.(*fetch.EventRequestPaused)
		if !ok {
			return
		}
		h.wg.Add(1)
		go func() {
			defer h.wg.Done()
			res := check()
			h.mu.Lock()
			h.out = append(h.out, res)
			h.mu.Unlock()
			c := chromedp.FromContext(b.ctx)
			ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
			defer cancel()
			_ = fetch.ContinueRequest(ev2.RequestID).Do(cdp.WithExecutor(ctx, c.Target))
		}()
	})
	b.run("hold requests to "+pattern, fetch.Enable().WithPatterns([]*fetch.RequestPattern{
		{URLPattern: pattern, RequestStage: fetch.RequestStageRequest},
	}))
	return h
}

// results waits for the paused requests' checks and returns them.
func (h *held) results() []string {
	h.wg.Wait()
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.out...)
}
