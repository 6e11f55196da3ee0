package multi

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/bff-project/bff/bff"
	"github.com/bff-project/bff/e2e/devop"
	"github.com/bff-project/bff/e2e/harness"
)

// tokenLifetime is the provider's access-token lifetime in the renewal
// test: short, so that the test can wait past an expiry twice, and long
// enough that a burst (up to 4s on an overloaded machine under the race
// detector, with cold database connections) ends before the renewed token
// is due again: the provider says expires_in in whole seconds, rounded
// down.
const tokenLifetime = 5 * time.Second

// TestRenewalOncePerSessionAcrossInstances sends many requests at once,
// spread over three instances, on one session whose token for the route
// has expired: every request succeeds and the provider sees one renewal.
// The provider answers invalid_grant to a rotated refresh token used
// again, which would end the session, so the successes and the session
// still working afterwards also show that no refresh token was used twice.
func TestRenewalOncePerSessionAcrossInstances(t *testing.T) {
	eachStore(t, testRenewalOncePerSession)
}

func testRenewalOncePerSession(t *testing.T, st shared) {
	for _, tc := range []renewalTest{
		{name: "audience by refresh", path: "/api/orders/whoami", audience: "orders-api", want: devop.Counts{Refresh: 1}},
		// Token exchange needs a live sign-in access token: renew it (one
		// refresh), then exchange it (one exchange).
		{name: "token exchange", path: "/api/profile/whoami", audience: "profile-api", want: devop.Counts{Refresh: 1, TokenExchange: 1}},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.run(t, st) })
	}
}

type renewalTest struct {
	name     string
	path     string
	audience string
	// want is the provider calls that one round must cause.
	want devop.Counts
}

// concurrency is how many requests one round sends at the same moment.
const concurrency = 50

func (tc renewalTest) run(t *testing.T, st shared) {
	c := startCluster(t, clusterOptions{
		store:               st,
		accessTokenLifetime: tokenLifetime,
		config: func(cfg *bff.Config) {
			// Renew only once a token has expired, so that the test knows
			// when renewal is due.
			cfg.OIDC.RefreshSkew = time.Millisecond
			// Fifty requests at once on a loaded machine must not meet
			// the production default's 500ms outage detection.
			cfg.Session.RedisTimeout = 3 * time.Second
			// A provider call starved of CPU (CI runs every package at
			// once) must not fail the burst: this test is about
			// coalescing, not timeouts.
			cfg.OIDC.Timeout = 15 * time.Second
		},
	})
	_, cookie := c.login(t, c.inst[0].URL, harness.UserName, harness.UserPassword)
	sessionID := c.user(t, c.inst[0].URL, cookie).Session.ID
	// The first call obtains the route's token.
	checkAPI(t, c.call(t, http.MethodGet, c.inst[1].URL+tc.path, cookie), tc.audience)
	issued := time.Now()

	for round := 1; round <= 2; round++ {
		// Every token the session holds was issued by now: wait until it
		// has expired.
		time.Sleep(time.Until(issued.Add(tokenLifetime + 300*time.Millisecond)))
		before := c.env.OP.Counts()
		results := c.burst(tc.path, cookie)
		issued = time.Now()
		after := c.env.OP.Counts()

		failed := 0
		var slowest time.Duration
		for _, r := range results {
			slowest = max(slowest, r.took)
			if r.err != nil || r.status != http.StatusOK {
				if failed++; failed <= 5 {
					t.Errorf("round %d: %v; want 200", round, r)
				}
				continue
			}
			checkAPI(t, r, tc.audience)
		}
		if failed > 0 {
			t.Errorf("round %d: %d of %d requests failed", round, failed, len(results))
		}
		t.Logf("round %d: slowest of %d requests %v", round, len(results), slowest.Round(time.Millisecond))
		got := devop.Counts{Refresh: after.Refresh - before.Refresh, TokenExchange: after.TokenExchange - before.TokenExchange}
		if got != tc.want {
			t.Errorf("round %d: provider token calls for %d concurrent requests on 3 instances = %+v, want %+v", round, concurrency, got, tc.want)
		}
		// The session survived: no rotated refresh token was refused.
		for _, in := range c.inst {
			if u := c.user(t, in.URL, cookie); u.Session.ID != sessionID {
				t.Errorf("round %d: session on %s = %q, want %q", round, in.URL, u.Session.ID, sessionID)
			}
		}
		if t.Failed() {
			return
		}
	}
}

// burst sends concurrency requests for path at the same moment, round
// robin over the instances.
func (c *cluster) burst(path, cookie string) []result {
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	defer cancel()
	results := make([]result, concurrency)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range results {
		u := c.inst[i%len(c.inst)].URL + path
		wg.Go(func() {
			<-start
			results[i] = c.send(ctx, http.MethodGet, u, cookie)
		})
	}
	close(start)
	wg.Wait()
	return results
}
