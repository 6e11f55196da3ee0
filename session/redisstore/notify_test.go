package redisstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/bff-project/bff/session"
	"github.com/bff-project/bff/session/redisstore"
	"github.com/bff-project/bff/session/redistest"
)

// events collects what a subscriber hears.
type events chan session.Event

func (e events) fn(ev session.Event) {
	select {
	case e <- ev:
	default: // a test that stopped reading must not block the store
	}
}

// want waits for an event equal to ev, skipping others; the bound keeps a
// broken build from hanging.
func (e events) want(t *testing.T, ev session.Event, within time.Duration) {
	t.Helper()
	deadline := time.After(within)
	for {
		select {
		case got := <-e:
			if got == ev {
				return
			}
		case <-deadline:
			t.Fatalf("no %+v within %v", ev, within)
		}
	}
}

// subscribe runs s.Subscribe until the test ends and waits for its first
// resync, which says the subscription is made.
func subscribe(t *testing.T, s *redisstore.Store) events {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	got := make(events, 100)
	done := make(chan error, 1)
	go func() { done <- s.Subscribe(ctx, got.fn) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Error("Subscribe did not return 5s after its context ended")
		}
	})
	got.want(t, session.Event{Kind: session.EventResync}, 5*time.Second)
	return got
}

// waitSubscribers waits until channel has n subscribers (Run subscribes
// in the background).
func waitSubscribers(t *testing.T, s *redisstore.Store, channel string, n int64) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		c, err := s.Client()
		if err != nil {
			t.Fatal(err)
		}
		got, err := c.Do(context.Background(), c.B().PubsubNumsub().Channel(channel).Build()).AsIntMap()
		if err != nil {
			t.Fatal(err)
		}
		if got[channel] >= n {
			return
		}
	}
	t.Fatalf("%s has fewer than %d subscribers after 5s", channel, n)
}

func openOn(t *testing.T, url, prefix string) *redisstore.Store {
	t.Helper()
	s, err := redisstore.Open(context.Background(), redisstore.Config{URL: url, Prefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// TestNotifyAcrossStores: an event published through one store reaches the
// subscribers of every store on the same prefix (instances), the
// publisher's own included, and none on another prefix.
func TestNotifyAcrossStores(t *testing.T) {
	url := redistest.Server(t)
	a, prefix := openRedis(t, url)
	b := openOn(t, url, prefix)
	other := openOn(t, url, prefix+"other:")
	onA, onB, onOther := subscribe(t, a), subscribe(t, b), subscribe(t, other)

	ev := session.Event{Kind: session.EventEnded, Key: "k1", Reason: session.ReasonLogout}
	if err := a.Publish(context.Background(), ev); err != nil {
		t.Fatalf("Publish() = %v", err)
	}
	onB.want(t, ev, 5*time.Second)
	onA.want(t, ev, 5*time.Second)
	changed := session.Event{Kind: session.EventChanged, Key: "k2"}
	if err := b.Publish(context.Background(), changed); err != nil {
		t.Fatal(err)
	}
	onA.want(t, changed, 5*time.Second)
	select {
	case got := <-onOther:
		t.Errorf("a store on another prefix heard %+v", got)
	default:
	}
}

// TestNotifyIgnoresForeignMessages: what else lands on the channel (not
// JSON, an unknown kind, an end without a key) is not passed on.
func TestNotifyIgnoresForeignMessages(t *testing.T) {
	url := redistest.Server(t)
	s, prefix := openRedis(t, url)
	got := subscribe(t, s)
	for _, msg := range []string{"hello", `{"k":"wipe"}`, `{"k":"ended"}`, `[]`} {
		c, err := s.Client()
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Do(context.Background(), c.B().Publish().Channel(prefix+"events").Message(msg).Build()).Error(); err != nil {
			t.Fatal(err)
		}
	}
	last := session.Event{Kind: session.EventEnded, Key: "k", Reason: session.ReasonExpired}
	if err := s.Publish(context.Background(), last); err != nil {
		t.Fatal(err)
	}
	select {
	case ev := <-got:
		if ev != last {
			t.Errorf("first event heard = %+v, want %+v (the foreign messages dropped)", ev, last)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no event within 5s")
	}
}

// TestNotifyResyncAfterOutage: when Redis goes away and comes back, the
// subscription is made again by itself, the subscriber is told to
// resync (it may have missed events), and later events arrive.
func TestNotifyResyncAfterOutage(t *testing.T) {
	in := redistest.Start(t)
	s := openOn(t, in.URL, "bfftest:outage:")
	got := subscribe(t, s)
	in.Stop()
	in.Restart()
	got.want(t, session.Event{Kind: session.EventResync}, 15*time.Second)
	ev := session.Event{Kind: session.EventEnded, Key: "after", Reason: session.ReasonRevoked}
	if err := s.Publish(context.Background(), ev); err != nil {
		t.Fatalf("Publish() after the restart = %v", err)
	}
	got.want(t, ev, 5*time.Second)
}

// TestNotifyFirstSubscriptionFails: with Redis down, Subscribe says so
// instead of waiting.
func TestNotifyFirstSubscriptionFails(t *testing.T) {
	in := redistest.Start(t)
	s := openOn(t, in.URL, "bfftest:down:")
	in.Stop()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.Subscribe(ctx, func(session.Event) {}); err == nil || ctx.Err() != nil {
		t.Errorf("Subscribe() with Redis down = %v (context %v), want an error at once", err, ctx.Err())
	}
}

// TestManagersHearEachOther: two Managers on Redis (two instances): a
// session deleted on one is told ended, with its reason, to a watcher on
// the other, through pub/sub alone (the sweep is an hour).
func TestManagersHearEachOther(t *testing.T) {
	url := redistest.Server(t)
	sa, prefix := openRedis(t, url)
	sb := openOn(t, url, prefix)
	cipher, err := session.NewCipher([][]byte{make([]byte, 32)})
	if err != nil {
		t.Fatal(err)
	}
	var ms []*session.Manager
	for _, s := range []*redisstore.Store{sa, sb} {
		m, err := session.NewManager(session.Config{Store: s, Cipher: cipher, SweepInterval: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { defer close(done); m.Run(ctx) }()
		t.Cleanup(func() { cancel(); <-done })
		ms = append(ms, m)
	}
	a, b := ms[0], ms[1]
	ctx := context.Background()
	tok, err := a.Create(ctx, &session.Record{Subject: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	key, rec, err := b.Load(ctx, string(tok))
	if err != nil || rec == nil {
		t.Fatalf("Load() on B = %v, %v", rec, err)
	}
	told := make(chan session.Notice, 10)
	b.Watch(key, rec, func(n session.Notice) { told <- n })
	waitSubscribers(t, sa, prefix+"events", 2)
	if _, err := a.Delete(ctx, key, session.ReasonBackchannel); err != nil {
		t.Fatal(err)
	}
	deadline := time.After(5 * time.Second)
	for {
		select {
		case n := <-told:
			if n.Kind != session.NoticeEnded {
				continue
			}
			if n.Reason != session.ReasonBackchannel {
				t.Errorf("B's watcher told ended %q, want %q", n.Reason, session.ReasonBackchannel)
			}
			return
		case <-deadline:
			t.Fatal("B's watcher not told within 5s that the session ended on A")
		}
	}
}
