package fapi_test

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bff-project/bff/bff"
	"github.com/bff-project/bff/bff/config"
	"github.com/bff-project/bff/e2e/fapiop"
)

// strictEnv is a strict RFC 8707 provider (no PAR, so the sign-in
// request can be read; client_secret_basic) whose orders and profile
// tokens live 2 s, and a BFF with routes to orders and profile (each its
// own resource) and billing as edit sets it.
func strictEnv(t *testing.T, billing config.APIConfig) (*env, bff.Config) {
	t.Helper()
	res := resources()
	res[0].AccessTokenTTL, res[1].AccessTokenTTL = 2*time.Second, 2*time.Second
	e := newEnv(t, fapiop.Config{Resources: res}, func(c *fapiop.Client, _ string) {
		c.AuthMethod, c.Secret = fapiop.AuthSecretBasic, "strict-secret-9c41"
	}, false)
	cfg := e.config()
	cfg.OIDC.ClientSecret = "strict-secret-9c41"
	billing.Prefix, billing.Upstream, billing.StripPrefix = "/api/billing/", e.apis["billing"].URL, true
	cfg.APIs = append(cfg.APIs, billing)
	return e, cfg
}

// Per-API tokens on a strict RFC 8707 server (issue 20): the sign-in
// request carries every route's resource and the union of the route
// scopes with the sign-in scopes; each API gets a token whose aud is its
// resource (the sample APIs check it); renewal at expiry keeps each
// route's audience.
func TestPerAPITokensStrict(t *testing.T) {
	t.Parallel()
	e, cfg := strictEnv(t, config.APIConfig{Resource: billingAPI, Scopes: []string{"billing.read"}})
	e.start(cfg)
	b := e.browser()

	resp, _ := b.do(t, http.MethodGet, e.URL+"/bff/login?returnUrl=/", nil)
	loc, _ := url.Parse(resp.Header.Get("Location"))
	q := loc.Query()
	if got, want := q["resource"], []string{ordersAPI, profileAPI, billingAPI}; !slices.Equal(got, want) {
		t.Errorf("sign-in resource = %q, want %q", got, want)
	}
	if got, want := q.Get("scope"), "openid profile orders.read profile.read billing.read"; got != want {
		t.Errorf("sign-in scope = %q, want %q", got, want)
	}

	b.signIn(t)
	tokenOf := map[string]string{}
	for _, api := range []struct{ name, aud string }{{"orders", ordersAPI}, {"profile", profileAPI}, {"billing", billingAPI}} {
		status, a := b.call(t, http.MethodGet, "/api/"+api.name+"/x", nil)
		if status != http.StatusOK || !slices.Equal(a.Audience, []string{api.aud}) {
			t.Errorf("GET /api/%s/x = %d %+v, want 200 with aud exactly %s", api.name, status, a, api.aud)
		}
		tokenOf[api.name], _ = e.apis[api.name].last()
	}
	// The 2 s tokens come due after 1 s; each route renews with its own
	// resource and its API accepts the new token.
	for _, api := range []struct{ name, aud string }{{"orders", ordersAPI}, {"profile", profileAPI}} {
		waitFor(t, api.name+" token renewal", func() bool {
			status, a := b.call(t, http.MethodGet, "/api/"+api.name+"/x", nil)
			if status != http.StatusOK || !slices.Equal(a.Audience, []string{api.aud}) {
				t.Fatalf("GET /api/%s/x while renewing = %d %+v, want 200 with aud %s", api.name, status, a, api.aud)
			}
			auth, _ := e.apis[api.name].last()
			return auth != tokenOf[api.name]
		})
	}
}

// A provider refusing one route's token (invalid_scope: a scope its
// resource does not define, so the sign-in could not be granted it)
// answers that route 403 token_refused; the session, the other routes and
// their renewals keep working: the refresh token the session keeps is the
// one the provider considers current (issue 20).
func TestOneRouteRefusedScope(t *testing.T) {
	t.Parallel()
	e, cfg := strictEnv(t, config.APIConfig{Resource: billingAPI, Scopes: []string{"billing.admin"}})
	e.start(cfg)
	b := e.browser()
	b.signIn(t)
	first, _ := func() (string, string) {
		b.call(t, http.MethodGet, "/api/orders/x", nil)
		return e.apis["orders"].last()
	}()
	resp, body := b.do(t, http.MethodGet, e.URL+"/api/billing/x", nil)
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, `"error":"token_refused"`) {
		t.Fatalf("GET /api/billing/x = %d %s, want 403 token_refused", resp.StatusCode, body)
	}
	if !strings.Contains(e.logs.String(), "the session's refresh token is still current") {
		t.Errorf("log does not say the refresh token is still current:\n%s", e.logs.String())
	}
	waitFor(t, "orders token renewal after the refusal", func() bool {
		status, a := b.call(t, http.MethodGet, "/api/orders/x", nil)
		if status != http.StatusOK || !slices.Equal(a.Audience, []string{ordersAPI}) {
			t.Fatalf("GET /api/orders/x after the refusal = %d %+v, want 200", status, a)
		}
		auth, _ := e.apis["orders"].last()
		return auth != first
	})
	if resp, _ := b.do(t, http.MethodGet, e.URL+"/bff/user", nil); resp.StatusCode != http.StatusOK {
		t.Errorf("GET /bff/user = %d, want 200 (session kept)", resp.StatusCode)
	}
}

