package bff_test

import (
	"encoding/json"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/bff-project/bff/e2e/harness"
)

// sessionListItem is one entry of GET /bff/sessions.
type sessionListItem struct {
	ID         string    `json:"id"`
	CreatedAt  time.Time `json:"created_at"`
	LastSeenAt time.Time `json:"last_seen_at"`
	ExpiresAt  time.Time `json:"expires_at"`
	UserAgent  string    `json:"user_agent"`
	Device     string    `json:"device"`
	IP         string    `json:"ip"`
	Current    bool      `json:"current"`
}

// listSessions fetches GET /bff/sessions for h and fails unless it is 200.
func listSessions(t testing.TB, h *sessionHolder) []sessionListItem {
	t.Helper()
	var out struct {
		Sessions []sessionListItem `json:"sessions"`
	}
	resp, body := h.Call(t, http.MethodGet, h.url+"/bff/sessions", nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /bff/sessions = %d %s, want 200", resp.StatusCode, body)
	}
	if err := json.Unmarshal([]byte(body), &out); err != nil {
		t.Fatalf("GET /bff/sessions: %q is not JSON: %v", body, err)
	}
	return out.Sessions
}

// sessionFixture is the user signed in from three browsers and the other
// user from one.
type sessionFixture struct {
	env                     *harness.Env
	firefox, chrome, safari *sessionHolder
	bob                     *sessionHolder
	revocationsStart        int
}

func newSessionFixture(t *testing.T) *sessionFixture {
	t.Helper()
	env := harness.Start(t, harness.Options{})
	f := &sessionFixture{
		env:     env,
		firefox: holdSession(t, env, harness.UserName, harness.UserPassword, uaFirefoxLinux),
		chrome:  holdSession(t, env, harness.UserName, harness.UserPassword, uaChromeWindows),
		safari:  holdSession(t, env, harness.UserName, harness.UserPassword, uaSafariMac),
		bob:     holdSession(t, env, harness.OtherName, harness.OtherPass, uaFirefoxLinux),
	}
	f.revocationsStart = env.OP.Counts().Revocation
	return f
}

func (f *sessionFixture) holders() map[string]*sessionHolder {
	return map[string]*sessionHolder{"firefox": f.firefox, "chrome": f.chrome, "safari": f.safari, "bob": f.bob}
}

// checkSessions fails unless exactly the holders named in ended have lost
// their session and refresh token, with one revocation each.
func (f *sessionFixture) checkSessions(t *testing.T, ended ...string) {
	t.Helper()
	for name, h := range f.holders() {
		want := slices.Contains(ended, name)
		if got := !h.signedIn(t); got != want {
			t.Errorf("%s signed out = %v, want %v", name, got, want)
		}
		if got := !h.refreshActive(); got != want {
			t.Errorf("%s refresh token dead at the provider = %v, want %v", name, got, want)
		}
	}
	if got, want := f.env.OP.Counts().Revocation-f.revocationsStart, len(ended); got != want {
		t.Errorf("revocations at the provider = %d, want %d", got, want)
	}
}

func TestSessionsList(t *testing.T) {
	f := newSessionFixture(t)
	alice := map[string]*sessionHolder{}
	for _, h := range []*sessionHolder{f.firefox, f.chrome, f.safari} {
		alice[h.user.Session.ID] = h
	}
	if len(alice) != 3 {
		t.Fatalf("three sign-ins gave %d distinct session IDs, want 3", len(alice))
	}
	tests := []struct {
		name   string
		caller *sessionHolder
		want   map[string]*sessionHolder // session ID -> holder
	}{
		{"user from Firefox", f.firefox, alice},
		{"user from Chrome", f.chrome, alice},
		{"user from Safari", f.safari, alice},
		{"other user", f.bob, map[string]*sessionHolder{f.bob.user.Session.ID: f.bob}},
	}
	devices := map[*sessionHolder]string{
		f.firefox: "Firefox on Linux", f.chrome: "Chrome on Windows", f.safari: "Safari on macOS", f.bob: "Firefox on Linux",
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := time.Now()
			got := listSessions(t, tt.caller)
			if len(got) != len(tt.want) {
				t.Fatalf("GET /bff/sessions has %d sessions %+v, want %d", len(got), got, len(tt.want))
			}
			for i, s := range got {
				h, ok := tt.want[s.ID]
				if !ok {
					t.Errorf("sessions[%d].id = %q is not one of the caller's sessions", i, s.ID)
					continue
				}
				if want := h == tt.caller; s.Current != want {
					t.Errorf("sessions[%d] (%s).current = %v, want %v", i, devices[h], s.Current, want)
				}
				if s.Device != devices[h] {
					t.Errorf("sessions[%d].device = %q, want %q", i, s.Device, devices[h])
				}
				if s.UserAgent != h.UserAgent {
					t.Errorf("sessions[%d].user_agent = %q, want %q", i, s.UserAgent, h.UserAgent)
				}
				if s.IP != "127.0.0.1" {
					t.Errorf("sessions[%d].ip = %q, want 127.0.0.1", i, s.IP)
				}
				if s.CreatedAt.IsZero() || s.CreatedAt.After(before) || s.LastSeenAt.Before(s.CreatedAt) ||
					s.LastSeenAt.After(before) || !s.ExpiresAt.After(before) {
					t.Errorf("sessions[%d] times created %v, last seen %v, expires %v: want created <= last seen <= now < expires",
						i, s.CreatedAt, s.LastSeenAt, s.ExpiresAt)
				}
			}
			if !got[0].Current {
				t.Errorf("sessions[0].current = false, want the current session first")
			}
		})
	}
}

