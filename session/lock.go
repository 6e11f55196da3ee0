package session

import (
	"context"
	"sync"
)

// keyedMutex is a set of named mutexes whose Lock honours a context.
type keyedMutex struct {
	mu   sync.Mutex
	held map[string]chan struct{}
}

func (k *keyedMutex) lock(ctx context.Context, key string) (func(), error) {
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
