package bff_test

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bff-project/bff/bff"
	"github.com/bff-project/bff/bff/config"
	"github.com/bff-project/bff/e2e/devop"
	"github.com/bff-project/bff/e2e/harness"
	"github.com/bff-project/bff/e2e/sampleapi"
)

// Each preset is tested against the development provider imitating that
// provider's quirk (devop.Config.Like): with the preset the routes work;
// without it the quirk shows, and the token check refuses what the
// provider handed out instead of forwarding it.

// sampleAPI starts a sample API that wants aud and scope, and returns
// its URL.
func sampleAPI(t testing.TB, issuer, name, aud, scope string) string {
	t.Helper()
	h, err := sampleapi.New(sampleapi.Config{Name: name, Issuer: issuer, Audience: aud, RequiredScope: scope})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}

// auth0Tenant is an Auth0-like provider: orders-api and profile-api are
// its APIs, default-api its Default Audience.
var auth0Tenant = harness.Options{Like: devop.LikeAuth0, Provider: func(c *devop.Config) {
	c.DefaultAudience, c.Audiences = "default-api", []string{"orders-api", "profile-api"}
}}

// TestPresetAuth0: the preset asks for the first route's audience at
// sign-in, so that route uses the sign-in token as it is (no refresh);
// the second API's token comes from a refresh naming its audience
// (Auth0's multi-resource refresh tokens).
func TestPresetAuth0(t *testing.T) {
	opts := auth0Tenant
	opts.Config = func(c *bff.Config) {
		c.OIDC.Provider = config.ProviderAuth0
		c.APIs[0].Scopes = nil // the sign-in grants orders.read
		c.OIDC.Scopes = append(c.OIDC.Scopes, "orders.read")
		c.APIs[1].Exchange = "refresh" // Auth0 has no token exchange
	}
	r := newRig(t, opts)
	if a := r.mustAPI(t, "/api/orders/x"); !slices.Equal(a.Audience, []string{"orders-api"}) {
		t.Errorf("orders got aud %q", a.Audience)
	}
	if n := r.env.OP.Counts().Refresh; n != 0 {
		t.Errorf("%d refreshes for the sign-in audience's route, want 0: the sign-in token is that API's", n)
	}
	if a := r.mustAPI(t, "/api/profile/y"); !slices.Equal(a.Audience, []string{"profile-api"}) {
		t.Errorf("profile got aud %q", a.Audience)
	}
}

// TestAuth0DefaultAudienceCaught: Auth0 answers a request for an audience
// it does not know with a token for its Default Audience, silently. The
// sign-in token (auth_params.audience) and a route's token are both
// checked, and refused: 403 token_audience_mismatch, session kept.
func TestAuth0DefaultAudienceCaught(t *testing.T) {
	opts := auth0Tenant
	opts.Config = func(c *bff.Config) {
		c.OIDC.AuthParams = map[string]string{"audience": "billing-api"} // not one of the tenant's APIs
		signIn := c.APIs[0]
		signIn.Prefix, signIn.Audience, signIn.Scopes = "/api/signin/", "", nil
		c.APIs[1] = config.APIConfig{Prefix: "/api/payments/", Upstream: c.APIs[1].Upstream, Audience: "payments-api", Scopes: []string{"profile.read"}}
		c.APIs = append(c.APIs, signIn)
	}
	r := newRig(t, opts)
	for _, path := range []string{"/api/signin/x", "/api/payments/y"} {
		if code, _, e := r.api(t, path); code != http.StatusForbidden || e.Error != "token_audience_mismatch" {
			t.Errorf("GET %s = %d %+v, want 403 token_audience_mismatch", path, code, e)
		}
	}
	r.b.User(t, r.url, http.StatusOK)
	if logs := r.env.Logs.String(); !strings.Contains(logs, "default-api") {
		t.Error("no log line names the audience the provider fell back to")
	}
}

