package bff_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/bff-project/bff/bff"
	"github.com/bff-project/bff/e2e/harness"
	"github.com/bff-project/bff/session"
)

// streamClient is b's client without redirects or an overall timeout, for
// streams.
func streamClient(b *harness.Browser) *http.Client {
	return &http.Client{Jar: b.Client.Jar, Transport: b.Client.Transport}
}

// openEvents opens /bff/events for b as the SPA's EventSource would, and
// wants 200.
func openEvents(t *testing.T, b *harness.Browser, bffURL string, hdr ...string) *harness.Events {
	t.Helper()
	req := harness.EventsRequest(t, bffURL+"/bff/events")
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	es := harness.OpenEvents(t, streamClient(b), req)
	if es.Resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /bff/events = %d, want 200", es.Resp.StatusCode)
	}
	return es
}

type sessionEvent struct {
	ExpiresAt     time.Time `json:"expires_at"`
	IdleExpiresAt time.Time `json:"idle_expires_at"`
	ACR           string    `json:"acr"`
}

type expiringEvent struct {
	Reason      string    `json:"reason"`
	At          time.Time `json:"at"`
	SecondsLeft int       `json:"seconds_left"`
}

// wantEnded waits for the ended event, checks its reason, and that the
// stream closes after it.
func wantEnded(t *testing.T, es *harness.Events, reason string) {
	t.Helper()
	var got struct {
		Reason string `json:"reason"`
	}
	es.Want(t, "ended").Decode(t, &got)
	if got.Reason != reason {
		t.Errorf("ended reason = %q, want %q", got.Reason, reason)
	}
	if !es.Ended(5 * time.Second) {
		t.Error("the stream stayed open after ended")
	}
}

// TestEventsRefusals: what /bff/events and /bff/keepalive refuse, and how.
func TestEventsRefusals(t *testing.T) {
	r := newRig(t, harness.Options{})
	anon := r.env.NewBrowser()
	tests := []struct {
		name     string
		b        *harness.Browser
		method   string
		path     string
		hdr      http.Header
		want     int
		wantCode string
	}{
		{"cross-site", r.b, http.MethodGet, "/bff/events", http.Header{"Sec-Fetch-Site": {"cross-site"}}, 403, "csrf"},
		{"same-site (a sibling subdomain)", r.b, http.MethodGet, "/bff/events", http.Header{"Sec-Fetch-Site": {"same-site"}}, 403, "csrf"},
		{"typed into the address bar", r.b, http.MethodGet, "/bff/events", http.Header{"Sec-Fetch-Site": {"none"}}, 403, "csrf"},
		{"foreign Origin", r.b, http.MethodGet, "/bff/events", http.Header{"Sec-Fetch-Site": {"same-origin"}, "Origin": {"https://evil.example"}}, 403, "csrf"},
		{"no session", anon, http.MethodGet, "/bff/events", http.Header{"Sec-Fetch-Site": {"same-origin"}}, 401, "unauthenticated"},
		{"HEAD", r.b, http.MethodHead, "/bff/events", http.Header{"Sec-Fetch-Site": {"same-origin"}}, 405, ""},
		{"POST", r.b, http.MethodPost, "/bff/events", http.Header{"X-CSRF": {"1"}}, 405, "method_not_allowed"},
		{"keepalive without X-CSRF", r.b, http.MethodPost, "/bff/keepalive", nil, 403, "csrf"},
		{"keepalive cross-site", r.b, http.MethodPost, "/bff/keepalive", http.Header{"X-CSRF": {"1"}, "Sec-Fetch-Site": {"cross-site"}}, 403, "csrf"},
		{"keepalive without a session", anon, http.MethodPost, "/bff/keepalive", http.Header{"X-CSRF": {"1"}}, 401, "unauthenticated"},
		{"keepalive GET", r.b, http.MethodGet, "/bff/keepalive", http.Header{"X-CSRF": {"1"}}, 405, "method_not_allowed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest(tt.method, r.url+tt.path, nil)
			if err != nil {
				t.Fatal(err)
			}
			req.Header = tt.hdr.Clone()
			if req.Header == nil {
				req.Header = http.Header{}
			}
			req.Header.Set("Accept", "application/json")
			resp, body := tt.b.Do(t, req)
			if resp.StatusCode != tt.want || (tt.wantCode != "" && !strings.Contains(body, `"error":"`+tt.wantCode+`"`)) {
				t.Errorf("%s %s = %d %s, want %d %s", tt.method, tt.path, resp.StatusCode, body, tt.want, tt.wantCode)
			}
		})
	}
	// Nothing of that ended the session.
	r.b.User(t, r.url, http.StatusOK)
}

