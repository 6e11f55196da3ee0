package multi

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bff-project/bff/bff"
	"github.com/bff-project/bff/e2e/harness"
	"github.com/bff-project/bff/session/pgtest"
	"github.com/bff-project/bff/session/redistest"
)

// sessionCookie is the BFF's session cookie (DESIGN.md, "Cookies").
const sessionCookie = "__Host-bff"

// requestTimeout bounds every request a test sends, so that a hang fails
// the test naming the request instead of stalling the suite.
const requestTimeout = 15 * time.Second

// cluster is the development provider, the sample APIs and three BFF
// instances (A is the harness's default one, whose back-channel URI the
// provider knows) on their own ports, sharing one Redis.
type cluster struct {
	env  *harness.Env
	inst []*harness.Instance // A, B, C
	// client sends requests with the cookie a test names and no jar; it
	// is safe for concurrent use.
	client *http.Client
}

// shared is the store the instances of a cluster share.
type shared struct {
	// kind is "redis" or "postgres".
	kind string
	// url is the Redis URL, or the PostgreSQL URL whose search_path is a
	// schema of the test's own (pgtest.Schema).
	url string
}

// redisStore is the Redis of the tests (BFF_TEST_REDIS_URL or a private
// redis-server).
func redisStore(t *testing.T) shared { return shared{kind: "redis", url: redistest.Server(t)} }

// postgresStore is a schema of the test's own on the test PostgreSQL.
func postgresStore(t *testing.T) shared { return shared{kind: "postgres", url: pgtest.Schema(t)} }

// eachStore runs test once per shared store, as subtests "redis" and
// "postgres".
func eachStore(t *testing.T, test func(t *testing.T, st shared)) {
	for _, st := range []struct {
		name string
		make func(*testing.T) shared
	}{{"redis", redisStore}, {"postgres", postgresStore}} {
		t.Run(st.name, func(t *testing.T) { test(t, st.make(t)) })
	}
}

// clusterOptions describe a cluster.
type clusterOptions struct {
	// store is what the instances share. Required.
	store shared
	// accessTokenLifetime at the provider; 0 means the harness default.
	accessTokenLifetime time.Duration
	// config, if set, changes every instance's config after the Redis
	// settings are applied.
	config func(*bff.Config)
}

var prefixSeq atomic.Int64

// startCluster starts a cluster whose instances keep their keys under a
// prefix of their own, removed again when t ends, and waits until every
// instance is ready.
func startCluster(t testing.TB, o clusterOptions) *cluster {
	t.Helper()
	prefix := fmt.Sprintf("bfftest:%d:%d:%s:", os.Getpid(), prefixSeq.Add(1), strings.ReplaceAll(t.Name(), "/", "."))
	mutate := func(c *bff.Config) {
		c.Session.Store = o.store.kind
		if o.store.kind == "redis" {
			c.Session.RedisURL = o.store.url
			c.Session.RedisPrefix = prefix
		} else {
			c.Session.PostgresURL = o.store.url
		}
		if o.config != nil {
			o.config(c)
		}
	}
	if o.store.kind == "redis" {
		t.Cleanup(func() { dropKeys(t, o.store.url, prefix) })
	}
	env := harness.Start(t, harness.Options{Config: mutate, AccessTokenLifetime: o.accessTokenLifetime})
	c := &cluster{env: env, inst: []*harness.Instance{env.Default}, client: newClient()}
	t.Cleanup(c.client.CloseIdleConnections)
	for _, name := range []string{"b.db", "c.db"} {
		c.inst = append(c.inst, env.StartInstance(filepath.Join(t.TempDir(), name), mutate))
	}
	for _, in := range c.inst {
		if got := in.Config.Session.Store; got != o.store.kind {
			t.Fatalf("instance %s session store = %q, want %s", in.URL, got, o.store.kind)
		}
		c.waitReady(t, in.URL, 10*time.Second)
	}
	return c
}

// dropKeys deletes what a test left under prefix, so that a shared Redis
// (BFF_TEST_REDIS_URL) does not fill up.
func dropKeys(t testing.TB, redisURL, prefix string) {
	redistest.DropPrefix(t, redisURL, prefix)
}

