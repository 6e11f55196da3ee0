package devop

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
)

func TestEndSession(t *testing.T) {
	e := newTestEnv(t)
	tok, _ := e.signIn("bff")
	q := url.Values{"id_token_hint": {tok.Extra("id_token").(string)}, "post_logout_redirect_uri": {testPostLogout}, "state": {"st"}}
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Get(e.p.Issuer() + endSessionPath + "?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got, want := resp.Header.Get("Location"), testPostLogout+"?state=st"; got != want {
		t.Errorf("end_session Location = %q, want %q", got, want)
	}
	if e.p.RefreshTokenActive(tok.RefreshToken) {
		t.Errorf("RefreshTokenActive() after end_session = true, want false")
	}
	if got := e.p.Counts().EndSession; got != 1 {
		t.Errorf("Counts().EndSession = %d, want 1", got)
	}
}

func TestBackChannelLogout(t *testing.T) {
	e := newTestEnv(t)
	if err := e.p.BackChannelLogout(context.Background(), "u-alice", "sid-1"); err != nil {
		t.Fatalf("BackChannelLogout() error = %v", err)
	}
	e.mu.Lock()
	logouts := slices.Clone(e.logouts)
	e.mu.Unlock()
	if len(logouts) != 1 {
		t.Fatalf("back-channel requests = %d, want 1 (one client has a URI)", len(logouts))
	}
	raw := logouts[0].Get("logout_token")
	ks := oidc.NewRemoteKeySet(e.ctx, e.p.Issuer()+"/keys")
	tok, err := oidc.NewVerifier(e.p.Issuer(), ks, &oidc.Config{ClientID: "bff"}).Verify(e.ctx, raw)
	if err != nil {
		t.Fatalf("Verify(logout_token) error = %v", err)
	}
	var c map[string]any
	_ = tok.Claims(&c)
	if str(c, "sub") != "u-alice" || str(c, "sid") != "sid-1" || str(c, "jti") == "" || c["iat"] == nil || c["nonce"] != nil {
		t.Errorf("logout token claims = %v, want sub, sid, jti, iat and no nonce", c)
	}
	ev, _ := c["events"].(map[string]any)
	if _, ok := ev[BackChannelLogoutEvent]; !ok {
		t.Errorf("logout token events = %v, want %s", c["events"], BackChannelLogoutEvent)
	}
	if err := e.p.BackChannelLogout(context.Background(), "", ""); err == nil {
		t.Errorf("BackChannelLogout(no sub, no sid) error = nil, want error")
	}
}

// TestFrontChannelLogoutPage: the provider's front-channel logout page
// frames each client's front-channel logout URI with iss and sid, escaped.
func TestFrontChannelLogoutPage(t *testing.T) {
	e := newTestEnv(t)
	resp, err := e.srv.Client().Get(e.srv.URL + FrontChannelLogoutPath + "?sid=" + url.QueryEscape(`s"1&x`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	want := `src="https://rp.example/fcl?iss=` + url.QueryEscape(e.p.Issuer()) + `&amp;sid=s%221%26x"`
	if resp.StatusCode != http.StatusOK || strings.Count(string(body), "<iframe") != 1 || !strings.Contains(string(body), want) {
		t.Errorf("GET %s = %d %s; want 200 with one iframe %s", FrontChannelLogoutPath, resp.StatusCode, body, want)
	}
}
