package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	_ "net/http/pprof" // on the stats listener only
	"net/url"
	"os"
	"runtime"
	"runtime/pprof"
	"sync"
	"syscall"
	"time"

	"github.com/bff-project/bff/bff"
	"github.com/bff-project/bff/bff/config"
)

// The child processes. The parent starts each with -serve MODE, writes a
// childConfig as one JSON value to its stdin and reads one JSON line of
// addresses from its stdout. A child runs until its stdin reaches EOF, so
// it also ends when the parent dies.

// childConfig configures a "-serve proxy" child.
type childConfig struct {
	Upstream  string     `json:"upstream"`   // http://host:port of the upstream child
	Issuer    string     `json:"issuer"`     // the development provider (in the parent)
	Secret    string     `json:"secret"`     // client secret
	Key       string     `json:"key"`        // session encryption key, base64
	BFFs      []bffChild `json:"bffs"`       // one per ExtraFiles listener, in order
	LogLevel  string     `json:"log_level"`  // BFF log level; lines go to io.Discard
	BareToken string     `json:"bare_token"` // the bare proxy's fixed bearer token
}

// bffChild is one BFF instance of the proxy child.
type bffChild struct {
	Name  string `json:"name"` // target name, e.g. "bff" or "bff-redis"
	Store string `json:"store"`
	// Issuer, when set, replaces childConfig.Issuer (bff-dpop's provider).
	Issuer string `json:"issuer,omitempty"`
	// DPoP: oidc.dpop require, and the route asks for a resource.
	DPoP        bool   `json:"dpop,omitempty"`
	BoltPath    string `json:"bolt_path,omitempty"`
	RedisURL    string `json:"redis_url,omitempty"`
	RedisPrefix string `json:"redis_prefix,omitempty"`
	NoNearCache bool   `json:"no_near_cache,omitempty"`
	PostgresURL string `json:"postgres_url,omitempty"`
}

// upstreamBody is the upstream's answer: about 100 bytes of JSON.
var upstreamBody = []byte(`{"id":42,"status":"shipped","items":[{"sku":"A-1001","qty":2},{"sku":"B-2002","qty":1}],"total":19.9}`)

func serveChild(mode string) error {
	switch mode {
	case "upstream":
		return serveUpstream()
	case "proxy":
		var cfg childConfig
		if err := json.NewDecoder(os.Stdin).Decode(&cfg); err != nil {
			return fmt.Errorf("child config: %w", err)
		}
		return serveProxies(cfg)
	}
	return fmt.Errorf("unknown -serve mode %q", mode)
}

func serveUpstream() error {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	length := fmt.Sprint(len(upstreamBody))
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/__bench/stats" {
			_ = json.NewEncoder(w).Encode(readStats())
			return
		}
		hdr := w.Header()
		hdr["Content-Type"] = []string{"application/json"}
		hdr["Content-Length"] = []string{length}
		_, _ = w.Write(upstreamBody)
	})
	go func() { _ = http.Serve(l, h) }()
	return announceAndWait(map[string]string{"upstream": l.Addr().String()})
}

// announceAndWait prints the addresses and blocks until stdin ends.
func announceAndWait(addrs map[string]string) error {
	if err := json.NewEncoder(os.Stdout).Encode(addrs); err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, os.Stdin)
	return nil
}

// serveProxies runs the bare proxy, each BFF on its inherited listener
// (fd 3, 4, ...), and the stats endpoint.
func serveProxies(cfg childConfig) error {
	upstream, err := url.Parse(cfg.Upstream)
	if err != nil {
		return err
	}
	addrs := map[string]string{}
	serve := func(name string, l net.Listener, h http.Handler) {
		addrs[name] = l.Addr().String()
		// As cmd/bff configures its server.
		hs := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 120 * time.Second, MaxHeaderBytes: 64 << 10}
		go func() { _ = hs.Serve(l) }()
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	serve("bare", l, bareProxy(upstream, cfg.BareToken))

	for i, b := range cfg.BFFs {
		l, err := net.FileListener(os.NewFile(uintptr(3+i), b.Name))
		if err != nil {
			return fmt.Errorf("%s: inherited listener: %w", b.Name, err)
		}
		srv, err := startBFF(cfg, b, "http://"+l.Addr().String())
		if err != nil {
			return fmt.Errorf("%s: %w", b.Name, err)
		}
		defer srv.Close()
		serve(b.Name, l, srv.Handler())
	}

	l, err = net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	serve("stats", l, statsHandler())
	return announceAndWait(addrs)
}

// bareProxy is the floor: a ReverseProxy that only sets the target and a
// fixed bearer token, on a transport tuned like the BFF's (256 idle
// connections per host; Go's default of 2 would redial constantly), with
// a pooled copy buffer like the BFF's (otherwise each request allocates
// 32 KiB).
func bareProxy(target *url.URL, token string) http.Handler {
	bearer := []string{"Bearer " + token}
	return &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.Out.Header["Authorization"] = bearer
		},
		Transport: &http.Transport{
			Proxy:                 nil,
			DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			MaxIdleConns:          1024,
			MaxIdleConnsPerHost:   256,
			IdleConnTimeout:       90 * time.Second,
			ExpectContinueTimeout: time.Second,
		},
		BufferPool: &bufferPool{},
	}
}

