package pgstore

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/bff-project/bff/session"
)

// Store has every extension of package session: a Manager on it needs no
// stand-in.
var _ interface {
	scs.CtxStore
	session.Replacer
	session.Index
	session.IndexedDeleter
	session.Locker
	session.ReplayCache
	session.Pinger
	session.Notifier
	io.Closer
} = (*Store)(nil)

// Config configures [Open].
type Config struct {
	// URL is the database: a postgres:// URL or a key=value connection
	// string, as pgx reads it (pool_max_conns and search_path included).
	// Required.
	URL string
	// NoMigrate leaves the schema alone: Open then only checks that it is
	// current ([ErrSchemaOutdated] otherwise). Default false: Open creates
	// or migrates it ([Migrate]).
	NoMigrate bool
	// Timeout bounds each store call, so that a hung database answers 503
	// instead of holding requests. Default 2s.
	Timeout time.Duration
	// SweepEvery is how often expired rows are deleted, in batches of
	// SweepBatch. Default 1m and 1000; a negative SweepEvery turns the
	// sweep off (tests call [Store.Sweep]).
	SweepEvery time.Duration
	SweepBatch int
}

// Store is the session store on PostgreSQL. It is safe for concurrent use.
//
// Tables, in the connection's current schema (see schema.go):
//
//	bff_sessions        token (store key), data, expiry: scs postgresstore's layout
//	bff_session_index   (kind, value, token) with the entry's expiry
//	bff_replay          one-time ids with their expiry
//	bff_schema_version  the schema's version
//
// Expired rows are never returned (every read compares expiry with the
// database's clock) and are deleted by the sweep. Locks are session-level
// advisory locks (lock.go), events go over LISTEN/NOTIFY (notify.go).
//
// scs's postgresstore is not used: it runs on database/sql and cannot
// carry the index, locks or LISTEN that pgx gives on the same pool, and it
// sweeps all expired rows in one statement. Its table layout is kept.
type Store struct {
	pool    *pgxpool.Pool
	locks   *pgxpool.Pool // holds each held lock's connection
	connCfg *pgx.ConnConfig
	schema  string
	channel string // NOTIFY channel of this schema
	timeout time.Duration
	batch   int

	stop chan struct{}
	done sync.WaitGroup
	once sync.Once
}

// Defaults for [Config].
const (
	defaultTimeout    = 2 * time.Second
	defaultSweepEvery = time.Minute
	defaultSweepBatch = 1000
)

// Open connects to the database, migrates or checks its schema, and starts
// the sweep. It fails, saying why, when the database cannot be reached or
// its schema is not current with migration off; its errors never quote the
// URL.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	s := &Store{timeout: cfg.Timeout, batch: cfg.SweepBatch, stop: make(chan struct{})}
	if s.timeout <= 0 {
		s.timeout = defaultTimeout
	}
	if s.batch <= 0 {
		s.batch = defaultSweepBatch
	}
	var err error
	if s.pool, err = newPool(ctx, cfg.URL); err != nil {
		return nil, err
	}
	if err := s.prepare(ctx, cfg); err != nil {
		s.pool.Close()
		return nil, err
	}
	lockCfg := s.pool.Config()
	lockCfg.MaxConns = 64
	lockCfg.MinConns = 0
	if s.locks, err = pgxpool.NewWithConfig(ctx, lockCfg); err != nil {
		s.pool.Close()
		return nil, fmt.Errorf("session: postgres: %w", err)
	}
	s.connCfg = s.pool.Config().ConnConfig.Copy()
	every := cfg.SweepEvery
	if every == 0 {
		every = defaultSweepEvery
	}
	if every > 0 {
		s.done.Add(1)
		go s.sweepLoop(every)
	}
	return s, nil
}

// prepare migrates or checks the schema and learns its name.
func (s *Store) prepare(ctx context.Context, cfg Config) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if cfg.NoMigrate {
		if _, err := check(ctx, s.pool); err != nil {
			return err
		}
	} else if _, err := migrate(ctx, s.pool); err != nil {
		return err
	}
	if err := s.pool.QueryRow(ctx, `SELECT current_schema()`).Scan(&s.schema); err != nil {
		return fmt.Errorf("session: postgres: %w", err)
	}
	sum := sha256.Sum256([]byte(s.schema))
	s.channel = fmt.Sprintf("bff_events_%x", sum[:8])
	return nil
}

