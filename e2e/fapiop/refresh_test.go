package fapiop_test

import (
	"net/http"
	"net/url"
	"testing"

	"golang.org/x/oauth2"

	"github.com/bff-project/bff/e2e/fapiop"
)

// Refresh tokens rotate; resource indicators (RFC 8707) are strict: a
// token for a resource has exactly that aud and only that resource's
// granted scopes, a scope not granted is refused at refresh with
// invalid_scope, a resource not requested at sign-in with invalid_target,
// an unknown one already at sign-in; revocation (RFC 7009) ends a refresh
// token, as introspection (RFC 7662) then reports.
func TestRefreshResourcesRevocation(t *testing.T) {
	t.Parallel()
	const id, secret = "rs-client", "rs-secret-1"
	p := fapiop.Start(t, fapiop.Config{
		Resources: resources(), Users: []fapiop.User{alice()},
		Clients: []fapiop.Client{{ID: id, Secret: secret, RedirectURIs: []string{redirectURI}}},
	})
	m := p.Metadata()
	verifier := oauth2.GenerateVerifier()
	code := signIn(t, p, authURL(p, id, verifier, url.Values{
		"resource": {ordersAPI}, "scope": {"openid offline_access orders.read"}}))
	tok, err := oauthConfig(p, id, secret).Exchange(t.Context(), code, oauth2.VerifierOption(verifier),
		oauth2.SetAuthURLParam("resource", ordersAPI))
	if err != nil {
		t.Fatalf("code exchange: %v", err)
	}
	checkAccess(t, p, tok.AccessToken, ordersAPI, "orders.read")
	if tok.TokenType != "Bearer" || tok.RefreshToken == "" {
		t.Fatalf("token_type %q, refresh token %v: want Bearer and one", tok.TokenType, tok.RefreshToken != "")
	}

	refresh := func(rt string, extra url.Values) (int, map[string]any) {
		form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}, "client_id": {id}, "client_secret": {secret}}
		for k, v := range extra {
			form[k] = v
		}
		return post(t, nil, m.TokenEndpoint, form, nil)
	}

	// invalid_scope is checked before the token is rotated: it stays usable.
	status, body := refresh(tok.RefreshToken, url.Values{"resource": {ordersAPI}, "scope": {"orders.write"}})
	wantError(t, "refresh for a scope not granted", status, body, http.StatusBadRequest, "invalid_scope")

	// Rotation: a new refresh token each time; the token comes back for
	// the resource named again.
	status, body = refresh(tok.RefreshToken, url.Values{"resource": {ordersAPI}})
	rotated, _ := body["refresh_token"].(string)
	if status != http.StatusOK || rotated == "" || rotated == tok.RefreshToken {
		t.Fatalf("refresh = %d, new refresh token %v: want 200 and a rotated one", status, rotated != "" && rotated != tok.RefreshToken)
	}
	access, _ := body["access_token"].(string)
	checkAccess(t, p, access, ordersAPI, "orders.read")

	introspect := func(token string) bool {
		t.Helper()
		status, body := post(t, nil, m.IntrospectionEndpoint, url.Values{"token": {token},
			"client_id": {id}, "client_secret": {secret}}, nil)
		if status != http.StatusOK {
			t.Fatalf("introspection = %d %v", status, body)
		}
		return body["active"] == true
	}
	if !introspect(rotated) {
		t.Fatal("introspection of the rotated refresh token: inactive, want active")
	}
	if status, body := post(t, nil, m.RevocationEndpoint, url.Values{"token": {rotated},
		"token_type_hint": {"refresh_token"}, "client_id": {id}, "client_secret": {secret}}, nil); status != http.StatusOK {
		t.Fatalf("revocation = %d %v, want 200", status, body)
	}
	if introspect(rotated) {
		t.Error("introspection after revocation: active, want inactive")
	}
	status, body = refresh(rotated, url.Values{"resource": {ordersAPI}})
	wantError(t, "refresh with a revoked token", status, body, http.StatusBadRequest, "invalid_grant")

	t.Run("resource not requested at sign-in", func(t *testing.T) {
		verifier := oauth2.GenerateVerifier()
		code := signIn(t, p, authURL(p, id, verifier, url.Values{"resource": {ordersAPI}, "scope": {"openid orders.read"}}))
		tok, err := oauthConfig(p, id, secret).Exchange(t.Context(), code, oauth2.VerifierOption(verifier))
		if err != nil {
			t.Fatalf("code exchange: %v", err)
		}
		status, body := refresh(tok.RefreshToken, url.Values{"resource": {profileAPI}})
		wantError(t, "refresh for another resource", status, body, http.StatusBadRequest, "invalid_target")
		// oidc-provider rotates before it resolves the resource, so the
		// refused request has used the token up: a client must not send
		// a resource it was not granted.
		status, body = refresh(tok.RefreshToken, url.Values{"resource": {ordersAPI}})
		wantError(t, "refresh after invalid_target", status, body, http.StatusBadRequest, "invalid_grant")
	})
	t.Run("unknown resource at sign-in", func(t *testing.T) {
		cb := p.Login(t, nil, authURL(p, id, oauth2.GenerateVerifier(),
			url.Values{"resource": {"https://unknown.example.test/"}}), userName, userPass)
		if got := cb.Query().Get("error"); got != "invalid_target" || cb.Query().Get("code") != "" {
			t.Errorf("authorization for an unknown resource: error %q, code %q; want invalid_target and no code", got, cb.Query().Get("code"))
		}
	})
}

// checkAccess wants a JWT access token whose aud is exactly aud and whose
// scope is exactly scope.
func checkAccess(t *testing.T, p *fapiop.Provider, token, aud, scope string) {
	t.Helper()
	claims := verifyJWT(t, p, token)
	if claims["aud"] != aud || claims["scope"] != scope || claims["sub"] != userSub {
		t.Errorf("access token aud, scope, sub = %v, %v, %v; want %s, %s, %s", claims["aud"], claims["scope"], claims["sub"], aud, scope, userSub)
	}
}
