package tokens

import (
	"context"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"
)

// clientTokens caches the BFF's own client-credentials tokens ("client"
// routes) by route spec until they are due, in memory: they belong to no
// user, so every instance may hold its own.
type clientTokens struct {
	mu     sync.Mutex
	tokens map[string]cachedToken
	group  singleflight.Group
}

type cachedToken struct {
	value     string
	refreshAt time.Time
}

func (c *clientTokens) token(ctx context.Context, m *Manager, sp *spec) (string, error) {
	c.mu.Lock()
	t, ok := c.tokens[sp.key]
	c.mu.Unlock()
	if ok && time.Now().Before(t.refreshAt) {
		return t.value, nil
	}
	v, err, _ := c.group.Do(sp.key, func() (any, error) {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), m.cfg.Timeout)
		defer cancel()
		tok, err := m.cfg.Provider.ClientCredentials(ctx, sp.req)
		if err != nil {
			return nil, err
		}
		c.mu.Lock()
		if c.tokens == nil {
			c.tokens = map[string]cachedToken{}
		}
		c.tokens[sp.key] = cachedToken{value: tok.AccessToken, refreshAt: m.RefreshAt(time.Now(), tok.Expiry)}
		c.mu.Unlock()
		return tok.AccessToken, nil
	})
	if err != nil {
		m.cfg.Refreshed("failed")
		return "", err
	}
	return v.(string), nil
}
