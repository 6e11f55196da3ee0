package redisstore

import (
	"context"
	crand "crypto/rand"
	"encoding/base64"
	"fmt"
	"io"
	"math/rand/v2"
	"strconv"
	"sync"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/redis/rueidis"

	"github.com/bff-project/bff/session"
)

// This file holds the store itself: sessions, index, replay cache and locks.

// Defaults for [Config].
const (
	defaultPrefix  = "bff:"
	defaultTimeout = 500 * time.Millisecond
	defaultLockTTL = 30 * time.Second
)

// Store has every extension of package session: a Manager on it needs no
// stand-in.
var _ interface {
	scs.CtxStore
	session.Replacer
	session.FreshFinder
	session.Index
	session.IndexedDeleter
	session.Locker
	session.ReplayCache
	session.Pinger
	session.Notifier
	io.Closer
} = (*Store)(nil)

// Store is the shared session store on Redis (single server, Sentinel or
// Cluster), for several BFF instances behind one load balancer. It is safe
// for concurrent use.
//
// Keys, each under the prefix:
//
//	s:<store key>          session blob, PXAT its expiry
//	i:<kind>:<value>       sorted set of store keys scored by expiry (ms)
//	r:<id>                 replay-cache marker, PXAT its expiry
//	l:<lock name>          lock owner token, PX the lock's ttl
//	events                 pub/sub channel of session events (notify.go)
//
// Every command and script touches one key only, so no key needs a hash
// tag to run on Cluster.
//
// The client is rueidis: it speaks RESP3 with client tracking (the
// near-cache, nearcache.go), pipelines the commands of concurrent calls on
// a few connections by itself, and knows Sentinel and Cluster. scs's
// goredisstore is not used: it is built on go-redis, which has no
// client-side cache.
type Store struct {
	conn    *lazyClient
	prefix  string
	timeout time.Duration // bounds Ping and unlock
	near    *nearCache    // nil: off
}

func newStore(opt rueidis.ClientOption, cfg Config) *Store {
	timeout := cfg.Timeout
	if timeout == 0 {
		timeout = defaultTimeout
	}
	prefix := cfg.Prefix
	if prefix == "" {
		prefix = defaultPrefix
	}
	r := &Store{prefix: prefix, timeout: timeout}
	r.conn = newLazyClient(opt, timeout)
	if !cfg.NoNearCache {
		r.near = newNearCache()
		go r.near.heartbeat(r.pingEveryNode)
	}
	return r
}

// Client returns the underlying client, for tools (benchmarks, tests) that
// read Redis directly; an error while it cannot be made (Redis down at
// start with Sentinel or Cluster).
func (r *Store) Client() (rueidis.Client, error) { return r.conn.get() }

func redisErr(op string, err error) error {
	return fmt.Errorf("redis %s: %w", op, err)
}

func ms(t time.Time) string { return strconv.FormatInt(t.UnixMilli(), 10) }

func (r *Store) sessionKey(key string) string { return r.prefix + "s:" + key }

// do runs one command.
func (r *Store) do(ctx context.Context, build func(b rueidis.Builder) rueidis.Completed) rueidis.RedisResult {
	c, err := r.conn.get()
	if err != nil {
		return errResult(err)
	}
	return c.Do(ctx, build(c.B()))
}

// FindCtx implements scs.CtxStore with one GET, answered from the
// near-cache when it holds the key (see nearcache.go).
func (r *Store) FindCtx(ctx context.Context, key string) ([]byte, bool, error) {
	c, err := r.conn.get()
	if err != nil {
		return nil, false, redisErr("get", err)
	}
	k := r.sessionKey(key)
	var res rueidis.RedisResult
	if r.near != nil && r.near.trusted() && !r.near.recentlyWritten(k) {
		res = c.DoCache(ctx, c.B().Get().Key(k).Cache(), nearCacheTTL)
	} else {
		res = c.Do(ctx, c.B().Get().Key(k).Build())
	}
	return found(res)
}

// FindFresh implements [session.FreshFinder]: a GET that Redis answers,
// whatever the near-cache holds.
func (r *Store) FindFresh(ctx context.Context, key string) ([]byte, bool, error) {
	return found(r.do(ctx, func(b rueidis.Builder) rueidis.Completed { return b.Get().Key(r.sessionKey(key)).Build() }))
}

func found(res rueidis.RedisResult) ([]byte, bool, error) {
	b, err := res.AsBytes()
	if rueidis.IsRedisNil(err) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, redisErr("get", err)
	}
	return b, true, nil
}

// CommitCtx implements scs.CtxStore: SET with PXAT, so Redis drops the
// session at expiry. An expiry already past deletes the key.
func (r *Store) CommitCtx(ctx context.Context, key string, data []byte, expiry time.Time) error {
	if !expiry.After(time.Now()) {
		return r.DeleteCtx(ctx, key)
	}
	k := r.sessionKey(key)
	r.near.wrote(k)
	err := r.do(ctx, func(b rueidis.Builder) rueidis.Completed {
		return b.Set().Key(k).Value(rueidis.BinaryString(data)).Pxat(expiry).Build()
	}).Error()
	if err != nil {
		return redisErr("set", err)
	}
	return nil
}

// Replace implements [session.Replacer]: SET XX, which Redis applies only to a
// key that exists (and has not expired), atomically.
func (r *Store) Replace(ctx context.Context, key string, data []byte, expiry time.Time) (bool, error) {
	if !expiry.After(time.Now()) {
		return false, r.DeleteCtx(ctx, key)
	}
	k := r.sessionKey(key)
	r.near.wrote(k)
	err := r.do(ctx, func(b rueidis.Builder) rueidis.Completed {
		return b.Set().Key(k).Value(rueidis.BinaryString(data)).Xx().Pxat(expiry).Build()
	}).Error()
	if rueidis.IsRedisNil(err) {
		return false, nil
	}
	if err != nil {
		return false, redisErr("set", err)
	}
	return true, nil
}

