// Package bff is the backend-for-frontend: it signs users in with OpenID
// Connect (authorization code + PKCE) as a confidential client, keeps their
// tokens in an encrypted server-side session, and serves the /bff/* endpoints,
// the API proxy and the SPA behind one opaque session cookie.
package bff

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/bff-project/bff/proxy"
	"github.com/bff-project/bff/session"
	"golang.org/x/oauth2"
	"golang.org/x/sync/singleflight"
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

	provider     *provider
	sessions     *session.Manager
	login        *loginFlows
	proxy        *proxy.Handler
	renewals     singleflight.Group
	tokenKeys    sync.Map       // *proxy.Route -> its token's key in the session
	background   sync.WaitGroup // revocations still under way
	clientTokens clientTokens
	metrics      *metrics
	// loginStarts and loginCallbacks limit sign-ins per client address;
	// unlistedProxy warns once of a proxy missing from trusted_proxies.
	loginStarts, loginCallbacks *loginLimiter
	unlistedProxy               sync.Once

	handler http.Handler
	stop    context.CancelFunc
	closers []func() error
}

// New checks cfg, opens the session store and builds the HTTP surface. It
// does not need the provider to be up: discovery is fetched in the
// background and on first use, and /readyz reports it. Configuration
// problems are returned as errors that errors.As finds as *ConfigError.
// Close releases the store.
func New(ctx context.Context, cfg Config) (*Server, error) {
	cfg.SetDefaults()
	if err := cfg.ReadSecretFiles(); err != nil {
		return nil, err
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, log: cfg.Logger, metrics: newMetrics(cfg.Version)}
	if s.log == nil {
		s.log = slog.Default()
	}
	if err := s.parse(); err != nil {
		return nil, err
	}
	keys := make([][]byte, len(cfg.Session.EncryptionKeys))
	for i, k := range cfg.Session.EncryptionKeys {
		keys[i], _ = ParseEncryptionKey(k) // Validate checked them
	}
	cipher, err := session.NewCipher(keys)
	if err != nil {
		return nil, err
	}
	store, err := openStore(ctx, cfg.Session)
	if err != nil {
		return nil, err
	}
	s.sessions, err = session.NewManager(session.Config{
		Store:       store,
		Observe:     s.metrics.observeStore,
		Cipher:      cipher,
		IdleTimeout: cfg.Session.IdleTimeout,
		Lifetime:    cfg.Session.Lifetime,
		// Write LastSeenAt well within the idle timeout: with the 1m
		// default, an idle timeout of a minute or less would end sessions
		// that are in use.
		TouchInterval: min(time.Minute, cfg.Session.IdleTimeout/10),
		// bbolt lets one process open the file, so this Manager is its only
		// writer and may trust its cache without reading the store.
		Exclusive: cfg.Session.Store != "redis",
		// A renewal holds the lock across one provider call.
		LockTTL: cfg.OIDC.Timeout + 10*time.Second,
	})
	if err != nil {
		return nil, err // only for a nil store or cipher, which cannot be here
	}
	s.closers = append(s.closers, s.sessions.Close)
	s.login = newLoginFlows(keys)
	s.provider = s.newProvider()
	s.loginStarts, s.loginCallbacks = newLoginLimiter(cfg.RateLimit), newLoginLimiter(cfg.RateLimit)
	if err := s.buildHandler(); err != nil {
		s.sessions.Close()
		return nil, err
	}
	warmCtx, stop := context.WithCancel(context.WithoutCancel(ctx))
	s.stop = stop
	go s.provider.warm(warmCtx)
	interval := cfg.StreamCheckInterval
	if interval <= 0 {
		interval = defaultStreamCheckInterval
	}
	go s.sessions.CheckCalls(warmCtx, interval)
	return s, nil
}

