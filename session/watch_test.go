package session_test

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"

	"github.com/bff-project/bff/session"
)

// notices collects what a watcher is told, for tests.
type notices struct {
	ch chan session.Notice
}

func newNotices() *notices { return &notices{ch: make(chan session.Notice, 100)} }

func (n *notices) fn(x session.Notice) { n.ch <- x }

// next waits for the next notice; the bound only keeps a broken build
// from hanging.
func (n *notices) next(t *testing.T) session.Notice {
	t.Helper()
	select {
	case x := <-n.ch:
		return x
	case <-time.After(10 * time.Second):
		t.Fatal("no notice within 10s")
	}
	return session.Notice{}
}

// wantKind skips notices until one of kind arrives.
func (n *notices) wantKind(t *testing.T, kind session.NoticeKind) session.Notice {
	t.Helper()
	for {
		if x := n.next(t); x.Kind == kind {
			return x
		}
	}
}

// sharedBus is an in-process Notifier shared by several Managers, as the
// instances sharing a Redis share its pub/sub.
type sharedBus struct {
	mu   sync.Mutex
	subs []func(session.Event)
}

func (b *sharedBus) Publish(_ context.Context, ev session.Event) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, fn := range b.subs {
		fn(ev)
	}
	return nil
}

func (b *sharedBus) Subscribe(ctx context.Context, fn func(session.Event)) error {
	b.mu.Lock()
	b.subs = append(b.subs, fn)
	b.mu.Unlock()
	<-ctx.Done()
	return nil
}

// busStore is a bolt store with a shared bus as its Notifier.
type busStore struct {
	scs.CtxStore
	*sharedBus
}

// runManager starts m.Run until the test ends.
func runManager(t *testing.T, m *session.Manager) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); m.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
}

func newWatchManager(t *testing.T, store scs.CtxStore, cfg session.Config) *session.Manager {
	t.Helper()
	cfg.Store, cfg.Cipher = store, mustCipher(t, testKey(1))
	m, err := session.NewManager(cfg)
	if err != nil {
		t.Fatal(err)
	}
	runManager(t, m)
	return m
}

// TestWatchEndedEverywhere: a session deleted on one instance is told
// ended, with the reason, to its watchers on every instance, and ends
// its API calls there, by the event alone (the sweep is an hour).
func TestWatchEndedEverywhere(t *testing.T) {
	store := busStore{openTestBolt(t, filepath.Join(t.TempDir(), "s.db")), &sharedBus{}}
	cfg := session.Config{SweepInterval: time.Hour}
	a, b := newWatchManager(t, store, cfg), newWatchManager(t, store, cfg)
	ctx := context.Background()
	for _, reason := range []string{session.ReasonLogout, session.ReasonRevoked, session.ReasonBackchannel, session.ReasonReplaced} {
		t.Run(reason, func(t *testing.T) {
			tok, _ := a.Create(ctx, &session.Record{Subject: "alice"})
			key, rec, err := b.Load(ctx, string(tok))
			if err != nil || rec == nil {
				t.Fatalf("Load() on B = %v, %v", rec, err)
			}
			onA, onB := newNotices(), newNotices()
			a.Watch(key, rec, onA.fn)
			b.Watch(key, rec, onB.fn)
			call := b.BeginCall(ctx, string(tok))
			defer b.FinishCall(call)
			if _, rec, _ := b.LoadCall(call, call); rec == nil {
				t.Fatal("LoadCall() on B found no session")
			}
			if _, err := a.Delete(ctx, key, reason); err != nil {
				t.Fatal(err)
			}
			for name, n := range map[string]*notices{"A": onA, "B": onB} {
				if got := n.wantKind(t, session.NoticeEnded); got.Reason != reason {
					t.Errorf("watcher on %s told ended for %q, want %q", name, got.Reason, reason)
				}
			}
			select {
			case <-call.Done():
			case <-time.After(10 * time.Second):
				t.Error("B's API call still runs 10s after the session ended on A")
			}
		})
	}
}

