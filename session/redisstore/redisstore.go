package redisstore

import (
	"context"
	crand "crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/redis/go-redis/v9"

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
	session.Index
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
// scs's goredisstore is not used: it takes a *redis.Client and cannot run
// on a ClusterClient or sentinel-backed UniversalClient, and its Commit
// errors on a past expiry. Its three methods are small enough to write
// here on the UniversalClient, with the same semantics.
type Store struct {
	client  redis.UniversalClient
	prefix  string
	timeout time.Duration // bounds Ping and unlock
	gets    *getBatcher
}

// New returns a store on client, for callers that build their own. It
// relies on client's timeouts for every call but Ping, which it bounds by
// 500ms. An empty prefix means "bff:". Close closes client.
func New(client redis.UniversalClient, prefix string) *Store {
	if prefix == "" {
		prefix = defaultPrefix
	}
	return &Store{client: client, prefix: prefix, timeout: defaultTimeout, gets: newGetBatcher(client, defaultTimeout)}
}

// Client returns the underlying client, for metrics (PoolStats) and tests.
func (r *Store) Client() redis.UniversalClient { return r.client }

func redisErr(op string, err error) error {
	return fmt.Errorf("redis %s: %w", op, err)
}

// ms is t in Unix milliseconds, as PXAT and index scores want it.
func ms(t time.Time) int64 { return t.UnixMilli() }

// FindCtx implements scs.CtxStore with one GET, sent in a pipeline with
// the GETs of concurrent calls (see batch.go).
func (r *Store) FindCtx(ctx context.Context, key string) ([]byte, bool, error) {
	b, err := r.gets.get(ctx, r.prefix+"s:"+key)
	if errors.Is(err, redis.Nil) {
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
	at := ms(expiry)
	if at <= ms(time.Now()) {
		return r.DeleteCtx(ctx, key)
	}
	if err := r.client.Do(ctx, "set", r.prefix+"s:"+key, data, "pxat", at).Err(); err != nil {
		return redisErr("set", err)
	}
	return nil
}

// Replace implements [session.Replacer]: SET XX, which Redis applies only to a
// key that exists (and has not expired), atomically.
func (r *Store) Replace(ctx context.Context, key string, data []byte, expiry time.Time) (bool, error) {
	at := ms(expiry)
	if at <= ms(time.Now()) {
		return false, r.DeleteCtx(ctx, key)
	}
	err := r.client.Do(ctx, "set", r.prefix+"s:"+key, data, "pxat", at, "xx").Err()
	if errors.Is(err, redis.Nil) {
		return false, nil
	}
	if err != nil {
		return false, redisErr("set", err)
	}
	return true, nil
}

// DeleteCtx implements scs.CtxStore.
func (r *Store) DeleteCtx(ctx context.Context, key string) error {
	if err := r.client.Del(ctx, r.prefix+"s:"+key).Err(); err != nil {
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

func (r *Store) indexKey(kind, value string) string {
	return r.prefix + "i:" + kind + ":" + value
}

// indexAddScript adds a member scored by its expiry, drops members expired
// by ARGV[3] (now), and sets the set's own expiry to its highest score, so
// the set lives exactly as long as its longest-lived entry. A script rather
// than PEXPIREAT GT, because GT never applies to a key without a TTL (a new
// set) and needs Redis 7.
var indexAddScript = redis.NewScript(`
redis.call('ZADD', KEYS[1], ARGV[1], ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[3])
local top = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
if top[2] == nil then
  return 0
end
redis.call('PEXPIREAT', KEYS[1], string.format('%.0f', tonumber(top[2])))
return 1
`)

// IndexAdd implements [session.Index]: the entry is a member of a sorted set per
// (kind, value), scored by its expiry in Unix ms.
func (r *Store) IndexAdd(ctx context.Context, kind, value, key string, expiry time.Time) error {
	k := r.indexKey(kind, value)
	err := indexAddScript.Run(ctx, r.client, []string{k}, ms(expiry), key, ms(time.Now())).Err()
	if err != nil {
		return redisErr("index add", err)
	}
	return nil
}

// IndexRemove implements [session.Index].
func (r *Store) IndexRemove(ctx context.Context, kind, value, key string) error {
	if err := r.client.ZRem(ctx, r.indexKey(kind, value), key).Err(); err != nil {
		return redisErr("index remove", err)
	}
	return nil
}

// indexLookupScript drops the expired members, then lists the rest, in one
// round trip.
var indexLookupScript = redis.NewScript(`
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
return redis.call('ZRANGE', KEYS[1], 0, -1)
`)

// IndexLookup implements [session.Index]; its cost follows the entries of one
// (kind, value), never the size of the store.
func (r *Store) IndexLookup(ctx context.Context, kind, value string) ([]string, error) {
	k := r.indexKey(kind, value)
	keys, err := indexLookupScript.Run(ctx, r.client, []string{k}, ms(time.Now())).StringSlice()
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, redisErr("index lookup", err)
	}
	return keys, nil
}

// FirstUse implements [session.ReplayCache] with SET NX PXAT, which Redis runs
// atomically. An expiry already past is kept for a millisecond.
func (r *Store) FirstUse(ctx context.Context, id string, expiry time.Time) (bool, error) {
	at := max(ms(expiry), ms(time.Now())+1)
	err := r.client.Do(ctx, "set", r.prefix+"r:"+id, "1", "nx", "pxat", at).Err()
	if errors.Is(err, redis.Nil) {
		return false, nil
	}
	if err != nil {
		return false, redisErr("replay set", err)
	}
	return true, nil
}

// Forget implements [session.ReplayCache].
func (r *Store) Forget(ctx context.Context, id string) error {
	if err := r.client.Del(ctx, r.prefix+"r:"+id).Err(); err != nil {
		return redisErr("replay del", err)
	}
	return nil
}

// lockScript takes the lock when it is free, or when it already holds
// ARGV[1]: go-redis retries a command whose reply was lost, and the retry
// of a SET NX that did succeed must not see its own lock as taken.
var lockScript = redis.NewScript(`
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
var unlockScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
`)

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
		got, err := lockScript.Run(ctx, r.client, []string{k}, owner, max(ttl.Milliseconds(), 1)).Int()
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
			_ = unlockScript.Run(ctx, r.client, []string{k}, owner).Err()
		})
	}
}

// Ping implements [session.Pinger] with PING, bounded by the configured timeout.
func (r *Store) Ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	if err := r.client.Ping(ctx).Err(); err != nil {
		return redisErr("ping", err)
	}
	return nil
}

// Close closes the client.
func (r *Store) Close() error {
	r.gets.close()
	if err := r.client.Close(); err != nil && !errors.Is(err, redis.ErrClosed) {
		return err
	}
	return nil
}

// ownerToken is a lock holder's random name, 128 bits.
func ownerToken() string {
	b := make([]byte, 16)
	_, _ = crand.Read(b) // never fails (crypto/rand's documented contract)
	return base64.RawURLEncoding.EncodeToString(b)
}
