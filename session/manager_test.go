package session_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"

	"github.com/bff-project/bff/session"
	"github.com/bff-project/bff/session/boltstore"
)

// fakeClock is Config.Now for tests. It starts at the real time because the
// bolt backend expires entries by the wall clock: an entry the manager
// considers live (fake now < expiry) is then also present in bolt, so every
// expiry a test sees is the manager's own doing.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{now: time.Now()} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Set(t time.Time) {
	c.mu.Lock()
	c.now = t
	c.mu.Unlock()
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// countingBackend is a real bolt backend that counts writes (Commit and
// Replace calls, as "commits") and
// remembers the (kind, hashed value) each key was indexed under, so tests
// can inspect the index without knowing how values are hashed.
type countingBackend struct {
	*boltstore.Store
	commits atomic.Int64
	// findDelay, when set, holds every Find result back for up to this
	// long, so that concurrent callers act on data that is already stale.
	findDelay atomic.Int64

	// afterCall, when set, runs once right after the next Find or Replace
	// returned from the store: another request acting in that gap.
	afterCall atomic.Pointer[func()]

	mu      sync.Mutex
	indexed map[string][][2]string // store key -> [kind, value] pairs
}

func (b *countingBackend) runAfterCall() {
	if f := b.afterCall.Swap(nil); f != nil {
		(*f)()
	}
}

func (b *countingBackend) FindCtx(ctx context.Context, key string) ([]byte, bool, error) {
	v, found, err := b.Store.FindCtx(ctx, key)
	if d := b.findDelay.Load(); d > 0 {
		time.Sleep(time.Duration(rand.Int64N(d)))
	}
	b.runAfterCall()
	return v, found, err
}

func (b *countingBackend) CommitCtx(ctx context.Context, key string, data []byte, expiry time.Time) error {
	b.commits.Add(1)
	return b.Store.CommitCtx(ctx, key, data, expiry)
}

// Replace honours ctx as a networked store does (bolt ignores it).
func (b *countingBackend) Replace(ctx context.Context, key string, data []byte, expiry time.Time) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	b.commits.Add(1)
	ok, err := b.Store.Replace(ctx, key, data, expiry)
	b.runAfterCall()
	return ok, err
}

func (b *countingBackend) IndexAdd(ctx context.Context, kind, value, key string, expiry time.Time) error {
	b.mu.Lock()
	if b.indexed == nil {
		b.indexed = map[string][][2]string{}
	}
	b.indexed[key] = append(b.indexed[key], [2]string{kind, value})
	b.mu.Unlock()
	return b.Store.IndexAdd(ctx, kind, value, key, expiry)
}

// indexValues returns the values key was indexed under, by kind.
func (b *countingBackend) indexValues(key string) map[string]string {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := map[string]string{}
	for _, kv := range b.indexed[key] {
		out[kv[0]] = kv[1]
	}
	return out
}

// inIndex reports whether the raw index still lists key under the value it
// was indexed with for kind.
func (b *countingBackend) inIndex(t *testing.T, kind, key string) bool {
	t.Helper()
	value, ok := b.indexValues(key)[kind]
	if !ok {
		t.Fatalf("key was never indexed under %q", kind)
	}
	keys, err := b.Store.IndexLookup(context.Background(), kind, value)
	if err != nil {
		t.Fatalf("IndexLookup() = %v", err)
	}
	return slices.Contains(keys, key)
}

func (b *countingBackend) stored(t *testing.T, key string) []byte {
	t.Helper()
	v, found, err := b.Store.FindCtx(context.Background(), key)
	if err != nil {
		t.Fatalf("backend Find() = %v", err)
	}
	if !found {
		return nil
	}
	return v
}

