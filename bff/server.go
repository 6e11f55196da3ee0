package bff

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/bff-project/bff/bff/config"
	"github.com/bff-project/bff/bff/oidcclient"
	"github.com/bff-project/bff/bff/telemetry"
	"github.com/bff-project/bff/bff/tokens"
	"github.com/bff-project/bff/proxy"
	"github.com/bff-project/bff/session"
	"go.opentelemetry.io/otel/trace"
)

// Server is a configured BFF. It is safe for concurrent use.
type Server struct {
	cfg           Config
	log           *slog.Logger
	publicURL     *url.URL
	postLogoutURL string
	sameSite      http.SameSite
	trusted       []netip.Prefix
	hsts          []string // Strict-Transport-Security of every answer; nil over http
	issuerOrigin  string   // frame-ancestors of the front-channel logout page

	provider  *oidcclient.Client
	sessions  *session.Manager
	tokens    *tokens.Manager
	login     *loginFlows
	dpopSeeds [][]byte // sign-ins derive their DPoP keys from these
	// signInResources are the resource indicators every sign-in asks
	// for, recorded in each new session.
	signInResources []string
	proxy           *proxy.Handler
	events          *eventHub
	metrics         *metrics
	tracing         *telemetry.Tracing
	tracer          trace.Tracer // nil when tracing is off
	// loginStarts and loginCallbacks limit sign-ins per client address;
	// unlistedProxy warns once of a proxy missing from trusted_proxies.
	loginStarts, loginCallbacks *loginLimiter
	unlistedProxy               sync.Once

	// handler serves this generation; shared holds what every generation
	// of the server shares (see Reload).
	handler http.Handler
	shared  *shared
}

// New checks cfg, opens the session store and builds the HTTP surface. It
// does not need the provider to be up: discovery is fetched in the
// background and on first use, and /readyz reports it. Configuration
// problems are returned as errors that errors.As finds as *config.Error.
// Close releases the store.
func New(ctx context.Context, cfg Config) (*Server, error) {
	cfg.SetDefaults()
	if err := cfg.ReadSecretFiles(); err != nil {
		return nil, err
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, log: cfg.Logger, metrics: newMetrics(cfg.Version), tracing: cfg.Tracing, tracer: cfg.Tracing.Tracer(),
		shared: newShared()}
	if s.log == nil {
		s.log = slog.Default()
	}
	if err := s.parse(); err != nil {
		return nil, err
	}
	s.events = newEventHub(cfg, s.log)
	keys := make([][]byte, len(cfg.Session.EncryptionKeys))
	for i, k := range cfg.Session.EncryptionKeys {
		keys[i], _ = config.ParseEncryptionKey(k) // Validate checked them
	}
	if err := s.openSessions(ctx, keys); err != nil {
		return nil, err
	}
	err := s.newProvider()
	if err == nil {
		err = s.checkProvider(ctx)
	}
	if err == nil {
		err = s.buildHandler()
	}
	if err != nil {
		s.Close()
		return nil, err
	}
	s.keyed(keys)
	warmCtx, stop := context.WithCancel(context.WithoutCancel(ctx))
	s.shared.ctx, s.shared.stop = warmCtx, stop
	go s.logFeatures(warmCtx)
	s.shared.background.Add(1)
	go func() {
		defer s.shared.background.Done()
		s.sessions.Run(warmCtx)
	}()
	go s.events.beat(warmCtx)
	s.shared.current.Store(s)
	return s, nil
}

// keyed sets what this generation derives from the encryption keys and
// the rate limits.
func (s *Server) keyed(keys [][]byte) {
	s.login = newLoginFlows(keys)
	s.dpopSeeds = dpopSeeds(keys)
	s.loginStarts, s.loginCallbacks = newLoginLimiter(s.cfg.RateLimit), newLoginLimiter(s.cfg.RateLimit)
}

