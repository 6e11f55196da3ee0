package bff_test

import (
	"bufio"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/bff-project/bff/bff"
	"github.com/bff-project/bff/e2e/harness"
)

// tickUpstream streams a server-sent event every 50ms until the request
// ends.
func tickUpstream() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		for i := 0; ; i++ {
			fmt.Fprintf(w, "data: %d\n\n", i)
			http.NewResponseController(w).Flush()
			select {
			case <-r.Context().Done():
				return
			case <-time.After(50 * time.Millisecond):
			}
		}
	}
}

// eventStream is an open event stream through the BFF; ended is closed
// when it stops delivering events.
type eventStream struct {
	events chan string
	ended  chan struct{}
}

func openEventStream(t *testing.T, b *harness.Browser, u string) *eventStream {
	t.Helper()
	return openStream(t, b.Client, u, http.Header{"Accept": {"text/event-stream"}})
}

// openStream opens a streamed answer with hdr (and X-CSRF) on client.
func openStream(t *testing.T, client *http.Client, u string, hdr http.Header) *eventStream {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header = hdr.Clone()
	req.Header.Set("X-CSRF", "1")
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s = %d, want 200", u, resp.StatusCode)
	}
	es := &eventStream{events: make(chan string, 1000), ended: make(chan struct{})}
	go func() {
		defer close(es.ended)
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			if data, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
				es.events <- data
			}
		}
	}()
	es.next(t)
	return es
}

func (es *eventStream) next(t *testing.T) {
	t.Helper()
	select {
	case <-es.events:
	case <-es.ended:
		t.Fatal("the stream ended, want an event")
	case <-time.After(5 * time.Second):
		t.Fatal("no event within 5s")
	}
}

func (es *eventStream) wantEnded(t *testing.T, within time.Duration) {
	t.Helper()
	select {
	case <-es.ended:
	case <-time.After(within):
		t.Fatalf("the stream was still open %v after its session ended", within)
	}
}

// TestStreamsEndWithSession: an event stream or WebSocket authorised by a
// session is closed when that session ends, here at once, and other
// sessions' streams go on.
func TestStreamsEndWithSession(t *testing.T) {
	ticks := httptest.NewServer(tickUpstream())
	t.Cleanup(ticks.Close)
	upgraded := make(chan http.Header, 10)
	ws := httptest.NewServer(wsEchoUpstream(upgraded))
	t.Cleanup(ws.Close)
	r := newRig(t, harness.Options{Config: withConfig(
		addRoute(bff.APIConfig{Prefix: "/api/ticks/", Upstream: ticks.URL}),
		addRoute(bff.APIConfig{Prefix: "/api/ws/", Upstream: ws.URL, StripPrefix: true}),
		// Long, so that only the at-once path can pass within the
		// test's bounds.
		func(c *bff.Config) { c.StreamCheckInterval = time.Hour },
	)})
	other := r.env.NewBrowser()
	other.Login(t, r.url, harness.UserName, harness.UserPassword)

	mine := openEventStream(t, r.b, r.url+"/api/ticks/")
	// A streamed answer the client did not ask for as an event stream (a
	// fetch() reading a body as it comes) is as long-lived.
	plain := openStream(t, r.b.Client, r.url+"/api/ticks/", http.Header{"Accept": {"*/*"}})
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
	mine.wantEnded(t, 2*time.Second)
	plain.wantEnded(t, 2*time.Second)
	conn.SetReadDeadline(time.Now().Add(2 * time.Second))
	if n, err := conn.Read(make([]byte, 1)); err != io.EOF {
		t.Errorf("WebSocket read after logout = %d bytes, %v; want EOF (closed)", n, err)
	}
	theirs.next(t) // the other session's stream goes on
	theirs.next(t)
}

// TestAnonymousStreamNotBoundToStaleCookie: on a user-optional route, a
// call with the cookie of a session that is gone passes anonymously, and
// the periodic check of ended sessions does not cut it.
func TestAnonymousStreamNotBoundToStaleCookie(t *testing.T) {
	ticks := httptest.NewServer(tickUpstream())
	t.Cleanup(ticks.Close)
	r := newRig(t, harness.Options{Config: withConfig(
		addRoute(bff.APIConfig{Prefix: "/api/ticks/", Upstream: ticks.URL, Token: "user-optional"}),
		func(c *bff.Config) { c.StreamCheckInterval = 50 * time.Millisecond },
	)})
	stale := r.sessionCookie(t)
	if resp, body := r.call(t, http.MethodPost, "/bff/logout", nil, nil); resp.StatusCode != http.StatusFound {
		t.Fatalf("POST /bff/logout = %d %s", resp.StatusCode, body)
	}
	es := openStream(t, &http.Client{Transport: r.b.Client.Transport}, r.url+"/api/ticks/",
		http.Header{"Accept": {"text/event-stream"}, "Cookie": {"__Host-bff=" + stale}})
	for range 10 { // 500ms: ten rounds of the check
		es.next(t)
	}
}
