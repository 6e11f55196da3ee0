package redisstore_test

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/rueidis"

	"github.com/bff-project/bff/session/redisstore"
	"github.com/bff-project/bff/session/redistest"
)

// getCalls is how many GETs the server has run (INFO commandstats).
func getCalls(t *testing.T, admin rueidis.Client) int {
	t.Helper()
	info, err := admin.Do(context.Background(), admin.B().Info().Section("commandstats").Build()).ToString()
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(info, "\n") {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(line), "cmdstat_get:calls="); ok {
			n, _ := strconv.Atoi(rest[:strings.IndexByte(rest, ',')])
			return n
		}
	}
	return 0
}

// pair opens two stores on one private Redis under one prefix: two BFF
// instances.
func pair(t *testing.T, cfg redisstore.Config) (a, b *redisstore.Store, srv *redistest.Instance, admin rueidis.Client) {
	t.Helper()
	srv = redistest.Start(t)
	cfg.URL = srv.URL
	open := func() *redisstore.Store {
		s, err := redisstore.Open(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	return open(), open(), srv, redistest.Client(t, srv.URL)
}

// eventually reads key from s until it holds want (or is gone, for ""),
// and returns how many reads saw the old value.
func eventually(t *testing.T, s *redisstore.Store, key, want, when string) int {
	t.Helper()
	for stale := 0; stale < 2000; stale++ {
		got, found, err := s.FindCtx(context.Background(), key)
		if err != nil {
			t.Fatalf("%s: Find() = %v", when, err)
		}
		if (want == "" && !found) || (want != "" && string(got) == want) {
			return stale
		}
		time.Sleep(50 * time.Microsecond)
	}
	t.Fatalf("%s: Find() never saw %q: the invalidation did not arrive", when, want)
	return 0
}

func wantFind(t *testing.T, s *redisstore.Store, key, want, when string) {
	t.Helper()
	got, found, err := s.FindCtx(context.Background(), key)
	switch {
	case err != nil:
		t.Fatalf("%s: Find() = %v", when, err)
	case want == "" && found:
		t.Errorf("%s: Find() = %q, want not found", when, got)
	case want != "" && string(got) != want:
		t.Errorf("%s: Find() = %q, %v; want %q", when, got, found, want)
	}
}

func TestNearCacheServesFromMemory(t *testing.T) {
	for _, tc := range []struct {
		name     string
		off      bool
		wantGets int
	}{
		{"on", false, 1},
		{"off", true, 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, _, _, admin := pair(t, redisstore.Config{NoNearCache: tc.off})
			ctx := context.Background()
			if err := admin.Do(ctx, admin.B().Set().Key("bff:s:k").Value("v1").Build()).Error(); err != nil {
				t.Fatal(err)
			}
			before := getCalls(t, admin)
			for range 10 {
				wantFind(t, a, "k", "v1", "read")
			}
			if got := getCalls(t, admin) - before; got != tc.wantGets {
				t.Errorf("GETs Redis ran for 10 Finds with the near-cache %s = %d, want %d", tc.name, got, tc.wantGets)
			}
		})
	}
}

// TestNearCacheSeesOtherInstance: B holds a session in its near-cache;
// A changes it, then deletes it. B sees each change as soon as Redis's
// invalidation has reached it: within microseconds, here in one process
// where B reads the moment A's write returns (the reply to A and the
// invalidation to B leave Redis together, on two connections). Between
// two BFF instances the change's answer has to reach a browser and the
// browser's next request B first; e2e/multi shows that there.
func TestNearCacheSeesOtherInstance(t *testing.T) {
	a, b, _, admin := pair(t, redisstore.Config{})
	ctx := context.Background()
	hour := time.Now().Add(time.Hour)
	if err := a.CommitCtx(ctx, "k", []byte("v1"), hour); err != nil {
		t.Fatal(err)
	}
	wantFind(t, b, "k", "v1", "B's first read")
	before := getCalls(t, admin)
	wantFind(t, b, "k", "v1", "B's second read")
	if got := getCalls(t, admin) - before; got != 0 {
		t.Fatalf("B's second read ran %d GETs, want 0 (served from its near-cache)", got)
	}

	if ok, err := a.Replace(ctx, "k", []byte("v2"), hour); !ok || err != nil {
		t.Fatalf("A: Replace() = %v, %v", ok, err)
	}
	stale := eventually(t, b, "k", "v2", "B after A's Replace")
	if err := a.CommitCtx(ctx, "k", []byte("v3"), hour); err != nil {
		t.Fatal(err)
	}
	stale += eventually(t, b, "k", "v3", "B after A's Commit")
	if err := a.DeleteCtx(ctx, "k"); err != nil {
		t.Fatal(err)
	}
	stale += eventually(t, b, "k", "", "B after A's Delete")
	t.Logf("reads of B that came before the invalidation: %d in all", stale)
}

// TestNearCacheOwnWrites: an instance reads its own write at once, even
// though the invalidation of its cached copy travels on another
// connection.
func TestNearCacheOwnWrites(t *testing.T) {
	a, _, _, _ := pair(t, redisstore.Config{})
	ctx := context.Background()
	hour := time.Now().Add(time.Hour)
	for i := range 50 {
		v := "v" + strconv.Itoa(i)
		if err := a.CommitCtx(ctx, "k", []byte(v), hour); err != nil {
			t.Fatal(err)
		}
		wantFind(t, a, "k", v, "read after own write")
		wantFind(t, a, "k", v, "second read after own write")
	}
	if err := a.DeleteCtx(ctx, "k"); err != nil {
		t.Fatal(err)
	}
	wantFind(t, a, "k", "", "read after own delete")
}

// TestNearCacheLostConnection: while B's connections are down it cannot
// hear invalidations, so a lost connection must flush what it cached:
// a change made meanwhile is seen, and so is a Redis restarted empty.
func TestNearCacheLostConnection(t *testing.T) {
	srv := redistest.Start(t)
	b, err := redisstore.Open(context.Background(), redisstore.Config{URL: srv.URL + "?client_name=instance-b"})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	admin := redistest.Client(t, srv.URL)
	ctx := context.Background()
	set := func(v string) {
		t.Helper()
		if err := admin.Do(ctx, admin.B().Set().Key("bff:s:k").Value(v).Build()).Error(); err != nil {
			t.Fatal(err)
		}
	}
	set("v1")
	wantFind(t, b, "k", "v1", "before")

	// Kill B's connections, then change the key: no invalidation can
	// reach B. B notices the loss when its reads of the connections end,
	// and drops what it cached on them.
	killClients(t, admin, "instance-b")
	set("v2")
	eventually(t, b, "k", "v2", "after B lost its connections")

	srv.Stop()
	srv.Restart()
	wantFind(t, b, "k", "", "after Redis restarted empty")
}

// killClients closes the server's connections of the clients named name.
func killClients(t *testing.T, admin rueidis.Client, name string) {
	t.Helper()
	ctx := context.Background()
	list, err := admin.Do(ctx, admin.B().ClientList().Build()).ToString()
	if err != nil {
		t.Fatal(err)
	}
	killed := 0
	for _, line := range strings.Split(list, "\n") {
		var id int64
		named := false
		for _, f := range strings.Fields(strings.TrimPrefix(line, "txt:")) {
			if v, ok := strings.CutPrefix(f, "id="); ok {
				id, _ = strconv.ParseInt(v, 10, 64)
			}
			named = named || f == "name="+name
		}
		if named && id != 0 {
			if err := admin.Do(ctx, admin.B().ClientKill().Id(id).Build()).Error(); err != nil {
				t.Fatal(err)
			}
			killed++
		}
	}
	if killed == 0 {
		t.Fatalf("no connection of client %q to kill in %s", name, list)
	}
}

// TestNearCacheOutage: with Redis hung, the near-cache stops answering
// once Redis has not answered its heartbeat for a moment; reads then fail
// (503 in the BFF) instead of serving copies that nobody can invalidate.
func TestNearCacheOutage(t *testing.T) {
	a, _, srv, _ := pair(t, redisstore.Config{})
	ctx := context.Background()
	if err := a.CommitCtx(ctx, "k", []byte("v1"), time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond) // past the window of A's own write
	wantFind(t, a, "k", "v1", "before")
	wantFind(t, a, "k", "v1", "from the near-cache")
	srv.Pause()
	defer srv.Resume()
	time.Sleep(300 * time.Millisecond) // past the heartbeat's trust window
	if got, found, err := a.FindCtx(ctx, "k"); err == nil {
		t.Errorf("Find() with Redis hung = %q, %v, nil; want an error", got, found)
	}
	srv.Resume()
	eventually(t, a, "k", "v1", "after Redis resumed")
}