// openSessions opens the store and the session manager on it.
func (s *Server) openSessions(ctx context.Context, keys [][]byte) error {
	cfg := s.cfg
	cipher, err := session.NewCipher(keys)
	if err != nil {
		return err
	}
	store, err := openStore(ctx, cfg.Session)
	if err != nil {
		return err
	}
	s.sessions, err = session.NewManager(session.Config{
		Store:         store,
		Observe:       s.observeStore,
		Cipher:        cipher,
		IdleTimeout:   cfg.Session.IdleTimeout,
		Lifetime:      cfg.Session.Lifetime,
		ExpiryWarning: cfg.Session.ExpiryWarning,
		SweepInterval: cfg.SweepInterval,
		// Write LastSeenAt well within the idle timeout: with the 1m
		// default, an idle timeout of a minute or less would end sessions
		// that are in use.
		TouchInterval: min(time.Minute, cfg.Session.IdleTimeout/10),
		// bbolt lets one process open the file, so this Manager is its only
		// writer and may trust its cache without reading the store. Redis
		// and PostgreSQL are shared: a Redis Manager reads through the
		// store's near-cache, which Redis keeps current.
		Exclusive: cfg.Session.Store == "bolt",
		// A renewal holds the lock across one provider call.
		LockTTL: cfg.OIDC.Timeout + 10*time.Second,
	})
	if err != nil {
		return err // only for a nil store or cipher, which cannot be here
	}
	s.shared.closers = append(s.shared.closers, s.sessions.Close)
	return nil
}

// parse derives the values New needs from the (validated) configuration.
func (s *Server) parse() error {
	var err error
	s.publicURL, err = url.Parse(strings.TrimSuffix(s.cfg.PublicURL, "/"))
	if err != nil {
		return &config.Error{Key: "public_url", Problem: err.Error()}
	}
	if s.publicURL.Scheme == "https" {
		// The origin's HSTS is the BFF's alone (an API's is dropped). No
		// includeSubDomains: the BFF does not know the other hosts of its
		// domain.
		s.hsts = []string{"max-age=31536000"}
	}
	if s.issuerOrigin = originOf(s.cfg.OIDC.Issuer); s.issuerOrigin == "" {
		s.issuerOrigin = "'none'"
	}
	s.postLogoutURL = s.cfg.OIDC.PostLogoutRedirectURL
	if s.postLogoutURL == "" {
		s.postLogoutURL = "/"
	}
	if strings.HasPrefix(s.postLogoutURL, "/") {
		s.postLogoutURL = s.publicURL.String() + s.postLogoutURL
	}
	s.sameSite = http.SameSiteStrictMode
	if strings.EqualFold(s.cfg.Session.SameSite, "lax") {
		s.sameSite = http.SameSiteLaxMode
	}
	for _, p := range s.cfg.TrustedProxies {
		prefix, err := netip.ParsePrefix(p)
		if err != nil {
			addr, aerr := netip.ParseAddr(p)
			if aerr != nil {
				return &config.Error{Key: "trusted_proxies", Problem: "not an IP or CIDR"}
			}
			prefix = netip.PrefixFrom(addr, addr.BitLen())
		}
		s.trusted = append(s.trusted, prefix.Masked())
	}
	return nil
}

// Drain ends every /bff/events stream and refuses new ones, so that
// connections holding streams go idle and a graceful shutdown does not wait
// for them until its timeout; the browsers reconnect to another instance.
// Register it with http.Server.RegisterOnShutdown. Close calls it too.
func (s *Server) Drain() { s.events.drain() }

// Handler is the whole HTTP surface: /bff/*, the API routes, /healthz,
// /readyz, /metrics (unless metrics_listen is set) and the SPA.
func (s *Server) Handler() http.Handler { return s.shared.front }

// MetricsHandler serves Prometheus metrics, for metrics_listen.
func (s *Server) MetricsHandler() http.Handler { return s.metrics.handler() }

// Close stops background work and releases the session store. Call it
// after the HTTP server has shut down.
func (s *Server) Close() error {
	if s.events != nil {
		s.events.drain()
	}
	if s.shared.stop != nil {
		s.shared.stop()
	}
	s.shared.background.Wait() // each revocation is bounded by its own timeout
	var errs []error
	for _, c := range s.shared.closers {
		errs = append(errs, c())
	}
	s.shared.closers = nil
	return errors.Join(errs...)
}

// Ready reports whether the store answers and discovery is loaded.
func (s *Server) Ready(ctx context.Context) error {
	s = s.shared.current.Load()
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	var errs []error
	if err := s.sessions.Ping(ctx); err != nil {
		errs = append(errs, errors.New("session store unreachable"))
	}
	if !s.provider.Ready() {
		errs = append(errs, errors.New("provider discovery not loaded"))
	}
	return errors.Join(errs...)
}
