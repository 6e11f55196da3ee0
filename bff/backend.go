package bff

import (
	"context"
	"fmt"
	"time"

	"github.com/alexedwards/scs/v2"

	"github.com/bff-project/bff/bff/config"
	"github.com/bff-project/bff/session/boltstore"
	"github.com/bff-project/bff/session/pgstore"
	"github.com/bff-project/bff/session/redisstore"
)

// openStore opens the configured session store.
func openStore(ctx context.Context, cfg config.SessionConfig) (scs.CtxStore, error) {
	switch cfg.Store {
	case "redis":
		return redisstore.Open(ctx, redisstore.Config{
			URL: cfg.RedisURL, Prefix: cfg.RedisPrefix, Addrs: cfg.RedisAddrs, MasterName: cfg.RedisMasterName,
			Username: cfg.RedisUsername, Password: cfg.RedisPassword, Timeout: cfg.RedisTimeout,
			NoNearCache: cfg.RedisNearCache == "off",
		})
	case "postgres":
		return pgstore.Open(ctx, pgstore.Config{URL: cfg.PostgresURL, NoMigrate: cfg.PostgresMigrate == "off"})
	default:
		return boltstore.Open(cfg.Path)
	}
}

// Migrate creates or migrates the session store's schema, for `bff
// migrate`: PostgreSQL's tables; the other stores need none. It returns
// what it did, for the operator.
func Migrate(ctx context.Context, cfg config.Config) (string, error) {
	if cfg.Session.Store != "postgres" {
		return fmt.Sprintf("session.store is %s: nothing to migrate", cfg.Session.Store), nil
	}
	from, err := pgstore.Migrate(ctx, cfg.Session.PostgresURL)
	if err != nil {
		return "", err
	}
	if from >= pgstore.SchemaVersion {
		return fmt.Sprintf("postgres schema at version %d: nothing to do", from), nil
	}
	return fmt.Sprintf("postgres schema migrated from version %d to %d", from, pgstore.SchemaVersion), nil
}

// observeStore feeds the session store's metrics. Only the session
// operations are recorded, under the names they always had: a lock's time
// is mostly waiting for another request, not the store.
// Every call is a span of the request's trace when tracing is on.
func (s *Server) observeStore(ctx context.Context, op string, d time.Duration, err error) {
	s.traceStoreCall(ctx, op, d, err)
	if op == "subscribe" && err != nil {
		// Rare and worth a line: until it is back, sessions ended on other
		// instances end here only at the next sweep.
		s.log.WarnContext(ctx, "session events: the store's subscription failed; retrying", "cause", err.Error())
	}
	switch op {
	case "find", "commit", "replace", "delete":
	default:
		return
	}
	observeWithExemplar(ctx, s.metrics.storeDuration.WithLabelValues(op), d.Seconds())
	if err != nil {
		s.metrics.storeErrors.WithLabelValues(op).Inc()
	}
}
