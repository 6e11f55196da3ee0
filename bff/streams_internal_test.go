package bff

import (
	"context"
	"sync"
	"testing"
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
