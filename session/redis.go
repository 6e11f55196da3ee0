package session

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// RedisConfig configures [OpenRedis]. The zero value of every field but
// URL/Addrs is a safe default.
type RedisConfig struct {
	// URL locates Redis. Schemes:
	//   - redis://[user:pass@]host[:6379][/db][?go-redis options] and
	//     rediss:// (TLS), or unix:///path/to/socket: one server, parsed by
	//     go-redis's ParseURL, whose query options (pool_size, …) apply.
	//   - redis-sentinel://[user:pass@]h1[:26379],h2[:26379][/db]?master_name=NAME
	//     and rediss-sentinel:// (TLS to sentinels and data nodes): Sentinel
	//     failover. The credentials are the data nodes'; sentinels without
	//     auth are assumed.
	//   - redis-cluster://[user:pass@]h1[:6379],h2[:6379] and rediss-cluster://:
	//     Redis Cluster, even with a single seed address.
	// Required unless Addrs is set.
	URL string
	// Prefix starts every key this backend writes. Default "bff:".
	Prefix string
	// Addrs, when set, replace the URL's host(s); the URL, if any, still
	// gives TLS, credentials and database. One address: a single server;
	// more than one without MasterName: Cluster (as go-redis's
	// UniversalClient decides).
	Addrs []string
	// MasterName selects Sentinel: Addrs (or the URL's hosts) are then the
	// sentinels and this is the monitored master's name. It overrides the
	// URL's master_name.
	MasterName string
	// Username and Password, when not empty, override the URL's credentials
	// (they come from *_file settings so that secrets stay out of the URL).
	Username string
	Password string
	// Timeout bounds each dial, read, write and wait for a pooled
	// connection, so that a dead or frozen Redis fails a call within about
	// two timeouts (one retry) instead of hanging. Default 500ms. It and
	// MaxRetries=1 override the same options given in a redis:// URL.
	Timeout time.Duration
}

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
}

// NewRedis returns a Redis backend on client, for callers that build their
// own. It relies on client's timeouts for every call but Ping, which it
// bounds by 500ms. An empty prefix means "bff:". Close closes client.
func NewRedis(client redis.UniversalClient, prefix string) *Redis {
	if prefix == "" {
		prefix = defaultRedisPrefix
	}
	return &Redis{client: client, prefix: prefix, timeout: defaultRedisTimeout}
}

// OpenRedis builds the client that cfg describes. It does not contact
// Redis, so it succeeds while Redis is down (use [Redis.Ping]); it fails
// only for a bad configuration, with a message that never contains the
// password. ctx is not used yet.
func OpenRedis(_ context.Context, cfg RedisConfig) (*Redis, error) {
	client, err := newRedisClient(cfg)
	if err != nil {
		return nil, err
	}
	r := NewRedis(client, cfg.Prefix)
	if cfg.Timeout > 0 {
		r.timeout = cfg.Timeout
	}
	return r, nil
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
	b, err := r.client.Get(ctx, r.prefix+"s:"+key).Bytes()
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
	if err := r.client.Close(); err != nil && !errors.Is(err, redis.ErrClosed) {
		return err
	}
	return nil
}

// newRedisClient builds the client cfg describes without contacting Redis.
func newRedisClient(cfg RedisConfig) (redis.UniversalClient, error) {
	if cfg.Timeout < 0 {
		return nil, errors.New("session: redis: timeout must not be negative")
	}
	timeout := cfg.Timeout
	if timeout == 0 {
		timeout = defaultRedisTimeout
	}
	t, err := parseRedisTarget(cfg)
	if err != nil {
		return nil, err
	}
	if cfg.Username != "" {
		t.uo.Username = cfg.Username
	}
	if cfg.Password != "" {
		t.uo.Password = cfg.Password
	}
	// MaxRetries 1: one retry heals a pooled connection that died with a
	// restarted server, and no more, so a dead Redis fails fast.
	t.uo.DialTimeout, t.uo.ReadTimeout, t.uo.WriteTimeout = timeout, timeout, timeout
	t.uo.PoolTimeout = timeout
	t.uo.MaxRetries = 1
	t.uo.ContextTimeoutEnabled = true
	switch t.mode {
	case modeSentinel:
		if t.uo.MasterName == "" {
			return nil, errors.New("session: redis: sentinel needs a master name (master_name in the URL, or MasterName)")
		}
		return redis.NewFailoverClient(t.uo.Failover()), nil
	case modeCluster:
		if t.uo.DB != 0 {
			return nil, errors.New("session: redis: cluster has no database numbers; remove the /db from the URL")
		}
		return redis.NewClusterClient(t.uo.Cluster()), nil
	}
	o := t.single
	if o == nil {
		o = t.uo.Simple()
	} else {
		if len(cfg.Addrs) == 1 {
			o.Network, o.Addr, o.TLSConfig = "tcp", cfg.Addrs[0], t.uo.TLSConfig
		}
		o.Username, o.Password = t.uo.Username, t.uo.Password
		o.DialTimeout, o.ReadTimeout, o.WriteTimeout = timeout, timeout, timeout
		o.PoolTimeout, o.MaxRetries, o.ContextTimeoutEnabled = timeout, 1, true
	}
	return redis.NewClient(o), nil
}

type redisMode int

const (
	modeSingle redisMode = iota
	modeSentinel
	modeCluster
)

type redisTarget struct {
	mode redisMode
	uo   redis.UniversalOptions
	// single holds go-redis's own parse of a redis://, rediss:// or unix://
	// URL, so its query options and unix sockets are kept.
	single *redis.Options
}

