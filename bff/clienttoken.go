package bff

import (
	"context"
	"net/url"
	"sync"
	"time"

	"github.com/bff-project/bff/proxy"
	"golang.org/x/sync/singleflight"
)

// clientTokens caches the BFF's own client-credentials tokens ("client"
// routes) per audience and scopes until they are due, in memory: they are
// not tied to a user, so every instance may hold its own.
type clientTokens struct {
	mu     sync.Mutex
	tokens map[string]cachedToken
	group  singleflight.Group
}

type cachedToken struct {
	value     string
	refreshAt time.Time
}

func (c *clientTokens) token(ctx context.Context, s *Server, route *proxy.Route) (string, error) {
	tk := s.tokenKey(route)
	c.mu.Lock()
	t, ok := c.tokens[tk]
	c.mu.Unlock()
	if ok && time.Now().Before(t.refreshAt) {
		return t.value, nil
	}
	v, err, _ := c.group.Do(tk, func() (any, error) {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.OIDC.Timeout)
		defer cancel()
		info, err := s.provider.get(ctx)
		if err != nil {
			return nil, errProviderDown(err)
		}
		params := url.Values{}
		setAudienceParams(params, route)
		tok, err := s.grant(ctx, info, params, route.Scopes)
		if err != nil {
			return nil, err
		}
		exp := tokenExpiry(tok)
		c.mu.Lock()
		if c.tokens == nil {
			c.tokens = map[string]cachedToken{}
		}
		c.tokens[tk] = cachedToken{value: tok.AccessToken, refreshAt: s.refreshAt(time.Now(), exp)}
		c.mu.Unlock()
		return tok.AccessToken, nil
	})
	if err != nil {
		s.metrics.refreshes.WithLabelValues("failed").Inc()
		return "", err
	}
	return v.(string), nil
}
