package bff_test

import (
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bff-project/bff/bff"
	"github.com/bff-project/bff/bff/config"
	"github.com/bff-project/bff/e2e/devop"
	"github.com/bff-project/bff/e2e/harness"
	"github.com/bff-project/bff/e2e/sampleapi"
)

// Shared helpers of tokens_test.go, apiproxy_test.go and clienttoken_test.go.

// rig is a started environment and a browser signed in as alice on its
// default instance.
type rig struct {
	env *harness.Env
	b   *harness.Browser
	url string // the default instance's origin
}

// newRig starts an environment with opts and signs alice in.
func newRig(t testing.TB, opts harness.Options) *rig {
	t.Helper()
	r := newAnonRig(t, opts)
	r.b.Login(t, r.url, harness.UserName, harness.UserPassword)
	return r
}

// newAnonRig starts an environment with opts and a browser that has not
// signed in.
func newAnonRig(t testing.TB, opts harness.Options) *rig {
	t.Helper()
	env := harness.Start(t, opts)
	return &rig{env: env, b: env.NewBrowser(), url: env.Default.URL}
}

// call sends method to the BFF path with X-CSRF: 1 (as the SPA does) plus
// hdr, and returns the response and its body.
func (r *rig) call(t testing.TB, method, path string, hdr http.Header, body io.Reader) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, r.url+path, body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-CSRF", "1")
	for k, v := range hdr {
		req.Header[k] = v
	}
	return r.b.Do(t, req)
}

// sampleAnswer is what e2e/sampleapi answers.
type sampleAnswer struct {
	API      string   `json:"api"`
	Sub      string   `json:"sub"`
	Audience []string `json:"audience"`
	Scopes   []string `json:"scopes"`
	Method   string   `json:"method"`
	Path     string   `json:"path"`
	Query    string   `json:"query"`
}

// errorAnswer is the contract's error body (and the sample API's).
type errorAnswer struct {
	Error       string `json:"error"`
	Description string `json:"error_description"`
}

// api GETs path with X-CSRF and returns the status and the body decoded
// both ways (one of them is empty).
func (r *rig) api(t testing.TB, path string) (int, sampleAnswer, errorAnswer) {
	t.Helper()
	resp, body := r.call(t, http.MethodGet, path, nil, nil)
	var a sampleAnswer
	var e errorAnswer
	if err := json.Unmarshal([]byte(body), &a); err != nil {
		t.Fatalf("GET %s = %d %q: not JSON: %v", path, resp.StatusCode, body, err)
	}
	_ = json.Unmarshal([]byte(body), &e)
	return resp.StatusCode, a, e
}

// mustAPI GETs path and fails unless the answer is 200 from the sample API.
func (r *rig) mustAPI(t testing.TB, path string) sampleAnswer {
	t.Helper()
	code, a, e := r.api(t, path)
	if code != http.StatusOK || a.API == "" {
		t.Fatalf("GET %s = %d %+v, want 200 from the sample API", path, code, e)
	}
	return a
}

// sessionCookie is the browser's session cookie value.
func (r *rig) sessionCookie(t testing.TB) string {
	t.Helper()
	v := r.b.Cookie(r.url, "__Host-bff")
	if v == "" {
		t.Fatal("browser has no __Host-bff cookie")
	}
	return v
}

// withConfig chains config changes.
func withConfig(fns ...func(*bff.Config)) func(*bff.Config) {
	return func(c *bff.Config) {
		for _, f := range fns {
			if f != nil {
				f(c)
			}
		}
	}
}

// addRoute adds an API route to the config.
func addRoute(a config.APIConfig) func(*bff.Config) {
	return func(c *bff.Config) { c.APIs = append(c.APIs, a) }
}

// refreshSkew sets OIDC.RefreshSkew.
func refreshSkew(d time.Duration) func(*bff.Config) {
	return func(c *bff.Config) { c.OIDC.RefreshSkew = d }
}

// signinRoute adds /api/signin/: a route using the sign-in access token (no
// audience, no scopes) in front of a sample API that accepts exactly that
// token (aud = the client ID), so it too checks signature and expiry.
func signinRoute(t testing.TB) func(*bff.Config) {
	return func(c *bff.Config) {
		h, err := sampleapi.New(sampleapi.Config{Name: "signin", Issuer: c.OIDC.Issuer, Audience: harness.ClientID})
		if err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(h)
		t.Cleanup(srv.Close)
		c.APIs = append(c.APIs, config.APIConfig{Prefix: "/api/signin/", Upstream: srv.URL, StripPrefix: true})
	}
}

