package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"reflect"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"

	"github.com/bff-project/bff/session"
)

// Run runs the suite. newStore returns a fresh, empty store; Run closes it
// when it is an io.Closer. The tests of an extension the store lacks are
// skipped, saying which; a store meant to have every extension asserts so
// at compile time, as boltstore and redisstore do.
func Run(t *testing.T, newStore func(t *testing.T) scs.CtxStore) {
	tests := []struct {
		name string
		run  func(t *testing.T, s scs.CtxStore)
	}{
		{"FindCommitDelete", testFindCommitDelete},
		{"WithoutContext", testWithoutContext},
		{"Expiry", testExpiry},
		{"Replace", ext(testReplace)},
		{"Index", ext(testIndex)},
		{"DeleteIndexed", ext(testDeleteIndexed)},
		{"IndexExpiry", ext(testIndexExpiry)},
		{"ReplayCache", ext(testReplayCache)},
		{"LockExcludes", ext(testLockExcludes)},
		{"LockHonoursContext", ext(testLockHonoursContext)},
		{"Ping", ext(testPing)},
		{"ConcurrentUpdates", testConcurrentUpdates},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newStore(t)
			if c, ok := s.(io.Closer); ok {
				t.Cleanup(func() { c.Close() })
			}
			tc.run(t, s)
		})
	}
}

// replacerStore is what testReplace needs: Replace, and the scs methods to
// check its effect.
type replacerStore interface {
	scs.CtxStore
	session.Replacer
}

// ext adapts a test of extension E: it skips a store without E.
func ext[E any](test func(*testing.T, E)) func(*testing.T, scs.CtxStore) {
	return func(t *testing.T, s scs.CtxStore) {
		e, ok := s.(E)
		if !ok {
			t.Skipf("%T has no %s", s, reflect.TypeFor[E]())
		}
		test(t, e)
	}
}

func testFindCommitDelete(t *testing.T, s scs.CtxStore) {
	ctx := context.Background()
	if _, found, err := s.FindCtx(ctx, "missing"); found || err != nil {
		t.Fatalf("FindCtx(missing) = found %v, err %v; want false, nil", found, err)
	}
	want := []byte("value\x00with binary \xff")
	if err := s.CommitCtx(ctx, "k", want, time.Now().Add(time.Hour)); err != nil {
		t.Fatalf("CommitCtx() = %v", err)
	}
	got, found, err := s.FindCtx(ctx, "k")
	if err != nil || !found || !bytes.Equal(got, want) {
		t.Fatalf("FindCtx() = %q, %v, %v; want %q, true, nil", got, found, err, want)
	}
	if err := s.CommitCtx(ctx, "k", []byte("v2"), time.Now().Add(time.Hour)); err != nil {
		t.Fatalf("CommitCtx(overwrite) = %v", err)
	}
	if got, _, _ := s.FindCtx(ctx, "k"); string(got) != "v2" {
		t.Errorf("FindCtx() after overwrite = %q, want v2", got)
	}
	if err := s.DeleteCtx(ctx, "k"); err != nil {
		t.Fatalf("DeleteCtx() = %v", err)
	}
	if _, found, _ := s.FindCtx(ctx, "k"); found {
		t.Error("FindCtx() after DeleteCtx found the value")
	}
	if err := s.DeleteCtx(ctx, "k"); err != nil {
		t.Errorf("DeleteCtx(missing) = %v, want nil", err)
	}
}

