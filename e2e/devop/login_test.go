package devop

import (
	"errors"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"golang.org/x/oauth2"
)

func TestSignIn(t *testing.T) {
	tests := []struct {
		name     string
		clientID string
	}{
		{name: "client_secret_basic", clientID: "bff"},
		{name: "client_secret_post", clientID: "bff-post"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newTestEnv(t)
			tok, idt := e.signIn(tt.clientID)
			var claims map[string]any
			if err := idt.Claims(&claims); err != nil {
				t.Fatal(err)
			}
			want := map[string]string{
				"sub": "u-alice", "email": "alice@example.com", "name": "Alice Example",
				"given_name": "Alice", "family_name": "Example", "preferred_username": "alice",
			}
			for k, v := range want {
				if got := str(claims, k); got != v {
					t.Errorf("id_token %s = %q, want %q", k, got, v)
				}
			}
			if str(claims, "sid") == "" {
				t.Errorf("id_token sid is empty, want a session ID")
			}
			if got := audOf(claims); !slices.Equal(got, []string{tt.clientID}) {
				t.Errorf("id_token aud = %v, want [%s]", got, tt.clientID)
			}
			at := e.accessClaims(tok.AccessToken)
			if got := audOf(at); !slices.Equal(got, []string{tt.clientID}) {
				t.Errorf("access_token aud = %v, want [%s]", got, tt.clientID)
			}
			if got, want := str(at, "scope"), "openid profile email offline_access"; got != want {
				t.Errorf("access_token scope = %q, want %q", got, want)
			}
			if got := str(at, "client_id"); got != tt.clientID {
				t.Errorf("access_token client_id = %q, want %q", got, tt.clientID)
			}
			if got := str(at, "sub"); got != "u-alice" {
				t.Errorf("access_token sub = %q, want u-alice", got)
			}
			if tok.RefreshToken == "" {
				t.Errorf("refresh_token is empty, want one for offline_access")
			}
			ui, err := e.provider.UserInfo(e.ctx, oauth2.StaticTokenSource(tok))
			if err != nil {
				t.Fatalf("UserInfo() error = %v", err)
			}
			if ui.Email != "alice@example.com" {
				t.Errorf("userinfo email = %q, want alice@example.com", ui.Email)
			}
			if got := e.p.Counts().Code; got != 1 {
				t.Errorf("Counts().Code = %d, want 1", got)
			}
			issued := e.p.IssuedTokens()
			for _, s := range []string{tok.AccessToken, tok.RefreshToken, tok.Extra("id_token").(string)} {
				if !slices.Contains(issued, s) {
					t.Errorf("IssuedTokens() misses a token it issued")
				}
			}
		})
	}
}

func TestSignInSessionIDs(t *testing.T) {
	e := newTestEnv(t)
	_, a := e.signIn("bff")
	_, b := e.signIn("bff")
	var ca, cb struct{ SID string }
	_ = a.Claims(&ca)
	_ = b.Claims(&cb)
	if ca.SID == cb.SID {
		t.Errorf("two logins share sid %q, want one sid per login", ca.SID)
	}
}

func TestSignInWrongPassword(t *testing.T) {
	e := newTestEnv(t)
	conf := e.oauth2Config("bff")
	u := conf.AuthCodeURL("s", oauth2.S256ChallengeOption(oauth2.GenerateVerifier()))
	_, err := e.p.SignIn(e.ctx, e.browser(), u, "alice", "wrong")
	if !errors.Is(err, ErrLoginRejected) {
		t.Errorf("SignIn(wrong password) error = %v, want %v", err, ErrLoginRejected)
	}
}

func TestLoginForm(t *testing.T) {
	e := newTestEnv(t)
	conf := e.oauth2Config("bff")
	resp, err := e.browser().Get(conf.AuthCodeURL("s", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{`id="username"`, `name="username"`, `id="password"`, `name="password"`, `id="submit"`} {
		if !strings.Contains(string(body), want) {
			t.Errorf("login page lacks %s", want)
		}
	}
}

func TestAuthorizeErrors(t *testing.T) {
	tests := []struct {
		name      string
		mutate    func(url.Values)
		wantError string // error parameter on the redirect; "" means no redirect
	}{
		{name: "no PKCE", mutate: func(v url.Values) { v.Del("code_challenge"); v.Del("code_challenge_method") }, wantError: "invalid_request"},
		{name: "plain PKCE", mutate: func(v url.Values) { v.Set("code_challenge_method", "plain") }, wantError: "invalid_request"},
		{name: "redirect URI not registered", mutate: func(v url.Values) { v.Set("redirect_uri", testRedirect+"/x") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newTestEnv(t)
			u, _ := url.Parse(e.oauth2Config("bff").AuthCodeURL("s", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())))
			q := u.Query()
			tt.mutate(q)
			u.RawQuery = q.Encode()
			c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
			resp, err := c.Get(u.String())
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			loc, _ := resp.Location()
			if tt.wantError == "" {
				if loc != nil && strings.HasPrefix(loc.String(), testRedirect) {
					t.Errorf("redirected to %s, want no redirect to an unregistered URI", loc)
				}
				return
			}
			if loc == nil || loc.Query().Get("error") != tt.wantError {
				t.Errorf("authorize answer %d %v, want redirect with error=%s", resp.StatusCode, loc, tt.wantError)
			}
		})
	}
}

func TestCodeReplay(t *testing.T) {
	e := newTestEnv(t)
	conf := e.oauth2Config("bff")
	v := oauth2.GenerateVerifier()
	cb, err := e.p.SignIn(e.ctx, e.browser(), conf.AuthCodeURL("s", oauth2.S256ChallengeOption(v)), "alice", "alice-pw")
	if err != nil {
		t.Fatal(err)
	}
	code := cb.Query().Get("code")
	if _, err := conf.Exchange(e.ctx, code, oauth2.VerifierOption(oauth2.GenerateVerifier())); err == nil {
		t.Errorf("Exchange(wrong verifier) succeeded, want error")
	}
	if _, err := conf.Exchange(e.ctx, code, oauth2.VerifierOption(v)); err != nil {
		t.Fatalf("Exchange() error = %v", err)
	}
	_, err = conf.Exchange(e.ctx, code, oauth2.VerifierOption(v))
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) || re.ErrorCode != "invalid_grant" {
		t.Errorf("second Exchange() error = %v, want invalid_grant", err)
	}
}
