package session_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/alexedwards/scs/v2/memstore"

	"github.com/bff-project/bff/session"
	"github.com/bff-project/bff/session/storetest"
)

// These tests run a Manager on scs's own memstore, which has none of this
// package's extensions, to prove that any scs store can hold sessions and
// that the stand-ins the package doc promises behave as it says.

// newMemstore has no cleanup goroutine, which would outlive the test.
func newMemstore() *memstore.MemStore { return memstore.NewWithCleanupInterval(0) }

// opLog records Config.Observe's calls.
type opLog struct {
	mu  sync.Mutex
	ops []string
}

func (l *opLog) observe(_ context.Context, op string, d time.Duration, err error) {
	l.mu.Lock()
	l.ops = append(l.ops, op)
	l.mu.Unlock()
}

func (l *opLog) take() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	ops := l.ops
	l.ops = nil
	return ops
}

func newMemManager(t *testing.T, store scs.Store) (*session.Manager, *opLog) {
	t.Helper()
	var log opLog
	m, err := session.NewManager(session.Config{
		Store: session.ContextStore(store), Cipher: mustCipher(t, testKey(1)), Observe: log.observe,
	})
	if err != nil {
		t.Fatal(err)
	}
	return m, &log
}

func TestMemstoreConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) scs.CtxStore { return session.ContextStore(newMemstore()) })
}

func TestMemstoreLifeCycle(t *testing.T) {
	ctx := context.Background()
	m, log := newMemManager(t, newMemstore())
	tok, err := m.Create(ctx, &session.Record{Subject: "alice", SID: "sid-1", RefreshToken: "rt-1"})
	if err != nil {
		t.Fatalf("Create() = %v", err)
	}
	if got := log.take(); !slices.Equal(got, []string{"commit"}) {
		t.Errorf("Create() store calls = %v, want [commit] (no index to add to)", got)
	}
	key, rec, err := m.Load(ctx, string(tok))
	if err != nil || rec == nil || rec.Subject != "alice" {
		t.Fatalf("Load() = %+v, %v; want alice", rec, err)
	}
	rec, err = m.Update(ctx, key, func(r *session.Record) (bool, error) {
		r.RefreshToken = "rt-2"
		return true, nil
	})
	if err != nil || rec.RefreshToken != "rt-2" {
		t.Fatalf("Update() = %+v, %v; want rt-2", rec, err)
	}
	// Without a Replacer, the save is a find and then a commit, under the
	// in-process lock ("lock").
	if got := log.take(); !slices.Equal(got, []string{"find", "lock", "find", "find", "commit"}) {
		t.Errorf("Load and Update store calls = %v", got)
	}
	if _, rec, _ := m.Load(ctx, string(tok)); rec == nil || rec.RefreshToken != "rt-2" {
		t.Errorf("Load() after Update = %+v, want rt-2", rec)
	}
	del, err := m.Delete(ctx, key, session.ReasonLogout)
	if err != nil || del == nil || del.RefreshToken != "rt-2" {
		t.Fatalf("Delete() = %+v, %v; want the record", del, err)
	}
	if _, rec, err := m.Load(ctx, string(tok)); rec != nil || err != nil {
		t.Errorf("Load() after Delete = %+v, %v; want nil, nil", rec, err)
	}
	if _, err := m.Update(ctx, key, func(*session.Record) (bool, error) { return true, nil }); !errors.Is(err, session.ErrNotFound) {
		t.Errorf("Update() after Delete = %v, want ErrNotFound", err)
	}
	if err := m.Close(); err != nil {
		t.Errorf("Close() on a store without Close = %v, want nil", err)
	}
}

// TestMemstoreNoReplace: without a Replacer, a session deleted while an
// Update's fn ran is not written back.
func TestMemstoreNoReplace(t *testing.T) {
	ctx := context.Background()
	m, _ := newMemManager(t, newMemstore())
	tok, _ := m.Create(ctx, &session.Record{Subject: "alice"})
	key := session.StoreKey(string(tok))
	_, err := m.Update(ctx, key, func(r *session.Record) (bool, error) {
		if _, err := m.Delete(ctx, key, session.ReasonLogout); err != nil {
			t.Fatalf("Delete() = %v", err)
		}
		r.RefreshToken = "rt-2"
		return true, nil
	})
	if !errors.Is(err, session.ErrNotFound) {
		t.Errorf("Update() = %v, want ErrNotFound", err)
	}
	if _, rec, _ := m.Load(ctx, string(tok)); rec != nil {
		t.Error("the deleted session was written back")
	}
}

