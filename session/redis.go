package session

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// This file holds the Redis backend: sessions, index, replay cache and locks.

// Defaults for [RedisConfig].
const (
	defaultRedisPrefix  = "bff:"
	defaultRedisTimeout = 500 * time.Millisecond
	defaultLockTTL      = 30 * time.Second
)

// Redis is the shared [Backend] on Redis (single server, Sentinel or
// Cluster), for several BFF instances behind one load balancer. It is safe
// for concurrent use.
//
// Keys, each under the prefix:
//
//	s:<store key>          session blob, PXAT its expiry
//	i:<kind>:<value>       sorted set of store keys scored by expiry (ms)
//	r:<id>                 replay-cache marker, PXAT its expiry
//	l:<lock name>          lock owner token, PX the lock's ttl
//
// Every command and script touches one key only, so no key needs a hash
// tag to run on Cluster.
//
// scs's goredisstore is not used: it takes a *redis.Client and cannot run
// on a ClusterClient or sentinel-backed UniversalClient, and its Commit
// errors on a past expiry. Its three methods are small enough to write
// here on the UniversalClient, with the same semantics.
type Redis struct {
	client  redis.UniversalClient
	prefix  string
	timeout time.Duration // bounds Ping and unlock
	gets    *getBatcher
}

// NewRedis returns a Redis backend on client, for callers that build their
// own. It relies on client's timeouts for every call but Ping, which it
// bounds by 500ms. An empty prefix means "bff:". Close closes client.
func NewRedis(client redis.UniversalClient, prefix string) *Redis {
	if prefix == "" {
		prefix = defaultRedisPrefix
	}
	return &Redis{client: client, prefix: prefix, timeout: defaultRedisTimeout, gets: newGetBatcher(client, defaultRedisTimeout)}
}

// Client returns the underlying client, for metrics (PoolStats) and tests.
func (r *Redis) Client() redis.UniversalClient { return r.client }

func redisErr(op string, err error) error {
	return fmt.Errorf("redis %s: %w", op, err)
}

// ms is t in Unix milliseconds, as PXAT and index scores want it.
func ms(t time.Time) int64 { return t.UnixMilli() }

// Find implements [Store] with one GET.
func (r *Redis) Find(ctx context.Context, key string) ([]byte, bool, error) {
	b, err := r.gets.get(ctx, r.prefix+"s:"+key)
	if errors.Is(err, redis.Nil) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, redisErr("get", err)
	}
	return b, true, nil
}

// Commit implements [Store]: SET with PXAT, so Redis drops the session at
// expiry. An expiry already past deletes the key.
func (r *Redis) Commit(ctx context.Context, key string, data []byte, expiry time.Time) error {
	at := ms(expiry)
	if at <= ms(time.Now()) {
		return r.Delete(ctx, key)
	}
	if err := r.client.Do(ctx, "set", r.prefix+"s:"+key, data, "pxat", at).Err(); err != nil {
		return redisErr("set", err)
	}
	return nil
}

// Replace implements [Replacer]: SET XX, which Redis applies only to a
// key that exists (and has not expired), atomically.
func (r *Redis) Replace(ctx context.Context, key string, data []byte, expiry time.Time) (bool, error) {
	at := ms(expiry)
	if at <= ms(time.Now()) {
		return false, r.Delete(ctx, key)
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

// Delete implements [Store].
func (r *Redis) Delete(ctx context.Context, key string) error {
	if err := r.client.Del(ctx, r.prefix+"s:"+key).Err(); err != nil {
		return redisErr("del", err)
	}
	return nil
}

func (r *Redis) indexKey(kind, value string) string {
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

// IndexAdd implements [Index]: the entry is a member of a sorted set per
// (kind, value), scored by its expiry in Unix ms.
func (r *Redis) IndexAdd(ctx context.Context, kind, value, key string, expiry time.Time) error {
	k := r.indexKey(kind, value)
	err := indexAddScript.Run(ctx, r.client, []string{k}, ms(expiry), key, ms(time.Now())).Err()
	if err != nil {
		return redisErr("index add", err)
	}
	return nil
}

// IndexRemove implements [Index].
func (r *Redis) IndexRemove(ctx context.Context, kind, value, key string) error {
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

// IndexLookup implements [Index]; its cost follows the entries of one
// (kind, value), never the size of the store.
func (r *Redis) IndexLookup(ctx context.Context, kind, value string) ([]string, error) {
	k := r.indexKey(kind, value)
	keys, err := indexLookupScript.Run(ctx, r.client, []string{k}, ms(time.Now())).StringSlice()
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, redisErr("index lookup", err)
	}
	return keys, nil
}

// FirstUse implements [ReplayCache] with SET NX PXAT, which Redis runs
// atomically. An expiry already past is kept for a millisecond.
func (r *Redis) FirstUse(ctx context.Context, id string, expiry time.Time) (bool, error) {
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

// Forget implements [ReplayCache].
func (r *Redis) Forget(ctx context.Context, id string) error {
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

// Lock implements [Locker] across instances: SET NX PX with a random owner
// token, polled with jittered backoff from 5ms to 50ms while taken. A ttl
// of zero or less means 30s. When ctx ends first, the error wraps
// [ErrLockNotObtained] and the context's error; a Redis failure is
// returned at once (wrapping neither), so an outage fails fast.
//
// The returned func releases the lock only if this caller still owns it.
// It does not report errors: if Redis cannot be reached, the lock lapses
// after ttl.
func (r *Redis) Lock(ctx context.Context, key string, ttl time.Duration) (func(), error) {
	if ttl <= 0 {
		ttl = defaultLockTTL
	}
	k := r.prefix + "l:" + key
	owner := randomString(16)
	wait := 5 * time.Millisecond
	for {
		got, err := lockScript.Run(ctx, r.client, []string{k}, owner, max(ttl.Milliseconds(), 1)).Int()
		if err != nil {
			if ctx.Err() != nil {
				return nil, fmt.Errorf("%w: %w", ErrLockNotObtained, context.Cause(ctx))
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
			return nil, fmt.Errorf("%w: %w", ErrLockNotObtained, context.Cause(ctx))
		case <-t.C:
		}
		wait = min(2*wait, 50*time.Millisecond)
	}
}

func (r *Redis) unlocker(k, owner string) func() {
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

// Ping implements [Backend] with PING, bounded by the configured timeout.
func (r *Redis) Ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	if err := r.client.Ping(ctx).Err(); err != nil {
		return redisErr("ping", err)
	}
	return nil
}

// Close closes the client.
func (r *Redis) Close() error {
	r.gets.close()
	if err := r.client.Close(); err != nil && !errors.Is(err, redis.ErrClosed) {
		return err
	}
	return nil
}
