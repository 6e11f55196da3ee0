package multi

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bff-project/bff/e2e/harness"
	"github.com/bff-project/bff/session/redistest"
)

// Phases of an outage, as the test goroutine moves through them. A request
// is judged by the phase it started and ended in.
const (
	phaseUp        = iota // Redis serving
	phaseGoingDown        // taking it down
	phaseDownEarly        // down, for less than nearCacheNotices
	phaseDown             // down
	phaseComingUp         // brought back, not yet ready everywhere
	phaseRecovered        // every instance's /readyz answered 200
)

var phaseNames = []string{"up", "going down", "down (early)", "down", "coming up", "recovered"}

// nearCacheNotices bounds how long an instance serves sessions from its
// near-cache after Redis stopped answering (redisstore: a heartbeat every
// 50ms, trusted for 150ms). Until then an answer may be a 200 from memory:
// a hung Redis cannot change a session meanwhile; a killed one closes the
// connections, which flushes the near-cache at once.
const nearCacheNotices = 500 * time.Millisecond

// Bounds of the outage test.
const (
	// maxLatency bounds every answer, in an outage too: the store's
	// timeout (500ms by default, one retry) must answer 503 rather than
	// hang.
	maxLatency = 3 * time.Second
	// recoveryWithin is how long the instances may take to be ready after
	// Redis is back.
	recoveryWithin = 5 * time.Second
	loadWorkers    = 6
	// downFor is how long Redis stays down: long enough for each worker
	// to send a few requests that start and end in the outage (after
	// nearCacheNotices), when each takes up to two store timeouts.
	downFor = 3500 * time.Millisecond
)

// TestRedisOutage runs a load of /bff/user and proxied calls on three
// instances while Redis goes down and comes back. Before: only 200s.
// While down: only 503s with a JSON error body, each within maxLatency,
// and /readyz 503. After: /readyz 200 and 200s again without anyone's
// help, and the session as it was, when Redis kept its data. Never a 500,
// a hang or a dropped connection.
func TestRedisOutage(t *testing.T) {
	for _, tc := range []outageTest{
		{
			name: "paused (hung host)",
			redis: func(t *testing.T) (string, func(), func()) {
				in := redistest.Start(t)
				return in.URL, in.Pause, in.Resume
			},
			kept: true,
		},
		{
			name: "killed and restarted with persistence",
			redis: func(t *testing.T) (string, func(), func()) {
				in := redistest.StartPersistent(t)
				return in.URL, in.Stop, in.Restart
			},
			kept: true,
		},
		{
			// The data is lost: sessions end (401), cleanly.
			name: "killed and restarted empty",
			redis: func(t *testing.T) (string, func(), func()) {
				in := redistest.Start(t)
				return in.URL, in.Stop, in.Restart
			},
			kept: false,
		},
	} {
		t.Run(tc.name, tc.run)
	}
}

type outageTest struct {
	name string
	// redis starts a private Redis and returns its URL, and how to take
	// it down and bring it back.
	redis func(t *testing.T) (url string, down, up func())
	// kept reports whether Redis keeps its data across the outage.
	kept bool
}

// sample is one request of the load.
type sample struct {
	from, to int // phases at start and end
	result
}

func (tc outageTest) run(t *testing.T) {
	redisURL, down, up := tc.redis(t)
	c := startCluster(t, clusterOptions{store: shared{kind: "redis", url: redisURL}})
	_, cookie := c.login(t, c.inst[0].URL, harness.UserName, harness.UserPassword)
	sessionID := c.user(t, c.inst[0].URL, cookie).Session.ID
	for _, in := range c.inst {
		checkAPI(t, c.call(t, http.MethodGet, in.URL+"/api/orders/whoami", cookie), "orders-api")
	}
	if t.Failed() {
		return
	}

	var phase atomic.Int32
	stop := c.load(t, cookie, &phase)

	time.Sleep(600 * time.Millisecond)
	phase.Store(phaseGoingDown)
	down()
	phase.Store(phaseDownEarly)
	downAt := time.Now()
	time.Sleep(nearCacheNotices)
	phase.Store(phaseDown)
	for _, in := range c.inst {
		r := c.call(t, http.MethodGet, in.URL+"/readyz", "")
		if r.status != http.StatusServiceUnavailable || !isJSON(r) || r.took > maxLatency {
			t.Errorf("Redis down: %v; want 503 JSON within %v", r, maxLatency)
		}
	}
	time.Sleep(time.Until(downAt.Add(downFor)))

	phase.Store(phaseComingUp)
	up()
	upAt := time.Now()
	for _, in := range c.inst {
		c.waitReady(t, in.URL, recoveryWithin-time.Since(upAt))
	}
	t.Logf("ready on every instance %v after Redis came back", time.Since(upAt).Round(time.Millisecond))
	phase.Store(phaseRecovered)
	time.Sleep(800 * time.Millisecond)
	all := stop()

	tc.check(t, all)
	for _, in := range c.inst {
		if tc.kept {
			if u := c.user(t, in.URL, cookie); u.Session.ID != sessionID {
				t.Errorf("after the outage, session on %s = %q, want %q", in.URL, u.Session.ID, sessionID)
			}
			checkAPI(t, c.call(t, http.MethodGet, in.URL+"/api/orders/whoami", cookie), "orders-api")
		} else {
			c.wantStatus(t, http.MethodGet, in.URL+"/bff/user", cookie, http.StatusUnauthorized, "unauthenticated")
		}
	}
	if logs := c.env.Logs.String(); strings.Contains(logs, `"status":500`) || strings.Contains(logs, "panic") {
		t.Errorf("BFF logs mention a 500 or a panic:\n%s", grepLines(logs, `"status":500`, "panic"))
	}
}