// TestMemstoreNoLock: without a Locker, Update runs under an in-process
// lock, so concurrent Updates of one session lose no write.
func TestMemstoreNoLock(t *testing.T) {
	ctx := context.Background()
	m, _ := newMemManager(t, newMemstore())
	tok, _ := m.Create(ctx, &session.Record{Subject: "alice"})
	key := session.StoreKey(string(tok))
	var inside, most atomic.Int32
	var wg sync.WaitGroup
	for range 10 {
		wg.Go(func() {
			_, err := m.Update(ctx, key, func(r *session.Record) (bool, error) {
				n := inside.Add(1)
				defer inside.Add(-1)
				for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
				}
				time.Sleep(time.Millisecond)
				return false, nil
			})
			if err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if got := most.Load(); got != 1 {
		t.Errorf("Update fns at once = %d, want 1", got)
	}
	unlock, err := m.Lock(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	if _, err := m.Lock(short, key); !errors.Is(err, session.ErrLockNotObtained) {
		t.Errorf("Lock() of a held lock = %v, want ErrLockNotObtained", err)
	}
	unlock()
}

// TestMemstoreNoIndex: without an Index, lookups read the sessions of a
// store that lists them (memstore's All), and return ErrNotSupported for
// one that cannot.
func TestMemstoreNoIndex(t *testing.T) {
	ctx := context.Background()
	m, log := newMemManager(t, newMemstore())
	for _, r := range []*session.Record{
		{Subject: "alice", SID: "sid-1"}, {Subject: "alice", SID: "sid-2"}, {Subject: "bob"},
	} {
		if _, err := m.Create(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	log.take()
	tests := []struct {
		name   string
		lookup func(context.Context, string) ([]session.Entry, error)
		value  string
		want   int
	}{
		{"alice", m.BySubject, "alice", 2},
		{"bob", m.BySubject, "bob", 1},
		{"nobody", m.BySubject, "nobody", 0},
		{"sid", m.BySID, "sid-2", 1},
		{"empty sid", m.BySID, "", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.lookup(ctx, tc.value)
			if err != nil || len(got) != tc.want {
				t.Errorf("lookup(%q) = %d entries, %v; want %d", tc.value, len(got), err, tc.want)
			}
			if ops := log.take(); !slices.Equal(ops, []string{"all"}) {
				t.Errorf("lookup store calls = %v, want [all]", ops)
			}
		})
	}

	// A store that cannot list its sessions: only scs.Store's methods.
	blind, _ := newMemManager(t, struct{ scs.Store }{newMemstore()})
	if _, err := blind.Create(ctx, &session.Record{Subject: "alice"}); err != nil {
		t.Fatal(err)
	}
	for name, lookup := range map[string]func(context.Context, string) ([]session.Entry, error){
		"BySubject": blind.BySubject, "BySID": blind.BySID,
	} {
		if got, err := lookup(ctx, "alice"); !errors.Is(err, session.ErrNotSupported) {
			t.Errorf("%s() without index or listing = %v, %v; want ErrNotSupported", name, got, err)
		}
	}
}

// TestMemstoreNoReplayCache: FirstUse falls back to an in-process cache:
// one first use per id, Forget allows one more, and expired ids are new.
func TestMemstoreNoReplayCache(t *testing.T) {
	ctx := context.Background()
	m, _ := newMemManager(t, newMemstore())
	hour := time.Now().Add(time.Hour)
	var firsts atomic.Int32
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			if first, err := m.FirstUse(ctx, "jti-1", hour); err != nil {
				t.Error(err)
			} else if first {
				firsts.Add(1)
			}
		})
	}
	wg.Wait()
	if got := firsts.Load(); got != 1 {
		t.Errorf("concurrent FirstUse() gave %d firsts, want 1", got)
	}
	if err := m.Forget(ctx, "jti-1"); err != nil {
		t.Fatal(err)
	}
	if first, _ := m.FirstUse(ctx, "jti-1", hour); !first {
		t.Error("FirstUse() after Forget = false, want true")
	}
	if first, _ := m.FirstUse(ctx, "short", time.Now().Add(-time.Second)); !first {
		t.Error("FirstUse(new id) = false, want true")
	}
	if first, _ := m.FirstUse(ctx, "short", hour); !first {
		t.Error("FirstUse() of an expired id = false, want true")
	}
}

// TestMemstoreNoPing: Ping falls back to a Find, which memstore answers.
func TestMemstoreNoPing(t *testing.T) {
	m, log := newMemManager(t, newMemstore())
	if err := m.Ping(context.Background()); err != nil {
		t.Errorf("Ping() = %v, want nil", err)
	}
	if got := log.take(); !slices.Equal(got, []string{"find"}) {
		t.Errorf("Ping() store calls = %v, want [find]", got)
	}
}
