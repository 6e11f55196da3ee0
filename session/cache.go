package session

import (
	"bytes"
	"sync"
)

// recordCache maps a store key to the decoded record of the exact bytes
// last seen under it. A hit needs the stored bytes to be identical, so it
// never serves a stale record: it only saves decryption and decoding.
//
// A put races with a remove: a session deleted (logout) after its bytes were
// read or written but before they were cached must not come back from the
// cache. So a put carries the removal count seen before the store call,
// and gives up if any removal happened since: removals are rare next to
// reads, and a put given up only costs a decryption later.
type recordCache struct {
	max      int
	mu       sync.RWMutex
	entries  map[string]cacheEntry
	removals uint64
}

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

// epoch is the removal count, to be passed to put.
func (c *recordCache) epoch() uint64 {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.removals
}

// put caches rec for raw under key unless something was removed since
// epoch; then it drops key's entry instead, which may be older than raw.
func (c *recordCache) put(key string, raw []byte, rec *Record, epoch uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.removals != epoch {
		delete(c.entries, key)
		return
	}
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

func (c *recordCache) remove(key string) {
	c.mu.Lock()
	delete(c.entries, key)
	c.removals++
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
