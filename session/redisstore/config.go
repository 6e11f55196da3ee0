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

	"github.com/redis/rueidis"
)

// This file holds Config and Open: URL schemes to a rueidis client option.

// Config configures [Open]. The zero value of every field but URL/Addrs is
// a safe default.
type Config struct {
	// URL locates Redis. Schemes:
	//   - redis://[user:pass@]host[:6379][/db][?db=N&client_name=NAME] and
	//     rediss:// (TLS), or unix:///path/to/socket[?db=N]: one server.
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
	// more than one without MasterName: Cluster.
	Addrs []string
	// MasterName selects Sentinel: Addrs (or the URL's hosts) are then the
	// sentinels and this is the monitored master's name. It overrides the
	// URL's master_name.
	MasterName string
	// Username and Password, when not empty, override the URL's credentials
	// (they come from *_file settings so that secrets stay out of the URL).
	Username string
	Password string
	// Timeout bounds each dial and each wait for a reply, so that a dead or
	// frozen Redis fails a call within about two timeouts (one retry)
	// instead of hanging. Default 500ms.
	Timeout time.Duration
	// NoNearCache turns the near-cache off: every Find then reads Redis.
	// Default false: sessions are read once and kept in memory, and Redis
	// tells this process (RESP3 client tracking) the moment any client
	// changes or deletes one (see nearcache.go).
	NoNearCache bool
}

// Open builds the client that cfg describes. It succeeds while Redis is
// down (use [Store.Ping]); it fails only for a bad configuration, with a
// message that never contains the password. ctx is not used yet.
func Open(_ context.Context, cfg Config) (*Store, error) {
	opt, err := clientOption(cfg)
	if err != nil {
		return nil, err
	}
	return newStore(opt, cfg), nil
}

type redisMode int

const (
	modeSingle redisMode = iota
	modeSentinel
	modeCluster
)

// target is what the URL and the other fields say.
type target struct {
	mode     redisMode
	addrs    []string
	db       int
	username string
	password string
	master   string
	name     string // CLIENT SETNAME
	tls      *tls.Config
	unix     bool
}

// clientOption turns cfg into a rueidis option without contacting Redis.
func clientOption(cfg Config) (rueidis.ClientOption, error) {
	if cfg.Timeout < 0 {
		return rueidis.ClientOption{}, errors.New("session: redis: timeout must not be negative")
	}
	t, err := parseTarget(cfg)
	if err != nil {
		return rueidis.ClientOption{}, err
	}
	timeout := cfg.Timeout
	if timeout == 0 {
		timeout = defaultTimeout
	}
	opt := rueidis.ClientOption{
		InitAddress: t.addrs,
		Username:    t.username,
		Password:    t.password,
		SelectDB:    t.db,
		ClientName:  t.name,
		TLSConfig:   t.tls,
		// KeepAlive is also rueidis's gap before it PINGs a connection
		// that has sent commands but read nothing, and ConnWriteTimeout
		// how long that PING (or a reply on a connection used in turn)
		// may take: a frozen Redis fails each call within about two
		// timeouts, answered 503, not a hang.
		Dialer:           net.Dialer{Timeout: timeout, KeepAlive: timeout},
		ConnWriteTimeout: timeout,
		// One immediate retry heals a connection that died with a
		// restarted server, and no more, so a dead Redis fails fast.
		RetryDelay: func(attempts int, _ rueidis.Completed, _ error) time.Duration {
			if attempts <= 1 {
				return 0
			}
			return -1
		},
		DisableCache: cfg.NoNearCache,
	}
	if !cfg.NoNearCache {
		// A callback makes rueidis read every connection all the time.
		// Without one, a connection used by one caller at a time is read
		// only for the reply to its next command, and invalidations
		// would wait in its socket while the cache served stale copies.
		opt.OnInvalidations = func([]rueidis.RedisMessage) {}
		// rueidis keeps a cache per connection and the heartbeat's PING
		// proves one connection alive: with one connection per node,
		// a stalled link stops the heartbeat too, and the cache with it,
		// within trustWindow. One pipelined connection carries this
		// store's load (rueidis pipelines every caller's commands).
		opt.PipelineMultiplex = -1
	}
	if t.unix {
		opt.DialCtxFn = func(ctx context.Context, addr string, d *net.Dialer, _ *tls.Config) (net.Conn, error) {
			return d.DialContext(ctx, "unix", addr)
		}
	}
	switch t.mode {
	case modeSentinel:
		if t.master == "" {
			return opt, errors.New("session: redis: sentinel needs a master name (master_name in the URL, or MasterName)")
		}
		opt.Sentinel = rueidis.SentinelOption{MasterSet: t.master, TLSConfig: t.tls, Dialer: opt.Dialer}
	case modeCluster:
		if t.db != 0 {
			return opt, errors.New("session: redis: cluster has no database numbers; remove the /db from the URL")
		}
	default:
		opt.ForceSingleClient = true
	}
	return opt, nil
}

