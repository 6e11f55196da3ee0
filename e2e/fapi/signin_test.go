package fapi_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/go-jose/go-jose/v4"

	"github.com/bff-project/bff/bff"
	"github.com/bff-project/bff/e2e/fapiop"
)

// fapiEnv is a provider requiring PAR, DPoP with nonces and
// private_key_jwt (the client's keys registered by jwks_uri: the BFF's
// /bff/jwks), sample APIs that require DPoP nonces too, and a BFF under
// profile fapi2 with key.
func fapiEnv(t *testing.T, keys ...clientKey) (*env, bff.Config) {
	t.Helper()
	return fapiEnvRegistered(t, nil, keys...)
}

// fapiEnvRegistered is fapiEnv with the client's keys registered with the
// provider itself (registered), or by jwks_uri when registered is nil.
func fapiEnvRegistered(t *testing.T, registered []clientKey, keys ...clientKey) (*env, bff.Config) {
	t.Helper()
	e := newEnv(t, fapiop.Config{PAR: fapiop.PARRequired, DPoPNonce: true}, func(c *fapiop.Client, bffURL string) {
		c.AuthMethod, c.DPoPBound = fapiop.AuthPrivateKeyJWT, true
		if registered == nil {
			c.JWKSURI = bffURL + "/bff/jwks"
		}
		for _, k := range registered {
			c.Keys = append(c.Keys, k.public())
		}
	}, true)
	cfg := e.config()
	cfg.OIDC.Profile, cfg.OIDC.ClientAuth, cfg.OIDC.ClientKeyFile = "fapi2", "private_key_jwt", e.keyFile(keys...)
	cfg.APIs = append(cfg.APIs[:1:1], cfg.APIs[1])
	cfg.APIs[1].Exchange = "token-exchange" // profile: a Bearer token by RFC 8693
	return e, cfg
}