// load has loadWorkers goroutines call /bff/user and a proxied route in
// turn, round robin over the instances, until stop is called; stop
// returns every sample. The load also stops when t ends, should the test
// fail before calling stop.
func (c *cluster) load(t *testing.T, cookie string, phase *atomic.Int32) (stop func() []sample) {
	var (
		mu      sync.Mutex
		samples []sample
		done    = make(chan struct{})
		wg      sync.WaitGroup
	)
	paths := []string{"/bff/user", "/api/orders/whoami"}
	for w := range loadWorkers {
		wg.Go(func() {
			for i := w; ; i++ {
				select {
				case <-done:
					return
				default:
				}
				u := c.inst[i%len(c.inst)].URL + paths[(i/len(c.inst))%len(paths)]
				from := int(phase.Load())
				r := c.send(context.Background(), http.MethodGet, u, cookie)
				s := sample{from: from, to: int(phase.Load()), result: r}
				mu.Lock()
				samples = append(samples, s)
				mu.Unlock()
				time.Sleep(10 * time.Millisecond)
			}
		})
	}
	var once sync.Once
	halt := func() {
		once.Do(func() { close(done) })
		wg.Wait()
	}
	t.Cleanup(halt)
	return func() []sample {
		halt()
		mu.Lock()
		defer mu.Unlock()
		return samples
	}
}

// check judges every sample of the load.
func (tc outageTest) check(t *testing.T, all []sample) {
	t.Helper()
	perPhase := make([]int, len(phaseNames))
	var slowest time.Duration
	reported := 0
	report := func(s sample, why string) {
		if reported++; reported <= 10 {
			t.Errorf("%s → %s: %v: %s", phaseNames[s.from], phaseNames[s.to], s.result, why)
		}
	}
	after := http.StatusOK // when Redis is back
	if !tc.kept {
		after = http.StatusUnauthorized
	}
	for _, s := range all {
		if s.from == s.to {
			perPhase[s.from]++
		}
		if s.from == phaseDown && s.to == phaseDown {
			slowest = max(slowest, s.took)
		}
		switch {
		case s.err != nil:
			report(s, "no answer")
			continue
		case s.took > maxLatency:
			report(s, fmt.Sprintf("slower than %v", maxLatency))
		case s.status == http.StatusServiceUnavailable:
			if !isJSON(s.result) || s.errorCode() != "session_store_unavailable" {
				report(s, `want a JSON body {"error":"session_store_unavailable",…}`)
			}
		case s.status >= 500:
			report(s, "server error")
		}
		var want []int
		switch {
		case s.from == phaseUp && s.to == phaseUp:
			want = []int{http.StatusOK}
		case s.from == phaseDown && s.to == phaseDown:
			want = []int{http.StatusServiceUnavailable}
		case s.from == phaseRecovered:
			want = []int{after}
		default:
			want = []int{http.StatusOK, http.StatusServiceUnavailable, after}
		}
		if !slices.Contains(want, s.status) {
			report(s, fmt.Sprintf("want status in %v", want))
		}
	}
	if reported > 10 {
		t.Errorf("… %d problems in all", reported)
	}
	t.Logf("%d requests; per phase %v; slowest while down %v", len(all), perPhase, slowest.Round(time.Millisecond))
	for _, p := range []int{phaseUp, phaseDown, phaseRecovered} {
		if perPhase[p] < loadWorkers/2 {
			t.Errorf("only %d requests started and ended while %s, want at least %d", perPhase[p], phaseNames[p], loadWorkers/2)
		}
	}
}

func isJSON(r result) bool {
	return strings.HasPrefix(r.contentType, "application/json") && r.errorCode() != ""
}

// grepLines returns the lines of s that contain any of subs.
func grepLines(s string, subs ...string) string {
	var out []string
	for _, line := range strings.Split(s, "\n") {
		if len(out) == 10 {
			out = append(out, "…")
			break
		}
		for _, sub := range subs {
			if strings.Contains(line, sub) {
				out = append(out, line)
				break
			}
		}
	}
	return strings.Join(out, "\n")
}
