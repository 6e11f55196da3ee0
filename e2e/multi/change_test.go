package multi

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/bff-project/bff/bff"
	"github.com/bff-project/bff/e2e/harness"
)

// idleOf is /bff/user's session.idle_expires_at.
func (c *cluster) idleOf(t *testing.T, base, cookie string) time.Time {
	t.Helper()
	r := c.wantStatus(t, http.MethodGet, base+"/bff/user", cookie, http.StatusOK, "")
	var u struct {
		Session struct {
			IdleExpiresAt time.Time `json:"idle_expires_at"`
		} `json:"session"`
	}
	if err := json.Unmarshal([]byte(r.body), &u); err != nil || u.Session.IdleExpiresAt.IsZero() {
		t.Fatalf("%v: no session.idle_expires_at (%v)", r, err)
	}
	return u.Session.IdleExpiresAt
}

// TestChangeSeenByCachingInstance: B and C hold a session in their
// near-caches (they served it and read it again without Redis); A changes
// the record (a proxied call there records the visit, moving the idle
// expiry); the next request to B and to C shows the change (on an
// overloaded machine, within invalidationBound: see there).
func TestChangeSeenByCachingInstance(t *testing.T) {
	eachStore(t, testChangeSeenByCachingInstance)
}

func testChangeSeenByCachingInstance(t *testing.T, st shared) {
	const idle = 10 * time.Second // the visit is recorded once per idle/10
	c := startCluster(t, clusterOptions{
		store:  st,
		config: func(cfg *bff.Config) { cfg.Session.IdleTimeout = idle },
	})
	a, b, cc := c.inst[0], c.inst[1], c.inst[2]
	_, cookie := c.login(t, a.URL, harness.UserName, harness.UserPassword)
	first := c.idleOf(t, a.URL, cookie)
	for _, in := range []*harness.Instance{b, cc} {
		for range 3 { // the first read fills the near-cache; the next are served from it
			if got := c.idleOf(t, in.URL, cookie); !got.Equal(first) {
				t.Fatalf("%s: idle_expires_at = %v, want %v (as on A)", in.URL, got, first)
			}
		}
	}

	time.Sleep(idle/10 + 100*time.Millisecond)
	checkAPI(t, c.call(t, http.MethodGet, a.URL+"/api/orders/whoami", cookie), "orders-api")
	moved := c.idleOf(t, a.URL, cookie)
	if !moved.After(first) {
		t.Fatalf("A: idle_expires_at after a visit = %v, want later than %v", moved, first)
	}
	for _, in := range []*harness.Instance{b, cc} {
		start, stale := time.Now(), 0
		for got := c.idleOf(t, in.URL, cookie); !got.Equal(moved); got = c.idleOf(t, in.URL, cookie) {
			if stale++; time.Since(start) > invalidationBound {
				t.Fatalf("%s after the change on A: idle_expires_at = %v, want %v (the stale copy was still served after %v)", in.URL, got, moved, invalidationBound)
			}
			time.Sleep(time.Millisecond)
		}
		if stale > 0 {
			t.Logf("%s: %d answer(s) before the change arrived", in.URL, stale)
		}
	}
}
