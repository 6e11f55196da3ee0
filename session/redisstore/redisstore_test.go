package redisstore_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/redis/rueidis"

	"github.com/bff-project/bff/session"
	"github.com/bff-project/bff/session/redisstore"
	"github.com/bff-project/bff/session/redistest"
	"github.com/bff-project/bff/session/storetest"
)

var unsafePrefixChars = regexp.MustCompile(`[^A-Za-z0-9_]+`)

// testPrefix is unique per call, so tests sharing one server (the
// BFF_TEST_REDIS_URL one) never see each other's keys.
func testPrefix(t testing.TB) string {
	b := make([]byte, 4)
	rand.Read(b)
	return "bfftest:" + unsafePrefixChars.ReplaceAllString(t.Name(), "_") + ":" + hex.EncodeToString(b) + ":"
}

// openRedis opens a store on url under a fresh prefix, which it returns,
// and on cleanup deletes the keys made under it.
func openRedis(t testing.TB, url string) (*redisstore.Store, string) {
	t.Helper()
	prefix := testPrefix(t)
	r, err := redisstore.Open(context.Background(), redisstore.Config{URL: url, Prefix: prefix})
	if err != nil {
		t.Fatalf("Open() = %v", err)
	}
	t.Cleanup(func() {
		r.Close()
		// A client of its own: storetest.Run closes the store first.
		redistest.DropPrefix(t, url, prefix)
	})
	return r, prefix
}

// keysUnder lists the keys matching a glob pattern.
func keysUnder(t testing.TB, c rueidis.Client, pattern string) []string {
	t.Helper()
	keys, err := c.Do(context.Background(), c.B().Keys().Pattern(pattern).Build()).AsStrSlice()
	if err != nil {
		t.Fatal(err)
	}
	return keys
}

func TestConformance(t *testing.T) {
	url := redistest.Server(t)
	storetest.Run(t, func(t *testing.T) scs.CtxStore {
		r, _ := openRedis(t, url)
		return r
	})
}