// Sign-in with private_key_jwt, PAR and DPoP (issue 15): the browser
// carries only client_id and request_uri; the code exchange, the refresh
// for a route and the token exchange for another carry a client assertion
// and a DPoP proof, each answering the provider's nonce challenge; the
// orders API gets "Authorization: DPoP" with a proof it verifies
// (answering its own nonce challenge once, then remembered), the profile
// API, whose exchanged token is not bound, a bearer token; the start-up
// log says what is in force.
func TestSignInPARPrivateKeyJWTDPoP(t *testing.T) {
	t.Parallel()
	e, cfg := fapiEnv(t, newClientKey(t))
	e.start(cfg)
	b := e.browser()

	resp, _ := b.do(t, http.MethodGet, e.URL+"/bff/login?returnUrl=/", nil)
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || resp.StatusCode != http.StatusFound {
		t.Fatalf("/bff/login = %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	var keys []string
	for k := range loc.Query() {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	if !slices.Equal(keys, []string{"client_id", "request_uri"}) || !strings.HasPrefix(loc.String(), e.p.Metadata().AuthorizationEndpoint) {
		t.Errorf("authorization redirect carries %v to %s, want only client_id and request_uri to %s", keys, loc.Redacted(), e.p.Metadata().AuthorizationEndpoint)
	}

	b.signIn(t)
	status, a := b.call(t, http.MethodGet, "/api/orders/items", nil)
	if status != http.StatusOK || a.Scheme != "DPoP" || !slices.Equal(a.Audience, []string{ordersAPI}) || a.Sub != userSub {
		t.Fatalf("GET /api/orders/items = %d %+v, want 200 with a DPoP token for %s", status, a, ordersAPI)
	}
	if got := e.apis["orders"].challenges.Load(); got != 1 {
		t.Errorf("orders API nonce challenges = %d, want 1 (answered by the BFF)", got)
	}
	// The nonce is remembered: no new challenge; a POST's body is sent
	// again when challenged, so it works too.
	for _, m := range []string{http.MethodGet, http.MethodPost} {
		if status, a := b.call(t, m, "/api/orders/items", strings.NewReader(`{"sku":"a"}`)); status != http.StatusOK || a.Scheme != "DPoP" {
			t.Errorf("%s /api/orders/items again = %d %+v, want 200 DPoP", m, status, a)
		}
	}
	if got := e.apis["orders"].challenges.Load(); got != 1 {
		t.Errorf("orders API nonce challenges after more calls = %d, want still 1", got)
	}
	status, a = b.call(t, http.MethodGet, "/api/profile/me", nil)
	if status != http.StatusOK || a.Scheme != "Bearer" || !slices.Equal(a.Audience, []string{profileAPI}) {
		t.Errorf("GET /api/profile/me = %d %+v, want 200 with a bearer token for %s (token exchange)", status, a, profileAPI)
	}
	// Every provider call was challenged for a nonce at most once; the
	// provider logs each refusal, so the log shows the challenge was met.
	if !strings.Contains(e.p.Log(), "use_dpop_nonce") {
		t.Errorf("provider log has no use_dpop_nonce refusal: the token endpoint's nonce challenge was not exercised\n%s", e.p.Log())
	}
	logs := e.logs.String()
	if !strings.Contains(logs, `"msg":"provider client"`) || !strings.Contains(logs, `"client_auth":"private_key_jwt"`) ||
		!strings.Contains(logs, `"par":"on (require)"`) || !strings.Contains(logs, `"dpop":"on (require)"`) {
		t.Errorf("start-up log does not say client_auth private_key_jwt, par on (require), dpop on (require):\n%s", logs)
	}
	if strings.Contains(logs, "eyJ") {
		t.Errorf("BFF log holds a JWT (token, assertion or proof):\n%s", logs)
	}
}

// A stolen DPoP-bound access token is refused by the API (issue 15):
// alone as a bearer token, as a DPoP token without a proof, and with the
// proof it was sent with (replayed, or for another URL).
func TestStolenTokenRefused(t *testing.T) {
	t.Parallel()
	e, cfg := fapiEnv(t, newClientKey(t))
	e.start(cfg)
	b := e.browser()
	b.signIn(t)
	if status, _ := b.call(t, http.MethodGet, "/api/orders/a", nil); status != http.StatusOK {
		t.Fatalf("GET /api/orders/a = %d, want 200", status)
	}
	auth, proof := e.apis["orders"].last()
	token, ok := strings.CutPrefix(auth, "DPoP ")
	if !ok || proof == "" {
		t.Fatalf("the API saw Authorization %q and a proof %v, want a DPoP token and a proof", auth, proof != "")
	}
	// Nothing the browser gets holds the token or the proof.
	for _, path := range []string{"/bff/user", "/bff/sessions", "/bff/apis"} {
		if resp, body := b.do(t, http.MethodGet, e.URL+path, nil); strings.Contains(body, token) || strings.Contains(body, proof) ||
			strings.Contains(fmt.Sprint(resp.Header), token) {
			t.Errorf("GET %s holds the access token or its proof", path)
		}
	}
	for _, tc := range []struct {
		name, path string
		header     http.Header
	}{
		{"as bearer", "/a", http.Header{"Authorization": {"Bearer " + token}}},
		{"without proof", "/a", http.Header{"Authorization": {"DPoP " + token}}},
		{"with the used proof", "/a", http.Header{"Authorization": {"DPoP " + token}, "Dpop": {proof}}},
		{"proof for another URL", "/b", http.Header{"Authorization": {"DPoP " + token}, "Dpop": {proof}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, e.apis["orders"].URL+tc.path, nil)
			req.Header = tc.header
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusUnauthorized {
				t.Errorf("replay %s = %d, want 401", tc.name, resp.StatusCode)
			}
		})
	}
}

// /bff/jwks publishes the client's public keys only (issue 15), and the
// client key rotates: the new key put first signs (kid: its thumbprint),
// and the old one can then go. The provider knows both keys from the
// start: one that reads them from /bff/jwks caches them (oidc-provider
// for at least 60 s), so in production the new key is listed second for
// that long before it is put first (README, FAPI 2.0).
func TestJWKSAndClientKeyRotation(t *testing.T) {
	t.Parallel()
	first, second := newClientKey(t), newClientKey(t)
	e, cfg := fapiEnvRegistered(t, []clientKey{first, second}, first)
	e.start(cfg)
	e.browser().signIn(t)

	jwks := func() jose.JSONWebKeySet {
		resp, body := e.browser().do(t, http.MethodGet, e.URL+"/bff/jwks", nil)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("/bff/jwks = %d %s", resp.StatusCode, body)
		}
		for _, private := range []string{`"d"`, `"p"`, `"q"`, `"dp"`, `"dq"`, `"qi"`, "PRIVATE"} {
			if strings.Contains(body, private) {
				t.Errorf("/bff/jwks holds %s: %s", private, body)
			}
		}
		var set jose.JSONWebKeySet
		if err := json.Unmarshal([]byte(body), &set); err != nil {
			t.Fatal(err)
		}
		return set
	}
	if set := jwks(); len(set.Keys) != 1 || set.Keys[0].KeyID != first.kid || !set.Keys[0].IsPublic() {
		t.Errorf("/bff/jwks = %+v, want the first key's public part, kid %s", set.Keys, first.kid)
	}

	for _, step := range []struct {
		name string
		keys []clientKey
	}{
		{"new key first", []clientKey{second, first}},
		{"old key dropped", []clientKey{second}},
	} {
		cfg.OIDC.ClientKeyFile = e.keyFile(step.keys...)
		e.start(cfg)
		var kids []string
		for _, k := range jwks().Keys {
			kids = append(kids, k.KeyID)
		}
		var want []string
		for _, k := range step.keys {
			want = append(want, k.kid)
		}
		if !slices.Equal(kids, want) {
			t.Errorf("%s: /bff/jwks kids = %v, want %v", step.name, kids, want)
		}
		b := e.browser()
		b.signIn(t)
		if status, a := b.call(t, http.MethodGet, "/api/orders/x", nil); status != http.StatusOK {
			t.Errorf("%s: GET /api/orders/x = %d %+v, want 200", step.name, status, a)
		}
	}
}