// oidc-provider rotates the refresh token before it checks the resource
// (it checks scopes before), so a refresh for a resource the sign-in did
// not ask for (at_sign_in: false on a strict server; no scopes, so the
// scope check passes) is refused with invalid_target and uses up the
// session's refresh token (issue 20). The BFF learns it by
// introspection, drops the dead token (sending it again would make the
// provider revoke the whole grant), answers 403 token_refused, keeps the
// session and the other routes' tokens, and refuses that route from then
// on without asking the provider.
func TestRefusalThatRotates(t *testing.T) {
	t.Parallel()
	off := false
	e, cfg := strictEnv(t, config.APIConfig{Resource: billingAPI, AtSignIn: &off})
	e.start(cfg)
	b := e.browser()
	b.signIn(t)
	if status, _ := b.call(t, http.MethodGet, "/api/profile/x", nil); status != http.StatusOK {
		t.Fatalf("GET /api/profile/x = %d, want 200", status)
	}
	for i := range 2 {
		resp, body := b.do(t, http.MethodGet, e.URL+"/api/billing/x", nil)
		if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, `"error":"token_refused"`) {
			t.Fatalf("GET /api/billing/x (%d) = %d %s, want 403 token_refused", i+1, resp.StatusCode, body)
		}
	}
	if n := strings.Count(e.p.Log(), "invalid_target"); n != 1 {
		t.Errorf("provider refused %d times with invalid_target, want 1 (the second refusal is the BFF's own)\n%s", n, e.p.Log())
	}
	if !strings.Contains(e.logs.String(), "used up the session's refresh token") {
		t.Errorf("log does not say the refresh token was used up:\n%s", e.logs.String())
	}
	if strings.Contains(e.p.Log(), "refresh token already used") {
		t.Errorf("the used-up refresh token was sent again (the provider revokes the grant then):\n%s", e.p.Log())
	}
	if status, a := b.call(t, http.MethodGet, "/api/profile/x", nil); status != http.StatusOK || !slices.Equal(a.Audience, []string{profileAPI}) {
		t.Errorf("GET /api/profile/x after the refusal = %d %+v, want 200 (its token is kept)", status, a)
	}
	if resp, _ := b.do(t, http.MethodGet, e.URL+"/bff/user", nil); resp.StatusCode != http.StatusOK {
		t.Errorf("GET /bff/user = %d, want 200 (session kept)", resp.StatusCode)
	}
}

// A token that does not name the route's audience in aud is never
// forwarded (issue 20): a provider that ignores the audience asked for
// (oidc-provider reads resource, not audience, and hands out the one
// resource granted) answers 403 token_audience_mismatch, logs the
// audiences it got, and keeps the session.
func TestAudienceMismatch(t *testing.T) {
	t.Parallel()
	e := newEnv(t, fapiop.Config{UseGrantedResource: true}, func(c *fapiop.Client, _ string) {
		c.AuthMethod, c.Secret = fapiop.AuthSecretBasic, "aud-secret-77"
	}, false)
	cfg := e.config()
	cfg.OIDC.ClientSecret = "aud-secret-77"
	cfg.APIs[1].Resource, cfg.APIs[1].Audience, cfg.APIs[1].Scopes = "", profileAPI, nil
	e.start(cfg)
	b := e.browser()
	b.signIn(t)
	resp, body := b.do(t, http.MethodGet, e.URL+"/api/profile/x", nil)
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, `"error":"token_audience_mismatch"`) {
		t.Fatalf("GET /api/profile/x = %d %s, want 403 token_audience_mismatch", resp.StatusCode, body)
	}
	if logs := e.logs.String(); !strings.Contains(logs, "audience mismatch") || !strings.Contains(logs, ordersAPI) {
		t.Errorf("log does not say which aud the token had:\n%s", logs)
	}
	if auth, _ := e.apis["profile"].last(); auth != "" {
		t.Error("the profile API was called with the mismatched token")
	}
	if status, _ := b.call(t, http.MethodGet, "/api/orders/x", nil); status != http.StatusOK {
		t.Errorf("GET /api/orders/x = %d, want 200 (session and other routes kept)", status)
	}
}
