package pgstore

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/bff-project/bff/session"
)

const defaultLockTTL = 30 * time.Second

// Lock implements [session.Locker] across instances with a session-level
// advisory lock (pg_try_advisory_lock), polled with jittered backoff from
// 5ms to 50ms while another holder has it. The holder keeps a connection
// of a pool of its own (so held locks never starve session reads); the
// lock ends with the returned func, after ttl (a timer releases it), or
// when the holder's process dies and PostgreSQL closes its session.
//
// When ctx ends first, the error wraps [session.ErrLockNotObtained] and the
// context's error; a database failure is returned at once.
func (s *Store) Lock(ctx context.Context, key string, ttl time.Duration) (func(), error) {
	if ttl <= 0 {
		ttl = defaultLockTTL
	}
	id := lockID(s.schema, "lock:"+key)
	wait := 5 * time.Millisecond
	for {
		conn, err := s.tryLock(ctx, id)
		if err != nil {
			if ctx.Err() != nil {
				return nil, fmt.Errorf("%w: %w", session.ErrLockNotObtained, context.Cause(ctx))
			}
			return nil, pgErr("lock", err)
		}
		if conn != nil {
			return s.unlocker(conn, id, ttl), nil
		}
		t := time.NewTimer(wait/2 + rand.N(wait/2))
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("%w: %w", session.ErrLockNotObtained, context.Cause(ctx))
		case <-t.C:
		}
		wait = min(2*wait, 50*time.Millisecond)
	}
}

// tryLock takes the lock on a connection it returns, or returns nil when
// another session holds it.
func (s *Store) tryLock(ctx context.Context, id int64) (*pgxpool.Conn, error) {
	cctx, cancel := s.call(ctx)
	defer cancel()
	conn, err := s.locks.Acquire(cctx)
	if err != nil {
		return nil, err
	}
	var got bool
	if err := conn.QueryRow(cctx, `SELECT pg_try_advisory_lock($1)`, id).Scan(&got); err != nil {
		conn.Release()
		return nil, err
	}
	if !got {
		conn.Release()
		return nil, nil
	}
	return conn, nil
}

func (s *Store) unlocker(conn *pgxpool.Conn, id int64, ttl time.Duration) func() {
	var once sync.Once
	var lapse *time.Timer
	unlock := func() {
		once.Do(func() {
			lapse.Stop()
			ctx, cancel := context.WithTimeout(context.Background(), s.timeout)
			defer cancel()
			if _, err := conn.Exec(ctx, `SELECT pg_advisory_unlock($1)`, id); err != nil {
				// Closing the connection ends its session, and the lock.
				_ = conn.Conn().Close(ctx)
			}
			conn.Release()
		})
	}
	lapse = time.AfterFunc(ttl, unlock)
	return unlock
}