type bufferPool struct{ p sync.Pool }

func (b *bufferPool) Get() []byte {
	if v, ok := b.p.Get().(*[32 << 10]byte); ok {
		return v[:]
	}
	return new([32 << 10]byte)[:]
}

func (b *bufferPool) Put(s []byte) {
	if len(s) == 32<<10 {
		b.p.Put((*[32 << 10]byte)(s))
	}
}

// benchRoutes are the BFF's API routes: two audiences on the upstream, the
// second obtained by token exchange, as a typical deployment has, and a
// route like the first (same upstream, same token) with a claims rule
// (apis[].require), whose cost the bff-claims target measures.
func benchRoutes(upstream string) []config.APIConfig {
	return []config.APIConfig{
		{Prefix: "/api/orders/", Upstream: upstream, StripPrefix: true, Audience: "orders-api", Scopes: []string{"orders.read"}},
		{Prefix: "/api/profile/", Upstream: upstream, StripPrefix: true, Audience: "profile-api", Scopes: []string{"profile.read"}, Exchange: "token-exchange"},
		{Prefix: "/api/admin/", Upstream: upstream, StripPrefix: true, Audience: "orders-api", Scopes: []string{"orders.read"},
			Require: []config.RuleConfig{{Claims: map[string][]config.ClaimValue{"groups": {{Value: "admins"}}}}}},
	}
}

func startBFF(cfg childConfig, b bffChild, publicURL string) (*bff.Server, error) {
	logger, err := bff.NewLogger(config.LogConfig{Level: cfg.LogLevel}, io.Discard)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c := config.Config{
		PublicURL: publicURL,
		OIDC: config.OIDCConfig{
			Issuer: cfg.Issuer, ClientID: clientID, ClientSecret: cfg.Secret,
			Scopes: []string{"openid", "profile", "email", "offline_access"}, Timeout: 5 * time.Second,
		},
		Session: config.SessionConfig{
			Store: b.Store, Path: b.BoltPath, RedisURL: b.RedisURL, RedisPrefix: b.RedisPrefix,
			RedisNearCache: onOff(!b.NoNearCache), PostgresURL: b.PostgresURL,
			EncryptionKeys: []string{cfg.Key},
		},
		APIs:      benchRoutes(cfg.Upstream),
		RateLimit: config.RateLimitConfig{LoginPerMinute: -1},
	}
	if b.DPoP {
		c.OIDC.Issuer, c.OIDC.DPoP, c.OIDC.Scopes = b.Issuer, "require", []string{"openid", "profile"}
		c.APIs = []config.APIConfig{{Prefix: "/api/orders/", Upstream: cfg.Upstream, StripPrefix: true,
			Resource: dpopResource, Scopes: []string{"orders.read"}}}
	}
	srv, err := bff.New(ctx, bff.Config{
		Config:  c,
		Logger:  logger,
		Version: "bench",
	})
	if err != nil {
		return nil, err
	}
	for {
		err := srv.Ready(ctx)
		if err == nil {
			return srv, nil
		}
		if ctx.Err() != nil {
			srv.Close()
			return nil, fmt.Errorf("not ready: %w", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func onOff(on bool) string {
	if on {
		return "on"
	}
	return "off"
}

// childStats is what the stats endpoint reports.
type childStats struct {
	Mallocs    uint64        `json:"mallocs"`
	TotalAlloc uint64        `json:"total_alloc"`
	NumGC      uint32        `json:"num_gc"`
	CPU        time.Duration `json:"cpu"` // user + system time of the process
}

func readStats() childStats {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	cpu := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	return childStats{Mallocs: m.Mallocs, TotalAlloc: m.TotalAlloc, NumGC: m.NumGC, CPU: cpu}
}

// statsHandler serves GET /stats, POST /profile/start?path=FILE,
// POST /profile/stop and net/http/pprof under /debug/pprof/ (for example
// go tool pprof -sample_index=alloc_space http://ADDR/debug/pprof/allocs?seconds=10).
func statsHandler() http.Handler {
	var mu sync.Mutex
	var prof *os.File
	mux := http.NewServeMux()
	mux.HandleFunc("GET /stats", func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(readStats())
	})
	mux.Handle("/debug/pprof/", http.DefaultServeMux)
	mux.HandleFunc("POST /profile/start", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		f, err := os.Create(r.URL.Query().Get("path"))
		if err == nil {
			if err = pprof.StartCPUProfile(f); err != nil {
				f.Close()
			}
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		prof = f
	})
	mux.HandleFunc("POST /profile/stop", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		if prof == nil {
			http.Error(w, "no profile running", http.StatusConflict)
			return
		}
		pprof.StopCPUProfile()
		err := prof.Close()
		prof = nil
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
		}
	})
	return mux
}

var errNoRedis = errors.New("redis-server not on PATH and -redis-url not set")

// quiet discards a logger's output; for the parent's provider.
var quiet = slog.New(slog.DiscardHandler)
