package bff

import (
	"context"
	"net/http"
	"reflect"
	"sync"
	"sync/atomic"

	"github.com/bff-project/bff/bff/config"
	"github.com/bff-project/bff/session"
)

// shared is what every generation of a Server shares: the generation that
// serves new requests, the front handler that finds it, and the
// process-wide work (revocations, the session worker) and resources.
type shared struct {
	current    atomic.Pointer[Server]
	front      http.Handler
	reload     sync.Mutex // one Reload at a time
	background sync.WaitGroup
	ctx        context.Context // lives until Close
	stop       context.CancelFunc
	closers    []func() error
}

func newShared() *shared {
	sh := &shared{}
	sh.front = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sh.current.Load().handler.ServeHTTP(w, r)
	})
	return sh
}

// Reload applies next, a configuration read again (SIGHUP), without
// dropping a connection: the API routes and their upstreams, rules and
// token settings, the provider client (its settings, keys and the
// sign-in request), trusted proxies, public URL, cookie and CSP settings,
// rate limits and the encryption keys (a key added is used to decrypt at
// once; the first key encrypts from now on) take effect for requests that
// start after it returns; requests under way finish as they began. The
// sessions, the store, open event streams and the logger are kept.
//
// A next that is not valid changes nothing: the error lists every problem
// (*config.Error values). Settings that only a restart can change
// (listeners, the store and its timeouts, server limits, logging) keep
// their running values, and restart names them. Next's own Logger,
// HTTPClient, Version and Tracing are ignored: the running ones stay.
func (s *Server) Reload(ctx context.Context, next Config) (restart []string, err error) {
	sh := s.shared
	sh.reload.Lock()
	defer sh.reload.Unlock()
	cur := sh.current.Load()
	next.Logger, next.HTTPClient, next.Version, next.Tracing = cur.cfg.Logger, cur.cfg.HTTPClient, cur.cfg.Version, cur.cfg.Tracing
	next.SweepInterval = cur.cfg.SweepInterval
	next.SetDefaults()
	if err := next.ReadSecretFiles(); err != nil {
		return nil, err
	}
	if err := next.Validate(); err != nil {
		return nil, err
	}
	restart = keepRestartOnly(&next.Config, cur.cfg.Config)
	g := &Server{cfg: next, log: cur.log, metrics: cur.metrics, tracing: cur.tracing, tracer: cur.tracer,
		sessions: cur.sessions, events: cur.events, shared: sh}
	if err := g.parse(); err != nil {
		return nil, err
	}
	keys := make([][]byte, len(next.Session.EncryptionKeys))
	for i, k := range next.Session.EncryptionKeys {
		keys[i], _ = config.ParseEncryptionKey(k) // Validate checked them
	}
	cipher, err := session.NewCipher(keys)
	if err != nil {
		return nil, err
	}
	if err := g.newProvider(); err != nil {
		return nil, err
	}
	if err := g.checkProvider(ctx); err != nil {
		return nil, err
	}
	if err := g.buildHandler(); err != nil {
		return nil, err
	}
	g.keyed(keys)
	// The cipher first: a session the new generation writes must open on
	// any request, and every key that opened before still does.
	cur.sessions.SetCipher(cipher)
	sh.current.Store(g)
	go g.logFeatures(sh.ctx)
	cur.proxy.CloseIdleConnections() // the old upstream connections nobody will reuse
	g.log.Info("configuration reloaded", "routes", len(next.APIs), "needs_restart", restart)
	return restart, nil
}

// keepRestartOnly sets in next the running values of the settings only a
// restart can change, and returns the keys of those that differ.
func keepRestartOnly(next *config.Config, cur config.Config) []string {
	var changed []string
	keep := func(key string, dst, src any) {
		d, v := reflect.ValueOf(dst).Elem(), reflect.ValueOf(src)
		if !reflect.DeepEqual(d.Interface(), v.Interface()) {
			changed = append(changed, key)
			d.Set(v)
		}
	}
	keep("listen", &next.Listen, cur.Listen)
	keep("metrics_listen", &next.MetricsListen, cur.MetricsListen)
	keep("server", &next.Server, cur.Server)
	keep("log", &next.Log, cur.Log)
	// The store and the session manager's own settings; the keys and the
	// cookie's SameSite are reloaded.
	keys, sameSite := next.Session.EncryptionKeys, next.Session.SameSite
	ns, cs := next.Session, cur.Session
	ns.EncryptionKeys, ns.SameSite, cs.EncryptionKeys, cs.SameSite = nil, "", nil, ""
	if !reflect.DeepEqual(ns, cs) {
		changed = append(changed, "session (store, timeouts)")
	}
	next.Session = cur.Session
	next.Session.EncryptionKeys, next.Session.SameSite = keys, sameSite
	return changed
}
