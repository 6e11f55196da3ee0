package session

import (
	"bytes"
	"sync"
)

// recordCache maps a store key to the decoded record of the exact bytes
// last seen under it. A hit needs the stored bytes to be identical, so it
// never serves a stale record: it only saves decryption and decoding.
//
// An exclusive Manager trusts the cache without asking the store, so what
// is put in it must never be older than the store. Two races matter:
//   - a session deleted (logout) after its bytes were written but before
//     they were cached must not come back: a written record is cached
//     only if no session was removed since the write began;
//   - bytes read before a concurrent write (a renewal that rotated the
//     refresh token) must not land on top of the newer record: a read
//     record is cached only if nothing was written or removed since the
//     read began.
//
// Both are counted across all keys: writes and removals are rare next to
// reads, and a put given up only costs a decryption later.
type recordCache struct {
	max      int
	mu       sync.RWMutex
	entries  map[string]cacheEntry
	removals uint64 // sessions removed
	changes  uint64 // sessions removed or written
}

// cacheEpoch is the cache's counts when a store call began.
type cacheEpoch struct{ removals, changes uint64 }

type cacheEntry struct {
	raw []byte
	rec *Record
}

func (c *recordCache) get(key string, raw []byte) *Record {
	c.mu.RLock()
	e, ok := c.entries[key]
	c.mu.RUnlock()
	if ok && bytes.Equal(e.raw, raw) {
		return e.rec
	}
	return nil
}

// epoch is taken before a store call whose result is then cached.
func (c *recordCache) epoch() cacheEpoch {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return cacheEpoch{c.removals, c.changes}
}

// putWritten caches rec, just written as raw under key, unless a session
// was removed since ep; then it drops key's entry instead, which may be
// older than raw.
func (c *recordCache) putWritten(key string, raw []byte, rec *Record, ep cacheEpoch) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.changes++
	if c.removals != ep.removals {
		delete(c.entries, key)
		return
	}
	c.set(key, raw, rec)
}

// putRead caches rec, read as raw under key, unless anything was written
// or removed since ep: the entry there now may be newer than raw.
func (c *recordCache) putRead(key string, raw []byte, rec *Record, ep cacheEpoch) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.changes != ep.changes {
		return
	}
	c.set(key, raw, rec)
}

// set stores an entry; c.mu held.
func (c *recordCache) set(key string, raw []byte, rec *Record) {
	if c.entries == nil {
		c.entries = make(map[string]cacheEntry)
	}
	if _, ok := c.entries[key]; !ok && len(c.entries) >= c.max {
		// Evict an arbitrary entry: map order is random, which is a fair
		// enough policy for a cache whose misses only cost a decryption.
		for k := range c.entries {
			delete(c.entries, k)
			break
		}
	}
	c.entries[key] = cacheEntry{raw: raw, rec: rec}
}

// drop forgets key's entry after the store was found not to hold it. It
// is no removal for the counts: nothing stored is going away.
func (c *recordCache) drop(key string) {
	c.mu.Lock()
	delete(c.entries, key)
	c.mu.Unlock()
}

func (c *recordCache) remove(key string) {
	c.mu.Lock()
	delete(c.entries, key)
	c.removals++
	c.changes++
	c.mu.Unlock()
}

// lookup returns the cached record under key whatever the store holds; for
// a Manager that is its store's only writer.
func (c *recordCache) lookup(key string) *Record {
	c.mu.RLock()
	e, ok := c.entries[key]
	c.mu.RUnlock()
	if ok {
		return e.rec
	}
	return nil
}

// clear drops every entry, and counts a removal and a change so that no
// put under way lands afterwards (see SetCipher).
func (c *recordCache) clear() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.entries = nil
	c.removals++
	c.changes++
}
