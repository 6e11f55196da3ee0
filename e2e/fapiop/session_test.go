package fapiop_test

import (
	"crypto/x509"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"

	"golang.org/x/oauth2"

	"github.com/bff-project/bff/e2e/fapiop"
)

// TestSession shares one provider with default features between flows
// that need nothing special: refresh-token reuse, token exchange,
// RP-initiated and back-channel logout, and a refused login.
func TestSession(t *testing.T) {
	t.Parallel()
	const id, secret = "session-client", "session-secret-1"
	logouts := &logoutRecorder{}
	rp := httptest.NewTLSServer(logouts)
	t.Cleanup(rp.Close)
	p := fapiop.Start(t, fapiop.Config{
		Resources: resources(), Users: []fapiop.User{alice()},
		Clients: []fapiop.Client{{ID: id, Secret: secret, RedirectURIs: []string{redirectURI},
			PostLogoutRedirectURIs: []string{"https://bff.test/"}, BackchannelLogoutURI: rp.URL + "/bff/backchannel-logout"}},
		// The back-channel logout goes to httptest's TLS certificate.
		TrustedCAs: []*x509.Certificate{rp.Certificate()},
	})
	e := &sessionEnv{p: p, conf: oauthConfig(p, id, secret), id: id, secret: secret, logouts: logouts}
	t.Run("refresh reuse revokes the grant", e.testRefreshReuse)
	t.Run("token exchange", e.testTokenExchange)
	t.Run("logout", e.testLogout)
	t.Run("login rejected", e.testLoginRejected)
}

// sessionEnv is TestSession's provider and client.
type sessionEnv struct {
	p          *fapiop.Provider
	conf       *oauth2.Config
	id, secret string
	logouts    *logoutRecorder
}

// login signs alice in with browser (nil: a new one) and exchanges the code.
func (e *sessionEnv) login(t *testing.T, browser *http.Client) *oauth2.Token {
	t.Helper()
	v := oauth2.GenerateVerifier()
	cb := e.p.Login(t, browser, authURL(e.p, e.id, v, nil), userName, userPass)
	tok, err := e.conf.Exchange(t.Context(), cb.Query().Get("code"), oauth2.VerifierOption(v))
	if err != nil {
		t.Fatalf("code exchange: %v", err)
	}
	return tok
}