// refreshTokens are the refresh tokens the provider issued, oldest first:
// devop's refresh tokens are opaque, access and ID tokens are JWTs.
func refreshTokens(env *harness.Env) []string {
	var out []string
	for _, tok := range env.OP.IssuedTokens() {
		if !strings.Contains(tok, ".") {
			out = append(out, tok)
		}
	}
	return out
}

// lastRefreshToken is the newest refresh token the provider issued.
func lastRefreshToken(t testing.TB, env *harness.Env) string {
	t.Helper()
	rts := refreshTokens(env)
	if len(rts) == 0 {
		t.Fatal("the provider issued no refresh token")
	}
	return rts[len(rts)-1]
}

// jwtClaims decodes a JWT's payload without verifying it.
func jwtClaims(t testing.TB, tok string) map[string]any {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("token is not a JWT (%d parts)", len(parts))
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatalf("JWT payload: %v", err)
	}
	var claims map[string]any
	if err := json.Unmarshal(b, &claims); err != nil {
		t.Fatalf("JWT payload: %v", err)
	}
	return claims
}

// audiences returns a JWT's aud claim as a list.
func audiences(claims map[string]any) []string {
	switch v := claims["aud"].(type) {
	case string:
		return []string{v}
	case []any:
		var out []string
		for _, a := range v {
			s, _ := a.(string)
			out = append(out, s)
		}
		return out
	}
	return nil
}