// TestEventsSessionOnConnect: the first event is the session's times, as
// /bff/user tells them; a reconnect whose Last-Event-ID says the same is
// not sent them again; heartbeats keep an idle stream open.
func TestEventsSessionOnConnect(t *testing.T) {
	r := newRig(t, harness.Options{Config: func(c *bff.Config) { c.EventHeartbeat = 150 * time.Millisecond }})
	es := openEvents(t, r.b, r.url)
	if ct := es.Resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Errorf("Content-Type = %q, want text/event-stream", ct)
	}
	if cc := es.Resp.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control = %q, want no-store", cc)
	}
	first := es.Want(t, "session")
	var got sessionEvent
	first.Decode(t, &got)
	var user struct {
		Session struct {
			ExpiresAt     time.Time `json:"expires_at"`
			IdleExpiresAt time.Time `json:"idle_expires_at"`
		} `json:"session"`
	}
	r.b.JSON(t, http.MethodGet, r.url+"/bff/user", &user)
	if !got.ExpiresAt.Equal(user.Session.ExpiresAt) || !got.IdleExpiresAt.Equal(user.Session.IdleExpiresAt) {
		t.Errorf("session event = %+v, want the times of /bff/user %+v", got, user.Session)
	}
	if first.ID == "" {
		t.Fatal("session event has no id")
	}
	// Idle: heartbeats only.
	for range 3 {
		if ev := es.Next(t); !ev.Comment {
			t.Errorf("idle stream sent %+v, want heartbeat comments", ev)
		}
	}
	again := openEvents(t, r.b, r.url, "Last-Event-ID", first.ID)
	if ev := again.Next(t); !ev.Comment {
		t.Errorf("reconnect with the current Last-Event-ID got %+v first, want no session event (a heartbeat)", ev)
	}
	stale := openEvents(t, r.b, r.url, "Last-Event-ID", "s1.2.3")
	stale.Want(t, "session")
}

// TestEventsEndedReasons: each way a session ends reaches its stream as an
// ended event with the reason, and closes it; another session's stream
// goes on.
func TestEventsEndedReasons(t *testing.T) {
	r := newRig(t, harness.Options{Config: func(c *bff.Config) { c.SweepInterval = time.Hour }})
	_, revocation, _ := providerEndpoints(t, r.env)
	signedIn := func(t *testing.T) (*harness.Browser, *harness.Events) {
		b := r.env.NewBrowser()
		b.Login(t, r.url, harness.UserName, harness.UserPassword)
		es := openEvents(t, b, r.url)
		es.Want(t, "session")
		return b, es
	}
	bystander, bystanderEvents := signedIn(t)
	tests := []struct {
		name   string
		end    func(t *testing.T, b *harness.Browser)
		reason string
	}{
		{"logout", func(t *testing.T, b *harness.Browser) {
			if resp, _ := b.Call(t, http.MethodPost, r.url+"/bff/logout", nil); resp.StatusCode != http.StatusFound {
				t.Fatalf("POST /bff/logout = %d", resp.StatusCode)
			}
		}, session.ReasonLogout},
		{"session manager", func(t *testing.T, b *harness.Browser) {
			id := b.User(t, r.url, http.StatusOK).Session.ID
			if resp, _ := bystander.Call(t, http.MethodDelete, r.url+"/bff/sessions/"+id, nil); resp.StatusCode != http.StatusNoContent {
				t.Fatalf("DELETE /bff/sessions/{id} = %d", resp.StatusCode)
			}
		}, session.ReasonRevoked},
		{"back-channel", func(t *testing.T, b *harness.Browser) {
			sid, _ := b.User(t, r.url, http.StatusOK).Claims["sid"].(string)
			if err := r.env.OP.BackChannelLogout(context.Background(), "", sid); err != nil {
				t.Fatal(err)
			}
		}, session.ReasonBackchannel},
		{"signed in again as another user", func(t *testing.T, b *harness.Browser) {
			b.Login(t, r.url, harness.OtherName, harness.OtherPass)
		}, session.ReasonReplaced},
		{"refresh token rejected", func(t *testing.T, b *harness.Browser) {
			for _, tok := range r.env.OP.IssuedTokens() {
				// The bystander's too: it makes no API call, so it never
				// finds out.
				if r.env.OP.RefreshTokenActive(tok) {
					postClientForm(t, revocation, url.Values{"token": {tok}, "token_type_hint": {"refresh_token"}})
				}
			}
			// The first call for this audience needs the refresh token.
			if resp, _ := b.Call(t, http.MethodGet, r.url+"/api/orders/whoami", nil); resp.StatusCode != http.StatusUnauthorized {
				t.Fatalf("API call with a revoked refresh token = %d, want 401", resp.StatusCode)
			}
		}, session.ReasonRefreshFailed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, es := signedIn(t)
			tt.end(t, b)
			wantEnded(t, es, tt.reason)
		})
	}
	bystanderEvents.Next(t) // still open (a heartbeat or a change)
	bystander.User(t, r.url, http.StatusOK)
}

