package pgstore_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/jackc/pgx/v5"

	"github.com/bff-project/bff/session"
	"github.com/bff-project/bff/session/pgstore"
	"github.com/bff-project/bff/session/pgtest"
	"github.com/bff-project/bff/session/storetest"
)

func open(t testing.TB, cfg pgstore.Config) *pgstore.Store {
	t.Helper()
	s, err := pgstore.Open(context.Background(), cfg)
	if err != nil {
		t.Fatalf("Open() = %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) scs.CtxStore {
		return open(t, pgstore.Config{URL: pgtest.Schema(t)})
	})
}

// TestMigrate: Open makes the schema; with migration off, Open refuses a
// database without it, naming `bff migrate`, and takes one Migrate made.
func TestMigrate(t *testing.T) {
	ctx := context.Background()
	url := pgtest.Schema(t)
	if _, err := pgstore.Open(ctx, pgstore.Config{URL: url, NoMigrate: true}); !errors.Is(err, pgstore.ErrSchemaOutdated) || !strings.Contains(err.Error(), "bff migrate") {
		t.Fatalf("Open(NoMigrate) on an empty schema = %v, want ErrSchemaOutdated naming bff migrate", err)
	}
	if v, err := pgstore.Check(ctx, url); !errors.Is(err, pgstore.ErrSchemaOutdated) || v != 0 {
		t.Errorf("Check() on an empty schema = %d, %v; want 0, ErrSchemaOutdated", v, err)
	}
	from, err := pgstore.Migrate(ctx, url)
	if err != nil || from != 0 {
		t.Fatalf("Migrate() = %d, %v; want 0, nil", from, err)
	}
	if from, err := pgstore.Migrate(ctx, url); err != nil || from != pgstore.SchemaVersion {
		t.Errorf("Migrate() again = %d, %v; want %d, nil (nothing to do)", from, err, pgstore.SchemaVersion)
	}
	if v, err := pgstore.Check(ctx, url); err != nil || v != pgstore.SchemaVersion {
		t.Errorf("Check() after Migrate = %d, %v; want %d, nil", v, err, pgstore.SchemaVersion)
	}
	s := open(t, pgstore.Config{URL: url, NoMigrate: true})
	if err := s.CommitCtx(ctx, "k", []byte("v"), time.Now().Add(time.Hour)); err != nil {
		t.Errorf("Commit() on a migrated schema = %v", err)
	}
}

// TestConcurrentMigrate: instances starting at once migrate once, without
// errors.
func TestConcurrentMigrate(t *testing.T) {
	url := pgtest.Schema(t)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			if _, err := pgstore.Migrate(context.Background(), url); err != nil {
				t.Errorf("concurrent Migrate() = %v", err)
			}
		})
	}
	wg.Wait()
}

func TestOpenErrors(t *testing.T) {
	tests := []struct {
		name, url, want string
	}{
		{"empty", "", "url is required"},
		{"unparsable", "postgres://bff:s3cret@h:notaport/db", "cannot be parsed"},
		{"nobody listening", "postgres://bff:s3cret@127.0.0.1:1/db?connect_timeout=1", "migrate"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := pgstore.Open(context.Background(), pgstore.Config{URL: tc.url})
			if err == nil {
				s.Close()
				t.Fatalf("Open() = nil error, want one containing %q", tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Open() = %q, want it to contain %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "s3cret") {
				t.Errorf("Open() error %q shows the password", err)
			}
		})
	}
}

// TestSweep: expired rows of every table go, in batches; live ones stay.
func TestSweep(t *testing.T) {
	ctx := context.Background()
	url := pgtest.Schema(t)
	s := open(t, pgstore.Config{URL: url, SweepEvery: -1, SweepBatch: 7})
	soon, later := time.Now().Add(2*time.Second), time.Now().Add(time.Hour)
	for i := range 20 {
		k := string(rune('a' + i))
		if err := s.CommitCtx(ctx, "old"+k, []byte("x"), soon); err != nil {
			t.Fatal(err)
		}
		if err := s.IndexAdd(ctx, session.BySubject, "u", "old"+k, soon); err != nil {
			t.Fatal(err)
		}
		if _, err := s.FirstUse(ctx, "old"+k, soon); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.CommitCtx(ctx, "live", []byte("x"), later); err != nil {
		t.Fatal(err)
	}
	if err := s.IndexAdd(ctx, session.BySubject, "u", "live", later); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Until(soon) + 100*time.Millisecond)
	n, err := s.Sweep(ctx)
	if err != nil || n != 60 {
		t.Errorf("Sweep() = %d, %v; want 60, nil", n, err)
	}
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	for table, want := range map[string]int{"bff_sessions": 1, "bff_session_index": 1, "bff_replay": 0} {
		var got int
		if err := conn.QueryRow(ctx, `SELECT count(*) FROM `+table).Scan(&got); err != nil || got != want {
			t.Errorf("rows in %s after Sweep = %d, %v; want %d", table, got, err, want)
		}
	}
}

// TestSchemasApart: two schemas on one database (two deployments) share
// no session, lock or event.
func TestSchemasApart(t *testing.T) {
	ctx := context.Background()
	a, b := open(t, pgstore.Config{URL: pgtest.Schema(t)}), open(t, pgstore.Config{URL: pgtest.Schema(t)})
	if err := a.CommitCtx(ctx, "k", []byte("a"), time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, found, _ := b.FindCtx(ctx, "k"); found {
		t.Error("schema B sees schema A's session")
	}
	unlock, err := a.Lock(ctx, "L", 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	short, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	unlockB, err := b.Lock(short, "L", 10*time.Second)
	if err != nil {
		t.Fatalf("B.Lock(L) while A holds its L = %v, want the lock", err)
	}
	unlockB()
}

// TestLockLapses: a holder that never unlocks blocks others only until its
// ttl.
func TestLockLapses(t *testing.T) {
	s := open(t, pgstore.Config{URL: pgtest.Schema(t)})
	if _, err := s.Lock(context.Background(), "L", 300*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	unlock, err := s.Lock(ctx, "L", time.Second)
	if err != nil {
		t.Fatalf("Lock() on an abandoned lock = %v, want it once the ttl lapses", err)
	}
	unlock()
	unlock() // twice is harmless
}

// TestLockAcrossStores: two instances (two pools) exclude each other.
func TestLockAcrossStores(t *testing.T) {
	url := pgtest.Schema(t)
	a, b := open(t, pgstore.Config{URL: url}), open(t, pgstore.Config{URL: url})
	unlock, err := a.Lock(context.Background(), "L", 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if _, err := b.Lock(short, "L", 10*time.Second); !errors.Is(err, session.ErrLockNotObtained) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("B.Lock() while A holds it = %v, want ErrLockNotObtained and DeadlineExceeded", err)
	}
	unlock()
	ctx, cancel2 := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel2()
	unlockB, err := b.Lock(ctx, "L", 10*time.Second)
	if err != nil {
		t.Fatalf("B.Lock() after A's unlock = %v", err)
	}
	unlockB()
}