// newPool parses url (never quoting it: it may hold a password) and makes
// a pool. It does not connect.
func newPool(ctx context.Context, url string) (*pgxpool.Pool, error) {
	if url == "" {
		return nil, errors.New("session: postgres: url is required")
	}
	pc, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, errors.New("session: postgres: url cannot be parsed (want postgres://user@host:5432/db?options or key=value pairs)")
	}
	if !strings.Contains(url, "pool_max_conns") {
		// Every API call reads its session: more than pgx's default of
		// max(4, CPUs) keeps requests from queueing for a connection.
		pc.MaxConns = 16
	}
	if !strings.Contains(url, "pool_min_conns") {
		// A burst after a quiet spell should not wait for connections
		// (each a TLS and auth handshake) to be made.
		pc.MinConns = 4
	}
	if pc.ConnConfig.ConnectTimeout == 0 {
		pc.ConnConfig.ConnectTimeout = 5 * time.Second
	}
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		return nil, fmt.Errorf("session: postgres: %w", err)
	}
	return pool, nil
}

func pgErr(op string, err error) error { return fmt.Errorf("postgres %s: %w", op, err) }

// call bounds one store call by the timeout.
func (s *Store) call(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, s.timeout)
}

// FindCtx implements scs.CtxStore.
func (s *Store) FindCtx(ctx context.Context, key string) ([]byte, bool, error) {
	ctx, cancel := s.call(ctx)
	defer cancel()
	var b []byte
	err := s.pool.QueryRow(ctx, `SELECT data FROM bff_sessions WHERE token = $1 AND expiry > now()`, key).Scan(&b)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, pgErr("find", err)
	}
	return b, true, nil
}

// CommitCtx implements scs.CtxStore (an upsert). An expiry already past
// deletes the session.
func (s *Store) CommitCtx(ctx context.Context, key string, b []byte, expiry time.Time) error {
	if !expiry.After(time.Now()) {
		return s.DeleteCtx(ctx, key)
	}
	ctx, cancel := s.call(ctx)
	defer cancel()
	_, err := s.pool.Exec(ctx, `INSERT INTO bff_sessions (token, data, expiry) VALUES ($1, $2, $3)
		ON CONFLICT (token) DO UPDATE SET data = EXCLUDED.data, expiry = EXCLUDED.expiry`, key, b, expiry)
	if err != nil {
		return pgErr("commit", err)
	}
	return nil
}

// Replace implements [session.Replacer]: an UPDATE of a row that has not
// expired, which is atomic.
func (s *Store) Replace(ctx context.Context, key string, b []byte, expiry time.Time) (bool, error) {
	if !expiry.After(time.Now()) {
		return false, s.DeleteCtx(ctx, key)
	}
	ctx, cancel := s.call(ctx)
	defer cancel()
	tag, err := s.pool.Exec(ctx, `UPDATE bff_sessions SET data = $2, expiry = $3 WHERE token = $1 AND expiry > now()`, key, b, expiry)
	if err != nil {
		return false, pgErr("replace", err)
	}
	return tag.RowsAffected() == 1, nil
}

// DeleteCtx implements scs.CtxStore.
func (s *Store) DeleteCtx(ctx context.Context, key string) error {
	ctx, cancel := s.call(ctx)
	defer cancel()
	if _, err := s.pool.Exec(ctx, `DELETE FROM bff_sessions WHERE token = $1`, key); err != nil {
		return pgErr("delete", err)
	}
	return nil
}

// Find implements scs.Store.
func (s *Store) Find(key string) ([]byte, bool, error) { return s.FindCtx(context.Background(), key) }

// Commit implements scs.Store.
func (s *Store) Commit(key string, b []byte, expiry time.Time) error {
	return s.CommitCtx(context.Background(), key, b, expiry)
}

// Delete implements scs.Store.
func (s *Store) Delete(key string) error { return s.DeleteCtx(context.Background(), key) }

// Ping implements [session.Pinger].
func (s *Store) Ping(ctx context.Context) error {
	ctx, cancel := s.call(ctx)
	defer cancel()
	if err := s.pool.Ping(ctx); err != nil {
		return pgErr("ping", err)
	}
	return nil
}

// Close stops the sweep and closes the connections, releasing any lock
// still held.
func (s *Store) Close() error {
	s.once.Do(func() {
		close(s.stop)
		s.done.Wait()
		s.locks.Close()
		s.pool.Close()
	})
	return nil
}

// lockID maps a lock name in a schema to an advisory lock key.
func lockID(schema, name string) int64 {
	sum := sha256.Sum256([]byte(schema + "\x00" + name))
	return int64(binary.BigEndian.Uint64(sum[:8]))
}
