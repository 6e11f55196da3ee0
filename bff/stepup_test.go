package bff_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bff-project/bff/bff"
	"github.com/bff-project/bff/bff/config"
	"github.com/bff-project/bff/e2e/harness"
	"github.com/bff-project/bff/e2e/sampleapi"
)

// stepUpEnv is a BFF whose extra routes have rules, in front of one
// sample API ("payments", audience orders-api) that counts its calls and
// asks for acr mfa (RFC 9470) under /challenge.
type stepUpEnv struct {
	*harness.Env
	url   string
	calls *atomic.Int64 // calls the payments API saw
}

// Routes of stepUpEnv, each to the payments API.
var stepUpRoutes = map[string][]config.RuleConfig{
	"/api/admin/":    {{Claims: map[string][]config.ClaimValue{"groups": {{Value: "admins"}}}}},
	"/api/staff/":    {{Methods: []string{"DELETE", "GET"}, Claims: map[string][]config.ClaimValue{"groups": {{Value: "root"}}}}},
	"/api/pay/":      {{Methods: []string{"POST"}, ACR: []string{"urn:example:mfa", "mfa"}}},
	"/api/settings/": {{MaxAge: 15 * time.Minute}},
	"/api/payments/": nil,
}

func startStepUp(t *testing.T, opts harness.Options) *stepUpEnv {
	t.Helper()
	calls := &atomic.Int64{}
	mutate := opts.Config
	opts.Config = func(c *bff.Config) {
		api, err := sampleapi.New(sampleapi.Config{Name: "payments", Issuer: c.OIDC.Issuer, Audience: "orders-api",
			StepUp: []sampleapi.StepUp{{PathPrefix: "/challenge", ACRValues: []string{"mfa"}}}})
		if err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			calls.Add(1)
			api.ServeHTTP(w, r)
		}))
		t.Cleanup(srv.Close)
		for prefix, rules := range stepUpRoutes {
			c.APIs = append(c.APIs, config.APIConfig{Prefix: prefix, Upstream: srv.URL, StripPrefix: true,
				Audience: "orders-api", Scopes: []string{"orders.read"}, Require: rules})
		}
		c.APIs = append(c.APIs, config.APIConfig{Prefix: "/api/open/", Upstream: srv.URL, StripPrefix: true, Token: "user-optional",
			Audience: "orders-api", Scopes: []string{"orders.read"},
			Require: []config.RuleConfig{{Methods: []string{"POST"}, Claims: map[string][]config.ClaimValue{"groups": {{Value: "admins"}}}}}})
		if mutate != nil {
			mutate(c)
		}
	}
	env := harness.Start(t, opts)
	return &stepUpEnv{Env: env, url: env.Default.URL, calls: calls}
}

// apiAnswer is an API call's JSON answer: the contract's error fields, or
// the sample API's.
type apiAnswer struct {
	Error     string `json:"error"`
	ACRValues string `json:"acr_values"`
	MaxAge    *int64 `json:"max_age"`
	LoginURL  string `json:"login_url"`
	Sub       string `json:"sub"`
	ACR       string `json:"acr"`
}

