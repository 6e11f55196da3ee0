package devop

import (
	"errors"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// mfaUsers gives alice a second factor and groups; bob has neither.
func mfaUsers(sso bool) func(*Config) {
	return func(c *Config) {
		c.Users[0].MFA, c.Users[0].Groups = true, []string{"staff", "admins"}
		c.Users = append(c.Users, User{Subject: "u-bob", Username: "bob", Password: "bob-pw"})
		c.SingleSignOn = sso
	}
}

// strengthOf signs user in through the form with opts on browser and
// returns the ID token's and access token's claims.
func (e *testEnv) strengthOf(browser *http.Client, user, pass string, opts ...oauth2.AuthCodeOption) (id, access map[string]any) {
	e.t.Helper()
	conf := e.oauth2Config("bff")
	verifier := oauth2.GenerateVerifier()
	opts = append(opts, oauth2.S256ChallengeOption(verifier))
	cb, err := e.p.SignIn(e.ctx, browser, conf.AuthCodeURL("s", opts...), user, pass)
	if err != nil {
		e.t.Fatalf("SignIn() = %v", err)
	}
	return e.redeem(cb.Query().Get("code"), verifier)
}

func (e *testEnv) redeem(code, verifier string) (id, access map[string]any) {
	e.t.Helper()
	tok, err := e.oauth2Config("bff").Exchange(e.ctx, code, oauth2.VerifierOption(verifier))
	if err != nil {
		e.t.Fatalf("Exchange() = %v", err)
	}
	idt, err := e.provider.Verifier(&oidc.Config{ClientID: "bff"}).Verify(e.ctx, tok.Extra("id_token").(string))
	if err != nil {
		e.t.Fatal(err)
	}
	_ = idt.Claims(&id)
	return id, e.accessClaims(tok.AccessToken)
}

func TestACRLevels(t *testing.T) {
	tests := []struct {
		name      string
		user      string
		acrValues string // "" = none asked
		ignore    bool
		wantACR   string
		wantAMR   []string
	}{
		{"password sign-in", "alice", "", false, ACRPassword, []string{"pwd"}},
		{"mfa asked, user has a second factor", "alice", "urn:other mfa", false, ACRMFA, []string{"pwd", "otp"}},
		{"pwd preferred", "alice", "pwd mfa", false, ACRPassword, []string{"pwd"}},
		{"mfa asked, user has none", "bob", "mfa", false, ACRPassword, []string{"pwd"}},
		{"acr_values ignored", "alice", "mfa", true, ACRPassword, []string{"pwd"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newTestEnvWith(t, mfaUsers(false))
			e.p.SetIgnoreACRValues(tt.ignore)
			var opts []oauth2.AuthCodeOption
			if tt.acrValues != "" {
				opts = append(opts, oauth2.SetAuthURLParam("acr_values", tt.acrValues))
			}
			before := time.Now().Add(-time.Second)
			id, access := e.strengthOf(e.browser(), tt.user, tt.user+"-pw", opts...)
			for name, claims := range map[string]map[string]any{"id_token": id, "access_token": access} {
				if got := str(claims, "acr"); got != tt.wantACR {
					t.Errorf("%s acr = %q, want %q", name, got, tt.wantACR)
				}
				if got := fmt.Sprint(claims["amr"]); got != fmt.Sprint(tt.wantAMR) {
					t.Errorf("%s amr = %s, want %v", name, got, tt.wantAMR)
				}
				if at, _ := claims["auth_time"].(float64); time.Unix(int64(at), 0).Before(before.Truncate(time.Second)) {
					t.Errorf("%s auth_time = %v, want the sign-in's time (after %v)", name, claims["auth_time"], before)
				}
			}
		})
	}
}

func TestGroupsClaim(t *testing.T) {
	e := newTestEnvWith(t, mfaUsers(false))
	id, _ := e.strengthOf(e.browser(), "alice", "alice-pw")
	if got := fmt.Sprint(id["groups"]); got != "[staff admins]" {
		t.Errorf("id_token groups = %s, want [staff admins]", got)
	}
	id, _ = e.strengthOf(e.browser(), "bob", "bob-pw")
	if _, ok := id["groups"]; ok {
		t.Errorf("id_token of a user without groups has groups %v", id["groups"])
	}
}

// TestSingleSignOn: a remembered sign-in answers later requests without
// the form, with its own auth_time, acr and sid, unless max_age,
// prompt=login, acr_values (for a user who can step up) or login_hint
// want another; prompt=none then gets login_required.
func TestSingleSignOn(t *testing.T) {
	tests := []struct {
		name         string
		params       map[string]string
		age          time.Duration // AgeSignIns before the request
		ignoreMaxAge bool
		ignoreACR    bool
		wantForm     bool
		wantError    string
	}{
		{"reused", nil, 0, false, false, false, ""},
		{"max_age within", map[string]string{"max_age": "600"}, 5 * time.Minute, false, false, false, ""},
		{"max_age exceeded", map[string]string{"max_age": "600"}, 20 * time.Minute, false, false, true, ""},
		{"max_age exceeded, ignored", map[string]string{"max_age": "600"}, 20 * time.Minute, true, false, false, ""},
		{"prompt=login", map[string]string{"prompt": "login"}, time.Second, false, false, true, ""},
		{"prompt=select_account", map[string]string{"prompt": "select_account"}, 0, false, false, true, ""},
		{"step-up to mfa", map[string]string{"acr_values": "mfa"}, 0, false, false, true, ""},
		{"step-up to mfa, acr_values ignored", map[string]string{"acr_values": "mfa"}, 0, false, true, false, ""},
		{"login_hint of another user", map[string]string{"login_hint": "bob"}, 0, false, false, true, ""},
		{"prompt=none, reusable", map[string]string{"prompt": "none"}, 0, false, false, false, ""},
		{"prompt=none, too old", map[string]string{"prompt": "none", "max_age": "60"}, time.Hour, false, false, false, "login_required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newTestEnvWith(t, mfaUsers(true))
			browser := e.browser()
			first, _ := e.strengthOf(browser, "alice", "alice-pw")
			e.p.AgeSignIns(tt.age)
			e.p.SetIgnoreMaxAge(tt.ignoreMaxAge)
			e.p.SetIgnoreACRValues(tt.ignoreACR)
			verifier := oauth2.GenerateVerifier()
			opts := []oauth2.AuthCodeOption{oauth2.S256ChallengeOption(verifier)}
			for k, v := range tt.params {
				opts = append(opts, oauth2.SetAuthURLParam(k, v))
			}
			cb, err := e.p.Authorize(e.ctx, browser, e.oauth2Config("bff").AuthCodeURL("s2", opts...))
			if tt.wantForm {
				if !errors.Is(err, ErrFormShown) {
					t.Fatalf("Authorize() = %v, %v; want the login form", cb, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Authorize() = %v, want an answer without the form", err)
			}
			if tt.wantError != "" {
				if got := cb.Query().Get("error"); got != tt.wantError || cb.Query().Get("state") != "s2" {
					t.Errorf("callback error, state = %q, %q; want %q, s2", got, cb.Query().Get("state"), tt.wantError)
				}
				return
			}
			id, _ := e.redeem(cb.Query().Get("code"), verifier)
			wantAuth := first["auth_time"].(float64) - tt.age.Seconds()
			if got := id["auth_time"].(float64); got != wantAuth {
				t.Errorf("reused sign-in auth_time = %v, want the remembered %v", got, wantAuth)
			}
			if str(id, "sid") != str(first, "sid") || str(id, "acr") != ACRPassword {
				t.Errorf("reused sign-in sid, acr = %q, %q; want the first's %q, pwd", str(id, "sid"), str(id, "acr"), str(first, "sid"))
			}
		})
	}
}

// TestStepUpKeepsProviderSession: stepping up in a remembered sign-in
// keeps its sid and remembers the stronger level, which later requests
// for it reuse.
func TestStepUpKeepsProviderSession(t *testing.T) {
	e := newTestEnvWith(t, mfaUsers(true))
	browser := e.browser()
	first, _ := e.strengthOf(browser, "alice", "alice-pw")
	up, _ := e.strengthOf(browser, "alice", "alice-pw", oauth2.SetAuthURLParam("acr_values", "mfa"))
	if str(up, "acr") != ACRMFA || str(up, "sid") != str(first, "sid") {
		t.Errorf("step-up acr, sid = %q, %q; want mfa, %q", str(up, "acr"), str(up, "sid"), str(first, "sid"))
	}
	verifier := oauth2.GenerateVerifier()
	cb, err := e.p.Authorize(e.ctx, browser, e.oauth2Config("bff").AuthCodeURL("s",
		oauth2.S256ChallengeOption(verifier), oauth2.SetAuthURLParam("acr_values", "mfa")))
	if err != nil {
		t.Fatalf("Authorize(acr_values=mfa after a step-up) = %v, want the remembered mfa sign-in", err)
	}
	again, _ := e.redeem(cb.Query().Get("code"), verifier)
	if str(again, "acr") != ACRMFA || fmt.Sprint(again["amr"]) != "[pwd otp]" {
		t.Errorf("reused step-up acr, amr = %q, %v; want mfa, [pwd otp]", str(again, "acr"), again["amr"])
	}
}