// newClient returns a client that trusts the test servers, has no cookie
// jar and follows no redirects.
func newClient() *http.Client {
	return &http.Client{
		Timeout: requestTimeout,
		Transport: &http.Transport{
			TLSClientConfig:     &tls.Config{InsecureSkipVerify: true},
			MaxIdleConnsPerHost: 64,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// result is one answer (or transport failure) seen by a test.
type result struct {
	method, url string
	status      int
	contentType string
	body        string
	took        time.Duration
	err         error
}

func (r result) String() string {
	if r.err != nil {
		return fmt.Sprintf("%s %s: %v (after %v)", r.method, r.url, r.err, r.took.Round(time.Millisecond))
	}
	body := strings.TrimSpace(r.body)
	if len(body) > 200 {
		body = body[:200] + "…"
	}
	return fmt.Sprintf("%s %s = %d %s %q (after %v)", r.method, r.url, r.status, r.contentType, body, r.took.Round(time.Millisecond))
}

// errorCode is the "error" member of a JSON error body, or "" when the body
// is not one.
func (r result) errorCode() string {
	var e struct {
		Error string `json:"error"`
	}
	if json.Unmarshal([]byte(r.body), &e) != nil {
		return ""
	}
	return e.Error
}

// send sends method u as the SPA does (X-CSRF: 1), with only the session
// cookie given (none when empty). It never fails the test, so goroutines
// may call it.
func (c *cluster) send(ctx context.Context, method, u, cookie string) result {
	r := result{method: method, url: u}
	req, err := http.NewRequestWithContext(ctx, method, u, nil)
	if err != nil {
		r.err = err
		return r
	}
	req.Header.Set("X-CSRF", "1")
	if cookie != "" {
		req.AddCookie(&http.Cookie{Name: sessionCookie, Value: cookie})
	}
	start := time.Now()
	resp, err := c.client.Do(req)
	if err != nil {
		r.took, r.err = time.Since(start), err
		return r
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	r.took, r.err = time.Since(start), err
	r.status, r.contentType, r.body = resp.StatusCode, resp.Header.Get("Content-Type"), string(b)
	return r
}

// call is send for the test goroutine: a transport failure fails t.
func (c *cluster) call(t testing.TB, method, u, cookie string) result {
	t.Helper()
	r := c.send(context.Background(), method, u, cookie)
	if r.err != nil {
		t.Fatal(r)
	}
	return r
}

// wantStatus fails t unless method u answers want (with a JSON error body
// naming code, when code is not empty).
func (c *cluster) wantStatus(t testing.TB, method, u, cookie string, want int, code string) result {
	t.Helper()
	r := c.call(t, method, u, cookie)
	if r.status != want {
		t.Errorf("%v; want status %d", r, want)
	} else if code != "" && r.errorCode() != code {
		t.Errorf("%v; want error %q", r, code)
	}
	return r
}

// invalidationBound is how long a change may take to reach an instance
// that holds the session in its Redis near-cache: Redis sends the
// invalidation while it carries out the change, and the instance reads it
// within microseconds, but on an overloaded machine (CI runs every test
// package at once under the race detector) its reading goroutine can wait
// for a CPU for milliseconds. PostgreSQL has no such window.
const invalidationBound = 250 * time.Millisecond

// wantSoon is wantStatus for the first request after a change made on
// another instance: answers the change has not reached yet (a near-cache
// whose invalidation is on its way) are retried within
// invalidationBound, and each is logged.
func (c *cluster) wantSoon(t testing.TB, method, u, cookie string, want int, code string) result {
	t.Helper()
	start := time.Now()
	for stale := 0; ; stale++ {
		r := c.call(t, method, u, cookie)
		if r.status == want && (code == "" || r.errorCode() == code) {
			if stale > 0 {
				t.Logf("%s %s: %d answer(s) before the change arrived, %v after the first request", method, u, stale, time.Since(start).Round(time.Microsecond))
			}
			return r
		}
		if time.Since(start) > invalidationBound {
			t.Errorf("%v; want status %d (error %q) within %v of the change", r, want, code, invalidationBound)
			return r
		}
		time.Sleep(time.Millisecond)
	}
}

// user is /bff/user's answer.
type user struct {
	Sub     string         `json:"sub"`
	Claims  map[string]any `json:"claims"`
	Session struct {
		ID            string    `json:"id"`
		IdleExpiresAt time.Time `json:"idle_expires_at"`
	} `json:"session"`
}

// user fetches /bff/user from base with cookie and fails t unless it is a
// 200 for the test user.
func (c *cluster) user(t testing.TB, base, cookie string) user {
	t.Helper()
	r := c.call(t, http.MethodGet, base+"/bff/user", cookie)
	var u user
	if r.status != http.StatusOK {
		t.Fatalf("%v; want 200", r)
	}
	if err := json.Unmarshal([]byte(r.body), &u); err != nil {
		t.Fatalf("%v: not JSON: %v", r, err)
	}
	if u.Session.ID == "" || u.Sub == "" {
		t.Fatalf("%v: no sub or session id", r)
	}
	return u
}

// login signs user in through instance base with a new browser and returns
// the browser and its session cookie.
func (c *cluster) login(t testing.TB, base, name, pass string) (*harness.Browser, string) {
	t.Helper()
	b := c.env.NewBrowser()
	b.Client.Timeout = requestTimeout
	b.Login(t, base, name, pass)
	cookie := b.Cookie(base, sessionCookie)
	if cookie == "" {
		t.Fatalf("no %s cookie after signing in on %s", sessionCookie, base)
	}
	return b, cookie
}

// waitReady polls base's /readyz until it answers 200.
func (c *cluster) waitReady(t testing.TB, base string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		r := c.send(context.Background(), http.MethodGet, base+"/readyz", "")
		if r.err == nil && r.status == http.StatusOK {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not ready within %v: last %v", base, within, r)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// apiAnswer is the sample API's answer.
type apiAnswer struct {
	API      string   `json:"api"`
	Sub      string   `json:"sub"`
	Audience []string `json:"audience"`
}

// checkAPI fails t unless r is the sample API's 200 for the test user with
// a token for audience.
func checkAPI(t testing.TB, r result, audience string) {
	t.Helper()
	if r.err != nil || r.status != http.StatusOK {
		t.Errorf("%v; want 200 from the sample API", r)
		return
	}
	var a apiAnswer
	if err := json.Unmarshal([]byte(r.body), &a); err != nil {
		t.Errorf("%v: not JSON: %v", r, err)
		return
	}
	if a.Sub != harness.UserSubject || !slices.Contains(a.Audience, audience) {
		t.Errorf("%v: sub %q audience %q, want %q and %q", r, a.Sub, a.Audience, harness.UserSubject, audience)
	}
}

// postLogoutToken POSTs a back-channel logout token to base.
func (c *cluster) postLogoutToken(t testing.TB, base, token string) result {
	t.Helper()
	u := base + "/bff/backchannel-logout"
	r := result{method: http.MethodPost, url: u}
	start := time.Now()
	resp, err := c.client.PostForm(u, url.Values{"logout_token": {token}})
	if err != nil {
		t.Fatalf("POST %s: %v", u, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	r.status, r.contentType, r.body, r.took = resp.StatusCode, resp.Header.Get("Content-Type"), string(b), time.Since(start)
	return r
}