// A rotated-away refresh token is dead, and presenting it revokes the
// whole grant, so the thief and the owner both lose it (RFC 9700, section
// 4.14.2).
func (e *sessionEnv) testRefreshReuse(t *testing.T) {
	tok := e.login(t, nil)
	next, err := e.conf.TokenSource(t.Context(), &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
	if err != nil || next.RefreshToken == "" || next.RefreshToken == tok.RefreshToken {
		t.Fatalf("refresh: %v; want a new refresh token", err)
	}
	_, err = e.conf.TokenSource(t.Context(), &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
	if got := retrieveCode(err); got != "invalid_grant" {
		t.Errorf("reuse of the old refresh token: %v, want invalid_grant", err)
	}
	_, err = e.conf.TokenSource(t.Context(), &oauth2.Token{RefreshToken: next.RefreshToken}).Token()
	if got := retrieveCode(err); got != "invalid_grant" {
		t.Errorf("new refresh token after reuse: %v, want invalid_grant", err)
	}
}

// Token exchange (RFC 8693) of opaque and JWT access tokens, and its
// refusals.
func (e *sessionEnv) testTokenExchange(t *testing.T) {
	userToken := e.login(t, nil).AccessToken // opaque, for UserInfo
	exchange := func(subject string, extra url.Values) (int, map[string]any) {
		form := url.Values{"grant_type": {fapiop.GrantTokenExchange}, "subject_token": {subject},
			"subject_token_type": {"urn:ietf:params:oauth:token-type:access_token"},
			"client_id":          {e.id}, "client_secret": {e.secret}}
		for k, v := range extra {
			form[k] = v
		}
		return post(t, nil, e.p.Metadata().TokenEndpoint, form, nil)
	}
	status, body := exchange(userToken, url.Values{"resource": {profileAPI}, "scope": {"profile.read"}})
	exchanged, _ := body["access_token"].(string)
	if status != http.StatusOK || body["issued_token_type"] != "urn:ietf:params:oauth:token-type:access_token" {
		t.Fatalf("token exchange = %d %v, want 200 with an access token", status, body)
	}
	checkAccess(t, e.p, exchanged, profileAPI, "profile.read")
	// A JWT access token is a subject too; audience works as resource.
	status, body = exchange(exchanged, url.Values{"audience": {ordersAPI}, "scope": {"orders.read"}})
	again, _ := body["access_token"].(string)
	if status != http.StatusOK {
		t.Fatalf("exchange of a JWT = %d %v, want 200", status, body)
	}
	checkAccess(t, e.p, again, ordersAPI, "orders.read")

	status, body = exchange("not-a-token", url.Values{"resource": {profileAPI}})
	wantError(t, "exchange of a bogus token", status, body, http.StatusBadRequest, "invalid_grant")
	status, body = exchange(userToken, url.Values{"resource": {"https://unknown.example.test/"}})
	wantError(t, "exchange for an unknown resource", status, body, http.StatusBadRequest, "invalid_target")
	status, body = exchange(userToken, url.Values{"resource": {profileAPI}, "scope": {"orders.read"}})
	wantError(t, "exchange for another resource's scope", status, body, http.StatusBadRequest, "invalid_scope")
}

// RP-Initiated Logout sends a back-channel logout token and revokes the
// client's grant.
func (e *sessionEnv) testLogout(t *testing.T) {
	browser := e.p.HTTPClient()
	tok := e.login(t, browser)
	idToken, _ := tok.Extra("id_token").(string)
	sid := verifyJWT(t, e.p, idToken)["sid"]
	q := url.Values{"id_token_hint": {idToken}, "post_logout_redirect_uri": {"https://bff.test/"}, "state": {"bye"}}
	back, err := e.p.SignOut(t.Context(), browser, e.p.Metadata().EndSessionEndpoint+"?"+q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	if back == nil || back.Host != "bff.test" || back.Query().Get("state") != "bye" {
		t.Errorf("after sign-out redirected to %v, want https://bff.test/?state=bye", back)
	}
	tokens := e.logouts.tokens()
	if len(tokens) != 1 {
		t.Fatalf("back-channel logout tokens = %d, want 1", len(tokens))
	}
	claims := verifyJWT(t, e.p, tokens[0])
	events, _ := claims["events"].(map[string]any)
	if _, ok := events["http://schemas.openid.net/event/backchannel-logout"]; !ok || claims["sid"] != sid ||
		claims["aud"] != e.id || claims["sub"] != userSub || claims["nonce"] != nil {
		t.Errorf("logout token claims = %v, want the back-channel event, sid %v, aud %s, sub %s and no nonce", claims, sid, e.id, userSub)
	}
	// Signing out at the provider revokes the client's grant too.
	_, err = e.conf.TokenSource(t.Context(), &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
	if got := retrieveCode(err); got != "invalid_grant" {
		t.Errorf("refresh after sign-out: %v, want invalid_grant", err)
	}
	// The provider session is over: the next request shows the form.
	_, err = e.p.SignIn(t.Context(), browser, authURL(e.p, e.id, oauth2.GenerateVerifier(), nil), userName, "wrong")
	if !errors.Is(err, fapiop.ErrLoginRejected) {
		t.Errorf("sign-in after logout with a wrong password = %v, want ErrLoginRejected", err)
	}
}

// The form refuses a wrong password and an unknown user with a page.
func (e *sessionEnv) testLoginRejected(t *testing.T) {
	for _, creds := range [][2]string{{userName, "wrong"}, {"mallory", userPass}} {
		_, err := e.p.SignIn(t.Context(), nil, authURL(e.p, e.id, oauth2.GenerateVerifier(), nil), creds[0], creds[1])
		if !errors.Is(err, fapiop.ErrLoginRejected) {
			t.Errorf("SignIn(%s, %s) = %v, want ErrLoginRejected", creds[0], creds[1], err)
		}
	}
}

// logoutRecorder is a relying party's back-channel logout endpoint.
type logoutRecorder struct {
	mu   sync.Mutex
	seen []string
}

func (l *logoutRecorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != "/bff/backchannel-logout" || r.ParseForm() != nil {
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.seen = append(l.seen, r.PostForm.Get("logout_token"))
}

func (l *logoutRecorder) tokens() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.seen...)
}
