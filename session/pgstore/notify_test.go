package pgstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/bff-project/bff/session"
	"github.com/bff-project/bff/session/pgstore"
	"github.com/bff-project/bff/session/pgtest"
)

// subscribe subscribes s and returns the events it gets, and a wait for
// the subscription to be listening (an event published before is lost).
func subscribe(t *testing.T, s *pgstore.Store) <-chan session.Event {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ch := make(chan session.Event, 16)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = s.Subscribe(ctx, func(ev session.Event) { ch <- ev })
	}()
	t.Cleanup(func() { cancel(); <-done })
	return ch
}

func next(t *testing.T, ch <-chan session.Event, what string) session.Event {
	t.Helper()
	select {
	case ev := <-ch:
		return ev
	case <-time.After(10 * time.Second):
		t.Fatalf("no event: %s", what)
		return session.Event{}
	}
}

// TestNotify: an event published on one instance reaches every
// subscriber, the publisher's own included; after the listening
// connection breaks, the subscriber gets a resync and then events again.
func TestNotify(t *testing.T) {
	url := pgtest.Schema(t)
	a, b := open(t, pgstore.Config{URL: url}), open(t, pgstore.Config{URL: url})
	chA, chB := subscribe(t, a), subscribe(t, b)
	ctx := context.Background()
	want := session.Event{Kind: session.EventEnded, Key: "store-key", Reason: "logout"}
	// Each subscriber is told to resync once its LISTEN is in place.
	next(t, chA, "A's first resync")
	next(t, chB, "B's first resync")
	// LISTEN may not be in place on the server yet: publish until both
	// have heard it.
	heardA, heardB := false, false
	for deadline := time.Now().Add(10 * time.Second); !(heardA && heardB) && time.Now().Before(deadline); {
		if err := a.Publish(ctx, want); err != nil {
			t.Fatal(err)
		}
		timeout := time.After(100 * time.Millisecond)
	drain:
		for {
			select {
			case ev := <-chA:
				heardA = heardA || ev == want
			case ev := <-chB:
				heardB = heardB || ev == want
			case <-timeout:
				break drain
			}
		}
	}
	if !heardA || !heardB {
		t.Fatalf("event heard by A: %v, by B: %v; want both (the publisher's own subscriber too)", heardA, heardB)
	}

	// Break B's LISTEN connection from the server side.
	admin, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	if _, err := admin.Exec(ctx, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
		WHERE pid <> pg_backend_pid() AND query ILIKE 'listen%'`); err != nil {
		t.Fatal(err)
	}
	for {
		ev := next(t, chB, "B resyncs after its connection broke")
		if ev.Kind == session.EventResync {
			break
		}
	}
	changed := session.Event{Kind: session.EventChanged, Key: "k2"}
	for {
		if err := a.Publish(ctx, changed); err != nil {
			t.Fatal(err)
		}
		ev := next(t, chB, "B hears events again")
		if ev == changed {
			break
		}
	}
}