// call makes an API call as the SPA does, from the page referer (a path,
// "" for none).
func (e *stepUpEnv) call(t *testing.T, b *harness.Browser, method, path, referer string) (int, apiAnswer, string) {
	t.Helper()
	req, err := http.NewRequest(method, e.url+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-CSRF", "1")
	req.Header.Set("Accept", "application/json")
	if referer != "" {
		req.Header.Set("Referer", e.url+referer)
	}
	resp, body := b.Do(t, req)
	var a apiAnswer
	if method != http.MethodHead {
		if err := json.Unmarshal([]byte(body), &a); err != nil {
			t.Fatalf("%s %s = %d %q: not JSON", method, path, resp.StatusCode, body)
		}
	}
	return resp.StatusCode, a, body
}

// TestClaimsRules: a claims rule lets the users it names through and
// answers the others 403 forbidden before any token is fetched or
// anything reaches the upstream; a rule with methods applies to those
// only (GET covering HEAD, methods compared without case); an anonymous
// call a rule applies to must sign in.
func TestClaimsRules(t *testing.T) {
	e := startStepUp(t, harness.Options{})
	alice, bob := e.NewBrowser(), e.NewBrowser()
	alice.Login(t, e.url, harness.UserName, harness.UserPassword)
	bob.Login(t, e.url, harness.OtherName, harness.OtherPass)
	anon := e.NewBrowser()

	tests := []struct {
		name       string
		b          *harness.Browser
		method     string
		path       string
		wantStatus int
		wantError  string
	}{
		{"admin in the group", alice, "GET", "/api/admin/x", 200, ""},
		{"user not in the group", bob, "GET", "/api/admin/x", 403, "forbidden"},
		{"user not in the group, POST", bob, "POST", "/api/admin/x", 403, "forbidden"},
		{"method the rule names", alice, "DELETE", "/api/staff/x", 403, "forbidden"},
		{"method in lower case", alice, "delete", "/api/staff/x", 403, "forbidden"},
		{"HEAD under a GET rule", alice, "HEAD", "/api/staff/x", 403, ""},
		{"method the rule does not name", alice, "POST", "/api/staff/x", 200, ""},
		{"anonymous, no rule applies", anon, "GET", "/api/open/x", 401, "invalid_token"},
		{"anonymous, a rule applies", anon, "POST", "/api/open/x", 401, "unauthenticated"},
		{"signed in, rule holds", alice, "POST", "/api/open/x", 200, ""},
		{"signed in, rule fails", bob, "POST", "/api/open/x", 403, "forbidden"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			calls, refreshes := e.calls.Load(), e.OP.Counts().Refresh
			status, a, body := e.call(t, tt.b, tt.method, tt.path, "")
			if status != tt.wantStatus || a.Error != tt.wantError {
				t.Fatalf("%s %s = %d %s, want %d %q", tt.method, tt.path, status, body, tt.wantStatus, tt.wantError)
			}
			reached := e.calls.Load() > calls
			if wantReach := tt.wantStatus == 200 || tt.wantError == "invalid_token"; reached != wantReach {
				t.Errorf("upstream reached = %v, want %v", reached, wantReach)
			}
			if tt.wantStatus == 403 && e.OP.Counts().Refresh != refreshes {
				t.Errorf("a refused call made %d token requests, want none", e.OP.Counts().Refresh-refreshes)
			}
		})
	}
}

// TestStepUp: an acr rule answers step_up_required with what to ask for
// and a login URL back to the SPA page; signing in there upgrades the
// session in place (same user, start and end; new ID, cookie and
// strength), and the retried call succeeds.
func TestStepUp(t *testing.T) {
	e := startStepUp(t, harness.Options{})
	b := e.NewBrowser()
	b.Login(t, e.url, harness.UserName, harness.UserPassword)
	before := b.User(t, e.url, http.StatusOK)
	oldCookie := b.Cookie(e.url, sessionCookie)
	if before.Session.ACR != "pwd" {
		t.Fatalf("session acr after a password sign-in = %q, want pwd", before.Session.ACR)
	}

	if status, _, body := e.call(t, b, "GET", "/api/pay/x", ""); status != 200 {
		t.Fatalf("GET on a route whose rule is for POST = %d %s, want 200", status, body)
	}
	calls := e.calls.Load()
	status, a, body := e.call(t, b, "POST", "/api/pay/x", "/checkout?cart=7")
	if status != 401 || a.Error != "step_up_required" || a.ACRValues != "urn:example:mfa mfa" || a.MaxAge != nil {
		t.Fatalf("POST /api/pay/x = %d %s, want 401 step_up_required with acr_values and no max_age", status, body)
	}
	if want := "/bff/login?acr_values=urn%3Aexample%3Amfa+mfa&returnUrl=%2Fcheckout%3Fcart%3D7"; a.LoginURL != want {
		t.Errorf("login_url = %q, want %q", a.LoginURL, want)
	}
	if e.calls.Load() != calls {
		t.Error("the refused call reached the upstream")
	}

	resp, body := b.SignInAt(t, e.url, a.LoginURL, harness.UserName, harness.UserPassword)
	if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != "/checkout?cart=7" {
		t.Fatalf("step-up callback = %d %s (Location %q), want 302 to /checkout?cart=7", resp.StatusCode, body, resp.Header.Get("Location"))
	}
	after := b.User(t, e.url, http.StatusOK)
	if after.Sub != before.Sub || after.Session.ACR != "mfa" || strings.Join(after.Session.AMR, " ") != "pwd otp" {
		t.Errorf("after step-up sub, acr, amr = %q, %q, %q; want %q, mfa, [pwd otp]", after.Sub, after.Session.ACR, after.Session.AMR, before.Sub)
	}
	if after.Session.ID == before.Session.ID || b.Cookie(e.url, sessionCookie) == oldCookie {
		t.Error("step-up kept the session ID or cookie, want new ones (no fixation)")
	}
	if !after.Session.CreatedAt.Equal(before.Session.CreatedAt) || !after.Session.ExpiresAt.Equal(before.Session.ExpiresAt) {
		t.Errorf("step-up session created, expires = %v, %v; want the session's own %v, %v",
			after.Session.CreatedAt, after.Session.ExpiresAt, before.Session.CreatedAt, before.Session.ExpiresAt)
	}
	if after.Session.AuthTime == nil || after.Session.AuthTime.Before(*before.Session.AuthTime) {
		t.Errorf("auth_time after step-up = %v, want at or after %v", after.Session.AuthTime, before.Session.AuthTime)
	}
	status, a, body = e.call(t, b, "POST", "/api/pay/x", "/checkout")
	if status != 200 || a.ACR != "mfa" {
		t.Errorf("retried POST = %d %s, want 200 with a token of acr mfa", status, body)
	}
	// The old session is gone, on this instance and in the store.
	old := e.NewBrowser()
	setCookie(t, old, e.url, sessionCookie, oldCookie)
	old.User(t, e.url, http.StatusUnauthorized)
}

