package session

import (
	"context"
	"sync"
	"time"
)

// LocalLocker is a [Locker] for one process: a set of named mutexes whose
// Lock honours a context. It is exact for a store that only one process
// can open (bolt), and it is what a [Manager] uses for a store that has no
// Locker of its own. The zero value is ready to use; it is safe for
// concurrent use.
type LocalLocker struct {
	mu   sync.Mutex
	held map[string]chan struct{} // closed when the holder unlocks
}

// Lock implements [Locker]. ttl is not used: a holder cannot vanish
// without its whole process. When ctx ends first the error is
// [ErrLockNotObtained].
func (k *LocalLocker) Lock(ctx context.Context, key string, _ time.Duration) (func(), error) {
	for {
		k.mu.Lock()
		if k.held == nil {
			k.held = make(map[string]chan struct{})
		}
		ch, busy := k.held[key]
		if !busy {
			ch = make(chan struct{})
			k.held[key] = ch
			k.mu.Unlock()
			var once sync.Once
			return func() {
				once.Do(func() {
					k.mu.Lock()
					delete(k.held, key)
					k.mu.Unlock()
					close(ch)
				})
			}, nil
		}
		k.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return nil, ErrLockNotObtained
		}
	}
}