// openTestBolt opens a bolt file and closes it when the test ends (Close
// is idempotent, so tests may close it earlier).
func openTestBolt(t *testing.T, path string) *boltstore.Store {
	t.Helper()
	b, err := boltstore.Open(path)
	if err != nil {
		t.Fatalf("Open() = %v", err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

// testEnv is a Manager on a counting bolt backend with a fake clock.
type testEnv struct {
	path    string
	clock   *fakeClock
	backend *countingBackend
	m       *session.Manager
}

const (
	testIdle     = 30 * time.Minute
	testLifetime = 8 * time.Hour
	testTouch    = 5 * time.Minute
)

// newTestEnv builds the environment; cfg's Store, Cipher and Now are
// filled in, and zero timeouts get the test defaults above.
func newTestEnv(t *testing.T, cfg session.Config) *testEnv {
	t.Helper()
	path := filepath.Join(t.TempDir(), "sessions.db")
	e := &testEnv{
		path:    path,
		clock:   newFakeClock(),
		backend: &countingBackend{Store: openTestBolt(t, path)},
	}
	e.m = e.manager(t, cfg, mustCipher(t, testKey(1)))
	return e
}

// manager returns another Manager (another instance) on e's backend and
// clock.
func (e *testEnv) manager(t *testing.T, cfg session.Config, c *session.Cipher) *session.Manager {
	t.Helper()
	cfg.Store, cfg.Cipher, cfg.Now = e.backend, c, e.clock.Now
	if cfg.IdleTimeout == 0 {
		cfg.IdleTimeout = testIdle
	}
	if cfg.Lifetime == 0 {
		cfg.Lifetime = testLifetime
	}
	if cfg.TouchInterval == 0 {
		cfg.TouchInterval = testTouch
	}
	m, err := session.NewManager(cfg)
	if err != nil {
		t.Fatalf("NewManager() = %v", err)
	}
	return m
}

func (e *testEnv) create(t *testing.T, rec *session.Record) (token, key string) {
	t.Helper()
	tok, err := e.m.Create(context.Background(), rec)
	if err != nil {
		t.Fatalf("Create() = %v", err)
	}
	return string(tok), session.StoreKey(string(tok))
}

// visit makes an API call with token on m (which extends the idle timeout,
// as a Load does not) and returns the session it loaded.
func visit(t *testing.T, m *session.Manager, token string) *session.Record {
	t.Helper()
	call := m.BeginCall(context.Background(), token)
	defer m.FinishCall(call)
	_, rec, err := m.LoadCall(call, call)
	if err != nil {
		t.Fatalf("LoadCall() error = %v", err)
	}
	return rec
}

// load calls m.Load and fails the test on an error.
func load(t *testing.T, m *session.Manager, token string) *session.Record {
	t.Helper()
	_, rec, err := m.Load(context.Background(), token)
	if err != nil {
		t.Fatalf("Load() error = %v", err)
	}
	return rec
}

func TestNewManagerRequiresStoreAndCipher(t *testing.T) {
	b := openTestBolt(t, filepath.Join(t.TempDir(), "s.db"))
	c := mustCipher(t, testKey(1))
	tests := []struct {
		name string
		cfg  session.Config
	}{
		{"no store", session.Config{Cipher: c}},
		{"no cipher", session.Config{Store: b}},
		{"neither", session.Config{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if m, err := session.NewManager(tc.cfg); err == nil {
				t.Errorf("NewManager() = %v, nil; want an error", m)
			}
		})
	}
}

func TestManagerCreate(t *testing.T) {
	e := newTestEnv(t, session.Config{})
	ctx := context.Background()
	now := e.clock.Now()

	tokens, ids := map[string]bool{}, map[string]bool{}
	for i := range 20 {
		// The caller's ID must be replaced: a login never keeps an ID it
		// was handed (session fixation).
		rec := &session.Record{ID: "attacker-chosen", Subject: "alice"}
		tok, key := e.create(t, rec)
		if len(tok) < 43 {
			t.Errorf("Create() token %d has %d characters, want at least 43 (256 bits)", i, len(tok))
		}
		if tokens[tok] {
			t.Fatalf("Create() returned token %d twice", i)
		}
		tokens[tok] = true
		if rec.ID == "attacker-chosen" || rec.ID == "" || ids[rec.ID] {
			t.Fatalf("Create() set ID %q, want a fresh random ID", rec.ID)
		}
		ids[rec.ID] = true
		if rec.ID == tok {
			t.Error("public session ID equals the cookie token")
		}
		if !rec.CreatedAt.Equal(now) || !rec.LastSeenAt.Equal(now) {
			t.Errorf("CreatedAt, LastSeenAt = %v, %v; want both %v", rec.CreatedAt, rec.LastSeenAt, now)
		}
		if want := now.Add(testLifetime); !rec.ExpiresAt.Equal(want) {
			t.Errorf("ExpiresAt = %v, want %v", rec.ExpiresAt, want)
		}

		// The backend holds the session under StoreKey(token), never under
		// the cookie value.
		if key == tok {
			t.Fatal("StoreKey(token) == token")
		}
		raw := e.backend.stored(t, key)
		if raw == nil {
			t.Fatalf("backend has nothing under StoreKey(token)")
		}
		if _, found, _ := e.backend.FindCtx(ctx, tok); found {
			t.Error("backend has an entry under the cookie token itself")
		}
		if bytes.Contains(raw, []byte(tok)) {
			t.Error("stored value contains the cookie token")
		}
	}
}

// TestStoreKey pins the documented derivation, base64url(SHA-256(token)):
// changing it would sign every user out.
func TestStoreKey(t *testing.T) {
	for _, tok := range []string{"", "tok", "Q2hhbmdlIG1lIHRvIGEgcmVhbCB0b2tlbg"} {
		sum := sha256.Sum256([]byte(tok))
		if got, want := session.StoreKey(tok), base64.RawURLEncoding.EncodeToString(sum[:]); got != want {
			t.Errorf("StoreKey(%q) = %q, want %q", tok, got, want)
		}
	}
}

func TestManagerLoadNoSession(t *testing.T) {
	e := newTestEnv(t, session.Config{})
	ctx := context.Background()
	aliceTok, aliceKey := e.create(t, &session.Record{Subject: "alice", AccessToken: "alice-at"})
	bobTok, bobKey := e.create(t, &session.Record{Subject: "bob"})
	_ = bobTok

	// A blob copied from alice's key to bob's must not open: the store key
	// is the associated data.
	if err := e.backend.CommitCtx(ctx, bobKey, e.backend.stored(t, aliceKey), e.clock.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	carolTok, carolKey := e.create(t, &session.Record{Subject: "carol"})
	if err := e.backend.CommitCtx(ctx, carolKey, []byte("v1.garbage that is no envelope"), e.clock.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name  string
		token string
	}{
		{"empty", ""},
		{"garbage", "not-a-token"},
		{"binary garbage", "\x00\xff\xfe"},
		{"unknown well-formed", "Q2hhbmdlIG1lIHRvIGEgcmVhbCB0b2tlbiBwbGVhc2U"},
		{"store key presented as cookie", aliceKey},
		{"token with one char changed", aliceTok[:len(aliceTok)-1] + string(aliceTok[len(aliceTok)-1]^1)},
		{"token prefix", aliceTok[:20]},
		{"record copied from another session", bobTok},
		{"stored bytes not an envelope", carolTok},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, rec, err := e.m.Load(ctx, tc.token)
			if rec != nil || err != nil {
				t.Errorf("Load(%q) = %+v, %v; want nil, nil", tc.token, rec, err)
			}
		})
	}
	// The genuine token still works, so the cases above failed for the
	// right reason.
	if rec := load(t, e.m, aliceTok); rec == nil || rec.Subject != "alice" || rec.AccessToken != "alice-at" {
		t.Errorf("Load(alice) = %+v, want alice's record", rec)
	}
}

func TestManagerIdleTimeout(t *testing.T) {
	tests := []struct {
		name     string
		unused   time.Duration
		wantLive bool
	}{
		{"unused for a minute", time.Minute, true},
		{"unused one second short of idle", testIdle - time.Second, true},
		{"unused exactly idle", testIdle, false},
		{"unused past idle", testIdle + time.Minute, false},
		{"unused for days", 72 * time.Hour, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newTestEnv(t, session.Config{})
			tok, key := e.create(t, &session.Record{Subject: "alice", SID: "sid-1"})
			e.clock.Advance(tc.unused)

			rec := load(t, e.m, tok)
			if got := rec != nil; got != tc.wantLive {
				t.Fatalf("Load() after %v unused: live = %v, want %v", tc.unused, got, tc.wantLive)
			}
			if tc.wantLive {
				if e.backend.stored(t, key) == nil {
					t.Error("live session missing from the backend")
				}
				return
			}
			if e.backend.stored(t, key) != nil {
				t.Error("expired session still in the backend after Load")
			}
			for _, kind := range []string{session.BySubject, session.BySID} {
				if e.backend.inIndex(t, kind, key) {
					t.Errorf("expired session still in the %q index", kind)
				}
			}
			// Going back in time does not resurrect it.
			e.clock.Advance(-tc.unused)
			if rec := load(t, e.m, tok); rec != nil {
				t.Error("Load() found the session again after it was deleted")
			}
		})
	}
}

func TestManagerUseKeepsSessionAlive(t *testing.T) {
	e := newTestEnv(t, session.Config{})
	tok, _ := e.create(t, &session.Record{Subject: "alice"})
	// 20 visits, 20 minutes apart: 400 minutes, far beyond the idle timeout,
	// but never more than 20 minutes unused.
	for i := range 20 {
		e.clock.Advance(20 * time.Minute)
		rec := visit(t, e.m, tok)
		if rec == nil {
			t.Fatalf("API call on visit %d (20m after the last) = nil, want the session", i+1)
		}
	}
	e.clock.Advance(testIdle)
	if rec := visit(t, e.m, tok); rec != nil {
		t.Errorf("Load() after %v unused = %+v, want nil", testIdle, rec)
	}
}

// TestLoadDoesNotExtendIdle: reading a session (who is signed in, the
// session list, the event stream) is no activity: a session only read
// ends at its idle timeout however often it is read, and Load writes
// nothing. (It used to write LastSeenAt: /bff/user polling kept a session
// alive.)
func TestLoadDoesNotExtendIdle(t *testing.T) {
	e := newTestEnv(t, session.Config{})
	tok, key := e.create(t, &session.Record{Subject: "alice"})
	e.backend.commits.Store(0)
	for range 5 {
		e.clock.Advance(testIdle / 6)
		if rec := load(t, e.m, tok); rec == nil {
			t.Fatal("Load() before the idle timeout = nil, want the session")
		}
	}
	if got := e.backend.commits.Load(); got != 0 {
		t.Errorf("5 Loads made %d commits, want 0", got)
	}
	e.clock.Advance(testIdle / 6)
	if rec := load(t, e.m, tok); rec != nil {
		t.Errorf("Load() %v after sign-in, only ever read = %+v; want nil (idle timeout %v)", testIdle, rec, testIdle)
	}
	if e.backend.stored(t, key) != nil {
		t.Error("session past its idle timeout still stored")
	}
}

// TestTouchExtendsIdle: Touch (POST /bff/keepalive) moves the idle end to
// now + idle timeout whenever it is called, never past the lifetime.
func TestTouchExtendsIdle(t *testing.T) {
	e := newTestEnv(t, session.Config{Lifetime: time.Hour})
	tok, key := e.create(t, &session.Record{Subject: "alice"})
	ctx := context.Background()
	start := e.clock.Now()
	e.clock.Advance(time.Second) // well inside TouchInterval: Touch writes anyway
	rec, err := e.m.Touch(ctx, key)
	if err != nil {
		t.Fatalf("Touch() = %v", err)
	}
	if want := start.Add(time.Second + testIdle); !rec.IdleExpiresAt(testIdle).Equal(want) {
		t.Errorf("idle end after Touch = +%v, want +%v", rec.IdleExpiresAt(testIdle).Sub(start), want.Sub(start))
	}
	e.clock.Advance(testIdle - time.Second)
	if load(t, e.m, tok) == nil {
		t.Fatal("Load() within the idle timeout of the Touch = nil")
	}
	for _, at := range []time.Duration{25 * time.Minute, 50 * time.Minute} {
		e.clock.Set(start.Add(at))
		if rec, err = e.m.Touch(ctx, key); err != nil {
			t.Fatalf("Touch() at +%v = %v", at, err)
		}
	}
	if want := start.Add(time.Hour); !rec.IdleExpiresAt(testIdle).Equal(want) {
		t.Errorf("idle end after a Touch near the lifetime = +%v, want the lifetime's +%v", rec.IdleExpiresAt(testIdle).Sub(start), want.Sub(start))
	}
	e.clock.Set(start.Add(time.Hour))
	if _, err := e.m.Touch(ctx, key); !errors.Is(err, session.ErrNotFound) {
		t.Errorf("Touch() after the lifetime = %v, want ErrNotFound", err)
	}
}

func TestManagerAbsoluteLifetime(t *testing.T) {
	e := newTestEnv(t, session.Config{Lifetime: time.Hour, TouchInterval: time.Minute})
	start := e.clock.Now()
	tok, key := e.create(t, &session.Record{Subject: "alice", SID: "sid-1"})
	for range 5 {
		e.clock.Advance(10 * time.Minute)
		rec := visit(t, e.m, tok)
		if rec == nil {
			t.Fatalf("Load() at %v = nil, want the session", e.clock.Now().Sub(start))
		}
		if want := start.Add(time.Hour); !rec.ExpiresAt.Equal(want) {
			t.Errorf("ExpiresAt = %v, want %v (use must not extend the lifetime)", rec.ExpiresAt, want)
		}
	}
	// Used at 50m: the idle timeout alone would allow until 80m.
	e.clock.Advance(10 * time.Minute)
	if rec := load(t, e.m, tok); rec != nil {
		t.Fatalf("Load() at the end of the lifetime = %+v, want nil", rec)
	}
	if e.backend.stored(t, key) != nil {
		t.Error("session past its lifetime still in the backend")
	}
	if e.backend.inIndex(t, session.BySubject, key) {
		t.Error("session past its lifetime still in the subject index")
	}
	if _, err := e.m.Update(context.Background(), key, func(*session.Record) (bool, error) { return true, nil }); !errors.Is(err, session.ErrNotFound) {
		t.Errorf("Update() after the lifetime = %v, want ErrNotFound", err)
	}
}

func TestRecordIdleExpiresAt(t *testing.T) {
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	rec := &session.Record{LastSeenAt: t0, ExpiresAt: t0.Add(time.Hour)}
	tests := []struct {
		name string
		idle time.Duration
		want time.Time
	}{
		{"idle first", 30 * time.Minute, t0.Add(30 * time.Minute)},
		{"lifetime first", 2 * time.Hour, t0.Add(time.Hour)},
		{"equal", time.Hour, t0.Add(time.Hour)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := rec.IdleExpiresAt(tc.idle); !got.Equal(tc.want) {
				t.Errorf("IdleExpiresAt(%v) = %v, want %v", tc.idle, got, tc.want)
			}
		})
	}
}