// parse derives the values New needs from the (validated) configuration.
func (s *Server) parse() error {
	var err error
	s.publicURL, err = url.Parse(strings.TrimSuffix(s.cfg.PublicURL, "/"))
	if err != nil {
		return &ConfigError{Key: "public_url", Problem: err.Error()}
	}
	s.postLogoutURL = s.cfg.OIDC.PostLogoutRedirectURL
	if s.postLogoutURL == "" {
		s.postLogoutURL = "/"
	}
	if strings.HasPrefix(s.postLogoutURL, "/") {
		s.postLogoutURL = s.publicURL.String() + s.postLogoutURL
	}
	if s.publicURL.Scheme == "https" {
		// The origin's HSTS is the BFF's alone (an API's is dropped). No
		// includeSubDomains: the BFF does not know the other hosts of its
		// domain.
		s.hsts = []string{"max-age=31536000"}
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
				return &ConfigError{Key: "trusted_proxies", Problem: fmt.Sprintf("%q is not an IP or CIDR", p)}
			}
			prefix = netip.PrefixFrom(addr, addr.BitLen())
		}
		s.trusted = append(s.trusted, prefix.Masked())
	}
	return nil
}

func (s *Server) newProvider() *provider {
	client := s.cfg.HTTPClient
	if client == nil {
		client = &http.Client{Timeout: s.cfg.OIDC.Timeout}
	}
	if client.Timeout == 0 {
		c := *client
		c.Timeout = s.cfg.OIDC.Timeout
		client = &c
	}
	scopes := s.cfg.OIDC.Scopes
	if !slices.Contains(scopes, "openid") {
		scopes = append([]string{"openid"}, scopes...)
	}
	style := oauth2.AuthStyleInHeader
	if s.cfg.OIDC.TokenEndpointAuthMethod == "client_secret_post" {
		style = oauth2.AuthStyleInParams
	}
	return &provider{
		issuer: s.cfg.OIDC.Issuer,
		client: client,
		base: oauth2.Config{
			ClientID:     s.cfg.OIDC.ClientID,
			ClientSecret: s.cfg.OIDC.ClientSecret,
			RedirectURL:  s.publicURL.String() + "/bff/callback",
			Scopes:       scopes,
		},
		authStyle:  style,
		retryAfter: 2 * time.Second,
	}
}

// Handler is the whole HTTP surface: /bff/*, the API routes, /healthz,
// /readyz, /metrics (unless Config.MetricsListen is set) and the SPA.
func (s *Server) Handler() http.Handler { return s.handler }

// MetricsHandler serves Prometheus metrics, for Config.MetricsListen.
func (s *Server) MetricsHandler() http.Handler { return s.metrics.handler() }

// Close stops background work and releases the session store. Call it
// after the HTTP server has shut down.
func (s *Server) Close() error {
	if s.stop != nil {
		s.stop()
	}
	s.background.Wait() // each revocation is bounded by its own timeout
	var errs []error
	for _, c := range s.closers {
		errs = append(errs, c())
	}
	s.closers = nil
	return errors.Join(errs...)
}

// Ready reports whether the store answers and discovery is loaded.
func (s *Server) Ready(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	var errs []error
	if err := s.sessions.Ping(ctx); err != nil {
		errs = append(errs, errors.New("session store unreachable"))
	}
	if !s.provider.loaded() {
		errs = append(errs, errors.New("provider discovery not loaded"))
	}
	return errors.Join(errs...)
}

// clientIP is the TCP peer, or, when the peer is a trusted proxy, the
// rightmost X-Forwarded-For address that is not itself a trusted proxy.
func (s *Server) clientIP(r *http.Request) string {
	host, trusted := s.peer(r)
	if !trusted {
		return host
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			break
		}
		if !s.isTrusted(a) {
			return a.String()
		}
	}
	return host
}

// peer is the TCP peer's address, and whether it is a trusted proxy.
func (s *Server) peer(r *http.Request) (host string, trusted bool) {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	addr, err := netip.ParseAddr(host)
	return host, err == nil && s.isTrusted(addr)
}

func (s *Server) isTrusted(a netip.Addr) bool {
	a = a.Unmap()
	for _, p := range s.trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}