// TestWatchExpiring: a watched session is warned ExpiryWarning before its
// idle end, a Touch on another instance moves the end (told as a change)
// and the warning comes again before the new end; then it ends, expired.
func TestWatchExpiring(t *testing.T) {
	store := busStore{openTestBolt(t, filepath.Join(t.TempDir(), "s.db")), &sharedBus{}}
	// The warning leaves the test two seconds to Touch before the end.
	const idle, warning = 3 * time.Second, 2 * time.Second
	cfg := session.Config{IdleTimeout: idle, ExpiryWarning: warning, TouchInterval: time.Hour, SweepInterval: time.Hour}
	a, b := newWatchManager(t, store, cfg), newWatchManager(t, store, cfg)
	ctx := context.Background()
	tok, _ := a.Create(ctx, &session.Record{Subject: "alice"})
	key, rec, _ := b.Load(ctx, string(tok))
	n := newNotices()
	b.Watch(key, rec, n.fn)

	first := n.wantKind(t, session.NoticeExpiring)
	if want := rec.IdleExpiresAt(idle); !first.At.Equal(want) || first.Reason != session.ExpiringIdle {
		t.Errorf("expiring = %v %q, want %v %q", first.At, first.Reason, want, session.ExpiringIdle)
	}
	if early := time.Until(first.At); early > warning {
		t.Errorf("warned %v before the end, want at most %v", early, warning)
	}
	touched, err := a.Touch(ctx, key)
	if err != nil {
		t.Fatalf("Touch() on A = %v", err)
	}
	changed := n.wantKind(t, session.NoticeChanged)
	if !changed.Record.LastSeenAt.Equal(touched.LastSeenAt) {
		t.Errorf("changed record's LastSeenAt = %v, want the Touch's %v", changed.Record.LastSeenAt, touched.LastSeenAt)
	}
	second := n.wantKind(t, session.NoticeExpiring)
	if want := touched.IdleExpiresAt(idle); !second.At.Equal(want) {
		t.Errorf("second warning at %v, want the moved end %v", second.At, want)
	}
	if got := n.wantKind(t, session.NoticeEnded); got.Reason != session.ReasonExpired {
		t.Errorf("ended %q, want %q", got.Reason, session.ReasonExpired)
	}
	if _, rec, _ := a.Load(ctx, string(tok)); rec != nil {
		t.Error("the session is still live after its watchers were told it expired")
	}
}

// TestWatchResyncFindsMissedEnd: an end this instance did not hear (its
// event lost) is found at the next re-read of every watched session, as
// after a broken subscription, with the reason unknown.
func TestWatchResyncFindsMissedEnd(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.db")
	store := openTestBolt(t, path)
	// Two Managers, each with its own in-process notifier: nothing said on
	// one reaches the other but the sweep.
	a := newWatchManager(t, store, session.Config{SweepInterval: time.Hour})
	b := newWatchManager(t, store, session.Config{SweepInterval: 20 * time.Millisecond})
	ctx := context.Background()
	tok, _ := a.Create(ctx, &session.Record{Subject: "alice"})
	key, rec, _ := b.Load(ctx, string(tok))
	n := newNotices()
	b.Watch(key, rec, n.fn)
	if _, err := a.Delete(ctx, key, session.ReasonLogout); err != nil {
		t.Fatal(err)
	}
	if got := n.wantKind(t, session.NoticeEnded); got.Reason != session.ReasonUnknown {
		t.Errorf("ended %q, want %q (the logout's event was never heard)", got.Reason, session.ReasonUnknown)
	}
}

// TestWatchStop: a stopped watcher is told nothing more, and the others
// of the same session still are.
func TestWatchStop(t *testing.T) {
	store := openTestBolt(t, filepath.Join(t.TempDir(), "s.db"))
	m := newWatchManager(t, store, session.Config{SweepInterval: time.Hour})
	ctx := context.Background()
	tok, _ := m.Create(ctx, &session.Record{Subject: "alice"})
	key, rec, _ := m.Load(ctx, string(tok))
	stopped, kept := newNotices(), newNotices()
	w := m.Watch(key, rec, stopped.fn)
	m.Watch(key, rec, kept.fn)
	w.Stop()
	w.Stop() // twice is fine
	if _, err := m.Delete(ctx, key, session.ReasonRevoked); err != nil {
		t.Fatal(err)
	}
	if got := kept.wantKind(t, session.NoticeEnded); got.Reason != session.ReasonRevoked {
		t.Errorf("kept watcher told %q, want %q", got.Reason, session.ReasonRevoked)
	}
	select {
	case x := <-stopped.ch:
		t.Errorf("stopped watcher told %+v", x)
	default:
	}
	w.Stop() // after the end too
}