// TestUpstreamStepUpChallenge: an API's RFC 9470 challenge reaches the SPA
// as the same step_up_required answer, without the API's header or body;
// after the step-up the retried call passes.
func TestUpstreamStepUpChallenge(t *testing.T) {
	e := startStepUp(t, harness.Options{})
	b := e.NewBrowser()
	b.Login(t, e.url, harness.UserName, harness.UserPassword)
	req, _ := http.NewRequest(http.MethodGet, e.url+"/api/payments/challenge/1", nil)
	req.Header.Set("X-CSRF", "1")
	req.Header.Set("Referer", e.url+"/pay")
	resp, body := b.Do(t, req)
	var a apiAnswer
	_ = json.Unmarshal([]byte(body), &a)
	if resp.StatusCode != 401 || a.Error != "step_up_required" || a.ACRValues != "mfa" || a.LoginURL != "/bff/login?acr_values=mfa&returnUrl=%2Fpay" {
		t.Fatalf("GET = %d %s, want 401 step_up_required, acr_values mfa, login_url back to /pay", resp.StatusCode, body)
	}
	if h := resp.Header.Values("WWW-Authenticate"); len(h) > 0 || strings.Contains(body, "insufficient_user_authentication") {
		t.Errorf("the API's challenge reached the browser: %q %s", h, body)
	}
	if cb, body := b.SignInAt(t, e.url, a.LoginURL, harness.UserName, harness.UserPassword); cb.StatusCode != http.StatusFound {
		t.Fatalf("step-up callback = %d %s, want 302", cb.StatusCode, body)
	}
	if status, a, body := e.call(t, b, "GET", "/api/payments/challenge/1", ""); status != 200 || a.ACR != "mfa" {
		t.Errorf("retried call = %d %s, want 200 with acr mfa", status, body)
	}
}

// TestStepUpRefused: a sign-in that does not reach what it asked for (a
// provider that ignores acr_values, a user without a second factor)
// fails with a clear page and leaves the session as it was.
func TestStepUpRefused(t *testing.T) {
	tests := []struct {
		name         string
		user, pass   string
		ignoreACR    bool
		wantSameUser bool
	}{
		{"provider ignores acr_values", harness.UserName, harness.UserPassword, true, true},
		{"user without a second factor", harness.OtherName, harness.OtherPass, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := startStepUp(t, harness.Options{})
			e.OP.SetIgnoreACRValues(tt.ignoreACR)
			b := e.NewBrowser()
			b.Login(t, e.url, tt.user, tt.pass)
			before := b.User(t, e.url, http.StatusOK)
			_, a, _ := e.call(t, b, "POST", "/api/pay/x", "")
			activeBefore := activeRefreshTokens(e.OP.IssuedTokens(), e.OP.RefreshTokenActive)
			resp, body := b.SignInAt(t, e.url, a.LoginURL, tt.user, tt.pass)
			if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "unmet_authentication_requirements") ||
				!strings.Contains(body, "did not reach the strength") || !strings.Contains(resp.Header.Get("Content-Type"), "text/html") {
				t.Fatalf("callback = %d %s, want a 403 page saying the sign-in was too weak", resp.StatusCode, body)
			}
			if got := activeRefreshTokens(e.OP.IssuedTokens(), e.OP.RefreshTokenActive); got != activeBefore {
				t.Errorf("live refresh tokens after a refused step-up = %d, want %d: the refused sign-in's must be revoked", got, activeBefore)
			}
			after := b.User(t, e.url, http.StatusOK)
			if after.Session.ID != before.Session.ID || after.Session.ACR != "pwd" {
				t.Errorf("session after a refused step-up = %q acr %q, want the old %q acr pwd", after.Session.ID, after.Session.ACR, before.Session.ID)
			}
			if status, a, body := e.call(t, b, "POST", "/api/pay/x", ""); status != 401 || a.Error != "step_up_required" {
				t.Errorf("retried call = %d %s, want still 401 step_up_required", status, body)
			}
		})
	}
}

