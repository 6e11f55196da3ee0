package multi

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/bff-project/bff/bff"
	"github.com/bff-project/bff/bff/config"
	"github.com/bff-project/bff/e2e/harness"
	"github.com/bff-project/bff/session/redistest"
)

// TestStreamEndsWhenSessionEndsElsewhere: an event stream open on B ends
// when its session is signed out on A, within the stream check interval.
func TestStreamEndsWhenSessionEndsElsewhere(t *testing.T) {
	ticks := httptest.NewServer(harness.TickUpstream())
	t.Cleanup(ticks.Close)
	const interval = 200 * time.Millisecond
	c := startCluster(t, clusterOptions{redisURL: redistest.Server(t), config: func(cfg *bff.Config) {
		cfg.APIs = append(cfg.APIs, config.APIConfig{Prefix: "/api/ticks/", Upstream: ticks.URL})
		cfg.SweepInterval = interval
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
	stream.WantEnded(t, 10*interval)
	t.Logf("B's stream ended %v after the logout on A (check interval %v)", time.Since(start).Round(time.Millisecond), interval)
}