// TestPresetEntra: routes name their API by its App ID URI; the preset
// asks for <URI>/.default (or the route's scopes under it) through the
// refresh grant, never at sign-in and never with resource, which
// Entra-like devop refuses. v2 tokens carry the application ID as aud
// and scp short names: both pass the check. Front-channel logout is on.
func TestPresetEntra(t *testing.T) {
	const ordersApp = "6f1c2b8e-5c4d-4e7a-9b1a-3d2f1e0c9b8a"
	opts := harness.Options{Like: devop.LikeEntra, Provider: func(c *devop.Config) {
		c.APIScopes = append(c.APIScopes, "api://"+ordersApp+"/Orders.Read", "api://profile-api/Profile.Read")
	}}
	opts.Config = func(c *bff.Config) {
		c.OIDC.Provider = config.ProviderEntra
		c.APIs = []config.APIConfig{
			{Prefix: "/api/orders/", Upstream: sampleAPI(t, c.OIDC.Issuer, "orders", ordersApp, "Orders.Read"), StripPrefix: true,
				Audience: "api://" + ordersApp, Scopes: []string{"Orders.Read"}},
			{Prefix: "/api/profile/", Upstream: sampleAPI(t, c.OIDC.Issuer, "profile", "api://profile-api", "Profile.Read"), StripPrefix: true,
				Audience: "api://profile-api"},
		}
	}
	r := newRig(t, opts)
	if a := r.mustAPI(t, "/api/orders/x"); !slices.Equal(a.Audience, []string{ordersApp}) || !slices.Contains(a.Scopes, "Orders.Read") {
		t.Errorf("orders got aud %q scopes %q", a.Audience, a.Scopes)
	}
	if a := r.mustAPI(t, "/api/profile/y"); !slices.Equal(a.Audience, []string{"api://profile-api"}) {
		t.Errorf("profile got aud %q", a.Audience)
	}
	if n := r.env.OP.Counts().Refresh; n != 2 {
		t.Errorf("%d refreshes, want one per API", n)
	}
	resp, body := r.b.Get(t, r.url+"/bff/frontchannel-logout")
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("GET /bff/frontchannel-logout without iss and sid = %d %s, want 400 (served, refused)", resp.StatusCode, body)
	}
}

// TestEntraWithoutPresetFails: the same routes as generic: the sign-in
// asks for scopes of two APIs at once, which Entra refuses.
func TestEntraWithoutPresetFails(t *testing.T) {
	opts := harness.Options{Like: devop.LikeEntra, Provider: func(c *devop.Config) {
		c.APIScopes = append(c.APIScopes, "api://orders/Orders.Read", "api://profile/Profile.Read")
	}}
	opts.Config = func(c *bff.Config) {
		c.APIs[0].Audience, c.APIs[0].Scopes = "api://orders", []string{"api://orders/Orders.Read"}
		c.APIs[1].Audience, c.APIs[1].Scopes, c.APIs[1].Exchange = "api://profile", []string{"api://profile/Profile.Read"}, "refresh"
	}
	r := newAnonRig(t, opts)
	wantSignInRefused(t, r, "invalid_scope")
}

// wantSignInRefused starts a sign-in and wants it to end on the BFF's
// error page with the provider's error code, and no session.
func wantSignInRefused(t *testing.T, r *rig, code string) {
	t.Helper()
	resp, body := r.b.Get(t, r.url+"/bff/login")
	resp, body = r.b.Follow(t, resp, body)
	if resp.StatusCode < 400 || !strings.Contains(body, code) {
		t.Errorf("sign-in ended %d, want the provider's %s on the error page:\n%s", resp.StatusCode, code, body)
	}
	if r.b.Cookie(r.url, "__Host-bff") != "" {
		t.Error("a refused sign-in left a session cookie")
	}
}