// TestStepUpMaxAge: with a provider that remembers sign-ins, a session
// whose sign-in is older than a rule's max_age must step up; max_age
// makes the provider ask for the password again, and a provider that
// ignores max_age does not refresh the session.
func TestStepUpMaxAge(t *testing.T) {
	for _, ignore := range []bool{false, true} {
		name := map[bool]string{false: "provider honours max_age", true: "provider ignores max_age"}[ignore]
		t.Run(name, func(t *testing.T) {
			e := startStepUp(t, harness.Options{SingleSignOn: true})
			b := e.NewBrowser()
			b.Login(t, e.url, harness.UserName, harness.UserPassword)
			e.OP.AgeSignIns(time.Hour)
			// Signing in again takes the provider's remembered sign-in: no
			// form, an hour-old auth_time.
			if resp, body := b.SignInAt(t, e.url, "/bff/login?returnUrl=%2F", "", ""); resp.StatusCode != http.StatusFound {
				t.Fatalf("sign-in from the provider's memory = %d %s, want 302", resp.StatusCode, body)
			}
			old := b.User(t, e.url, http.StatusOK)
			if old.Session.AuthTime == nil || time.Since(*old.Session.AuthTime) < 59*time.Minute {
				t.Fatalf("auth_time = %v, want an hour ago", old.Session.AuthTime)
			}
			status, a, body := e.call(t, b, "GET", "/api/settings/x", "/settings")
			if status != 401 || a.Error != "step_up_required" || a.MaxAge == nil || *a.MaxAge != 900 ||
				a.LoginURL != "/bff/login?max_age=900&returnUrl=%2Fsettings" {
				t.Fatalf("GET = %d %s, want 401 step_up_required with max_age 900", status, body)
			}
			e.OP.SetIgnoreMaxAge(ignore)
			seen := len(b.Seen())
			resp, body := b.SignInAt(t, e.url, a.LoginURL, harness.UserName, harness.UserPassword)
			formShown := false
			for _, s := range b.Seen()[seen:] {
				formShown = formShown || strings.Contains(s.Body, `name="authRequestID"`)
			}
			if formShown == ignore {
				t.Errorf("the provider showed its login form: %v, want %v", formShown, !ignore)
			}
			after := b.User(t, e.url, http.StatusOK)
			if ignore {
				if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "unmet_authentication_requirements") {
					t.Fatalf("callback with a stale auth_time = %d %s, want 403 unmet_authentication_requirements", resp.StatusCode, body)
				}
				if after.Session.ID != old.Session.ID {
					t.Error("a stale sign-in replaced the session")
				}
				return
			}
			if resp.StatusCode != http.StatusFound || after.Session.AuthTime == nil || time.Since(*after.Session.AuthTime) > time.Minute {
				t.Fatalf("callback = %d %s, auth_time %v; want 302 and a fresh auth_time", resp.StatusCode, body, after.Session.AuthTime)
			}
			if status, _, body := e.call(t, b, "GET", "/api/settings/x", ""); status != 200 {
				t.Errorf("retried call = %d %s, want 200", status, body)
			}
		})
	}
}

