package multi

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/bff-project/bff/bff"
	"github.com/bff-project/bff/bff/config"
	"github.com/bff-project/bff/e2e/harness"
)

// TestStreamEndsWhenSessionEndsElsewhere: an API stream (server-sent
// events from an upstream) open on B ends when its session is signed out
// on A, by the session's ended event: the sweep, which used to be the
// only way (every 10s), is an hour here.
func TestStreamEndsWhenSessionEndsElsewhere(t *testing.T) {
	eachStore(t, testStreamEndsWhenSessionEndsElsewhere)
}

func testStreamEndsWhenSessionEndsElsewhere(t *testing.T, st shared) {
	ticks := httptest.NewServer(harness.TickUpstream())
	t.Cleanup(ticks.Close)
	c := startCluster(t, clusterOptions{store: st, config: func(cfg *bff.Config) {
		cfg.APIs = append(cfg.APIs, config.APIConfig{Prefix: "/api/ticks/", Upstream: ticks.URL})
		eventsOnly(cfg)
	}})
	a, b := c.inst[0], c.inst[1]
	_, cookie := c.login(t, a.URL, harness.UserName, harness.UserPassword)

	streamClient := &http.Client{Transport: c.client.Transport} // no overall timeout: the stream is long
	stream := harness.OpenStream(t, streamClient, b.URL+"/api/ticks/", http.Header{
		"Accept": {"text/event-stream"},
		"Cookie": {(&http.Cookie{Name: sessionCookie, Value: cookie}).String()},
	})
	stream.Next(t)
	stream.Next(t)

	c.wantStatus(t, http.MethodPost, a.URL+"/bff/logout", cookie, http.StatusFound, "")
	start := time.Now()
	stream.WantEnded(t, 5*time.Second)
	t.Logf("B's stream ended %v after the logout on A", time.Since(start).Round(time.Millisecond))
}