func TestManagerTouchThrottling(t *testing.T) {
	e := newTestEnv(t, session.Config{})
	start := e.clock.Now()
	tok, _ := e.create(t, &session.Record{Subject: "alice"})
	steps := []struct {
		name         string
		at           time.Duration // since creation
		wantCommits  int64
		wantLastSeen time.Duration // LastSeenAt of the record the next Load returns
	}{
		{"right away", 0, 0, 0},
		{"after a minute", time.Minute, 0, 0},
		{"just inside the interval", testTouch - time.Second, 0, 0},
		{"at the interval", testTouch, 1, testTouch},
		{"again at the same instant", testTouch, 0, testTouch},
		{"inside the next interval", 2*testTouch - time.Second, 0, testTouch},
		{"after the next interval", 2*testTouch + time.Second, 1, 2*testTouch + time.Second},
	}
	for _, s := range steps {
		e.backend.commits.Store(0)
		e.clock.Set(start.Add(s.at))
		if rec := visit(t, e.m, tok); rec == nil {
			t.Fatalf("%s: API call found no session, want the session", s.name)
		}
		if got := e.backend.commits.Load(); got != s.wantCommits {
			t.Errorf("%s: API call made %d commits, want %d", s.name, got, s.wantCommits)
		}
		// A fresh manager has no cache: it shows what is stored.
		fresh := e.manager(t, session.Config{}, mustCipher(t, testKey(1)))
		stored := load(t, fresh, tok)
		if stored == nil {
			t.Fatalf("%s: fresh manager Load() = nil", s.name)
		}
		if want := start.Add(s.wantLastSeen); !stored.LastSeenAt.Equal(want) {
			t.Errorf("%s: stored LastSeenAt = +%v, want +%v", s.name, stored.LastSeenAt.Sub(start), s.wantLastSeen)
		}
	}
}

