package bff_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bff-project/bff/bff"
	"github.com/bff-project/bff/e2e/harness"
)

// grantFault sits between the BFF and the real provider and, while armed,
// changes what happens to token requests of one grant type: delay lets the
// provider answer and then holds the answer back (a slow network on the
// way back), answer replaces the provider's answer without calling it.
type grantFault struct {
	grant  string // substring of the form, e.g. "grant_type=refresh_token"
	armed  atomic.Bool
	delay  time.Duration
	status int    // with answer
	answer string // JSON body; empty: pass through
	next   http.RoundTripper
}

func (f *grantFault) RoundTrip(r *http.Request) (*http.Response, error) {
	if !f.armed.Load() || r.Method != http.MethodPost || r.Body == nil {
		return f.next.RoundTrip(r)
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return nil, err
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	if !strings.Contains(string(body), f.grant) {
		return f.next.RoundTrip(r)
	}
	if f.answer != "" {
		return &http.Response{StatusCode: f.status, Header: http.Header{"Content-Type": {"application/json"}},
			Body: io.NopCloser(strings.NewReader(f.answer)), Request: r}, nil
	}
	resp, err := f.next.RoundTrip(r)
	time.Sleep(f.delay)
	return resp, err
}

func faultRig(t *testing.T, f *grantFault) *rig {
	f.next = http.DefaultTransport
	return newRig(t, harness.Options{
		AccessTokenLifetime: 2 * time.Second,
		Config: func(c *bff.Config) {
			c.HTTPClient = &http.Client{Transport: f}
		},
	})
}

// TestSessionEndedDuringRenewalStaysEnded: a session ended while its token
// renewal waits on the provider must not be written back by the renewal,
// whichever way it ends (logout, "sign out that device", back-channel
// logout), and the refresh token the provider issued meanwhile is revoked.
func TestSessionEndedDuringRenewalStaysEnded(t *testing.T) {
	ends := []struct {
		name string
		end  func(t *testing.T, r *rig, other *harness.Browser)
	}{
		{"logout", func(t *testing.T, r *rig, _ *harness.Browser) {
			if resp, body := r.call(t, http.MethodPost, "/bff/logout", nil, nil); resp.StatusCode != http.StatusFound {
				t.Fatalf("POST /bff/logout = %d %s", resp.StatusCode, body)
			}
		}},
		{"signed out from another device", func(t *testing.T, r *rig, other *harness.Browser) {
			req, _ := http.NewRequest(http.MethodGet, r.url+"/bff/sessions", nil)
			req.Header.Set("X-CSRF", "1")
			_, body := other.Do(t, req)
			var list struct{ Sessions []sessionListItem }
			if err := json.Unmarshal([]byte(body), &list); err != nil {
				t.Fatalf("GET /bff/sessions = %q: %v", body, err)
			}
			var target string
			for _, s := range list.Sessions {
				if !s.Current {
					target = s.ID
				}
			}
			req, _ = http.NewRequest(http.MethodDelete, r.url+"/bff/sessions/"+target, nil)
			req.Header.Set("X-CSRF", "1")
			if resp, body := other.Do(t, req); resp.StatusCode != http.StatusNoContent {
				t.Fatalf("DELETE /bff/sessions/{id} = %d %s", resp.StatusCode, body)
			}
		}},
		{"back-channel logout", func(t *testing.T, r *rig, _ *harness.Browser) {
			tok, err := r.env.OP.SignLogoutToken(r.env.OP.LogoutTokenClaims(harness.ClientID, harness.UserSubject, ""))
			if err != nil {
				t.Fatal(err)
			}
			if resp, body := postLogoutToken(t, r.env, r.url, tok); resp.StatusCode != http.StatusOK {
				t.Fatalf("back-channel logout = %d %s", resp.StatusCode, body)
			}
		}},
	}
	for _, tc := range ends {
		t.Run(tc.name, func(t *testing.T) {
			f := &grantFault{grant: "grant_type=refresh_token", delay: time.Second}
			r := faultRig(t, f)
			other := r.env.NewBrowser()
			other.Login(t, r.url, harness.UserName, harness.UserPassword)
			time.Sleep(dueAfter(2 * time.Second)) // the sign-in token is due
			f.armed.Store(true)

			var wg sync.WaitGroup
			var renewal int
			wg.Go(func() { renewal, _, _ = r.api(t, "/api/orders/x") })
			time.Sleep(300 * time.Millisecond) // the refresh is at the provider
			tc.end(t, r, other)
			wg.Wait()
			f.armed.Store(false)

			if renewal == http.StatusOK {
				t.Errorf("the API call whose session ended during its renewal = 200, want it refused")
			}
			if resp, _ := r.call(t, http.MethodGet, "/bff/user", nil, nil); resp.StatusCode != http.StatusUnauthorized {
				t.Errorf("/bff/user after the renewal finished = %d, want 401 (the session came back)", resp.StatusCode)
			}
			rt := lastRefreshToken(t, r.env)
			deadline := time.Now().Add(3 * time.Second)
			for r.env.OP.RefreshTokenActive(rt) && time.Now().Before(deadline) {
				time.Sleep(20 * time.Millisecond) // revocation runs in the background
			}
			if r.env.OP.RefreshTokenActive(rt) {
				t.Error("the refresh token issued during the renewal is still active at the provider")
			}
		})
	}
}

// TestTokenExchangeFailureKeepsRotatedRefreshToken: a token exchange that
// fails after the sign-in token was refreshed for it keeps the rotated
// refresh token, so the session survives the provider's failure.
func TestTokenExchangeFailureKeepsRotatedRefreshToken(t *testing.T) {
	f := &grantFault{grant: "token-exchange", status: http.StatusServiceUnavailable, answer: `{"error":"temporarily_unavailable"}`}
	r := newRig(t, harness.Options{
		AccessTokenLifetime: 2 * time.Second,
		Config:              func(c *bff.Config) { f.next = http.DefaultTransport; c.HTTPClient = &http.Client{Transport: f} },
	})
	time.Sleep(dueAfter(2 * time.Second))
	f.armed.Store(true)
	before := r.env.OP.Counts()
	if code, _, e := r.api(t, "/api/profile/x"); code != http.StatusServiceUnavailable {
		t.Fatalf("exchange failing: GET /api/profile/x = %d %+v, want 503", code, e)
	}
	if got := countsDelta(before, r.env.OP.Counts()); got.Refresh != 1 {
		t.Fatalf("provider calls = %+v, want the sign-in token refreshed once", got)
	}
	f.armed.Store(false)
	if a := r.mustAPI(t, "/api/profile/x"); a.API != "profile" {
		t.Errorf("after the provider recovered: answer from %q, want profile", a.API)
	}
	if resp, _ := r.call(t, http.MethodGet, "/bff/user", nil, nil); resp.StatusCode != http.StatusOK {
		t.Errorf("/bff/user = %d, want the session alive", resp.StatusCode)
	}
}

// TestTokenExchangeRefusedKeepsSession: invalid_grant from a token
// exchange is the provider's refusal of that audience, not a dead refresh
// token: 403, and the session and its other routes keep working.
func TestTokenExchangeRefusedKeepsSession(t *testing.T) {
	f := &grantFault{grant: "token-exchange", status: http.StatusBadRequest, answer: `{"error":"invalid_grant"}`}
	r := faultRig(t, f)
	f.armed.Store(true)
	if code, _, e := r.api(t, "/api/profile/x"); code != http.StatusForbidden || e.Error != "token_exchange_refused" {
		t.Errorf("exchange refused: GET /api/profile/x = %d %+v, want 403 token_exchange_refused", code, e)
	}
	if a := r.mustAPI(t, "/api/orders/x"); a.API != "orders" {
		t.Errorf("another route answered from %q, want orders", a.API)
	}
	f.armed.Store(false)
	r.mustAPI(t, "/api/profile/x")
}