// TestPresetKeycloak: Keycloak's refresh grant ignores audience; the
// preset takes an API's token by token exchange instead. Without it, the
// refreshed token names no API and is refused.
func TestPresetKeycloak(t *testing.T) {
	r := newRig(t, harness.Options{Like: devop.LikeKeycloak, Config: func(c *bff.Config) { c.OIDC.Provider = config.ProviderKeycloak }})
	for _, p := range []struct{ path, aud string }{{"/api/orders/x", "orders-api"}, {"/api/profile/y", "profile-api"}} {
		if a := r.mustAPI(t, p.path); !slices.Equal(a.Audience, []string{p.aud}) {
			t.Errorf("%s got aud %q", p.path, a.Audience)
		}
	}
	if c := r.env.OP.Counts(); c.TokenExchange != 2 || c.Refresh != 0 {
		t.Errorf("provider counts %+v, want 2 token exchanges and no refresh", c)
	}

	generic := newRig(t, harness.Options{Like: devop.LikeKeycloak})
	if code, _, e := generic.api(t, "/api/orders/x"); code != http.StatusForbidden || e.Error != "token_audience_mismatch" {
		t.Errorf("generic preset: GET /api/orders/x = %d %+v, want 403 token_audience_mismatch", code, e)
	}
}

// TestPresetGoogle: Google refuses offline_access and issues a refresh
// token only for access_type=offline with prompt=consent. With the
// preset the session renews its (opaque) access token; without it the
// sign-in is refused.
func TestPresetGoogle(t *testing.T) {
	var seen []string
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		seen = append(seen, tok)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"api":"google"}`))
	}))
	t.Cleanup(upstream.Close)
	opts := harness.Options{Like: devop.LikeGoogle, AccessTokenLifetime: 2 * time.Second, Config: func(c *bff.Config) {
		c.OIDC.Provider = config.ProviderGoogle
		c.OIDC.Scopes = nil
		c.OIDC.RefreshSkew = time.Second
		c.APIs = []config.APIConfig{{Prefix: "/api/google/", Upstream: upstream.URL}}
	}}
	r := newRig(t, opts)
	r.mustAPI(t, "/api/google/x")
	time.Sleep(1500 * time.Millisecond) // past half the token's life: due
	r.mustAPI(t, "/api/google/x")
	if n := r.env.OP.Counts().Refresh; n != 1 {
		t.Errorf("%d refreshes, want 1: the sign-in brought a refresh token", n)
	}
	if len(seen) != 2 || seen[0] == seen[1] || !strings.HasPrefix(seen[0], "ya29.") {
		t.Errorf("upstream saw %d tokens (renewed: %v), want two different opaque tokens", len(seen), len(seen) == 2 && seen[0] != seen[1])
	}

	// Generic: offline_access in the scopes, refused.
	wantSignInRefused(t, newAnonRig(t, harness.Options{Like: devop.LikeGoogle}), "invalid_scope")
}

// TestScopeWithheld: a provider that grants fewer scopes than a route
// asks for: that route answers 403 token_scope_mismatch, the session
// and the other routes carry on.
func TestScopeWithheld(t *testing.T) {
	r := newAnonRig(t, harness.Options{})
	r.env.OP.SetWithheldScopes("orders.read")
	r.b.Login(t, r.url, harness.UserName, harness.UserPassword)
	if code, _, e := r.api(t, "/api/orders/x"); code != http.StatusForbidden || e.Error != "token_scope_mismatch" {
		t.Fatalf("GET /api/orders/x = %d %+v, want 403 token_scope_mismatch", code, e)
	}
	refreshes := r.env.OP.Counts().Refresh
	if code, _, e := r.api(t, "/api/orders/x"); code != http.StatusForbidden || e.Error != "token_scope_mismatch" {
		t.Errorf("again: %d %+v", code, e)
	}
	if n := r.env.OP.Counts().Refresh; n != refreshes {
		t.Errorf("the refused token was asked for again (%d refreshes)", n-refreshes)
	}
	r.mustAPI(t, "/api/profile/y")
	r.b.User(t, r.url, http.StatusOK)
}
