package tokens

import (
	"encoding/base64"
	"errors"
	"fmt"
	"sync"

	"github.com/bff-project/bff/bff/oidcclient"
	"github.com/bff-project/bff/session"
)

// keyCacheSize bounds each generation of keyCache.
const keyCacheSize = 4096

// keyCache keeps the parsed DPoP keys of recently used sessions, so that
// a proxied call on a DPoP route signs its proof without first deriving
// the public key and a signer from the record's private key. Keys live in
// two generations of a map: a full current one becomes the old one, so
// memory stays bounded and active sessions stay cached.
type keyCache struct {
	mu       sync.Mutex
	cur, old map[session.Secret]*oidcclient.DPoPKey
}

// get returns the key sealed in a record as raw.
func (c *keyCache) get(raw session.Secret) (*oidcclient.DPoPKey, error) {
	c.mu.Lock()
	k, ok := c.cur[raw]
	if !ok {
		if k, ok = c.old[raw]; ok {
			c.put(raw, k)
		}
	}
	c.mu.Unlock()
	if ok {
		return k, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(string(raw))
	if err != nil {
		return nil, errors.New("tokens: the session's dpop key is malformed")
	}
	k, err = oidcclient.ParseDPoPKey(b)
	if err != nil {
		return nil, fmt.Errorf("tokens: the session's dpop key: %w", err)
	}
	c.mu.Lock()
	c.put(raw, k)
	c.mu.Unlock()
	return k, nil
}

// put adds k; c.mu held.
func (c *keyCache) put(raw session.Secret, k *oidcclient.DPoPKey) {
	if c.cur == nil || len(c.cur) >= keyCacheSize {
		c.old, c.cur = c.cur, make(map[session.Secret]*oidcclient.DPoPKey)
	}
	c.cur[raw] = k
}

// SealDPoPKey is k as session.Record.DPoPKey holds it.
func SealDPoPKey(k *oidcclient.DPoPKey) session.Secret {
	return session.Secret(base64.RawURLEncoding.EncodeToString(k.Bytes()))
}
