package bff

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"

	"github.com/bff-project/bff/session"
)

// TestStreamsListUnderRace: calls begun, bound, ended and finished at once
// on a few sessions leave no call behind, and every call bound to an ended
// session is cancelled.
func TestStreamsListUnderRace(t *testing.T) {
	var st streams
	keys := []string{"a", "b", "c"}
	var wg sync.WaitGroup
	for i := range 400 {
		wg.Go(func() {
			key := keys[i%len(keys)]
			call := st.begin(context.Background(), "tok")
			st.bind(call, key)
			st.bind(call, key) // a second bind is a no-op
			if i%7 == 0 {
				st.end(key)
				if call.Err() == nil {
					t.Errorf("call %d bound to %q not cancelled by end", i, key)
				}
			}
			st.finish(call)
			if call.Err() == nil {
				t.Errorf("call %d not cancelled by finish", i)
			}
		})
	}
	wg.Wait()
	if n := len(st.keys()); n != 0 {
		t.Errorf("%d sessions still listed after every call finished, want 0", n)
	}
}

// TestStreamsEndCancelsOnlyThatSession: end cancels the session's calls,
// whatever their place in its list, and no other session's.
func TestStreamsEndCancelsOnlyThatSession(t *testing.T) {
	var st streams
	var mine, theirs []*boundCall
	for range 3 {
		c := st.begin(context.Background(), "")
		st.bind(c, "mine")
		mine = append(mine, c)
		o := st.begin(context.Background(), "")
		st.bind(o, "theirs")
		theirs = append(theirs, o)
	}
	st.finish(mine[1]) // from the middle of the list
	st.finish(theirs[2])
	st.end("mine")
	for i, c := range mine {
		if c.Err() == nil {
			t.Errorf("mine[%d] not cancelled", i)
		}
	}
	for i, c := range theirs[:2] {
		if c.Err() != nil {
			t.Errorf("theirs[%d] cancelled by another session's end", i)
		}
		st.finish(c)
	}
	if n := len(st.keys()); n != 0 {
		t.Errorf("%d sessions still listed, want 0", n)
	}
}

// findHookBolt runs hook once, right after the next Find read the store.
type findHookBolt struct {
	*session.Bolt
	hook func()
}

func (b *findHookBolt) Find(ctx context.Context, key string) ([]byte, bool, error) {
	v, found, err := b.Bolt.Find(ctx, key)
	if h := b.hook; h != nil {
		b.hook = nil
		h()
	}
	return v, found, err
}

// TestBoundSessionEndedDuringLoad: a session ended on this instance while
// an API call is loading it (the load still saw it live) ends the call:
// the call is bound before the load, not after.
func TestBoundSessionEndedDuringLoad(t *testing.T) {
	bolt, err := session.OpenBolt(filepath.Join(t.TempDir(), "s.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = bolt.Close() })
	cipher, err := session.NewCipher([][]byte{bytes.Repeat([]byte{7}, 32)})
	if err != nil {
		t.Fatal(err)
	}
	backend := &findHookBolt{Bolt: bolt}
	m, err := session.NewManager(session.Config{Backend: backend, Cipher: cipher})
	if err != nil {
		t.Fatal(err)
	}
	token, err := m.Create(context.Background(), &session.Record{Subject: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{sessions: m}
	call := s.streams.begin(context.Background(), string(token))
	defer s.streams.finish(call)
	backend.hook = func() { s.streams.end(session.StoreKey(string(token))) } // a logout's end, mid-load
	r := httptest.NewRequestWithContext(call, http.MethodGet, "/api/x", nil)
	if _, rec, err := s.boundSession(r); err != nil || rec == nil {
		t.Fatalf("boundSession() = %v, %v; want the live record", rec, err)
	}
	if call.Err() == nil {
		t.Error("the call goes on after its session was ended during the load")
	}
}

// TestBoundSessionAnonymousUnbound: a call whose cookie names no live
// session is not left bound to it.
func TestBoundSessionAnonymousUnbound(t *testing.T) {
	bolt, err := session.OpenBolt(filepath.Join(t.TempDir(), "s.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = bolt.Close() })
	cipher, _ := session.NewCipher([][]byte{bytes.Repeat([]byte{7}, 32)})
	m, err := session.NewManager(session.Config{Backend: bolt, Cipher: cipher})
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{sessions: m}
	call := s.streams.begin(context.Background(), "no-such-session")
	defer s.streams.finish(call)
	r := httptest.NewRequestWithContext(call, http.MethodGet, "/api/x", nil)
	if _, rec, err := s.boundSession(r); err != nil || rec != nil {
		t.Fatalf("boundSession() = %v, %v; want no session", rec, err)
	}
	if n := len(s.streams.keys()); n != 0 {
		t.Errorf("%d sessions with bound calls, want 0", n)
	}
}