// testWithoutContext: scs.Store's methods without a context work on the
// same data as the context ones (scs's goredisstore panics in them).
func testWithoutContext(t *testing.T, s scs.CtxStore) {
	ctx := context.Background()
	if err := s.Commit("k", []byte("v1"), time.Now().Add(time.Hour)); err != nil {
		t.Fatalf("Commit() = %v", err)
	}
	if got, found, err := s.FindCtx(ctx, "k"); err != nil || !found || string(got) != "v1" {
		t.Errorf("FindCtx() after Commit = %q, %v, %v; want v1", got, found, err)
	}
	if err := s.CommitCtx(ctx, "k", []byte("v2"), time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if got, found, err := s.Find("k"); err != nil || !found || string(got) != "v2" {
		t.Errorf("Find() after CommitCtx = %q, %v, %v; want v2", got, found, err)
	}
	if err := s.Delete("k"); err != nil {
		t.Fatalf("Delete() = %v", err)
	}
	if _, found, err := s.FindCtx(ctx, "k"); found || err != nil {
		t.Errorf("FindCtx() after Delete = %v, %v; want false, nil", found, err)
	}
}

// testReplace: Replace overwrites a stored blob but never brings back one
// that was deleted or has expired.
func testReplace(t *testing.T, b replacerStore) {
	ctx := context.Background()
	hour := time.Now().Add(time.Hour)
	if ok, err := b.Replace(ctx, "missing", []byte("x"), hour); ok || err != nil {
		t.Errorf("Replace(missing) = %v, %v; want false, nil", ok, err)
	}
	if _, found, _ := b.FindCtx(ctx, "missing"); found {
		t.Error("Replace(missing) created the key")
	}

	if err := b.CommitCtx(ctx, "k", []byte("v1"), hour); err != nil {
		t.Fatal(err)
	}
	if ok, err := b.Replace(ctx, "k", []byte("v2"), hour); !ok || err != nil {
		t.Errorf("Replace(stored) = %v, %v; want true, nil", ok, err)
	}
	if got, _, _ := b.FindCtx(ctx, "k"); string(got) != "v2" {
		t.Errorf("Find() after Replace = %q, want v2", got)
	}

	if err := b.DeleteCtx(ctx, "k"); err != nil {
		t.Fatal(err)
	}
	if ok, err := b.Replace(ctx, "k", []byte("v3"), hour); ok || err != nil {
		t.Errorf("Replace(deleted) = %v, %v; want false, nil", ok, err)
	}
	if _, found, _ := b.FindCtx(ctx, "k"); found {
		t.Error("Replace(deleted) brought the key back")
	}

	if err := b.CommitCtx(ctx, "short", []byte("x"), time.Now().Add(50*time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	if ok, err := b.Replace(ctx, "short", []byte("y"), hour); ok || err != nil {
		t.Errorf("Replace(expired) = %v, %v; want false, nil", ok, err)
	}
	if _, found, _ := b.FindCtx(ctx, "short"); found {
		t.Error("Replace(expired) brought the key back")
	}
}

func testExpiry(t *testing.T, s scs.CtxStore) {
	ctx := context.Background()
	exp := time.Now().Add(1200 * time.Millisecond)
	if err := s.CommitCtx(ctx, "short", []byte("x"), exp); err != nil {
		t.Fatal(err)
	}
	if _, found, _ := s.FindCtx(ctx, "short"); !found {
		t.Fatal("FindCtx() before expiry: not found")
	}
	time.Sleep(time.Until(exp) + 200*time.Millisecond)
	if _, found, err := s.FindCtx(ctx, "short"); found || err != nil {
		t.Errorf("FindCtx() after expiry = %v, %v; want false, nil", found, err)
	}
}

// indexedDeleter is what testDeleteIndexed needs.
type indexedDeleter interface {
	scs.CtxStore
	session.Index
	session.IndexedDeleter
}

// testDeleteIndexed: the session and the named index entries go at once;
// other sessions' entries under the same values stay.
func testDeleteIndexed(t *testing.T, s indexedDeleter) {
	ctx := context.Background()
	exp := time.Now().Add(time.Hour)
	for _, k := range []string{"gone", "kept"} {
		if err := s.CommitCtx(ctx, k, []byte("v"), exp); err != nil {
			t.Fatal(err)
		}
		if err := s.IndexAdd(ctx, "sub", "alice", k, exp); err != nil {
			t.Fatal(err)
		}
		if err := s.IndexAdd(ctx, "sid", "s-"+k, k, exp); err != nil {
			t.Fatal(err)
		}
	}
	entries := []session.IndexEntry{{Kind: "sub", Value: "alice"}, {Kind: "sid", Value: "s-gone"}, {Kind: "sid", Value: "never-added"}}
	if err := s.DeleteIndexed(ctx, "gone", entries); err != nil {
		t.Fatalf("DeleteIndexed() = %v", err)
	}
	if _, found, _ := s.FindCtx(ctx, "gone"); found {
		t.Error("DeleteIndexed() left the session")
	}
	if got, _ := s.IndexLookup(ctx, "sub", "alice"); !slices.Equal(got, []string{"kept"}) {
		t.Errorf("IndexLookup(sub, alice) after DeleteIndexed = %v, want [kept]", got)
	}
	if got, _ := s.IndexLookup(ctx, "sid", "s-gone"); len(got) != 0 {
		t.Errorf("IndexLookup(sid, s-gone) after DeleteIndexed = %v, want none", got)
	}
	if got, _ := s.IndexLookup(ctx, "sid", "s-kept"); !slices.Equal(got, []string{"kept"}) {
		t.Errorf("IndexLookup(sid, s-kept) = %v, want [kept]", got)
	}
	if err := s.DeleteIndexed(ctx, "gone", entries); err != nil {
		t.Errorf("DeleteIndexed() of a deleted session = %v, want nil", err)
	}
}

func testIndexExpiry(t *testing.T, b session.Index) {
	ctx := context.Background()
	exp := time.Now().Add(1200 * time.Millisecond)
	if err := b.IndexAdd(ctx, "sub", "u", "short", exp); err != nil {
		t.Fatal(err)
	}
	if keys, err := b.IndexLookup(ctx, "sub", "u"); err != nil || len(keys) != 1 {
		t.Fatalf("IndexLookup() before expiry = %v, %v; want [short]", keys, err)
	}
	time.Sleep(time.Until(exp) + 200*time.Millisecond)
	if keys, err := b.IndexLookup(ctx, "sub", "u"); err != nil || len(keys) != 0 {
		t.Errorf("IndexLookup() after expiry = %v, %v; want none", keys, err)
	}
}

func testIndex(t *testing.T, b session.Index) {
	ctx := context.Background()
	exp := time.Now().Add(time.Hour)
	for _, k := range []string{"a", "b", "c"} {
		if err := b.IndexAdd(ctx, "sub", "alice", k, exp); err != nil {
			t.Fatal(err)
		}
	}
	// Values that are prefixes of each other must not mix.
	if err := b.IndexAdd(ctx, "sub", "alice2", "z", exp); err != nil {
		t.Fatal(err)
	}
	if err := b.IndexAdd(ctx, "sid", "alice", "s", exp); err != nil {
		t.Fatal(err)
	}
	got, err := b.IndexLookup(ctx, "sub", "alice")
	slices.Sort(got)
	if err != nil || !slices.Equal(got, []string{"a", "b", "c"}) {
		t.Fatalf("IndexLookup() = %v, %v; want [a b c]", got, err)
	}
	if err := b.IndexRemove(ctx, "sub", "alice", "b"); err != nil {
		t.Fatal(err)
	}
	if err := b.IndexRemove(ctx, "sub", "alice", "missing"); err != nil {
		t.Errorf("IndexRemove(missing) = %v, want nil", err)
	}
	got, _ = b.IndexLookup(ctx, "sub", "alice")
	slices.Sort(got)
	if !slices.Equal(got, []string{"a", "c"}) {
		t.Errorf("IndexLookup() after remove = %v, want [a c]", got)
	}
	if got, _ := b.IndexLookup(ctx, "sub", "nobody"); len(got) != 0 {
		t.Errorf("IndexLookup(nobody) = %v, want none", got)
	}
}

func testReplayCache(t *testing.T, b session.ReplayCache) {
	ctx := context.Background()
	exp := time.Now().Add(time.Hour)
	var firsts atomic.Int32
	var wg sync.WaitGroup
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			first, err := b.FirstUse(ctx, "jti-1", exp)
			if err != nil {
				t.Error(err)
			}
			if first {
				firsts.Add(1)
			}
		}()
	}
	wg.Wait()
	if got := firsts.Load(); got != 1 {
		t.Errorf("concurrent FirstUse() gave %d firsts, want 1", got)
	}
	if first, _ := b.FirstUse(ctx, "jti-2", exp); !first {
		t.Error("FirstUse(new id) = false, want true")
	}
	// Forget releases an id for one more first use, and only that id.
	if err := b.Forget(ctx, "jti-1"); err != nil {
		t.Fatalf("Forget() = %v", err)
	}
	if first, _ := b.FirstUse(ctx, "jti-1", exp); !first {
		t.Error("FirstUse() after Forget = false, want true")
	}
	if first, _ := b.FirstUse(ctx, "jti-1", exp); first {
		t.Error("FirstUse() twice after Forget = true, want false")
	}
	if first, _ := b.FirstUse(ctx, "jti-2", exp); first {
		t.Error("FirstUse(another id) after Forget = true, want false")
	}
	if err := b.Forget(ctx, "never-seen"); err != nil {
		t.Errorf("Forget(unknown id) = %v, want nil", err)
	}
}

func testLockExcludes(t *testing.T, b session.Locker) {
	ctx := context.Background()
	var inside, maxInside atomic.Int32
	var wg sync.WaitGroup
	for range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			unlock, err := b.Lock(ctx, "L", 5*time.Second)
			if err != nil {
				t.Error(err)
				return
			}
			n := inside.Add(1)
			for {
				m := maxInside.Load()
				if n <= m || maxInside.CompareAndSwap(m, n) {
					break
				}
			}
			time.Sleep(5 * time.Millisecond)
			inside.Add(-1)
			unlock()
		}()
	}
	wg.Wait()
	if got := maxInside.Load(); got != 1 {
		t.Errorf("holders at once = %d, want 1", got)
	}
}

