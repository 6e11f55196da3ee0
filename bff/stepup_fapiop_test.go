package bff_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bff-project/bff/bff"
	"github.com/bff-project/bff/bff/config"
	"github.com/bff-project/bff/e2e/fapiop"
)

// TestStepUpWithCertifiedProvider runs the step-up against an independent,
// OpenID-certified provider (oidc-provider, e2e/fapiop): acr_values goes
// to it, one that honours them signs the user in again and the session is
// upgraded; one that ignores them answers from its own session at the
// user's usual acr, and the BFF keeps the session as it was.
func TestStepUpWithCertifiedProvider(t *testing.T) {
	const mfa = "urn:example:mfa"
	for _, tc := range []struct {
		name     string
		honoured []string
		par      fapiop.PARMode
		wantACR  string // session acr after the step-up sign-in
		wantCode int    // callback status
	}{
		{"provider honours acr_values", []string{mfa}, fapiop.PAROff, mfa, http.StatusFound},
		{"provider honours acr_values, pushed (PAR)", []string{mfa}, fapiop.PARRequired, mfa, http.StatusFound},
		{"provider ignores acr_values", nil, fapiop.PAROff, "urn:pwd", http.StatusForbidden},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			bffURL := "https://" + l.Addr().String()
			p := fapiop.Start(t, fapiop.Config{ACRValues: tc.honoured, PAR: tc.par,
				Users:   []fapiop.User{{Subject: "u-alice", Username: "alice", Password: "alice-pw-7", ACR: "urn:pwd", AMR: []string{"pwd"}}},
				Clients: []fapiop.Client{{ID: "bff", Secret: "bff-secret-7", RedirectURIs: []string{bffURL + "/bff/callback"}}}})
			upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				io.WriteString(w, `{"ok":true}`)
			}))
			t.Cleanup(upstream.Close)
			srv, err := bff.New(context.Background(), bff.Config{Config: config.Config{
				PublicURL: bffURL,
				OIDC:      config.OIDCConfig{Issuer: p.Issuer(), ClientID: "bff", ClientSecret: "bff-secret-7", Scopes: []string{"openid", "profile", "email", "offline_access"}},
				Session:   config.SessionConfig{Path: filepath.Join(t.TempDir(), "s.db"), EncryptionKeys: []string{base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32))}},
				APIs: []config.APIConfig{{Prefix: "/api/pay/", Upstream: upstream.URL, Token: "user",
					Require: []config.RuleConfig{{ACR: []string{mfa}}}}},
				RateLimit: config.RateLimitConfig{LoginPerMinute: -1},
			}})
			if err != nil {
				t.Fatal(err)
			}
			ts := httptest.NewUnstartedServer(srv.Handler())
			ts.Listener.Close()
			ts.Listener = l
			ts.StartTLS()
			t.Cleanup(func() { ts.Close(); srv.Close() })

			jar, _ := cookiejar.New(nil)
			browser := &http.Client{Jar: jar, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}},
				CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
			callback := func(loginURL string) (int, string) {
				cb := p.Login(t, browser, bffURL+loginURL, "alice", "alice-pw-7")
				resp, err := browser.Get(cb.String())
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				body, _ := io.ReadAll(resp.Body)
				return resp.StatusCode, string(body)
			}
			call := func(path string, out any) int {
				req, _ := http.NewRequest(http.MethodGet, bffURL+path, nil)
				req.Header.Set("X-CSRF", "1")
				resp, err := browser.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				_ = json.NewDecoder(resp.Body).Decode(out)
				return resp.StatusCode
			}
			type user struct {
				Session struct{ ID, ACR string } `json:"session"`
			}

			if code, body := callback("/bff/login"); code != http.StatusFound {
				t.Fatalf("sign-in callback = %d %s, want 302", code, body)
			}
			var before user
			call("/bff/user", &before)
			var step struct {
				Error    string `json:"error"`
				LoginURL string `json:"login_url"`
			}
			if code := call("/api/pay/x", &step); code != http.StatusUnauthorized || !strings.Contains(step.LoginURL, "acr_values=urn%3Aexample%3Amfa") {
				t.Fatalf("call = %d %+v, want 401 step_up_required asking for %s", code, step, mfa)
			}
			if code, body := callback(step.LoginURL); code != tc.wantCode {
				t.Fatalf("step-up callback = %d %s, want %d", code, body, tc.wantCode)
			}
			var after user
			call("/bff/user", &after)
			if after.Session.ACR != tc.wantACR || (tc.wantCode != http.StatusFound) != (after.Session.ID == before.Session.ID) {
				t.Errorf("session after the step-up: %+v (before %+v), want acr %s", after.Session, before.Session, tc.wantACR)
			}
			wantCall := map[bool]int{true: http.StatusOK, false: http.StatusUnauthorized}[tc.wantCode == http.StatusFound]
			if code := call("/api/pay/x", &struct{}{}); code != wantCall {
				t.Errorf("retried call = %d, want %d", code, wantCall)
			}
		})
	}
}
