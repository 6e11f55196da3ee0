package session

import (
	"context"
	"sync"
	"time"
)

// localReplay is the [ReplayCache] of a [Manager] whose store has none. It
// is exact for one process; a replay sent to another instance is not seen.
type localReplay struct {
	mu    sync.Mutex
	seen  map[string]time.Time // id -> expiry
	sweep int                  // sweep expired ids once seen grows past this
}

func (r *localReplay) FirstUse(_ context.Context, id string, expiry time.Time) (bool, error) {
	now := time.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	if exp, ok := r.seen[id]; ok && exp.After(now) {
		return false, nil
	}
	if r.seen == nil {
		r.seen = make(map[string]time.Time)
	}
	// Sweeping when the map has doubled keeps it near the number of live
	// ids at an amortised cost of O(1) per call.
	if len(r.seen) >= r.sweep {
		for k, exp := range r.seen {
			if !exp.After(now) {
				delete(r.seen, k)
			}
		}
		r.sweep = max(2*len(r.seen), 64)
	}
	r.seen[id] = expiry
	return true, nil
}

func (r *localReplay) Forget(_ context.Context, id string) error {
	r.mu.Lock()
	delete(r.seen, id)
	r.mu.Unlock()
	return nil
}
