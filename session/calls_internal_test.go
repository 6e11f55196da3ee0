package session

import (
	"context"
	"sync"
	"testing"
)

// TestCallsListUnderRace: calls begun, bound, ended and finished at once
// on a few sessions leave no call behind, and every call bound to an ended
// session is cancelled.
func TestCallsListUnderRace(t *testing.T) {
	var m Manager
	keys := []string{"a", "b", "c"}
	var wg sync.WaitGroup
	for i := range 400 {
		wg.Go(func() {
			key := keys[i%len(keys)]
			call := m.BeginCall(context.Background(), "tok")
			m.calls.bind(call, key)
			m.calls.bind(call, key) // a second bind is a no-op
			if i%7 == 0 {
				m.EndCalls(key)
				if call.Err() == nil {
					t.Errorf("call %d bound to %q not cancelled by EndCalls", i, key)
				}
			}
			m.FinishCall(call)
			if call.Err() == nil {
				t.Errorf("call %d not cancelled by FinishCall", i)
			}
		})
	}
	wg.Wait()
	if n := len(m.calls.keys()); n != 0 {
		t.Errorf("%d sessions still listed after every call finished, want 0", n)
	}
}

// TestEndCallsCancelsOnlyThatSession: EndCalls cancels the session's
// calls, whatever their place in its list, and no other session's.
func TestEndCallsCancelsOnlyThatSession(t *testing.T) {
	var m Manager
	var mine, theirs []*Call
	for range 3 {
		c := m.BeginCall(context.Background(), "")
		m.calls.bind(c, "mine")
		mine = append(mine, c)
		o := m.BeginCall(context.Background(), "")
		m.calls.bind(o, "theirs")
		theirs = append(theirs, o)
	}
	m.FinishCall(mine[1]) // from the middle of the list
	m.FinishCall(theirs[2])
	m.EndCalls("mine")
	for i, c := range mine {
		if c.Err() == nil {
			t.Errorf("mine[%d] not cancelled", i)
		}
	}
	for i, c := range theirs[:2] {
		if c.Err() != nil {
			t.Errorf("theirs[%d] cancelled by another session's EndCalls", i)
		}
		m.FinishCall(c)
	}
	if n := len(m.calls.keys()); n != 0 {
		t.Errorf("%d sessions still listed, want 0", n)
	}
}

// TestCallAllocations: binding a call to its session and finishing it
// allocate nothing beyond the call itself (the list design's point).
func TestCallAllocations(t *testing.T) {
	var m Manager
	keep := m.BeginCall(context.Background(), "") // the session's map entry exists
	m.calls.bind(keep, "k")
	defer m.FinishCall(keep)
	call := m.BeginCall(context.Background(), "")
	allocs := testing.AllocsPerRun(100, func() {
		m.calls.bind(call, "k")
		m.calls.unbind(call)
	})
	if allocs != 0 {
		t.Errorf("bind and unbind allocate %v times, want 0", allocs)
	}
	m.FinishCall(call)
}
