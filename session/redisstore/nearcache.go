package redisstore

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// The near-cache is rueidis's client-side cache: a GET sent with
// [rueidis.Client.DoCache] is answered from memory while Redis has promised
// (RESP3 CLIENT TRACKING, opt-in mode) to tell this connection the moment
// any client changes, deletes or expires the key; the invalidation drops
// the entry. Each connection has its own cache, dropped with the
// connection, so a lost connection (and the invalidations it might have
// missed) flushes what it held.
//
// What it does not promise is order across connections: an invalidation
// travels to this process on its own connection, and may be read a little
// after the reply to a write this process sent on another one. Two
// consequences are handled here and in the Manager:
//
//   - After this process writes or deletes a key, its own next reads of
//     that key would race the invalidation: for recentWindow they go to
//     Redis instead (recentlyWritten).
//   - A read that decides a write (Manager.Update's re-read under the
//     session lock, which a renewal on another instance may have just
//     released) must see Redis itself: [Store.FindFresh].
//
// A change made by another instance reaches this one as fast as Redis's
// invalidation does, before any request that the change's answer could
// have caused.
//
// An invalidation can only be heard while the connection works, and a
// hung Redis or a cut network breaks nothing that rueidis would notice
// at once. So the cache is trusted only while Redis has answered a PING
// (sent every heartbeatEvery) within trustWindow; otherwise reads go to
// Redis, which during an outage fails them (503) within the timeout. A
// partitioned instance thus serves what it cached for at most
// trustWindow, and an outage answers 503 from then on.

// nearCacheTTL bounds how long a session is kept without being read
// again from Redis, whatever the invalidations say: a backstop, not the
// mechanism.
const nearCacheTTL = 5 * time.Minute

// recentWindow is how long this process's own reads of a key it wrote go
// to Redis: far longer than an invalidation takes to arrive (tens of
// microseconds; a few milliseconds on a loaded machine).
const recentWindow = 250 * time.Millisecond

// Heartbeat of the near-cache.
const (
	heartbeatEvery = 50 * time.Millisecond
	trustWindow    = 150 * time.Millisecond
)

// nearCache remembers the keys this process wrote lately and when Redis
// last answered. Reads are lock-free: they are on every request's path.
type nearCache struct {
	recent sync.Map     // key -> time.Time written at
	alive  atomic.Int64 // Unix ns of the last PING answered
	stop   chan struct{}
	done   chan struct{}
	once   sync.Once // closes stop

	mu    sync.Mutex
	sweep time.Time
}

func newNearCache() *nearCache {
	return &nearCache{stop: make(chan struct{}), done: make(chan struct{})}
}

// trusted reports whether the cache may answer now: Redis answered a
// PING within trustWindow.
func (n *nearCache) trusted() bool {
	return time.Now().UnixNano()-n.alive.Load() < int64(trustWindow)
}

// heartbeat PINGs Redis every heartbeatEvery until close; each answer
// renews the trust in the cache.
func (n *nearCache) heartbeat(ping func(ctx context.Context) error) {
	defer close(n.done)
	t := time.NewTicker(heartbeatEvery)
	defer t.Stop()
	for {
		sent := time.Now()
		ctx, cancel := context.WithTimeout(context.Background(), trustWindow)
		if ping(ctx) == nil {
			// The PING left after anything heard before it: trust runs
			// from when it was sent.
			n.alive.Store(sent.UnixNano())
		}
		cancel()
		select {
		case <-n.stop:
			return
		case <-t.C:
		}
	}
}

func (n *nearCache) close() {
	if n != nil {
		n.once.Do(func() { close(n.stop) })
		<-n.done
	}
}

// wrote records a write of key; nil-safe (near-cache off).
func (n *nearCache) wrote(key string) {
	if n == nil {
		return
	}
	now := time.Now()
	n.recent.Store(key, now)
	n.mu.Lock()
	defer n.mu.Unlock()
	if now.Sub(n.sweep) > recentWindow {
		n.sweep = now
		n.recent.Range(func(k, v any) bool {
			if now.Sub(v.(time.Time)) > recentWindow {
				n.recent.CompareAndDelete(k, v)
			}
			return true
		})
	}
}

// recentlyWritten reports whether this process wrote key within
// recentWindow.
func (n *nearCache) recentlyWritten(key string) bool {
	v, ok := n.recent.Load(key)
	return ok && time.Since(v.(time.Time)) <= recentWindow
}

// pingEveryNode is the heartbeat: a PING to every node, since each keeps
// the cached reads of its own keys (Cluster) and a stall of any one must
// end the trust in all.
func (r *Store) pingEveryNode(ctx context.Context) error {
	c, err := r.conn.get()
	if err != nil {
		return err
	}
	for _, n := range c.Nodes() {
		if err := n.Do(ctx, n.B().Ping().Build()).Error(); err != nil {
			return err
		}
	}
	return nil
}
