package multi

import (
	"context"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/bff-project/bff/bff"
	"github.com/bff-project/bff/e2e/harness"
	"github.com/bff-project/bff/session/redistest"
)

// eventsOnly makes the sweep (the safety net that re-reads sessions) an
// hour long, so that what a test sees within its bounds came by events.
func eventsOnly(cfg *bff.Config) { cfg.SweepInterval = time.Hour }

// openEvents opens /bff/events on base with cookie, as the SPA's
// EventSource does, and waits for the session event.
func (c *cluster) openEvents(t testing.TB, base, cookie string) *harness.Events {
	t.Helper()
	req := harness.EventsRequest(t, base+"/bff/events")
	req.AddCookie(&http.Cookie{Name: sessionCookie, Value: cookie})
	es := harness.OpenEvents(t, &http.Client{Transport: c.client.Transport}, req)
	if es.Resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s/bff/events = %d, want 200", base, es.Resp.StatusCode)
	}
	es.Want(t, "session")
	return es
}

// endedWithin waits for es's ended event, checks its reason and that the
// stream then closes, and returns how long it took since start. within is
// generous: it fails an instance that waits for the sweep, not a slow
// machine.
func endedWithin(t testing.TB, es *harness.Events, reason string, start time.Time) time.Duration {
	t.Helper()
	var got struct {
		Reason string `json:"reason"`
	}
	es.Want(t, "ended").Decode(t, &got)
	took := time.Since(start)
	if got.Reason != reason {
		t.Errorf("ended reason = %q, want %q", got.Reason, reason)
	}
	if !es.Ended(5 * time.Second) {
		t.Error("the stream stayed open after ended")
	}
	return took
}

// TestEventsAcrossInstances: a session ended on A, by each way, reaches its
// event stream on B as ended with the reason, and B closes it; a
// keepalive on A reaches B's stream as the new idle end. All by events:
// the sweep is an hour.
func TestEventsAcrossInstances(t *testing.T) { eachStore(t, testEventsAcrossInstances) }

func testEventsAcrossInstances(t *testing.T, st shared) {
	c := startCluster(t, clusterOptions{store: st, config: eventsOnly})
	a, b := c.inst[0], c.inst[1]
	_, keeper := c.login(t, a.URL, harness.UserName, harness.UserPassword)

	tests := []struct {
		name   string
		end    func(t *testing.T, cookie string, u user)
		reason string
	}{
		{"logout on A", func(t *testing.T, cookie string, _ user) {
			c.wantStatus(t, http.MethodPost, a.URL+"/bff/logout", cookie, http.StatusFound, "")
		}, "logout"},
		{"session manager on A", func(t *testing.T, _ string, u user) {
			c.wantStatus(t, http.MethodDelete, a.URL+"/bff/sessions/"+u.Session.ID, keeper, http.StatusNoContent, "")
		}, "revoked"},
		{"back-channel to A", func(t *testing.T, _ string, u user) {
			sid, _ := u.Claims["sid"].(string)
			if err := c.env.OP.BackChannelLogout(context.Background(), "", sid); err != nil {
				t.Fatal(err)
			}
		}, "backchannel"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, cookie := c.login(t, a.URL, harness.UserName, harness.UserPassword)
			u := c.user(t, a.URL, cookie)
			es := c.openEvents(t, b.URL, cookie)
			start := time.Now()
			tt.end(t, cookie, u)
			took := endedWithin(t, es, tt.reason, start)
			t.Logf("ended on B %v after the request to A", took.Round(time.Millisecond))
			c.wantStatus(t, http.MethodGet, b.URL+"/bff/user", cookie, http.StatusUnauthorized, "unauthenticated")
		})
	}

	t.Run("keepalive on A", func(t *testing.T) {
		_, cookie := c.login(t, a.URL, harness.UserName, harness.UserPassword)
		es := c.openEvents(t, b.URL, cookie)
		before := c.user(t, b.URL, cookie)
		time.Sleep(20 * time.Millisecond) // the idle end is in ms: let it move
		c.wantStatus(t, http.MethodPost, a.URL+"/bff/keepalive", cookie, http.StatusNoContent, "")
		var got struct {
			IdleExpiresAt time.Time `json:"idle_expires_at"`
		}
		es.Want(t, "session").Decode(t, &got)
		if !got.IdleExpiresAt.After(before.Session.IdleExpiresAt) {
			t.Errorf("B's session event after keepalive on A: idle_expires_at %v, want later than %v", got.IdleExpiresAt, before.Session.IdleExpiresAt)
		}
	})
	c.user(t, b.URL, keeper)
}

// BenchmarkEndedLatency measures the time from the request that ends a
// session on instance A (the session manager's DELETE) to its ended event
// on a stream open at instance B, over Redis pub/sub, and reports p50 and
// p99 in ms. One session per iteration, signed in outside the timer:
//
//	go test -run '^$' -bench EndedLatency -benchtime 100x ./e2e/multi
func BenchmarkEndedLatency(b *testing.B) {
	c := startCluster(b, clusterOptions{store: shared{kind: "redis", url: redistest.Server(b)}, config: eventsOnly})
	a, other := c.inst[0], c.inst[1]
	_, keeper := c.login(b, a.URL, harness.UserName, harness.UserPassword)
	var took []time.Duration
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		_, cookie := c.login(b, a.URL, harness.UserName, harness.UserPassword)
		id := c.user(b, a.URL, cookie).Session.ID
		es := c.openEvents(b, other.URL, cookie)
		b.StartTimer()
		start := time.Now()
		go c.send(context.Background(), http.MethodDelete, a.URL+"/bff/sessions/"+id, keeper)
		took = append(took, endedWithin(b, es, "revoked", start))
		es.Resp.Body.Close()
	}
	b.StopTimer()
	slices.Sort(took)
	ms := func(q float64) float64 {
		return float64(took[min(int(q*float64(len(took))), len(took)-1)]) / float64(time.Millisecond)
	}
	b.ReportMetric(ms(0.50), "p50-ms")
	b.ReportMetric(ms(0.99), "p99-ms")
	b.ReportMetric(0, "ns/op")
}