// parseTarget reads URL, Addrs, MasterName and the credentials.
func parseTarget(cfg Config) (*target, error) {
	t := &target{}
	if cfg.URL == "" && len(cfg.Addrs) == 0 {
		return nil, errors.New("session: redis: url (or addrs) is required")
	}
	if cfg.URL != "" {
		var err error
		if t, err = parseURL(cfg.URL); err != nil {
			return nil, err
		}
	}
	if len(cfg.Addrs) > 0 {
		for _, a := range cfg.Addrs {
			if _, _, err := net.SplitHostPort(a); err != nil {
				return nil, fmt.Errorf("session: redis: addrs: %q is not host:port", a)
			}
		}
		t.addrs, t.unix = cfg.Addrs, false
		if t.tls != nil {
			// The URL's host named the certificate; these hosts name theirs.
			t.tls = nodeTLSConfig()
		}
		if t.mode == modeSingle && len(cfg.Addrs) > 1 {
			t.mode = modeCluster
		}
	}
	if cfg.MasterName != "" {
		t.mode, t.master = modeSentinel, cfg.MasterName
	}
	if cfg.Username != "" {
		t.username = cfg.Username
	}
	if cfg.Password != "" {
		t.password = cfg.Password
	}
	return t, nil
}

// parseURL parses raw without ever quoting it in an error, since it may
// carry a password.
func parseURL(raw string) (*target, error) {
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok {
		return nil, errors.New("session: redis: url must start with redis://, rediss://, unix://, redis-sentinel:// or redis-cluster://")
	}
	t := &target{}
	switch scheme {
	case "redis", "rediss", "unix":
		return t, parseSingleURL(t, scheme, raw)
	case "redis-sentinel", "rediss-sentinel":
		t.mode = modeSentinel
	case "redis-cluster", "rediss-cluster":
		t.mode = modeCluster
	default:
		return nil, fmt.Errorf("session: redis: url scheme %q is not redis, rediss, unix, redis-sentinel, rediss-sentinel, redis-cluster or rediss-cluster", scheme)
	}
	return t, parseMultiHostURL(t, scheme, rest)
}

// parseSingleURL reads redis://, rediss:// and unix:// URLs.
func parseSingleURL(t *target, scheme, raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("session: redis: bad url: %w", urlErr(err))
	}
	if scheme == "unix" {
		if u.Path == "" {
			return errors.New("session: redis: bad url: unix:// needs a socket path")
		}
		t.addrs, t.unix = []string{u.Path}, true
	} else {
		host, port := u.Hostname(), u.Port()
		if host == "" {
			host = "localhost"
		}
		if port == "" {
			port = "6379"
		}
		if !validPort(port) {
			return fmt.Errorf("session: redis: bad url: invalid port %q", port)
		}
		t.addrs = []string{net.JoinHostPort(host, port)}
		if db := strings.Trim(u.Path, "/"); db != "" {
			if t.db, err = strconv.Atoi(db); err != nil || t.db < 0 {
				return fmt.Errorf("session: redis: bad url: invalid database number %q", db)
			}
		}
		if scheme == "rediss" {
			t.tls = &tls.Config{MinVersion: tls.VersionTLS12, ServerName: host}
		}
	}
	if u.User != nil {
		t.username = u.User.Username()
		t.password, _ = u.User.Password()
	}
	return singleOptions(t, u.Query())
}

// singleOptions reads the query options of a one-server URL.
func singleOptions(t *target, q url.Values) error {
	for name, vs := range q {
		v := vs[len(vs)-1]
		switch name {
		case "db":
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				return fmt.Errorf("session: redis: bad url: invalid database number %q", v)
			}
			t.db = n
		case "client_name":
			t.name = v
		default:
			return fmt.Errorf("session: redis: bad url: unexpected option %q (supported: db, client_name)", name)
		}
	}
	return nil
}

// parseMultiHostURL reads "[user:pass@]h1[:p],h2[:p][/db][?master_name=M]".
// The host list is cut out before url.Parse, which rejects a port on any
// but the last host.
func parseMultiHostURL(t *target, scheme, rest string) error {
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
		t.addrs = append(t.addrs, h)
	}
	if u.User != nil {
		t.username = u.User.Username()
		t.password, _ = u.User.Password()
	}
	if db := strings.Trim(u.Path, "/"); db != "" {
		if t.db, err = strconv.Atoi(db); err != nil || t.db < 0 {
			return fmt.Errorf("session: redis: bad url: invalid database number %q", db)
		}
	}
	q := u.Query()
	t.master = q.Get("master_name")
	q.Del("master_name")
	for name := range q {
		return fmt.Errorf("session: redis: bad url: unknown option %q (only master_name, for sentinel)", name)
	}
	if t.mode == modeCluster && t.master != "" {
		return errors.New("session: redis: bad url: master_name is for redis-sentinel://, not a cluster")
	}
	if strings.HasPrefix(scheme, "rediss") {
		t.tls = nodeTLSConfig()
	}
	return nil
}

// nodeTLSConfig leaves ServerName empty: the TLS dialer then checks each
// node's certificate against the host it dials, as a sentinel or cluster
// with many hosts needs.
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
