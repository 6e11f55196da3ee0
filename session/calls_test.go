package session_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/bff-project/bff/session"
	"github.com/bff-project/bff/session/boltstore"
)

// findHookStore runs hook once, right after the next FindCtx read the
// store.
type findHookStore struct {
	*boltstore.Store
	hook func()
}

func (s *findHookStore) FindCtx(ctx context.Context, key string) ([]byte, bool, error) {
	v, found, err := s.Store.FindCtx(ctx, key)
	if h := s.hook; h != nil {
		s.hook = nil
		h()
	}
	return v, found, err
}

func newCallsManager(t *testing.T, sweep ...time.Duration) (*session.Manager, *findHookStore) {
	t.Helper()
	store := &findHookStore{Store: openTestBolt(t, filepath.Join(t.TempDir(), "s.db"))}
	cfg := session.Config{Store: store, Cipher: mustCipher(t, testKey(1))}
	if len(sweep) > 0 {
		cfg.SweepInterval = sweep[0]
	}
	m, err := session.NewManager(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return m, store
}

// TestLoadCallEndedDuringLoad: a session ended on this instance while an
// API call is loading it (the load still saw it live) ends the call: the
// call is bound before the load, not after.
func TestLoadCallEndedDuringLoad(t *testing.T) {
	m, store := newCallsManager(t)
	token, err := m.Create(context.Background(), &session.Record{Subject: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	call := m.BeginCall(context.Background(), string(token))
	defer m.FinishCall(call)
	store.hook = func() { m.EndCalls(session.StoreKey(string(token))) } // a logout's end, mid-load
	if _, rec, err := m.LoadCall(call, call); err != nil || rec == nil {
		t.Fatalf("LoadCall() = %v, %v; want the live record", rec, err)
	}
	if call.Err() == nil {
		t.Error("the call goes on after its session was ended during the load")
	}
}

// TestLoadCallAnonymousUnbound: a call whose cookie names no live session
// is not left bound to it, so a later end of that key does not cut it.
func TestLoadCallAnonymousUnbound(t *testing.T) {
	m, _ := newCallsManager(t)
	call := m.BeginCall(context.Background(), "no-such-session")
	defer m.FinishCall(call)
	key, rec, err := m.LoadCall(call, call)
	if err != nil || rec != nil {
		t.Fatalf("LoadCall() = %v, %v; want no session", rec, err)
	}
	if want := session.StoreKey("no-such-session"); key != want {
		t.Errorf("LoadCall() key = %q, want the cookie's store key", key)
	}
	m.EndCalls(key)
	if call.Err() != nil {
		t.Error("a call without a session was ended with the key its cookie names")
	}

	none := m.BeginCall(context.Background(), "")
	defer m.FinishCall(none)
	if key, rec, err := m.LoadCall(none, none); key != "" || rec != nil || err != nil {
		t.Errorf("LoadCall() without a cookie = %q, %v, %v; want none", key, rec, err)
	}
}

// TestDeleteEndsCalls: Delete ends the calls bound to the deleted session
// and only those; CallFrom finds a call from a context derived from it.
func TestDeleteEndsCalls(t *testing.T) {
	ctx := context.Background()
	m, _ := newCallsManager(t)
	mine, err := m.Create(ctx, &session.Record{Subject: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	theirs, err := m.Create(ctx, &session.Record{Subject: "bob"})
	if err != nil {
		t.Fatal(err)
	}
	a := m.BeginCall(ctx, string(mine))
	defer m.FinishCall(a)
	b := m.BeginCall(ctx, string(theirs))
	defer m.FinishCall(b)
	derived, cancel := context.WithTimeout(a, time.Hour)
	defer cancel()
	if got, ok := session.CallFrom(derived); !ok || got != a || got.CookieValue() != string(mine) {
		t.Fatalf("CallFrom(derived) = %v, %v; want the call", got, ok)
	}
	if _, ok := session.CallFrom(ctx); ok {
		t.Error("CallFrom(background) found a call")
	}
	for _, c := range []*session.Call{a, b} {
		if _, rec, err := m.LoadCall(c, c); err != nil || rec == nil {
			t.Fatalf("LoadCall() = %v, %v", rec, err)
		}
	}
	if _, err := m.Delete(ctx, session.StoreKey(string(mine)), session.ReasonLogout); err != nil {
		t.Fatal(err)
	}
	if a.Err() == nil || derived.Err() == nil {
		t.Error("Delete() left its session's call running")
	}
	if b.Err() != nil {
		t.Error("Delete() ended another session's call")
	}
}

// TestSweepEndsCallsOfSessionsGoneElsewhere: a session deleted by another
// instance whose event never arrives (here another Manager on the store,
// with a notifier of its own) ends this instance's calls at Run's next
// sweep, the safety net; a live session's calls go on.
func TestSweepEndsCallsOfSessionsGoneElsewhere(t *testing.T) {
	ctx := context.Background()
	m, store := newCallsManager(t, 10*time.Millisecond)
	other, err := session.NewManager(session.Config{Store: store, Cipher: mustCipher(t, testKey(1))})
	if err != nil {
		t.Fatal(err)
	}
	gone, _ := m.Create(ctx, &session.Record{Subject: "alice"})
	live, _ := m.Create(ctx, &session.Record{Subject: "bob"})
	a, b := m.BeginCall(ctx, string(gone)), m.BeginCall(ctx, string(live))
	defer m.FinishCall(a)
	defer m.FinishCall(b)
	for _, c := range []*session.Call{a, b} {
		if _, rec, err := m.LoadCall(c, c); err != nil || rec == nil {
			t.Fatalf("LoadCall() = %v, %v", rec, err)
		}
	}
	cctx, stop := context.WithCancel(ctx)
	defer stop()
	go m.Run(cctx)
	if _, err := other.Delete(ctx, session.StoreKey(string(gone)), session.ReasonLogout); err != nil {
		t.Fatal(err)
	}
	select {
	case <-a.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("a call of a session deleted elsewhere still runs after 5s of 10ms sweeps")
	}
	time.Sleep(50 * time.Millisecond)
	if b.Err() != nil {
		t.Error("the sweep ended a live session's call")
	}
}
