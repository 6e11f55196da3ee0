package bff

import (
	"context"
	"time"

	"github.com/bff-project/bff/bff/config"
	"github.com/bff-project/bff/session"
)

// openBackend opens the configured session store.
func openBackend(ctx context.Context, cfg config.SessionConfig) (session.Backend, error) {
	switch cfg.Store {
	case "redis":
		return session.OpenRedis(ctx, session.RedisConfig{
			URL: cfg.RedisURL, Prefix: cfg.RedisPrefix, Addrs: cfg.RedisAddrs, MasterName: cfg.RedisMasterName,
			Username: cfg.RedisUsername, Password: cfg.RedisPassword, Timeout: cfg.RedisTimeout,
		})
	default:
		return session.OpenBolt(cfg.Path)
	}
}

// instrumentedBackend times and counts the session store's calls.
type instrumentedBackend struct {
	session.Backend
	m *metrics
}

func (b instrumentedBackend) done(op string, start time.Time, err error) {
	b.m.storeDuration.WithLabelValues(op).Observe(time.Since(start).Seconds())
	if err != nil {
		b.m.storeErrors.WithLabelValues(op).Inc()
	}
}

func (b instrumentedBackend) Find(ctx context.Context, key string) ([]byte, bool, error) {
	start := time.Now()
	v, ok, err := b.Backend.Find(ctx, key)
	b.done("find", start, err)
	return v, ok, err
}

func (b instrumentedBackend) Commit(ctx context.Context, key string, v []byte, exp time.Time) error {
	start := time.Now()
	err := b.Backend.Commit(ctx, key, v, exp)
	b.done("commit", start, err)
	return err
}

func (b instrumentedBackend) Replace(ctx context.Context, key string, v []byte, exp time.Time) (bool, error) {
	start := time.Now()
	ok, err := b.Backend.Replace(ctx, key, v, exp)
	b.done("replace", start, err)
	return ok, err
}

func (b instrumentedBackend) Delete(ctx context.Context, key string) error {
	start := time.Now()
	err := b.Backend.Delete(ctx, key)
	b.done("delete", start, err)
	return err
}