// TestStepUpByAnotherUser: signing in as someone else at the step-up
// replaces the session instead of continuing it.
func TestStepUpByAnotherUser(t *testing.T) {
	e := startStepUp(t, harness.Options{})
	b := e.NewBrowser()
	b.Login(t, e.url, harness.OtherName, harness.OtherPass)
	before := b.User(t, e.url, http.StatusOK)
	_, a, _ := e.call(t, b, "POST", "/api/pay/x", "")
	if resp, body := b.SignInAt(t, e.url, a.LoginURL, harness.UserName, harness.UserPassword); resp.StatusCode != http.StatusFound {
		t.Fatalf("callback = %d %s, want 302", resp.StatusCode, body)
	}
	after := b.User(t, e.url, http.StatusOK)
	if after.Sub != harness.UserSubject || after.Session.CreatedAt.Equal(before.Session.CreatedAt) {
		t.Errorf("after another user's sign-in: sub %q, created %v; want %q and a new session (not %v)",
			after.Sub, after.Session.CreatedAt, harness.UserSubject, before.Session.CreatedAt)
	}
	others := e.NewBrowser()
	others.Login(t, e.url, harness.OtherName, harness.OtherPass)
	var list struct {
		Sessions []struct{ ID string } `json:"sessions"`
	}
	others.JSON(t, http.MethodGet, e.url+"/bff/sessions", &list)
	for _, s := range list.Sessions {
		if s.ID == before.Session.ID {
			t.Error("the replaced session is still listed for its user")
		}
	}
}

// TestStepUpReturnURL: the login URL leads back to the SPA page that made
// the call, and only to a page of this origin.
func TestStepUpReturnURL(t *testing.T) {
	e := startStepUp(t, harness.Options{})
	b := e.NewBrowser()
	b.Login(t, e.url, harness.UserName, harness.UserPassword)
	tests := []struct {
		name, referer, want string
	}{
		{"no Referer", "", "/"},
		{"page with query", e.url + "/orders/7?tab=pay", "/orders/7?tab=pay"},
		{"another origin", "https://evil.example/orders", "/"},
		{"same host, other scheme", strings.Replace(e.url, "https:", "http:", 1) + "/x", "/"},
		{"a BFF path", e.url + "/bff/user", "/"},
		{"double slash path", e.url + "//evil.example/x", "/"},
		{"too long", e.url + "/" + strings.Repeat("a", 2000), "/"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodPost, e.url+"/api/pay/x", nil)
			req.Header.Set("X-CSRF", "1")
			if tt.referer != "" {
				req.Header.Set("Referer", tt.referer)
			}
			_, body := b.Do(t, req)
			var a apiAnswer
			_ = json.Unmarshal([]byte(body), &a)
			u, err := url.Parse(a.LoginURL)
			if err != nil || u.Path != "/bff/login" || u.Host != "" {
				t.Fatalf("login_url = %q, want a /bff/login path", a.LoginURL)
			}
			if got := u.Query().Get("returnUrl"); got != tt.want {
				t.Errorf("returnUrl = %q, want %q", got, tt.want)
			}
		})
	}
}

// activeRefreshTokens counts the issued tokens the provider would still
// take as refresh tokens.
func activeRefreshTokens(issued []string, active func(string) bool) int {
	n := 0
	for _, tok := range issued {
		if active(tok) {
			n++
		}
	}
	return n
}

// TestStepUpEvent: the event stream of a session that steps up (in another
// tab) says step_up, not ended, and closes; the browser's reconnect, with
// the cookie the step-up set, gets a session event with the new acr.
func TestStepUpEvent(t *testing.T) {
	e := startStepUp(t, harness.Options{})
	b := e.NewBrowser()
	b.Login(t, e.url, harness.UserName, harness.UserPassword)
	es := openEvents(t, b, e.url)
	var s sessionEvent
	if es.Want(t, "session").Decode(t, &s); s.ACR != "pwd" {
		t.Errorf("session event acr = %q, want pwd", s.ACR)
	}
	_, a, _ := e.call(t, b, "POST", "/api/pay/x", "")
	if resp, body := b.SignInAt(t, e.url, a.LoginURL, harness.UserName, harness.UserPassword); resp.StatusCode != http.StatusFound {
		t.Fatalf("step-up callback = %d %s", resp.StatusCode, body)
	}
	if ev := es.Want(t, "step_up"); ev.Data != "{}" {
		t.Errorf("step_up data = %q, want {}", ev.Data)
	}
	if !es.Ended(5 * time.Second) {
		t.Error("the stream stayed open after step_up")
	}
	again := openEvents(t, b, e.url)
	if again.Want(t, "session").Decode(t, &s); s.ACR != "mfa" {
		t.Errorf("reconnected stream's session acr = %q, want mfa", s.ACR)
	}
}
