package fapiop_test

import (
	"errors"
	"net/url"
	"slices"
	"testing"

	"golang.org/x/oauth2"

	"github.com/bff-project/bff/e2e/fapiop"
)

// The acr in ID tokens is the provider's choice: one that honours
// acr_values from an allow-list signs a user in again to reach it, one
// that ignores acr_values keeps the user's own acr and its single sign-on
// session. Also: claims and amr reach the ID token, and a wrong password
// is refused.
func TestACR(t *testing.T) {
	t.Parallel()
	const mfa = "urn:mfa"
	for _, tc := range []struct {
		name      string
		honoured  []string
		wantFresh string // acr of a first login asking for mfa
		wantStep  string // acr after asking for mfa with a session
		formAgain bool   // whether that second request shows the login form
	}{
		{name: "ignores acr_values", honoured: nil, wantFresh: "urn:pwd", wantStep: "urn:pwd", formAgain: false},
		{name: "honours acr_values", honoured: []string{mfa}, wantFresh: mfa, wantStep: mfa, formAgain: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			const id, secret = "acr-client", "acr-secret-1"
			p := fapiop.Start(t, fapiop.Config{ACRValues: tc.honoured, Users: []fapiop.User{alice()},
				Clients: []fapiop.Client{{ID: id, Secret: secret, RedirectURIs: []string{redirectURI}}}})
			conf := oauthConfig(p, id, secret)
			idToken := func(t *testing.T, cb *url.URL, verifier string) map[string]any {
				t.Helper()
				tok, err := conf.Exchange(t.Context(), cb.Query().Get("code"), oauth2.VerifierOption(verifier))
				if err != nil {
					t.Fatalf("code exchange: %v", err)
				}
				raw, _ := tok.Extra("id_token").(string)
				return verifyJWT(t, p, raw)
			}
			mfaReq := url.Values{"acr_values": {mfa}, "scope": {"openid email"}}

			t.Run("fresh login", func(t *testing.T) {
				v := oauth2.GenerateVerifier()
				claims := idToken(t, p.Login(t, nil, authURL(p, id, v, mfaReq), userName, userPass), v)
				amr, _ := claims["amr"].([]any)
				if claims["acr"] != tc.wantFresh || !slices.Equal(amr, []any{"pwd"}) {
					t.Errorf("acr, amr = %v, %v; want %s, [pwd]", claims["acr"], claims["amr"], tc.wantFresh)
				}
				groups, _ := claims["groups"].([]any)
				if claims["email"] != "alice@example.test" || !slices.Equal(groups, []any{"admins"}) {
					t.Errorf("email, groups = %v, %v; want the user's claims", claims["email"], claims["groups"])
				}
			})

			t.Run("step up with a session", func(t *testing.T) {
				browser := p.HTTPClient()
				v := oauth2.GenerateVerifier()
				p.Login(t, browser, authURL(p, id, v, nil), userName, userPass)
				// A wrong password shows whether the form came back: the
				// single sign-on session alone would answer a code.
				v = oauth2.GenerateVerifier()
				cb, err := p.SignIn(t.Context(), browser, authURL(p, id, v, mfaReq), userName, "wrong")
				if shown := errors.Is(err, fapiop.ErrLoginRejected); shown != tc.formAgain {
					t.Fatalf("login form shown again = %v (%v), want %v", shown, err, tc.formAgain)
				}
				if tc.formAgain {
					cb = p.Login(t, browser, authURL(p, id, v, mfaReq), userName, userPass)
				}
				if got := idToken(t, cb, v)["acr"]; got != tc.wantStep {
					t.Errorf("acr after asking for %s = %v, want %s", mfa, got, tc.wantStep)
				}
			})
		})
	}
}
