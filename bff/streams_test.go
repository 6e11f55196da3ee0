package bff_test

import (
	"encoding/base64"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/bff-project/bff/bff"
	"github.com/bff-project/bff/bff/config"
	"github.com/bff-project/bff/e2e/harness"
)

func openEventStream(t *testing.T, b *harness.Browser, u string) *harness.Stream {
	t.Helper()
	return harness.OpenStream(t, b.Client, u, http.Header{"Accept": {"text/event-stream"}})
}

// TestStreamsEndWithSession: an event stream or WebSocket authorised by a
// session is closed when that session ends, here at once, and other
// sessions' streams go on.
func TestStreamsEndWithSession(t *testing.T) {
	ticks := httptest.NewServer(harness.TickUpstream())
	t.Cleanup(ticks.Close)
	upgraded := make(chan http.Header, 10)
	ws := httptest.NewServer(wsEchoUpstream(upgraded))
	t.Cleanup(ws.Close)
	r := newRig(t, harness.Options{Config: withConfig(
		addRoute(config.APIConfig{Prefix: "/api/ticks/", Upstream: ticks.URL}),
		addRoute(config.APIConfig{Prefix: "/api/ws/", Upstream: ws.URL, StripPrefix: true}),
		// Long, so that only the at-once path can pass within the
		// test's bounds.
		func(c *bff.Config) { c.SweepInterval = time.Hour },
	)})
	other := r.env.NewBrowser()
	other.Login(t, r.url, harness.UserName, harness.UserPassword)

	mine := openEventStream(t, r.b, r.url+"/api/ticks/")
	// A streamed answer the client did not ask for as an event stream (a
	// fetch() reading a body as it comes) is as long-lived.
	plain := harness.OpenStream(t, r.b.Client, r.url+"/api/ticks/", http.Header{"Accept": {"*/*"}})
	theirs := openEventStream(t, other, r.url+"/api/ticks/")
	hdr := http.Header{"Origin": {r.url}, "Cookie": {"__Host-bff=" + r.sessionCookie(t)}}
	key := base64.StdEncoding.EncodeToString([]byte("streams-end-0123"))
	resp, _, conn := wsHandshake(t, r.url, "/api/ws/chat", key, hdr)
	defer conn.Close()
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("WebSocket handshake = %d, want 101", resp.StatusCode)
	}

	if resp, body := r.call(t, http.MethodPost, "/bff/logout", nil, nil); resp.StatusCode != http.StatusFound {
		t.Fatalf("POST /bff/logout = %d %s", resp.StatusCode, body)
	}
	mine.WantEnded(t, 2*time.Second)
	plain.WantEnded(t, 2*time.Second)
	conn.SetReadDeadline(time.Now().Add(2 * time.Second))
	if n, err := conn.Read(make([]byte, 1)); err != io.EOF {
		t.Errorf("WebSocket read after logout = %d bytes, %v; want EOF (closed)", n, err)
	}
	theirs.Next(t) // the other session's stream goes on
	theirs.Next(t)
}

// TestAnonymousStreamNotBoundToStaleCookie: on a user-optional route, a
// call with the cookie of a session that is gone passes anonymously, and
// the periodic check of ended sessions does not cut it.
func TestAnonymousStreamNotBoundToStaleCookie(t *testing.T) {
	ticks := httptest.NewServer(harness.TickUpstream())
	t.Cleanup(ticks.Close)
	r := newRig(t, harness.Options{Config: withConfig(
		addRoute(config.APIConfig{Prefix: "/api/ticks/", Upstream: ticks.URL, Token: "user-optional"}),
		func(c *bff.Config) { c.SweepInterval = 50 * time.Millisecond },
	)})
	stale := r.sessionCookie(t)
	if resp, body := r.call(t, http.MethodPost, "/bff/logout", nil, nil); resp.StatusCode != http.StatusFound {
		t.Fatalf("POST /bff/logout = %d %s", resp.StatusCode, body)
	}
	es := harness.OpenStream(t, &http.Client{Transport: r.b.Client.Transport}, r.url+"/api/ticks/",
		http.Header{"Accept": {"text/event-stream"}, "Cookie": {"__Host-bff=" + stale}})
	for range 10 { // 500ms: ten rounds of the check
		es.Next(t)
	}
}