// parseRedisTarget reads URL, Addrs and MasterName.
func parseRedisTarget(cfg RedisConfig) (*redisTarget, error) {
	t := &redisTarget{}
	if cfg.URL == "" && len(cfg.Addrs) == 0 {
		return nil, errors.New("session: redis: url (or addrs) is required")
	}
	if cfg.URL != "" {
		var err error
		if t, err = parseRedisURL(cfg.URL); err != nil {
			return nil, err
		}
	}
	if len(cfg.Addrs) > 0 {
		for _, a := range cfg.Addrs {
			if _, _, err := net.SplitHostPort(a); err != nil {
				return nil, fmt.Errorf("session: redis: addrs: %q is not host:port", a)
			}
		}
		t.uo.Addrs = cfg.Addrs
		if t.uo.TLSConfig != nil {
			// The URL's host named the certificate; these hosts name theirs.
			t.uo.TLSConfig = nodeTLSConfig()
		}
		if t.mode == modeSingle && len(cfg.Addrs) > 1 {
			t.mode = modeCluster
		}
	}
	if cfg.MasterName != "" {
		t.mode = modeSentinel
		t.uo.MasterName = cfg.MasterName
	}
	if t.mode != modeSingle {
		t.single = nil
	}
	return t, nil
}

// parseRedisURL parses raw without ever quoting it in an error, since it
// may carry a password.
func parseRedisURL(raw string) (*redisTarget, error) {
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok {
		return nil, errors.New("session: redis: url must start with redis://, rediss://, unix://, redis-sentinel:// or redis-cluster://")
	}
	t := &redisTarget{}
	switch scheme {
	case "redis", "rediss", "unix":
		if _, err := url.Parse(raw); err != nil {
			return nil, fmt.Errorf("session: redis: bad url: %w", urlErr(err))
		}
		o, err := redis.ParseURL(raw)
		if err != nil {
			return nil, fmt.Errorf("session: redis: bad url: %w", err)
		}
		t.single = o
		t.uo.Addrs = []string{o.Addr}
		t.uo.DB, t.uo.Username, t.uo.Password, t.uo.TLSConfig = o.DB, o.Username, o.Password, o.TLSConfig
		return t, nil
	case "redis-sentinel", "rediss-sentinel":
		t.mode = modeSentinel
	case "redis-cluster", "rediss-cluster":
		t.mode = modeCluster
	default:
		return nil, fmt.Errorf("session: redis: url scheme %q is not redis, rediss, unix, redis-sentinel, rediss-sentinel, redis-cluster or rediss-cluster", scheme)
	}
	return t, parseMultiHostURL(t, scheme, rest)
}

// parseMultiHostURL reads "[user:pass@]h1[:p],h2[:p][/db][?master_name=M]".
// The host list is cut out before url.Parse, which rejects a port on any
// but the last host.
func parseMultiHostURL(t *redisTarget, scheme, rest string) error {
	end := strings.IndexAny(rest, "/?#")
	if end < 0 {
		end = len(rest)
	}
	authority := rest[:end]
	at := strings.LastIndex(authority, "@")
	hosts := authority[at+1:]
	u, err := url.Parse("x://" + authority[:at+1] + "placeholder" + rest[end:])
	if err != nil {
		return fmt.Errorf("session: redis: bad url: %w", urlErr(err))
	}
	defPort := "6379"
	if t.mode == modeSentinel {
		defPort = "26379"
	}
	for _, h := range strings.Split(hosts, ",") {
		if h == "" {
			return errors.New("session: redis: bad url: empty host in host list")
		}
		if _, _, err := net.SplitHostPort(h); err != nil {
			h = net.JoinHostPort(strings.Trim(h, "[]"), defPort)
		}
		if _, p, _ := net.SplitHostPort(h); !validPort(p) {
			return fmt.Errorf("session: redis: bad url: invalid port in %q", h)
		}
		t.uo.Addrs = append(t.uo.Addrs, h)
	}
	if u.User != nil {
		t.uo.Username = u.User.Username()
		t.uo.Password, _ = u.User.Password()
	}
	if db := strings.Trim(u.Path, "/"); db != "" {
		if t.uo.DB, err = strconv.Atoi(db); err != nil || t.uo.DB < 0 {
			return fmt.Errorf("session: redis: bad url: invalid database number %q", db)
		}
	}
	q := u.Query()
	t.uo.MasterName = q.Get("master_name")
	q.Del("master_name")
	for name := range q {
		return fmt.Errorf("session: redis: bad url: unknown option %q (only master_name, for sentinel)", name)
	}
	if t.mode == modeCluster && t.uo.MasterName != "" {
		return errors.New("session: redis: bad url: master_name is for redis-sentinel://, not a cluster")
	}
	if strings.HasPrefix(scheme, "rediss") {
		t.uo.TLSConfig = nodeTLSConfig()
	}
	return nil
}

// nodeTLSConfig leaves ServerName empty: go-redis dials with
// tls.DialWithDialer, which then checks each node's certificate against
// the host it dials, as a sentinel or cluster with many hosts needs.
func nodeTLSConfig() *tls.Config {
	return &tls.Config{MinVersion: tls.VersionTLS12}
}

func validPort(p string) bool {
	n, err := strconv.Atoi(p)
	return err == nil && n > 0 && n < 65536
}

// urlErr drops the URL text, which may hold a password, from a
// url.Parse error.
func urlErr(err error) error {
	if ue, ok := errors.AsType[*url.Error](err); ok {
		return ue.Err
	}
	return err
}