// TestEventsExpiringAndKeepalive: expiring comes expiry_warning before the
// idle end; keepalive moves the end (a session event with the new time)
// and the warning comes again before it.
func TestEventsExpiringAndKeepalive(t *testing.T) {
	// The warning leaves the test two seconds to keep the session alive.
	const idle, warning = 3 * time.Second, 2 * time.Second
	r := newRig(t, harness.Options{Config: func(c *bff.Config) {
		c.Session.IdleTimeout, c.Session.ExpiryWarning = idle, warning
	}})
	es := openEvents(t, r.b, r.url)
	var s sessionEvent
	es.Want(t, "session").Decode(t, &s)
	var exp expiringEvent
	es.Want(t, "expiring").Decode(t, &exp)
	told := time.Now()
	if exp.Reason != "idle" || !exp.At.Equal(s.IdleExpiresAt) {
		t.Errorf("expiring = %+v, want reason idle at %v", exp, s.IdleExpiresAt)
	}
	if left := exp.At.Sub(told); left > warning || exp.SecondsLeft > int(warning/time.Second) {
		t.Errorf("expiring told %v (seconds_left %d) before the end, want at most %v", left, exp.SecondsLeft, warning)
	}
	if resp, body := r.b.Call(t, http.MethodPost, r.url+"/bff/keepalive", nil); resp.StatusCode != http.StatusNoContent {
		t.Fatalf("POST /bff/keepalive = %d %s, want 204", resp.StatusCode, body)
	}
	var moved sessionEvent
	es.Want(t, "session").Decode(t, &moved)
	if !moved.IdleExpiresAt.After(s.IdleExpiresAt) {
		t.Errorf("idle end after keepalive = %v, want later than %v", moved.IdleExpiresAt, s.IdleExpiresAt)
	}
	var again expiringEvent
	es.Want(t, "expiring").Decode(t, &again)
	if !again.At.Equal(moved.IdleExpiresAt) {
		t.Errorf("second warning at %v, want the moved end %v", again.At, moved.IdleExpiresAt)
	}
	wantEnded(t, es, session.ReasonExpired)
	r.b.User(t, r.url, http.StatusUnauthorized)
}

// TestEventsCaps: streams beyond the per-session cap are refused 429,
// beyond the instance's cap 503, each saying why; closing one makes room.
func TestEventsCaps(t *testing.T) {
	r := newRig(t, harness.Options{Config: func(c *bff.Config) {
		c.Server.MaxEventStreamsPerSession, c.Server.MaxEventStreams = 2, 3
	}})
	other := r.env.NewBrowser()
	other.Login(t, r.url, harness.UserName, harness.UserPassword)
	refused := func(b *harness.Browser, want int) {
		t.Helper()
		es := harness.OpenEvents(t, streamClient(b), harness.EventsRequest(t, r.url+"/bff/events"))
		if es.Resp.StatusCode != want || es.Resp.Header.Get("Retry-After") == "" {
			t.Errorf("GET /bff/events = %d (Retry-After %q), want %d with Retry-After", es.Resp.StatusCode, es.Resp.Header.Get("Retry-After"), want)
		}
	}
	first := openEvents(t, r.b, r.url)
	openEvents(t, r.b, r.url)
	refused(r.b, http.StatusTooManyRequests)
	openEvents(t, other, r.url)
	refused(other, http.StatusServiceUnavailable)
	first.Resp.Body.Close()
	for i := 0; ; i++ { // the server notices the closed stream shortly
		es := harness.OpenEvents(t, streamClient(other), harness.EventsRequest(t, r.url+"/bff/events"))
		if es.Resp.StatusCode == http.StatusOK {
			break
		}
		if i == 100 {
			t.Fatalf("GET /bff/events after a stream closed = %d, want 200", es.Resp.StatusCode)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestEventsUserCap: one user's sessions together are capped, so that an
// account signing in again and again cannot take the whole instance; a
// refused user does not stop anyone else.
func TestEventsUserCap(t *testing.T) {
	r := newRig(t, harness.Options{Config: func(c *bff.Config) {
		c.Server.MaxEventStreamsPerSession, c.Server.MaxEventStreamsPerUser = 2, 3
	}})
	second := r.env.NewBrowser() // alice again, another session
	second.Login(t, r.url, harness.UserName, harness.UserPassword)
	openEvents(t, r.b, r.url)
	openEvents(t, r.b, r.url)
	openEvents(t, second, r.url)
	es := harness.OpenEvents(t, streamClient(second), harness.EventsRequest(t, r.url+"/bff/events"))
	if es.Resp.StatusCode != http.StatusTooManyRequests || es.Resp.Header.Get("Retry-After") == "" {
		t.Errorf("alice's 4th stream (her second session's 2nd) = %d, want 429 with Retry-After", es.Resp.StatusCode)
	}
	bob := r.env.NewBrowser()
	bob.Login(t, r.url, harness.OtherName, harness.OtherPass)
	openEvents(t, bob, r.url)
}

// TestEventsDrain: Drain (SIGTERM) ends every stream, so the shutdown does
// not wait for them, and refuses new ones with 503.
func TestEventsDrain(t *testing.T) {
	r := newRig(t, harness.Options{})
	es := openEvents(t, r.b, r.url)
	es.Want(t, "session")
	r.env.Default.Server.Drain()
	if !es.Ended(5 * time.Second) {
		t.Fatal("the stream is open 5s after Drain")
	}
	again := harness.OpenEvents(t, streamClient(r.b), harness.EventsRequest(t, r.url+"/bff/events"))
	if again.Resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("GET /bff/events while draining = %d, want 503", again.Resp.StatusCode)
	}
}