// Reads must not turn into writes: LastSeenAt is written at most once per
// minute, so a burst of API calls neither changes it nor commits.
func TestSessionsLastSeenNotRewritten(t *testing.T) {
	f := newSessionFixture(t)
	const commits = `bff_session_store_duration_seconds_count{op=~"commit|replace"}`
	writes := func() float64 {
		return metricSample(t, f.env, `bff_session_store_duration_seconds_count{op="commit"}`) +
			metricSample(t, f.env, `bff_session_store_duration_seconds_count{op="replace"}`)
	}
	first := listSessions(t, f.firefox)
	before := writes()
	if before == 0 {
		t.Fatalf("%s = 0 after four sign-ins, want the sign-ins' commits counted", commits)
	}
	for range 5 {
		f.firefox.User(t, f.env.Default.URL, http.StatusOK)
		f.chrome.User(t, f.env.Default.URL, http.StatusOK)
		listSessions(t, f.safari)
	}
	second := listSessions(t, f.firefox)
	if got := writes(); got != before {
		t.Errorf("%s = %v after 17 reads, want %v (no writes)", commits, got, before)
	}
	seen := map[string]time.Time{}
	for _, s := range first {
		seen[s.ID] = s.LastSeenAt
	}
	for _, s := range second {
		if !s.LastSeenAt.Equal(seen[s.ID]) {
			t.Errorf("session %s last_seen_at = %v, want %v (unchanged within a minute)", s.Device, s.LastSeenAt, seen[s.ID])
		}
	}
}