// DeleteCtx implements scs.CtxStore.
func (r *Store) DeleteCtx(ctx context.Context, key string) error {
	k := r.sessionKey(key)
	r.near.wrote(k)
	if err := r.do(ctx, func(b rueidis.Builder) rueidis.Completed { return b.Del().Key(k).Build() }).Error(); err != nil {
		return redisErr("del", err)
	}
	return nil
}

// Find, Commit and Delete are scs.Store's methods without a context,
// which scs.CtxStore still requires. Unlike scs's goredisstore, which
// panics in them, they work: the client's timeouts bound every call.

// Find implements scs.Store.
func (r *Store) Find(key string) ([]byte, bool, error) {
	return r.FindCtx(context.Background(), key)
}

// Commit implements scs.Store.
func (r *Store) Commit(key string, data []byte, expiry time.Time) error {
	return r.CommitCtx(context.Background(), key, data, expiry)
}

// Delete implements scs.Store.
func (r *Store) Delete(key string) error {
	return r.DeleteCtx(context.Background(), key)
}

// FirstUse implements [session.ReplayCache] with SET NX PXAT, which Redis runs
// atomically. An expiry already past is kept for a millisecond.
func (r *Store) FirstUse(ctx context.Context, id string, expiry time.Time) (bool, error) {
	at := max(expiry.UnixMilli(), time.Now().UnixMilli()+1)
	err := r.do(ctx, func(b rueidis.Builder) rueidis.Completed {
		return b.Set().Key(r.prefix + "r:" + id).Value("1").Nx().PxatMillisecondsTimestamp(at).Build()
	}).Error()
	if rueidis.IsRedisNil(err) {
		return false, nil
	}
	if err != nil {
		return false, redisErr("replay set", err)
	}
	return true, nil
}

// Forget implements [session.ReplayCache].
func (r *Store) Forget(ctx context.Context, id string) error {
	if err := r.do(ctx, func(b rueidis.Builder) rueidis.Completed { return b.Del().Key(r.prefix + "r:" + id).Build() }).Error(); err != nil {
		return redisErr("replay del", err)
	}
	return nil
}

// lockScript takes the lock when it is free, or when it already holds
// ARGV[1]: a retried command whose reply was lost must not see its own
// lock as taken.
var lockScript = rueidis.NewLuaScript(`
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  return 1
end
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
`)

// unlockScript deletes the lock only while it still holds the caller's
// owner token: a holder whose ttl lapsed must not release the next
// holder's lock.
var unlockScript = rueidis.NewLuaScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
`)

func (r *Store) script(ctx context.Context, s *rueidis.Lua, keys, args []string) rueidis.RedisResult {
	c, err := r.conn.get()
	if err != nil {
		return errResult(err)
	}
	return s.Exec(ctx, c, keys, args)
}

// Lock implements [session.Locker] across instances: SET NX PX with a random owner
// token, polled with jittered backoff from 5ms to 50ms while taken. A ttl
// of zero or less means 30s. When ctx ends first, the error wraps
// [session.ErrLockNotObtained] and the context's error; a Redis failure is
// returned at once (wrapping neither), so an outage fails fast.
//
// The returned func releases the lock only if this caller still owns it.
// It does not report errors: if Redis cannot be reached, the lock lapses
// after ttl.
func (r *Store) Lock(ctx context.Context, key string, ttl time.Duration) (func(), error) {
	if ttl <= 0 {
		ttl = defaultLockTTL
	}
	k := r.prefix + "l:" + key
	owner := ownerToken()
	wait := 5 * time.Millisecond
	for {
		got, err := r.script(ctx, lockScript, []string{k}, []string{owner, strconv.FormatInt(max(ttl.Milliseconds(), 1), 10)}).AsInt64()
		if err != nil {
			if ctx.Err() != nil {
				return nil, fmt.Errorf("%w: %w", session.ErrLockNotObtained, context.Cause(ctx))
			}
			return nil, redisErr("lock", err)
		}
		if got == 1 {
			return r.unlocker(k, owner), nil
		}
		// Full jitter in [wait/2, wait) keeps waiters on many instances
		// from polling in step.
		d := wait/2 + rand.N(wait/2)
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("%w: %w", session.ErrLockNotObtained, context.Cause(ctx))
		case <-t.C:
		}
		wait = min(2*wait, 50*time.Millisecond)
	}
}

func (r *Store) unlocker(k, owner string) func() {
	var once sync.Once
	return func() {
		once.Do(func() {
			// Not the caller's ctx: it is often done by the time the
			// lock is released, and the release must still happen.
			ctx, cancel := context.WithTimeout(context.Background(), 2*r.timeout)
			defer cancel()
			_ = r.script(ctx, unlockScript, []string{k}, []string{owner}).Error()
		})
	}
}

// Ping implements [session.Pinger] with PING, bounded by the configured timeout.
func (r *Store) Ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	if err := r.do(ctx, func(b rueidis.Builder) rueidis.Completed { return b.Ping().Build() }).Error(); err != nil {
		return redisErr("ping", err)
	}
	return nil
}

// Close closes the client.
func (r *Store) Close() error {
	r.near.close()
	r.conn.close()
	return nil
}

// ownerToken is a lock holder's random name, 128 bits.
func ownerToken() string {
	b := make([]byte, 16)
	_, _ = crand.Read(b) // never fails (crypto/rand's documented contract)
	return base64.RawURLEncoding.EncodeToString(b)
}

// errResult wraps an error as a command's result.
func errResult(err error) rueidis.RedisResult { return rueidis.NewErrorResult(err) }
