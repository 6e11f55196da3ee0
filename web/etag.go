package web

import (
	"crypto/sha256"
	"encoding/base64"
	"io"
	"sync"
	"time"
)

// etagCache remembers each file's content hash so it is computed once per
// version of the file, not once per request. It holds one entry per served
// name; an entry is recomputed when the file's size or modification time
// changes. It is safe for concurrent use.
type etagCache struct {
	mu sync.Mutex
	m  map[string]etagEntry
}

type etagEntry struct {
	mod  time.Time
	size int64
	tag  string
}

// get returns the strong ETag for the file named name with the given size
// and modification time, hashing r (and rewinding it) when not cached.
func (c *etagCache) get(name string, mod time.Time, size int64, r io.ReadSeeker) (string, error) {
	c.mu.Lock()
	e, ok := c.m[name]
	c.mu.Unlock()
	if ok && e.size == size && e.mod.Equal(mod) {
		return e.tag, nil
	}
	h := sha256.New()
	if _, err := io.Copy(h, r); err != nil {
		return "", err
	}
	if _, err := r.Seek(0, io.SeekStart); err != nil {
		return "", err
	}
	// 144 bits is plenty to tell versions of one file apart.
	tag := `"` + base64.RawURLEncoding.EncodeToString(h.Sum(nil)[:18]) + `"`
	c.mu.Lock()
	if c.m == nil {
		c.m = make(map[string]etagEntry)
	}
	c.m[name] = etagEntry{mod: mod, size: size, tag: tag}
	c.mu.Unlock()
	return tag, nil
}
