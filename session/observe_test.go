package session_test

import (
	"context"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/bff-project/bff/session"
)

// TestObserve: every store call is reported with its operation and error,
// under the names bff's metrics use for find, commit, replace and delete.
func TestObserve(t *testing.T) {
	ctx := context.Background()
	store := openTestBolt(t, filepath.Join(t.TempDir(), "s.db"))
	var log opLog
	var errs []error
	m, err := session.NewManager(session.Config{Store: store, Cipher: mustCipher(t, testKey(1)),
		Observe: func(_ context.Context, op string, d time.Duration, err error) {
			log.observe(ctx, op, d, err)
			if err != nil {
				errs = append(errs, err)
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	tok, _ := m.Create(ctx, &session.Record{Subject: "alice", SID: "sid-1"})
	key := session.StoreKey(string(tok))
	steps := []struct {
		name string
		do   func()
		want []string
	}{
		{"Create", func() {}, []string{"commit", "index_add", "index_add"}},
		{"Update", func() {
			m.Update(ctx, key, func(*session.Record) (bool, error) { return true, nil })
		}, []string{"lock", "find", "replace"}},
		{"BySubject", func() { m.BySubject(ctx, "alice") }, []string{"index_lookup", "find"}},
		// bolt is an IndexedDeleter: the index entries go with the session.
		{"Delete", func() { m.Delete(ctx, key, session.ReasonLogout) }, []string{"find", "delete", "publish"}},
		{"FirstUse", func() { m.FirstUse(ctx, "id", time.Now().Add(time.Minute)) }, []string{"first_use"}},
		{"Forget", func() { m.Forget(ctx, "id") }, []string{"forget"}},
		{"Ping", func() { m.Ping(ctx) }, []string{"ping"}},
	}
	for _, s := range steps {
		s.do()
		if got := log.take(); !slices.Equal(got, s.want) {
			t.Errorf("%s: observed %v, want %v", s.name, got, s.want)
		}
	}
	if len(errs) != 0 {
		t.Fatalf("errors observed with a working store: %v", errs)
	}
	store.Close()
	if err := m.Ping(ctx); err == nil {
		t.Fatal("Ping() on a closed store = nil")
	}
	if len(errs) != 1 {
		t.Errorf("Ping() on a closed store observed %d errors, want 1", len(errs))
	}
}