func testLockHonoursContext(t *testing.T, b session.Locker) {
	unlock, err := b.Lock(context.Background(), "L", 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if _, err := b.Lock(ctx, "L", 5*time.Second); !errors.Is(err, session.ErrLockNotObtained) {
		t.Errorf("Lock() on a held lock = %v, want ErrLockNotObtained", err)
	}
	other, err := b.Lock(context.Background(), "other", 5*time.Second)
	if err != nil {
		t.Fatalf("Lock(other key) = %v, want nil", err)
	}
	other()
}

func testPing(t *testing.T, b session.Pinger) {
	if err := b.Ping(context.Background()); err != nil {
		t.Errorf("Ping() = %v, want nil", err)
	}
}

// testConcurrentUpdates drives a Manager on the store (with its stand-ins
// for missing extensions): concurrent Update calls on one session must not
// lose a write.
func testConcurrentUpdates(t *testing.T, s scs.CtxStore) {
	ctx := context.Background()
	c, err := session.NewCipher([][]byte{bytes.Repeat([]byte{7}, 32)})
	if err != nil {
		t.Fatal(err)
	}
	m, err := session.NewManager(session.Config{Store: s, Cipher: c})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := m.Create(ctx, &session.Record{Subject: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	key := session.StoreKey(string(tok))
	const n = 20
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := m.Update(ctx, key, func(r *session.Record) (bool, error) {
				if r.Tokens == nil {
					r.Tokens = map[string]session.Token{}
				}
				r.Tokens[fmt.Sprint(i)] = session.Token{AccessToken: "t"}
				return true, nil
			})
			if err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	_, rec, err := m.Load(ctx, string(tok))
	if err != nil || rec == nil {
		t.Fatalf("Load() = %v, %v", rec, err)
	}
	if got := len(rec.Tokens); got != n {
		t.Errorf("tokens after %d concurrent updates = %d, want %d (a write was lost)", n, got, n)
	}
}