func TestManagerConcurrentCallsTouchOnce(t *testing.T) {
	e := newTestEnv(t, session.Config{})
	tok, _ := e.create(t, &session.Record{Subject: "alice"})
	e.clock.Advance(testTouch)
	e.backend.commits.Store(0)
	// Slow reads and staggered starts: many Loads see the old LastSeenAt
	// and decide to touch after the first touch is already stored.
	e.backend.findDelay.Store(int64(10 * time.Millisecond))
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			time.Sleep(time.Duration(i) * time.Millisecond)
			call := e.m.BeginCall(context.Background(), tok)
			defer e.m.FinishCall(call)
			_, rec, err := e.m.LoadCall(call, call)
			if err != nil || rec == nil {
				t.Errorf("LoadCall() = %v, %v; want the session", rec, err)
			}
		}()
	}
	wg.Wait()
	if got := e.backend.commits.Load(); got != 1 {
		t.Errorf("16 concurrent API calls after the touch interval made %d commits, want 1", got)
	}
}

var errBoom = errors.New("provider down")

func TestManagerUpdate(t *testing.T) {
	ctx := context.Background()

	t.Run("changes are stored", func(t *testing.T) {
		e := newTestEnv(t, session.Config{})
		tok, key := e.create(t, &session.Record{Subject: "alice", AccessToken: "at-1"})
		got, err := e.m.Update(ctx, key, func(r *session.Record) (bool, error) {
			r.AccessToken = "at-2"
			return true, nil
		})
		if err != nil || got == nil || got.AccessToken != "at-2" {
			t.Fatalf("Update() = %+v, %v; want the record with at-2", got, err)
		}
		if rec := load(t, e.m, tok); rec.AccessToken != "at-2" {
			t.Errorf("Load() after Update: AccessToken = %q, want at-2", string(rec.AccessToken))
		}
		fresh := e.manager(t, session.Config{}, mustCipher(t, testKey(1)))
		if rec := load(t, fresh, tok); rec == nil || rec.AccessToken != "at-2" {
			t.Errorf("fresh manager Load() after Update = %+v, want at-2", rec)
		}
	})

	t.Run("unchanged does not commit", func(t *testing.T) {
		e := newTestEnv(t, session.Config{})
		_, key := e.create(t, &session.Record{Subject: "alice"})
		before := e.backend.stored(t, key)
		e.backend.commits.Store(0)
		calls := 0
		got, err := e.m.Update(ctx, key, func(r *session.Record) (bool, error) {
			calls++
			r.AccessToken = "not saved"
			return false, nil
		})
		if err != nil || got == nil {
			t.Fatalf("Update() = %v, %v; want the record", got, err)
		}
		if calls != 1 {
			t.Errorf("fn called %d times, want 1", calls)
		}
		if n := e.backend.commits.Load(); n != 0 {
			t.Errorf("Update() with changed=false made %d commits, want 0", n)
		}
		if after := e.backend.stored(t, key); !bytes.Equal(before, after) {
			t.Error("stored bytes changed")
		}
	})

	t.Run("error from fn without a change leaves the record", func(t *testing.T) {
		e := newTestEnv(t, session.Config{})
		tok, key := e.create(t, &session.Record{Subject: "alice", RefreshToken: "rt-1"})
		before := e.backend.stored(t, key)
		e.backend.commits.Store(0)
		got, err := e.m.Update(ctx, key, func(r *session.Record) (bool, error) {
			r.RefreshToken = "rt-scratch"
			return false, errBoom
		})
		if !errors.Is(err, errBoom) {
			t.Errorf("Update() error = %v, want fn's error", err)
		}
		if got != nil {
			t.Errorf("Update() = %+v with an error, want nil", got)
		}
		if n := e.backend.commits.Load(); n != 0 {
			t.Errorf("failed Update() made %d commits, want 0", n)
		}
		if after := e.backend.stored(t, key); !bytes.Equal(before, after) {
			t.Error("stored bytes changed after a failed Update")
		}
		if rec := load(t, e.m, tok); rec == nil || rec.RefreshToken != "rt-1" {
			t.Errorf("Load() after failed Update = %+v, want RefreshToken rt-1", rec)
		}
	})

	// A refresh token rotated by a first step must survive a failing
	// second step (token exchange after a refresh).
	t.Run("a change reported with an error is saved", func(t *testing.T) {
		e := newTestEnv(t, session.Config{})
		tok, key := e.create(t, &session.Record{Subject: "alice", RefreshToken: "rt-1"})
		_, err := e.m.Update(ctx, key, func(r *session.Record) (bool, error) {
			r.RefreshToken = "rt-2"
			return true, errBoom
		})
		if !errors.Is(err, errBoom) {
			t.Errorf("Update() error = %v, want fn's error", err)
		}
		if rec := load(t, e.m, tok); rec == nil || rec.RefreshToken != "rt-2" {
			t.Errorf("Load() after Update = %+v, want RefreshToken rt-2", rec)
		}
		fresh := e.manager(t, session.Config{}, mustCipher(t, testKey(1)))
		if rec := load(t, fresh, tok); rec == nil || rec.RefreshToken != "rt-2" {
			t.Errorf("stored record = %+v, want RefreshToken rt-2", rec)
		}
	})

	// A logout while fn calls the provider must not be undone by fn's save.
	t.Run("deleted while fn ran stays deleted", func(t *testing.T) {
		e := newTestEnv(t, session.Config{})
		tok, key := e.create(t, &session.Record{Subject: "alice", SID: "s1", RefreshToken: "rt-1"})
		_, err := e.m.Update(ctx, key, func(r *session.Record) (bool, error) {
			if _, err := e.m.Delete(ctx, key, session.ReasonLogout); err != nil {
				t.Fatalf("Delete() = %v", err)
			}
			r.RefreshToken = "rt-2"
			return true, nil
		})
		if !errors.Is(err, session.ErrNotFound) {
			t.Errorf("Update() error = %v, want ErrNotFound", err)
		}
		if rec := load(t, e.m, tok); rec != nil {
			t.Errorf("Load() after Update = %+v, want the session to stay deleted", rec)
		}
		if _, found, _ := e.backend.FindCtx(ctx, key); found {
			t.Error("the store holds the session again")
		}
		if entries, _ := e.m.BySubject(ctx, "alice"); len(entries) != 0 {
			t.Errorf("BySubject() = %d entries, want none", len(entries))
		}
	})

	// A logout landing after the store write but before the record is
	// cached must not be undone by the cache, which an exclusive Manager
	// trusts without asking the store.
	t.Run("deleted right after the save stays deleted", func(t *testing.T) {
		e := newTestEnv(t, session.Config{Exclusive: true})
		tok, key := e.create(t, &session.Record{Subject: "alice", RefreshToken: "rt-1"})
		logout := func() {
			if _, err := e.m.Delete(ctx, key, session.ReasonLogout); err != nil {
				t.Errorf("Delete() = %v", err)
			}
		}
		e.backend.afterCall.Store(&logout)
		if _, err := e.m.Update(ctx, key, func(r *session.Record) (bool, error) {
			r.RefreshToken = "rt-2"
			return true, nil
		}); err != nil {
			t.Fatalf("Update() = %v", err)
		}
		if rec := load(t, e.m, tok); rec != nil {
			t.Errorf("Load() after logout = %+v, want the session gone", rec)
		}
		if live, err := e.m.Live(ctx, key); live || err != nil {
			t.Errorf("Live() after logout = %v, %v; want false", live, err)
		}
	})

	t.Run("deleted right after a read stays deleted", func(t *testing.T) {
		e := newTestEnv(t, session.Config{})
		tok, key := e.create(t, &session.Record{Subject: "alice"})
		m := e.manager(t, session.Config{Exclusive: true}, mustCipher(t, testKey(1))) // nothing cached yet
		logout := func() {
			if _, err := m.Delete(ctx, key, session.ReasonLogout); err != nil {
				t.Errorf("Delete() = %v", err)
			}
		}
		e.backend.afterCall.Store(&logout)
		_ = load(t, m, tok) // read before the logout: may see the session
		if rec := load(t, m, tok); rec != nil {
			t.Errorf("Load() after logout = %+v, want the session gone", rec)
		}
	})

	// A read that lands before a renewal's save but is cached after it
	// must not put the rotated-away refresh token back in the cache.
	t.Run("read before a concurrent save does not shadow it", func(t *testing.T) {
		e := newTestEnv(t, session.Config{})
		tok, key := e.create(t, &session.Record{Subject: "alice", RefreshToken: "rt-1"})
		m := e.manager(t, session.Config{Exclusive: true}, mustCipher(t, testKey(1))) // nothing cached yet
		rotate := func() {
			if _, err := m.Update(ctx, key, func(r *session.Record) (bool, error) {
				r.RefreshToken = "rt-2"
				return true, nil
			}); err != nil {
				t.Errorf("Update() = %v", err)
			}
		}
		e.backend.afterCall.Store(&rotate) // right after Load's read of rt-1
		_ = load(t, m, tok)
		rec, err := m.Update(ctx, key, func(*session.Record) (bool, error) { return false, nil })
		if err != nil {
			t.Fatalf("Update() = %v", err)
		}
		if rec.RefreshToken != "rt-2" {
			t.Errorf("Update() read RefreshToken %q, want rt-2 (what the store holds)", rec.RefreshToken)
		}
		if rec := load(t, m, tok); rec == nil || rec.RefreshToken != "rt-2" {
			t.Errorf("Load() = %+v, want RefreshToken rt-2", rec)
		}
	})

	// fn may use up ctx's deadline after the provider rotated the refresh
	// token (a slow token exchange): the rotated token is still saved.
	t.Run("saved after fn used up the deadline", func(t *testing.T) {
		e := newTestEnv(t, session.Config{})
		tok, key := e.create(t, &session.Record{Subject: "alice", RefreshToken: "rt-1"})
		dctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
		defer cancel()
		_, err := e.m.Update(dctx, key, func(r *session.Record) (bool, error) {
			r.RefreshToken = "rt-2"
			<-dctx.Done()
			return true, dctx.Err()
		})
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Update() error = %v, want fn's deadline error", err)
		}
		if rec := load(t, e.m, tok); rec == nil || rec.RefreshToken != "rt-2" {
			t.Errorf("Load() = %+v, want the rotated RefreshToken rt-2 saved", rec)
		}
	})

	t.Run("missing sessions", func(t *testing.T) {
		e := newTestEnv(t, session.Config{})
		_, deletedKey := e.create(t, &session.Record{Subject: "alice"})
		if _, err := e.m.Delete(ctx, deletedKey, session.ReasonLogout); err != nil {
			t.Fatal(err)
		}
		_, expiredKey := e.create(t, &session.Record{Subject: "bob"})
		e.clock.Advance(testIdle)
		tests := []struct{ name, key string }{
			{"deleted", deletedKey},
			{"never existed", session.StoreKey("never-issued")},
			{"idle expired", expiredKey},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				before := e.backend.stored(t, tc.key)
				called := false
				got, err := e.m.Update(ctx, tc.key, func(*session.Record) (bool, error) {
					called = true
					return true, nil
				})
				if !errors.Is(err, session.ErrNotFound) || got != nil {
					t.Errorf("Update() = %+v, %v; want nil, ErrNotFound", got, err)
				}
				if called {
					t.Error("fn was called for a missing session")
				}
				if after := e.backend.stored(t, tc.key); !bytes.Equal(before, after) {
					t.Error("Update() of a missing session changed the store")
				}
			})
		}
	})

	t.Run("loaded record is not modified by a later Update", func(t *testing.T) {
		e := newTestEnv(t, session.Config{})
		tok, key := e.create(t, &session.Record{
			Subject:     "alice",
			AccessToken: "at-1",
			Claims:      json.RawMessage(`{"email":"a@example.com"}`),
			Tokens:      map[string]session.Token{"orders": {AccessToken: "orders-1"}},
		})
		first := load(t, e.m, tok)
		_, err := e.m.Update(ctx, key, func(r *session.Record) (bool, error) {
			// Change in place, as a careless fn would.
			r.AccessToken = "at-2"
			r.Tokens["orders"] = session.Token{AccessToken: "orders-2"}
			r.Tokens["billing"] = session.Token{AccessToken: "billing-1"}
			r.Claims[2] = 'X'
			return true, nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if first.AccessToken != "at-1" {
			t.Errorf("earlier Load()'s AccessToken = %q, want at-1", string(first.AccessToken))
		}
		if got := first.Tokens["orders"].AccessToken; got != "orders-1" {
			t.Errorf("earlier Load()'s Tokens[orders] = %q, want orders-1", string(got))
		}
		if _, ok := first.Tokens["billing"]; ok || len(first.Tokens) != 1 {
			t.Errorf("earlier Load()'s Tokens = %d entries, want 1", len(first.Tokens))
		}
		if got := string(first.Claims); got != `{"email":"a@example.com"}` {
			t.Errorf("earlier Load()'s Claims = %s, want unchanged", got)
		}
		second := load(t, e.m, tok)
		if second.AccessToken != "at-2" || second.Tokens["billing"].AccessToken != "billing-1" {
			t.Errorf("Load() after Update = %+v, want the update", second)
		}
	})

	// The cache must hold its own copy: neither the record handed to Create
	// nor the one Update returns may be what later Loads serve.
	t.Run("record given to Create is not shared", func(t *testing.T) {
		e := newTestEnv(t, session.Config{})
		rec := &session.Record{Subject: "alice", AccessToken: "at-1"}
		tok, _ := e.create(t, rec)
		rec.AccessToken = "caller changed it"
		rec.Subject = "mallory"
		if got := load(t, e.m, tok); got.AccessToken != "at-1" || got.Subject != "alice" {
			t.Errorf("Load() = %q/%q, want alice/at-1: the cache shares the caller's record", got.Subject, string(got.AccessToken))
		}
	})
	t.Run("record returned by Update is not shared", func(t *testing.T) {
		e := newTestEnv(t, session.Config{})
		tok, key := e.create(t, &session.Record{Subject: "alice"})
		got, err := e.m.Update(ctx, key, func(r *session.Record) (bool, error) {
			r.AccessToken = "at-2"
			return true, nil
		})
		if err != nil {
			t.Fatal(err)
		}
		got.AccessToken = "caller changed it"
		if rec := load(t, e.m, tok); rec.AccessToken != "at-2" {
			t.Errorf("Load() AccessToken = %q, want at-2: the cache shares Update's result", string(rec.AccessToken))
		}
	})
}

func TestManagerTwoInstances(t *testing.T) {
	ctx := context.Background()
	e := newTestEnv(t, session.Config{})
	a := e.m
	b := e.manager(t, session.Config{}, mustCipher(t, testKey(1)))
	tok, key := e.create(t, &session.Record{Subject: "alice", AccessToken: "at-1"})

	if rec := load(t, a, tok); rec == nil || rec.AccessToken != "at-1" {
		t.Fatalf("A.Load() = %+v, want at-1", rec)
	}
	if rec := load(t, b, tok); rec == nil || rec.AccessToken != "at-1" {
		t.Fatalf("B.Load() = %+v, want at-1", rec)
	}

	// B refreshes the token; A (with the old record cached) sees it at once.
	if _, err := b.Update(ctx, key, func(r *session.Record) (bool, error) {
		r.AccessToken = "at-2"
		return true, nil
	}); err != nil {
		t.Fatal(err)
	}
	if rec := load(t, a, tok); rec == nil || rec.AccessToken != "at-2" {
		t.Fatalf("A.Load() after B.Update = %+v, want at-2", rec)
	}

	// A's Update starts from B's write: no lost update.
	if _, err := a.Update(ctx, key, func(r *session.Record) (bool, error) {
		r.RefreshToken = "rt-from-a"
		return true, nil
	}); err != nil {
		t.Fatal(err)
	}
	if rec := load(t, b, tok); rec == nil || rec.AccessToken != "at-2" || rec.RefreshToken != "rt-from-a" {
		t.Fatalf("B.Load() after both updates = %+v, want at-2 and rt-from-a", rec)
	}

	// B signs the session out; A must not serve it from its cache.
	del, err := b.Delete(ctx, key, session.ReasonLogout)
	if err != nil || del == nil || del.RefreshToken != "rt-from-a" {
		t.Fatalf("B.Delete() = %+v, %v; want the record (for revocation)", del, err)
	}
	if rec := load(t, a, tok); rec != nil {
		t.Errorf("A.Load() after B.Delete = %+v, want nil", rec)
	}
	if _, err := a.Update(ctx, key, func(*session.Record) (bool, error) { return true, nil }); !errors.Is(err, session.ErrNotFound) {
		t.Errorf("A.Update() after B.Delete = %v, want ErrNotFound", err)
	}
	if got, err := a.BySubject(ctx, "alice"); err != nil || len(got) != 0 {
		t.Errorf("A.BySubject() after B.Delete = %d entries, %v; want none", len(got), err)
	}
}

func TestManagerKeyRotation(t *testing.T) {
	oldKey, newKey, unrelated := testKey(1), testKey(2), testKey(3)
	e := newTestEnv(t, session.Config{}) // e.m seals with [old]
	tok, key := e.create(t, &session.Record{Subject: "alice", RefreshToken: "rt"})

	rotated := e.manager(t, session.Config{}, mustCipher(t, newKey, oldKey))
	if rec := load(t, rotated, tok); rec == nil || rec.Subject != "alice" || rec.RefreshToken != "rt" {
		t.Fatalf("Load() with [new old] = %+v, want alice's record", rec)
	}

	stranger := e.manager(t, session.Config{}, mustCipher(t, unrelated))
	_, rec, err := stranger.Load(context.Background(), tok)
	if rec != nil || err != nil {
		t.Errorf("Load() with [unrelated] = %+v, %v; want nil, nil (signed out, no error)", rec, err)
	}
	if e.backend.stored(t, key) == nil {
		t.Error("an instance with the wrong keys deleted the session")
	}

	// The next write re-seals under the new key; [old] alone can no longer
	// read it, [new old] and [new] can.
	e.clock.Advance(testTouch)
	if rec := visit(t, rotated, tok); rec == nil {
		t.Fatal("API call with [new old] after the touch interval found no session")
	}
	raw := e.backend.stored(t, key)
	sum := sha256.Sum256(newKey)
	if got := raw[3:7]; !bytes.Equal(got, sum[:4]) {
		t.Fatalf("stored key ID after a write = %x, want the new key's %x", got, sum[:4])
	}
	if rec := load(t, e.manager(t, session.Config{}, mustCipher(t, newKey)), tok); rec == nil {
		t.Error("Load() with [new] after re-seal = nil, want the session")
	}
	if rec := load(t, e.manager(t, session.Config{}, mustCipher(t, oldKey)), tok); rec != nil {
		t.Error("Load() with [old] after re-seal under new key = record, want nil")
	}
}

func TestManagerRestart(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "sessions.db")
	c := mustCipher(t, testKey(1))
	clock := newFakeClock()
	newManager := func(b scs.CtxStore) *session.Manager {
		m, err := session.NewManager(session.Config{Store: b, Cipher: c, Now: clock.Now, IdleTimeout: testIdle})
		if err != nil {
			t.Fatal(err)
		}
		return m
	}

	b1 := openTestBolt(t, path)
	m1 := newManager(b1)
	tok, err := m1.Create(ctx, &session.Record{
		Subject: "alice", SID: "sid-1", RefreshToken: "rt",
		Tokens: map[string]session.Token{"orders": {AccessToken: "orders-at"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := b1.Close(); err != nil {
		t.Fatalf("Close() = %v", err)
	}
	if err := b1.Ping(ctx); err == nil {
		t.Error("Ping() after Close = nil, want an error")
	}

	clock.Advance(time.Minute)
	m2 := newManager(openTestBolt(t, path))
	rec := load(t, m2, string(tok))
	if rec == nil {
		t.Fatal("Load() after reopening the file = nil, want the session")
	}
	if rec.Subject != "alice" || rec.RefreshToken != "rt" || rec.Tokens["orders"].AccessToken != "orders-at" {
		t.Errorf("Load() after reopening = %+v, want the stored record", rec)
	}
	if got, err := m2.BySubject(ctx, "alice"); err != nil || len(got) != 1 {
		t.Errorf("BySubject() after reopening = %d entries, %v; want 1", len(got), err)
	}
	if got, err := m2.BySID(ctx, "sid-1"); err != nil || len(got) != 1 {
		t.Errorf("BySID() after reopening = %d entries, %v; want 1", len(got), err)
	}
}

// TestManagerStoreDump: a copy of the store yields no tokens, no personal
// data and no usable cookie.
func TestManagerStoreDump(t *testing.T) {
	ctx := context.Background()
	e := newTestEnv(t, session.Config{})
	secrets := []string{
		"IDTOKEN-eyJhbGciOiJSUzI1NiJ9-7c1d",
		"ACCESSTOKEN-3f9a0b7e-77aa",
		"REFRESHTOKEN-c0ffee-8812",
		"ORDERSTOKEN-a1b2c3d4-9f",
		"dump.victim@example.com",
		"Mozilla/5.0 DumpTestBrowser",
		"203.0.113.77",
	}
	const subject, sid = "subject-7d0c2a5e-dumptest", "provider-sid-5e11a"
	rec := &session.Record{
		Subject:      subject,
		SID:          sid,
		Claims:       json.RawMessage(`{"sub":"` + subject + `","email":"dump.victim@example.com"}`),
		IDToken:      session.Secret(secrets[0]),
		AccessToken:  session.Secret(secrets[1]),
		RefreshToken: session.Secret(secrets[2]),
		Tokens:       map[string]session.Token{"orders": {AccessToken: session.Secret(secrets[3])}},
		UserAgent:    secrets[5],
		IP:           secrets[6],
	}
	tok, key := e.create(t, rec)
	publicID := rec.ID
	// A second version (touch) and a deleted session leave old pages behind.
	e.clock.Advance(testTouch)
	if visit(t, e.m, tok) == nil {
		t.Fatal("API call found no session")
	}
	tok2, key2 := e.create(t, &session.Record{Subject: subject, SID: sid, RefreshToken: session.Secret(secrets[2])})
	if _, err := e.m.Delete(ctx, key2, session.ReasonLogout); err != nil {
		t.Fatal(err)
	}
	if err := e.backend.Close(); err != nil {
		t.Fatal(err)
	}

	dump, err := os.ReadFile(e.path)
	if err != nil {
		t.Fatal(err)
	}
	// The dump is real: it holds the session under its store key.
	if !bytes.Contains(dump, []byte(key)) {
		t.Fatal("dump does not contain the store key: not reading the session file?")
	}
	forbidden := map[string]string{
		"cookie token":         tok,
		"deleted cookie token": tok2,
		"subject":              subject,
		"sid":                  sid,
		"public session ID":    publicID,
	}
	for _, s := range secrets {
		forbidden[s] = s
	}
	for name, s := range forbidden {
		if bytes.Contains(dump, []byte(s)) {
			t.Errorf("store dump contains the %s %q", name, s)
		}
	}
}

func entryKeys(entries []session.Entry) []string {
	var keys []string
	for _, e := range entries {
		keys = append(keys, e.Key)
	}
	slices.Sort(keys)
	return keys
}

func sorted(keys ...string) []string {
	keys = slices.Clone(keys)
	slices.Sort(keys)
	return keys
}

func TestManagerIndex(t *testing.T) {
	ctx := context.Background()
	e := newTestEnv(t, session.Config{})

	_, a1 := e.create(t, &session.Record{Subject: "alice", SID: "sid-a1"})
	e.clock.Advance(20 * time.Minute)
	_, a2 := e.create(t, &session.Record{Subject: "alice", SID: "sid-a2"})
	_, b1 := e.create(t, &session.Record{Subject: "bob", SID: "sid-b1"})
	_, c1 := e.create(t, &session.Record{Subject: "alice2"})

	if v := e.backend.indexValues(a1)[session.BySubject]; v == "alice" || v == "" {
		t.Errorf("subject index value = %q, want a hash of the subject", v)
	}

	tests := []struct {
		name   string
		lookup func(context.Context, string) ([]session.Entry, error)
		value  string
		want   []string
	}{
		{"alice's sessions", e.m.BySubject, "alice", sorted(a1, a2)},
		{"bob's sessions", e.m.BySubject, "bob", sorted(b1)},
		{"subject with common prefix", e.m.BySubject, "alice2", sorted(c1)},
		{"unknown subject", e.m.BySubject, "nobody", nil},
		{"prefix of a subject", e.m.BySubject, "ali", nil},
		{"sid", e.m.BySID, "sid-a1", sorted(a1)},
		{"other sid", e.m.BySID, "sid-b1", sorted(b1)},
		{"subject is not a sid", e.m.BySID, "alice", nil},
		{"empty sid", e.m.BySID, "", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.lookup(ctx, tc.value)
			if err != nil {
				t.Fatal(err)
			}
			if keys := entryKeys(got); !slices.Equal(keys, tc.want) {
				t.Errorf("lookup(%q) = %d keys, want %d", tc.value, len(keys), len(tc.want))
			}
			for _, en := range got {
				if en.Record == nil || en.Key == "" {
					t.Errorf("entry %+v lacks a key or record", en)
				}
			}
		})
	}

	// a1 is now 35 minutes unused (idle 30m), a2 15 minutes.
	e.clock.Advance(15 * time.Minute)
	t.Run("expired sessions are dropped", func(t *testing.T) {
		got, err := e.m.BySubject(ctx, "alice")
		if err != nil {
			t.Fatal(err)
		}
		if keys := entryKeys(got); !slices.Equal(keys, sorted(a2)) {
			t.Errorf("BySubject(alice) = %v, want only the live session", keys)
		}
		if e.backend.stored(t, a1) != nil {
			t.Error("expired session still in the backend")
		}
		for _, kind := range []string{session.BySubject, session.BySID} {
			if e.backend.inIndex(t, kind, a1) {
				t.Errorf("expired session still in the %q index", kind)
			}
		}
		if got, _ := e.m.BySID(ctx, "sid-a1"); len(got) != 0 {
			t.Errorf("BySID(expired sid) = %d entries, want 0", len(got))
		}
	})

	t.Run("entries without a session are removed", func(t *testing.T) {
		// The store dropped b1 on its own (its expiry), leaving the index.
		if err := e.backend.DeleteCtx(ctx, b1); err != nil {
			t.Fatal(err)
		}
		if got, err := e.m.BySubject(ctx, "bob"); err != nil || len(got) != 0 {
			t.Errorf("BySubject(bob) = %d entries, %v; want none", len(got), err)
		}
		if e.backend.inIndex(t, session.BySubject, b1) {
			t.Error("subject index entry of a vanished session was kept")
		}
	})

	t.Run("Delete removes index entries", func(t *testing.T) {
		del, err := e.m.Delete(ctx, a2, session.ReasonLogout)
		if err != nil || del == nil || del.Subject != "alice" {
			t.Fatalf("Delete() = %+v, %v; want alice's record", del, err)
		}
		for _, kind := range []string{session.BySubject, session.BySID} {
			if e.backend.inIndex(t, kind, a2) {
				t.Errorf("deleted session still in the %q index", kind)
			}
		}
		if got, _ := e.m.BySubject(ctx, "alice"); len(got) != 0 {
			t.Errorf("BySubject(alice) after Delete = %d entries, want 0", len(got))
		}
		if got, _ := e.m.BySubject(ctx, "alice2"); len(got) != 1 {
			t.Errorf("BySubject(alice2) after deleting alice's = %d entries, want 1", len(got))
		}
		if del, err := e.m.Delete(ctx, a2, session.ReasonLogout); del != nil || err != nil {
			t.Errorf("Delete() again = %+v, %v; want nil, nil", del, err)
		}
	})
}
