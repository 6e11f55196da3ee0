package redisstore

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// This file holds Config and Open: URL schemes to a go-redis client.

// Config configures [Open]. The zero value of every field but URL/Addrs is
// a safe default.
type Config struct {
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
	// Prefix starts every key this store writes. Default "bff:".
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

// Open builds the client that cfg describes. It does not contact Redis, so
// it succeeds while Redis is down (use [Store.Ping]); it fails only for a
// bad configuration, with a message that never contains the password. ctx
// is not used yet.
func Open(_ context.Context, cfg Config) (*Store, error) {
	client, err := newClient(cfg)
	if err != nil {
		return nil, err
	}
	r := New(client, cfg.Prefix)
	if cfg.Timeout > 0 {
		r.timeout = cfg.Timeout
		r.gets.timeout = cfg.Timeout
	}
	return r, nil
}

// newClient builds the client cfg describes without contacting Redis.
func newClient(cfg Config) (redis.UniversalClient, error) {
	if cfg.Timeout < 0 {
		return nil, errors.New("session: redis: timeout must not be negative")
	}
	timeout := cfg.Timeout
	if timeout == 0 {
		timeout = defaultTimeout
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
func parseRedisTarget(cfg Config) (*redisTarget, error) {
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
