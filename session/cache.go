package session

import (
	"bytes"
	"sync"
)

// recordCache maps a store key to the decoded record of the exact bytes
// last seen under it. A hit needs the stored bytes to be identical, so it
// never serves a stale record: it only saves decryption and decoding.
type recordCache struct {
	max     int
	mu      sync.RWMutex
	entries map[string]cacheEntry
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

func (c *recordCache) put(key string, raw []byte, rec *Record) {
	c.mu.Lock()
	defer c.mu.Unlock()
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