// TestKeyLayout checks that every key carries the prefix and that
// Redis expires each one when the data it holds expires.
func TestKeyLayout(t *testing.T) {
	url := redistest.Server(t)
	r, prefix := openRedis(t, url)
	c := redistest.Client(t, url)
	ctx := context.Background()
	now := time.Now()
	if err := r.CommitCtx(ctx, "k1", []byte("blob"), now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := r.IndexAdd(ctx, session.BySubject, "alice", "k1", now.Add(2*time.Hour)); err != nil {
		t.Fatal(err)
	}
	// A shorter-lived entry must not shorten the set's life.
	if err := r.IndexAdd(ctx, session.BySubject, "alice", "k2", now.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if _, err := r.FirstUse(ctx, "jti", now.Add(10*time.Minute)); err != nil {
		t.Fatal(err)
	}
	unlock, err := r.Lock(ctx, "L", 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()

	tests := []struct {
		name string
		key  string
		ttl  time.Duration
	}{
		{"session", prefix + "s:k1", time.Hour},
		{"index", prefix + "i:sub:alice", 2 * time.Hour},
		{"replay", prefix + "r:jti", 10 * time.Minute},
		{"lock", prefix + "l:L", 30 * time.Second},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			n, err := c.Do(ctx, c.B().Pttl().Key(tc.key).Build()).AsInt64()
			if err != nil {
				t.Fatal(err)
			}
			got := time.Duration(n) * time.Millisecond
			if got < tc.ttl-2*time.Second || got > tc.ttl {
				t.Errorf("PTTL(%s) = %v, want about %v", tc.key, got, tc.ttl)
			}
		})
	}
	// The test name with a different random suffix: anything this test
	// wrote outside its prefix would show up here.
	all := keysUnder(t, c, strings.TrimSuffix(prefix[:len(prefix)-9], ":")+"*")
	if len(all) != len(tests) {
		t.Errorf("keys = %v, want the %d above", all, len(tests))
	}
	for _, k := range all {
		if !strings.HasPrefix(k, prefix) {
			t.Errorf("key %q lacks prefix %q", k, prefix)
		}
	}
	// The index scores are expiries in Unix ms.
	score, err := c.Do(ctx, c.B().Zscore().Key(prefix+"i:sub:alice").Member("k2").Build()).AsFloat64()
	if err != nil || int64(score) != now.Add(time.Minute).UnixMilli() {
		t.Errorf("ZSCORE(k2) = %v, %v; want %d", score, err, now.Add(time.Minute).UnixMilli())
	}
}

func TestDefaultPrefix(t *testing.T) {
	url := redistest.Server(t)
	r, err := redisstore.Open(context.Background(), redisstore.Config{URL: url})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	ctx := context.Background()
	key := "default-prefix-" + testPrefix(t)
	if err := r.CommitCtx(ctx, key, []byte("x"), time.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	defer r.DeleteCtx(ctx, key)
	c := redistest.Client(t, url)
	if n, err := c.Do(ctx, c.B().Exists().Key("bff:s:"+key).Build()).AsInt64(); err != nil || n != 1 {
		t.Errorf("EXISTS bff:s:<key> = %v, %v; want 1", n, err)
	}
}

func TestCommitPastExpiryDeletes(t *testing.T) {
	r, _ := openRedis(t, redistest.Server(t))
	ctx := context.Background()
	if err := r.CommitCtx(ctx, "k", []byte("x"), time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := r.CommitCtx(ctx, "k", []byte("y"), time.Now().Add(-time.Second)); err != nil {
		t.Fatalf("Commit(past expiry) = %v, want nil", err)
	}
	if _, found, err := r.FindCtx(ctx, "k"); found || err != nil {
		t.Errorf("Find() after past-expiry Commit = %v, %v; want false, nil", found, err)
	}
}

// TestUnlockByNonOwner: a holder whose ttl lapsed must not release
// the lock the next holder took.
func TestUnlockByNonOwner(t *testing.T) {
	r, _ := openRedis(t, redistest.Server(t))
	ctx := context.Background()
	unlockA, err := r.Lock(ctx, "L", 100*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	unlockB, err := r.Lock(ctx, "L", 10*time.Second)
	if err != nil {
		t.Fatalf("Lock() after ttl lapsed = %v", err)
	}
	defer unlockB()
	unlockA() // late release by the old holder

	short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	if _, err := r.Lock(short, "L", 10*time.Second); !errors.Is(err, session.ErrLockNotObtained) {
		t.Fatalf("Lock() after a non-owner's unlock = %v, want ErrLockNotObtained", err)
	}
	unlockB()
	unlockC, err := r.Lock(ctx, "L", 10*time.Second)
	if err != nil {
		t.Fatalf("Lock() after owner's unlock = %v", err)
	}
	unlockC()
}

// TestLockLapses: a holder that crashed (never unlocks) blocks others
// only until its ttl.
func TestLockLapses(t *testing.T) {
	r, _ := openRedis(t, redistest.Server(t))
	if _, err := r.Lock(context.Background(), "L", 300*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	start := time.Now()
	unlock, err := r.Lock(ctx, "L", time.Second)
	if err != nil {
		t.Fatalf("Lock() on an abandoned lock = %v, want it once the ttl lapses", err)
	}
	unlock()
	if d := time.Since(start); d < 200*time.Millisecond {
		t.Errorf("Lock() got a held lock after %v, before its ttl", d)
	}
}

func TestLockErrorWrapsContext(t *testing.T) {
	r, _ := openRedis(t, redistest.Server(t))
	unlock, err := r.Lock(context.Background(), "L", 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err = r.Lock(ctx, "L", 10*time.Second)
	if !errors.Is(err, session.ErrLockNotObtained) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Lock() = %v, want ErrLockNotObtained and DeadlineExceeded", err)
	}
}

// outageBound is an upper bound on how long one call may take against a
// dead Redis (about two 500ms timeouts are expected); not a speed target.
const outageBound = 3 * time.Second

// storeCalls exercises every I/O method once.
var storeCalls = []struct {
	name string
	call func(ctx context.Context, r *redisstore.Store) error
}{
	{"Find", func(ctx context.Context, r *redisstore.Store) error { _, _, err := r.FindCtx(ctx, "k"); return err }},
	{"Commit", func(ctx context.Context, r *redisstore.Store) error {
		return r.CommitCtx(ctx, "k", []byte("x"), time.Now().Add(time.Hour))
	}},
	{"Delete", func(ctx context.Context, r *redisstore.Store) error { return r.DeleteCtx(ctx, "gone") }},
	{"IndexAdd", func(ctx context.Context, r *redisstore.Store) error {
		return r.IndexAdd(ctx, "sub", "u", "k", time.Now().Add(time.Hour))
	}},
	{"IndexLookup", func(ctx context.Context, r *redisstore.Store) error {
		_, err := r.IndexLookup(ctx, "sub", "u")
		return err
	}},
	{"IndexRemove", func(ctx context.Context, r *redisstore.Store) error { return r.IndexRemove(ctx, "sub", "u", "x") }},
	{"FirstUse", func(ctx context.Context, r *redisstore.Store) error {
		_, err := r.FirstUse(ctx, randomID(), time.Now().Add(time.Hour))
		return err
	}},
	{"Lock", func(ctx context.Context, r *redisstore.Store) error {
		unlock, err := r.Lock(ctx, randomID(), time.Second)
		if err == nil {
			unlock()
		}
		return err
	}},
	{"Ping", func(ctx context.Context, r *redisstore.Store) error { return r.Ping(ctx) }},
}

func randomID() string {
	b := make([]byte, 8)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// wantAllFail checks that every call fails, each within outageBound.
func wantAllFail(t *testing.T, r *redisstore.Store, state string) {
	t.Helper()
	for _, c := range storeCalls {
		start := time.Now()
		err := c.call(context.Background(), r)
		d := time.Since(start)
		t.Logf("%s() with Redis %s: %v after %v", c.name, state, err, d.Round(time.Millisecond))
		if err == nil {
			t.Errorf("%s() with Redis %s = nil error, want an error", c.name, state)
		}
		if d > outageBound {
			t.Errorf("%s() with Redis %s took %v, want under %v", c.name, state, d, outageBound)
		}
	}
}

func wantAllSucceed(t *testing.T, r *redisstore.Store, state string) {
	t.Helper()
	for _, c := range storeCalls {
		if err := c.call(context.Background(), r); err != nil {
			t.Errorf("%s() %s = %v, want nil", c.name, state, err)
		}
	}
}

// TestOutage: with Redis gone every call fails fast, and after it
// comes back the same backend works again without being reopened.
func TestOutage(t *testing.T) {
	srv := redistest.Start(t)
	r, _ := openRedis(t, srv.URL)
	wantAllSucceed(t, r, "before the outage")

	srv.Stop()
	wantAllFail(t, r, "stopped")

	srv.Restart()
	wantAllSucceed(t, r, "after restart")
}

// TestFrozen: a Redis that accepts nothing but never answers (a hung
// host) must not hang the caller either; the timeouts end each call.
func TestFrozen(t *testing.T) {
	srv := redistest.Start(t)
	r, _ := openRedis(t, srv.URL)
	wantAllSucceed(t, r, "before the freeze")

	srv.Pause()
	wantAllFail(t, r, "frozen")

	srv.Resume()
	// Connections that timed out were dropped; the pool heals.
	wantAllSucceed(t, r, "after resume")
}

// TestOpenDownAtStart: start-up does not need Redis; Ping reports it.
func TestOpenDownAtStart(t *testing.T) {
	srv := redistest.Start(t)
	srv.Stop()
	r, err := redisstore.Open(context.Background(), redisstore.Config{URL: srv.URL})
	if err != nil {
		t.Fatalf("Open() with Redis down = %v, want nil", err)
	}
	defer r.Close()
	if err := r.Ping(context.Background()); err == nil {
		t.Error("Ping() with Redis down = nil, want an error")
	}
	srv.Restart()
	if err := r.Ping(context.Background()); err != nil {
		t.Errorf("Ping() once Redis is up = %v, want nil", err)
	}
}

// TestConcurrentFinds: concurrent reads share pipelines; each caller
// must get its own key's value, and a missing key stays missing.
func TestConcurrentFinds(t *testing.T) {
	r, _ := openRedis(t, redistest.Server(t))
	ctx := context.Background()
	const n = 300
	for i := range n {
		if i%3 == 0 {
			continue // left missing
		}
		if err := r.CommitCtx(ctx, fmt.Sprint("k", i), []byte(fmt.Sprint("v", i)), time.Now().Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	for round := range 3 {
		for i := range n {
			wg.Go(func() {
				b, found, err := r.FindCtx(ctx, fmt.Sprint("k", i))
				switch {
				case err != nil:
					t.Errorf("round %d: Find(k%d) = %v", round, i, err)
				case i%3 == 0 && found:
					t.Errorf("round %d: Find(k%d) found %q, want missing", round, i, b)
				case i%3 != 0 && string(b) != fmt.Sprint("v", i):
					t.Errorf("round %d: Find(k%d) = %q, %v; want %q", round, i, b, found, fmt.Sprint("v", i))
				}
			})
		}
	}
	wg.Wait()
}

// TestFrozenUnderLoad: with Redis hung, reads queued behind the stuck
// ones fail in bounded time too, instead of waiting their turn.
func TestFrozenUnderLoad(t *testing.T) {
	srv := redistest.Start(t)
	r, _ := openRedis(t, srv.URL)
	wantAllSucceed(t, r, "before the freeze")
	srv.Pause()
	defer srv.Resume()

	var slowest atomic.Int64
	var wg sync.WaitGroup
	for range 2000 {
		wg.Go(func() {
			start := time.Now()
			if b, found, err := r.FindCtx(context.Background(), "k"); err == nil {
				t.Errorf("Find() with Redis frozen = %q, %v, nil error; want an error", b, found)
			}
			d := int64(time.Since(start))
			for {
				old := slowest.Load()
				if d <= old || slowest.CompareAndSwap(old, d) {
					break
				}
			}
		})
	}
	wg.Wait()
	d := time.Duration(slowest.Load())
	t.Logf("slowest of 2000 concurrent Finds with Redis frozen: %v", d.Round(time.Millisecond))
	if d > outageBound {
		t.Errorf("slowest Find() took %v, want under %v", d, outageBound)
	}
	srv.Resume()
	wantAllSucceed(t, r, "after resume")
}
