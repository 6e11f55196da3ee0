package authz

import (
	"runtime"
	"testing"
	"time"

	"github.com/bff-project/bff/session"
)

func cacheSize(a *Authorizer) int {
	n := 0
	a.claims.sets.Range(func(any, any) bool { n++; return true })
	return n
}

// TestClaimsDecodedOncePerRecord: a record's claims are decoded on its
// first check only; another record (a replaced session) is decoded anew.
func TestClaimsDecodedOncePerRecord(t *testing.T) {
	a := newAuthorizer(t, Rule{Claims: map[string][]any{"groups": {"admins"}}})
	rec := alice()
	for range 3 {
		if err := a.Check(1, "GET", rec); err != nil {
			t.Fatalf("Check() = %v", err)
		}
	}
	if n := cacheSize(a); n != 1 {
		t.Errorf("cache holds %d entries after checks of one record, want 1", n)
	}
	// The cache is keyed by the record, not its subject: a changed copy
	// gets its own claims.
	other := rec.Clone()
	other.Claims = []byte(`{"groups":["staff"]}`)
	if err := a.Check(1, "GET", other); err != ErrForbidden {
		t.Errorf("Check(replaced record without the group) = %v, want ErrForbidden", err)
	}
	runtime.KeepAlive(rec)
}

// TestClaimCacheForgetsDeadRecords: entries go with their records, so the
// cache does not grow with the sessions that came and went.
func TestClaimCacheForgetsDeadRecords(t *testing.T) {
	a := newAuthorizer(t, Rule{Claims: map[string][]any{"groups": {"admins"}}})
	for range 100 {
		if err := a.Check(1, "GET", alice()); err != nil {
			t.Fatalf("Check() = %v", err)
		}
	}
	// Cleanups run after a garbage collection finds the records gone;
	// bounded by collections, not by time.
	for i := 0; i < 1000 && cacheSize(a) > 0; i++ {
		runtime.GC()
		runtime.Gosched()
	}
	if n := cacheSize(a); n != 0 {
		t.Errorf("cache holds %d entries of records that are gone, want 0", n)
	}
}

// TestCheckAllocations: the hot path allocates nothing, with or without
// rules, once a record's claims are decoded.
func TestCheckAllocations(t *testing.T) {
	a := newAuthorizer(t,
		Rule{Claims: map[string][]any{"groups": {"admins"}, "email_verified": {true}}},
		Rule{Methods: []string{"POST"}, ACR: []string{"mfa"}},
		Rule{MaxAge: time.Hour},
	)
	rec := alice()
	_ = a.Check(1, "GET", rec)
	for route, name := range []string{"no rules", "claims and max_age rules"} {
		if n := testing.AllocsPerRun(200, func() {
			if err := a.Check(route, "GET", rec); err != nil {
				t.Fatal(err)
			}
		}); n != 0 {
			t.Errorf("Check(%s) allocates %.1f times per call, want 0", name, n)
		}
	}
}

func BenchmarkCheck(b *testing.B) {
	a := newAuthorizer(b, Rule{Claims: map[string][]any{"groups": {"admins"}}})
	rec := alice()
	for _, bm := range []struct {
		name  string
		route int
	}{{"no rules", 0}, {"claims rule", 1}} {
		b.Run(bm.name, func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if err := a.Check(bm.route, "GET", rec); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
	b.Run("claims rule, new record each time", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := a.Check(1, "GET", &session.Record{Claims: rec.Claims}); err != nil {
				b.Fatal(err)
			}
		}
	})
}