// providerEndpoints reads the provider's discovery document.
func providerEndpoints(t testing.TB, env *harness.Env) (token, revocation, endSession string) {
	t.Helper()
	resp, err := http.Get(env.OPURL + "/.well-known/openid-configuration")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var d struct {
		Token      string `json:"token_endpoint"`
		Revocation string `json:"revocation_endpoint"`
		EndSession string `json:"end_session_endpoint"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&d); err != nil {
		t.Fatalf("discovery: %v", err)
	}
	return d.Token, d.Revocation, d.EndSession
}

// postClientForm POSTs form to u authenticated as the BFF's client and
// returns the status.
func postClientForm(t testing.TB, u string, form url.Values) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, u, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(harness.ClientID, harness.ClientSecret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode
}

// checkNoTokenInLogs fails if any token the provider issued appears in the
// BFF's logs.
func checkNoTokenInLogs(t testing.TB, env *harness.Env) {
	t.Helper()
	logs := env.Logs.String()
	for i, tok := range env.OP.IssuedTokens() {
		if strings.Contains(logs, tok) {
			t.Errorf("issued token #%d appears in the BFF logs", i)
		}
	}
}

// burster sends bursts of concurrent calls on the rig's session over
// connections opened beforehand, so that a burst measures the BFF rather
// than a hundred TLS handshakes on a busy machine.
type burster struct {
	r      *rig
	client *http.Client
}

// newBurster opens n connections to the BFF and keeps them idle.
func (r *rig) newBurster(t testing.TB, n int) *burster {
	t.Helper()
	tr := &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, MaxIdleConnsPerHost: n}
	t.Cleanup(tr.CloseIdleConnections)
	bu := &burster{r: r, client: &http.Client{Jar: r.b.Client.Jar, Transport: tr}}
	if failures := bu.burst("/healthz", "", n); len(failures) > 0 {
		t.Fatalf("warming up: %s", failures[0])
	}
	return bu
}

// burst sends n concurrent GETs of path, released together, and returns a
// description of every one that did not answer 200 (from the sample API
// named api, unless api is "").
func (bu *burster) burst(path, api string, n int) []string {
	var (
		mu       sync.Mutex
		failures []string
		wg       sync.WaitGroup
	)
	start := make(chan struct{})
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			if err := bu.get200(path, api); err != nil {
				mu.Lock()
				failures = append(failures, err.Error())
				mu.Unlock()
			}
		}()
	}
	close(start)
	wg.Wait()
	return failures
}

// get200 is a GET that may run off the test goroutine.
func (bu *burster) get200(path, api string) error {
	req, err := http.NewRequest(http.MethodGet, bu.r.url+path, nil)
	if err != nil {
		return err
	}
	req.Header.Set("X-CSRF", "1")
	resp, err := bu.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	var a sampleAnswer
	if resp.StatusCode != http.StatusOK || api != "" && (json.Unmarshal(body, &a) != nil || a.API != api) {
		return fmt.Errorf("GET %s = %d %s", path, resp.StatusCode, body)
	}
	return nil
}

// dueAfter is how long to wait for a token issued now with the given
// provider lifetime to be due (and expired).
func dueAfter(lifetime time.Duration) time.Duration { return lifetime + 150*time.Millisecond }

func countsDelta(before, after devop.Counts) devop.Counts {
	return devop.Counts{
		Code:              after.Code - before.Code,
		Refresh:           after.Refresh - before.Refresh,
		ClientCredentials: after.ClientCredentials - before.ClientCredentials,
		TokenExchange:     after.TokenExchange - before.TokenExchange,
		Revocation:        after.Revocation - before.Revocation,
		EndSession:        after.EndSession - before.EndSession,
	}
}

// Issue: the callback stored the sign-in access token without
// AccessRefreshAt, so it counted as due from the first use: every session
// refreshed on its first call to a sign-in-token route and before its first
// token exchange, burning a refresh-token rotation for nothing.
func TestTokenFreshSignInTokenIsUsedAsIs(t *testing.T) {
	tests := []struct {
		name string
		path string
		api  string
		want devop.Counts // provider calls the first API call makes
	}{
		{name: "sign-in token route", path: "/api/signin/x", api: "signin", want: devop.Counts{}},
		{name: "token exchange", path: "/api/profile/x", api: "profile", want: devop.Counts{TokenExchange: 1}},
		{name: "refresh exchange", path: "/api/orders/x", api: "orders", want: devop.Counts{Refresh: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := newRig(t, harness.Options{Config: signinRoute(t)})
			before := r.env.OP.Counts()
			r.mustAPI(t, tt.path)
			if got := countsDelta(before, r.env.OP.Counts()); got != tt.want {
				t.Errorf("provider calls of the first GET %s = %+v, want %+v", tt.path, got, tt.want)
			}
			before = r.env.OP.Counts()
			r.mustAPI(t, tt.path)
			if got := countsDelta(before, r.env.OP.Counts()); got != (devop.Counts{}) {
				t.Errorf("provider calls of the second GET %s = %+v, want none (cached)", tt.path, got)
			}
		})
	}
}

// TestTokenRenewalCoalesced: 100 concurrent calls of one session whose
// token is due make one refresh, and the rotated refresh token is saved:
// the next renewal uses it, and the old one is dead at the provider.
func TestTokenRenewalCoalesced(t *testing.T) {
	const n = 100
	tests := []struct {
		name string
		path string
		api  string
	}{
		{name: "audience token", path: "/api/orders/burst", api: "orders"},
		{name: "sign-in token", path: "/api/signin/burst", api: "signin"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			// A skew of 1s keeps the BFF's idea of "due" ahead of the JWT's
			// exp, which the provider truncates to whole seconds.
			r := newRig(t, harness.Options{
				AccessTokenLifetime: 2 * time.Second,
				Config:              withConfig(signinRoute(t), refreshSkew(time.Second)),
			})
			r.mustAPI(t, tt.path) // the route's token, 2s
			bu := r.newBurster(t, n)
			// Round 1 renews to a 15s token: enough for the whole burst to
			// find it fresh on a busy machine (8s was not always, under
			// -race with other suites running), short enough for a second
			// round.
			rounds := []time.Duration{15 * time.Second, 5 * time.Minute}
			wait := dueAfter(2 * time.Second)
			for i, next := range rounds {
				r.env.OP.SetAccessTokenLifetime(next)
				oldRT := lastRefreshToken(t, r.env)
				time.Sleep(wait)
				before := r.env.OP.Counts()
				failures := bu.burst(tt.path, tt.api, n)
				if len(failures) > 0 {
					t.Errorf("round %d: %d of %d calls failed, first: %s", i+1, len(failures), n, failures[0])
				}
				if got := countsDelta(before, r.env.OP.Counts()).Refresh; got != 1 {
					t.Errorf("round %d: refresh calls at the provider = %d, want 1", i+1, got)
				}
				newRT := lastRefreshToken(t, r.env)
				if newRT == oldRT {
					t.Fatalf("round %d: no new refresh token was issued", i+1)
				}
				if r.env.OP.RefreshTokenActive(oldRT) {
					t.Errorf("round %d: the rotated-away refresh token is still active", i+1)
				}
				if !r.env.OP.RefreshTokenActive(newRT) {
					t.Errorf("round %d: the new refresh token is not active", i+1)
				}
				wait = dueAfter(next)
			}
			// The session still works, and the user was never asked to sign
			// in again.
			r.mustAPI(t, tt.path)
			if got := r.env.OP.Counts().Code; got != 1 {
				t.Errorf("authorization code grants = %d, want 1", got)
			}
			checkNoTokenInLogs(t, r.env)
		})
	}
}

// TestTokenProviderDown: a due renewal while the token endpoint answers 503
// fails fast with 503 provider_unavailable and keeps the session, which
// works again once the provider is back.
func TestTokenProviderDown(t *testing.T) {
	tests := []struct {
		name string
		path string
		api  string
	}{
		{name: "refresh exchange", path: "/api/orders/x", api: "orders"},
		{name: "token exchange", path: "/api/profile/x", api: "profile"},
		{name: "sign-in token", path: "/api/signin/x", api: "signin"},
	}
	r := newRig(t, harness.Options{AccessTokenLifetime: 2 * time.Second, Config: signinRoute(t)})
	for _, tt := range tests {
		r.mustAPI(t, tt.path)
	}
	time.Sleep(dueAfter(2 * time.Second))

	r.env.OP.SetDown(true)
	for _, tt := range tests {
		t.Run(tt.name+"/down", func(t *testing.T) {
			before := r.env.OP.Counts()
			start := time.Now()
			code, _, e := r.api(t, tt.path)
			elapsed := time.Since(start)
			if code != http.StatusServiceUnavailable || e.Error != "provider_unavailable" {
				t.Errorf("GET %s = %d %q, want 503 provider_unavailable", tt.path, code, e.Error)
			}
			// Well under the harness's 3s provider timeout: the 503 is the
			// provider's answer, not a timeout.
			if elapsed > 2*time.Second {
				t.Errorf("GET %s took %v, want under 2s", tt.path, elapsed)
			}
			if got := countsDelta(before, r.env.OP.Counts()); got.Refresh+got.TokenExchange == 0 {
				t.Errorf("provider calls = %+v, want a renewal attempt", got)
			}
			r.b.User(t, r.url, http.StatusOK)
		})
	}
	r.env.OP.SetDown(false)
	for _, tt := range tests {
		t.Run(tt.name+"/up", func(t *testing.T) {
			if a := r.mustAPI(t, tt.path); a.Sub != harness.UserSubject {
				t.Errorf("sub = %q, want %q", a.Sub, harness.UserSubject)
			}
		})
	}
	if got := r.env.OP.Counts().Code; got != 1 {
		t.Errorf("authorization code grants = %d, want 1 (no new sign-in)", got)
	}
}

// TestTokenInvalidGrantEndsSession: once the provider rejects the refresh
// token, the next due renewal answers 401 unauthenticated and the session
// is gone.
func TestTokenInvalidGrantEndsSession(t *testing.T) {
	revoke := func(t *testing.T, env *harness.Env) {
		rt := lastRefreshToken(t, env)
		_, revocation, _ := providerEndpoints(t, env)
		if code := postClientForm(t, revocation, url.Values{"token": {rt}, "token_type_hint": {"refresh_token"}}); code != http.StatusOK {
			t.Fatalf("revocation = %d, want 200", code)
		}
		if env.OP.RefreshTokenActive(rt) {
			t.Fatal("refresh token still active after revocation")
		}
	}
	// Someone else uses the token: it rotates, the BFF's copy is dead.
	reuse := func(t *testing.T, env *harness.Env) {
		rt := lastRefreshToken(t, env)
		tokenURL, _, _ := providerEndpoints(t, env)
		if code := postClientForm(t, tokenURL, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}); code != http.StatusOK {
			t.Fatalf("refresh grant = %d, want 200", code)
		}
	}
	// The provider session ends (RP-initiated logout elsewhere).
	endSession := func(t *testing.T, env *harness.Env) {
		var idToken string
		for _, tok := range env.OP.IssuedTokens() {
			if strings.Contains(tok, ".") && jwtClaims(t, tok)["nonce"] != nil {
				idToken = tok
			}
		}
		if idToken == "" {
			t.Fatal("no ID token issued")
		}
		_, _, endSessionURL := providerEndpoints(t, env)
		c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		resp, err := c.Get(endSessionURL + "?id_token_hint=" + url.QueryEscape(idToken))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if rt := lastRefreshToken(t, env); env.OP.RefreshTokenActive(rt) {
			t.Fatalf("end_session = %d; the refresh token is still active", resp.StatusCode)
		}
	}
	tests := []struct {
		name string
		path string
		kill func(*testing.T, *harness.Env)
	}{
		{name: "revoked/refresh exchange", path: "/api/orders/x", kill: revoke},
		{name: "revoked/token exchange", path: "/api/profile/x", kill: revoke},
		{name: "revoked/sign-in token", path: "/api/signin/x", kill: revoke},
		{name: "reused elsewhere/refresh exchange", path: "/api/orders/x", kill: reuse},
		{name: "provider session ended/sign-in token", path: "/api/signin/x", kill: endSession},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := newRig(t, harness.Options{AccessTokenLifetime: 2 * time.Second, Config: signinRoute(t)})
			r.mustAPI(t, tt.path)
			tt.kill(t, r.env)
			time.Sleep(dueAfter(2 * time.Second))

			code, _, e := r.api(t, tt.path)
			if code != http.StatusUnauthorized || e.Error != "unauthenticated" {
				t.Errorf("GET %s = %d %q, want 401 unauthenticated", tt.path, code, e.Error)
			}
			r.b.User(t, r.url, http.StatusUnauthorized)
			before := r.env.OP.Counts()
			if code, _, e := r.api(t, tt.path); code != http.StatusUnauthorized || e.Error != "unauthenticated" {
				t.Errorf("GET %s again = %d %q, want 401 unauthenticated", tt.path, code, e.Error)
			}
			if got := countsDelta(before, r.env.OP.Counts()); got != (devop.Counts{}) {
				t.Errorf("provider calls after the session ended = %+v, want none", got)
			}
		})
	}
}

// BenchmarkProxiedCall is one whole API call through the BFF's handler
// (session, token, proxy) to an upstream that answers at once, on a route
// without rules and on the same route with a claims rule the user passes
// (apis[].require: the groups claim contains admins).
func BenchmarkProxiedCall(b *testing.B) { benchmarkProxiedCall(b, nil) }

func benchmarkProxiedCall(b *testing.B, mutate func(*bff.Config)) {
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"ok":true}`)
	}))
	b.Cleanup(upstream.Close)
	r := newRig(b, harness.Options{Config: withConfig(
		func(c *bff.Config) { c.Logger = slog.New(slog.DiscardHandler) },
		addRoute(config.APIConfig{Prefix: "/api/bench/", Upstream: upstream.URL, StripPrefix: true,
			Audience: "orders-api", Scopes: []string{"orders.read"}}),
		addRoute(config.APIConfig{Prefix: "/api/rule/", Upstream: upstream.URL, StripPrefix: true,
			Audience: "orders-api", Scopes: []string{"orders.read"},
			Require: []config.RuleConfig{{Claims: map[string][]config.ClaimValue{"groups": {{Value: "admins"}}}}}}),
		mutate,
	)})
	h := r.env.Default.Server.Handler()
	cookie := &http.Cookie{Name: "__Host-bff", Value: r.sessionCookie(b)}
	for _, bm := range []struct{ name, prefix string }{{"no rule", "/api/bench/"}, {"claims rule", "/api/rule/"}} {
		b.Run(bm.name, func(b *testing.B) {
			do := func() *httptest.ResponseRecorder {
				req := httptest.NewRequest(http.MethodGet, r.url+bm.prefix+"items?page=1", nil)
				req.Header.Set("X-CSRF", "1")
				req.AddCookie(cookie)
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				return rec
			}
			if rec := do(); rec.Code != http.StatusOK {
				b.Fatalf("GET %sitems = %d %s", bm.prefix, rec.Code, rec.Body)
			}
			b.ReportAllocs()
			for b.Loop() {
				if rec := do(); rec.Code != http.StatusOK {
					b.Fatalf("GET %sitems = %d", bm.prefix, rec.Code)
				}
			}
		})
	}
}

func decodeJSON(body string, v any) error { return json.Unmarshal([]byte(body), v) }