func TestSessionsDelete(t *testing.T) {
	tests := []struct {
		name string
		// do sends the request as f.firefox (unless it says otherwise).
		do         func(t *testing.T, f *sessionFixture) (*http.Response, string)
		wantStatus int
		wantError  string
		ended      []string
	}{
		{
			name: "one of my other sessions",
			do: func(t *testing.T, f *sessionFixture) (*http.Response, string) {
				return f.firefox.Call(t, http.MethodDelete, f.env.Default.URL+"/bff/sessions/"+f.chrome.user.Session.ID, nil)
			},
			wantStatus: http.StatusNoContent,
			ended:      []string{"chrome"},
		},
		{
			name: "my current session",
			do: func(t *testing.T, f *sessionFixture) (*http.Response, string) {
				return f.firefox.Call(t, http.MethodDelete, f.env.Default.URL+"/bff/sessions/"+f.firefox.user.Session.ID, nil)
			},
			wantStatus: http.StatusNoContent,
			ended:      []string{"firefox"},
		},
		{
			name: "another user's session",
			do: func(t *testing.T, f *sessionFixture) (*http.Response, string) {
				return f.firefox.Call(t, http.MethodDelete, f.env.Default.URL+"/bff/sessions/"+f.bob.user.Session.ID, nil)
			},
			wantStatus: http.StatusNotFound,
			wantError:  "not_found",
		},
		{
			name: "unknown session ID",
			do: func(t *testing.T, f *sessionFixture) (*http.Response, string) {
				return f.firefox.Call(t, http.MethodDelete, f.env.Default.URL+"/bff/sessions/no-such-session", nil)
			},
			wantStatus: http.StatusNotFound,
			wantError:  "not_found",
		},
		{
			name: "by the provider sid instead of the session ID",
			do: func(t *testing.T, f *sessionFixture) (*http.Response, string) {
				return f.firefox.Call(t, http.MethodDelete, f.env.Default.URL+"/bff/sessions/"+f.chrome.sid, nil)
			},
			wantStatus: http.StatusNotFound,
			wantError:  "not_found",
		},
		{
			name: "one session without X-CSRF",
			do: func(t *testing.T, f *sessionFixture) (*http.Response, string) {
				return f.firefox.send(t, http.MethodDelete, "/bff/sessions/"+f.chrome.user.Session.ID, false)
			},
			wantStatus: http.StatusForbidden,
			wantError:  "csrf",
		},
		{
			name: "one session without a session",
			do: func(t *testing.T, f *sessionFixture) (*http.Response, string) {
				return f.env.NewBrowser().Call(t, http.MethodDelete, f.env.Default.URL+"/bff/sessions/"+f.chrome.user.Session.ID, nil)
			},
			wantStatus: http.StatusUnauthorized,
			wantError:  "unauthenticated",
		},
		{
			name: "all my other sessions",
			do: func(t *testing.T, f *sessionFixture) (*http.Response, string) {
				return f.firefox.Call(t, http.MethodDelete, f.env.Default.URL+"/bff/sessions", nil)
			},
			wantStatus: http.StatusNoContent,
			ended:      []string{"chrome", "safari"},
		},
		{
			name: "all other sessions without X-CSRF",
			do: func(t *testing.T, f *sessionFixture) (*http.Response, string) {
				return f.firefox.send(t, http.MethodDelete, "/bff/sessions", false)
			},
			wantStatus: http.StatusForbidden,
			wantError:  "csrf",
		},
		{
			name: "all other sessions cross-site",
			do: func(t *testing.T, f *sessionFixture) (*http.Response, string) {
				req := newRequest(t, http.MethodDelete, f.env.Default.URL+"/bff/sessions", "X-CSRF", "1", "Sec-Fetch-Site", "cross-site")
				return f.firefox.Do(t, req)
			},
			wantStatus: http.StatusForbidden,
			wantError:  "csrf",
		},
		{
			name: "all other sessions from a foreign Origin",
			do: func(t *testing.T, f *sessionFixture) (*http.Response, string) {
				req := newRequest(t, http.MethodDelete, f.env.Default.URL+"/bff/sessions", "X-CSRF", "1", "Origin", "https://evil.example")
				return f.firefox.Do(t, req)
			},
			wantStatus: http.StatusForbidden,
			wantError:  "csrf",
		},
		{
			name: "all other sessions without a session",
			do: func(t *testing.T, f *sessionFixture) (*http.Response, string) {
				return f.env.NewBrowser().Call(t, http.MethodDelete, f.env.Default.URL+"/bff/sessions", nil)
			},
			wantStatus: http.StatusUnauthorized,
			wantError:  "unauthenticated",
		},
		{
			name: "list without X-CSRF",
			do: func(t *testing.T, f *sessionFixture) (*http.Response, string) {
				return f.firefox.send(t, http.MethodGet, "/bff/sessions", false)
			},
			wantStatus: http.StatusForbidden,
			wantError:  "csrf",
		},
		{
			name: "list without a session",
			do: func(t *testing.T, f *sessionFixture) (*http.Response, string) {
				return f.env.NewBrowser().Call(t, http.MethodGet, f.env.Default.URL+"/bff/sessions", nil)
			},
			wantStatus: http.StatusUnauthorized,
			wantError:  "unauthenticated",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newSessionFixture(t)
			resp, body := tt.do(t, f)
			if resp.StatusCode != tt.wantStatus {
				t.Errorf("status = %d, want %d", resp.StatusCode, tt.wantStatus)
			}
			if tt.wantError != "" {
				var e struct {
					Error string `json:"error"`
				}
				if err := json.Unmarshal([]byte(body), &e); err != nil || e.Error != tt.wantError {
					t.Errorf("body = %q, want error %q", body, tt.wantError)
				}
			}
			f.checkSessions(t, tt.ended...)
			for _, name := range tt.ended {
				if got := f.holders()[name].replayCookie(t); got != http.StatusUnauthorized {
					t.Errorf("%s: GET /bff/user with the old cookie value = %d, want 401", name, got)
				}
			}
			if slices.Contains(tt.ended, "firefox") {
				return
			}
			// The caller's list shows exactly the sessions that are left.
			var want []string
			for _, h := range []*sessionHolder{f.firefox, f.chrome, f.safari} {
				if !slices.Contains(tt.ended, map[*sessionHolder]string{f.firefox: "firefox", f.chrome: "chrome", f.safari: "safari"}[h]) {
					want = append(want, h.user.Session.ID)
				}
			}
			var got []string
			for _, s := range listSessions(t, f.firefox) {
				got = append(got, s.ID)
			}
			slices.Sort(got)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Errorf("sessions left = %v, want %v", got, want)
			}
		})
	}
}

// send sends method path from h's browser, with or without X-CSRF, asking
// for JSON.
func (h *sessionHolder) send(t *testing.T, method, path string, csrf bool) (*http.Response, string) {
	t.Helper()
	req := newRequest(t, method, h.url+path, "Accept", "application/json")
	if csrf {
		req.Header.Set("X-CSRF", "1")
	}
	return h.Do(t, req)
}
