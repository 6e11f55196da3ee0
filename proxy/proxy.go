package proxy

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/netip"
	"time"

	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// Token modes of [Route.Token].
const (
	// TokenUser sends the signed-in user's token; a session is required.
	TokenUser = "user"
	// TokenUserOptional sends the user's token when there is a session and
	// no Authorization header otherwise.
	TokenUserOptional = "user-optional"
	// TokenClient sends the BFF's own client-credentials token.
	TokenClient = "client"
	// TokenNone sends no Authorization header; the TokenSource is not called.
	TokenNone = "none"
)

// Exchange modes of [Route.Exchange].
const (
	// ExchangeRefresh gets an audience token with the refresh-token grant.
	ExchangeRefresh = "refresh"
	// ExchangeTokenExchange gets it with OAuth 2.0 Token Exchange (RFC 8693).
	ExchangeTokenExchange = "token-exchange"
)

// DefaultTimeout is the upstream response-header timeout of a route whose
// Timeout is zero.
const DefaultTimeout = 30 * time.Second

// ErrEmptyToken is passed to Config.TokenError when the TokenSource returns
// an empty token for a route whose Token mode is not "user-optional": the
// Handler fails closed rather than call such an API anonymously.
var ErrEmptyToken = errors.New("proxy: token source returned an empty token")

// Route is one configured API route.
type Route struct {
	// Prefix is the path the SPA calls, e.g. "/api/orders/". It must start
	// and end with "/", contain only letters, digits, "-", ".", "_", "~" and
	// "/", have no empty or dot segments, not be "/" and not start with a
	// segment the BFF owns (bff, healthz, readyz, metrics). No prefix may be
	// a prefix of another.
	Prefix string
	// Upstream is the API's base URL: absolute http or https with a host, and
	// no userinfo, query or fragment. Its path, if any, is the base path
	// every forwarded path is put under.
	Upstream string
	// StripPrefix removes Prefix (all but its final "/") before forwarding:
	// /api/orders/1 goes to <upstream path>/1. Default false: <upstream
	// path>/api/orders/1.
	StripPrefix bool
	// Methods allowed on this route, case-sensitive (upper case). Default
	// (empty): every method but TRACE and CONNECT, which are never proxied.
	// When GET is allowed so is HEAD.
	Methods []string
	// Timeout bounds the wait for the upstream's response headers (not the
	// body, so streams are not cut). Default (0) DefaultTimeout.
	Timeout time.Duration
	// Token is TokenUser (default, ""), TokenUserOptional, TokenClient or
	// TokenNone.
	Token string
	// Audience, Resource (RFC 8707), Scopes and Exchange describe the token
	// the TokenSource should get; the proxy only validates and passes them.
	Audience, Resource string
	Scopes             []string
	// Exchange is ExchangeRefresh (default, "") or ExchangeTokenExchange.
	Exchange string
	// PassthroughCSP leaves answers without a Content-Security-Policy of
	// their own without one. Default false: they get
	// [APIContentSecurityPolicy].
	PassthroughCSP bool

	// Index is the route's place in Config.Routes, set by [New], so that a
	// TokenSource can keep what it works out per route in a slice.
	Index int
}

// Credential is what the proxy attaches to one upstream request.
type Credential struct {
	// Token is the access token; "" means no Authorization header, which
	// is accepted only on TokenUserOptional routes (an anonymous call).
	Token string
	// Proof, when not nil, means Token is DPoP-bound (RFC 9449): it goes
	// as "Authorization: DPoP <token>" with a DPoP header that Proof makes
	// for the exact method and upstream URL of each request. nil: a
	// bearer token.
	Proof Prover
}

// Prover makes DPoP proofs (RFC 9449 section 7) with the key a token is
// bound to. It must be safe for concurrent use.
type Prover interface {
	// Proof returns a fresh proof for method and htu (the upstream URL
	// without query and fragment), with nonce when not empty and the hash
	// of accessToken (ath).
	Proof(method, htu, nonce, accessToken string) (string, error)
}

// TokenSource gives the credential for one proxied request. The bff
// package implements it; it must be safe for concurrent use.
type TokenSource interface {
	// Token returns the credential to send for route on behalf of r's
	// session. A zero Credential with a nil error means: send no
	// Authorization header, which is accepted only for TokenUserOptional
	// routes (anonymous call). route has its defaults filled in and must
	// not be modified.
	Token(r *http.Request, route *Route) (Credential, error)
}

// TokenSourceFunc adapts a function to a [TokenSource].
type TokenSourceFunc func(r *http.Request, route *Route) (Credential, error)

// Token calls f(r, route).
func (f TokenSourceFunc) Token(r *http.Request, route *Route) (Credential, error) { return f(r, route) }

// Config configures a [Handler]. Only Routes (and Tokens, unless every route
// is TokenNone) are required.
type Config struct {
	// Routes is the route table.
	Routes []Route
	// Tokens gives the bearer token of each request. Required unless every
	// route's Token is TokenNone.
	Tokens TokenSource
	// TrustedProxies are the TCP peers whose X-Forwarded-For/-Proto/-Host
	// are believed (appended to, passed on). Default none: inbound forwarding
	// headers are ignored and replaced with the connection's own values.
	// From a trusted peer, X-Forwarded-Proto is kept only when it is exactly
	// "http" or "https", and X-Forwarded-Host only when sent once.
	TrustedProxies []netip.Prefix
	// PublicHost, when set, is the X-Forwarded-Host sent for requests from
	// untrusted peers, instead of their Host header (which the client
	// chooses). Set it to the public URL's host.
	PublicHost string
	// Transport makes the upstream calls. Default: a transport per route
	// tuned for proxying (256 idle connections per host, HTTP/2 only for
	// https, no environment proxy, dialling nothing but the route's upstream).
	// An *http.Transport is cloned per route to set ResponseHeaderTimeout;
	// any other RoundTripper is wrapped to enforce Route.Timeout.
	Transport http.RoundTripper
	// Logger receives upstream failures and, when TokenError is nil, token
	// failures (error level, with the cause as "err"; TokenSource errors
	// must therefore be safe to log), and client disconnects (debug).
	// Default slog.Default().
	Logger *slog.Logger
	// TokenError writes the response when Tokens.Token fails (or returns
	// ErrEmptyToken). Default: 502 {"error":"bad_gateway"}, logged.
	TokenError func(w http.ResponseWriter, r *http.Request, err error)
	// Middleware, when set, wraps each route's handler (see
	// [Handler.ForPath]), for what must run before the proxy on API calls
	// only: anti-forgery checks, binding the call to its session.
	Middleware func(http.Handler) http.Handler
	// StepUp, when set, answers a call on a user or user-optional route
	// whose upstream asked for a stronger sign-in: 401 with an RFC 9470
	// challenge (WWW-Authenticate: Bearer or DPoP
	// error="insufficient_user_authentication"). The upstream's answer,
	// body and challenge included, is dropped; r is the browser's
	// request. Default: 401 {"error":"step_up_required", "acr_values",
	// "max_age"} (each when the challenge set it).
	StepUp func(w http.ResponseWriter, r *http.Request, c StepUpChallenge)
	// Observe, when set, is called once per request the Handler serves,
	// after it ends, with the request's context, the route prefix (""
	// when no route matched), the status sent to the client (499 when the
	// client went away first, 101 for a protocol switch) and the duration.
	// Default none.
	Observe func(ctx context.Context, route string, status int, d time.Duration)
	// TracerProvider and Propagator, when set, trace each upstream call
	// (otelhttp) as a child of the request's span and send the upstream
	// that span's W3C trace context in place of any the browser sent.
	// Default nil: no tracing, no wrapper, and the request's own
	// traceparent passes as any other header.
	TracerProvider trace.TracerProvider
	Propagator     propagation.TextMapPropagator
}

// Handler proxies API routes. It is safe for concurrent use. Build it with
// [New].
type Handler struct {
	routes     []*route // longest prefix first
	byConfig   []*route // config order
	tokens     TokenSource
	tokenError func(w http.ResponseWriter, r *http.Request, err error)
	stepUp     func(w http.ResponseWriter, r *http.Request, c StepUpChallenge)
	observe    func(ctx context.Context, route string, status int, d time.Duration)
	trusted    []netip.Prefix
	publicHost string
	log        *slog.Logger
	tracer     trace.TracerProvider
	propagator propagation.TextMapPropagator
}

// New validates every route, reporting all problems at once (joined with
// [errors.Join], each naming the route's index and prefix), and builds one
// [httputil.ReverseProxy] per route.
func New(cfg Config) (*Handler, error) {
	h := &Handler{
		tokens:     cfg.Tokens,
		tokenError: cfg.TokenError,
		stepUp:     cfg.StepUp,
		observe:    cfg.Observe,
		tracer:     cfg.TracerProvider,
		propagator: cfg.Propagator,
		trusted:    cfg.TrustedProxies,
		publicHost: cfg.PublicHost,
		log:        cfg.Logger,
	}
	if h.log == nil {
		h.log = slog.Default()
	}
	routes, err := compileRoutes(cfg.Routes, cfg.Tokens != nil)
	if err != nil {
		return nil, err
	}
	nonces := map[string]*nonceCell{}
	for i, rt := range routes {
		rt.Index = i
		origin := rt.origin.String()
		if nonces[origin] == nil {
			nonces[origin] = &nonceCell{}
		}
		rt.nonce = nonces[origin]
		rt.transport = routeTransport(cfg.Transport, rt)
		rt.rp = h.reverseProxy(rt, cfg.Transport)
		rt.handler = http.Handler(routeHandler{h: h, rt: rt})
		if cfg.Middleware != nil {
			rt.handler = cfg.Middleware(rt.handler)
		}
	}
	h.byConfig = routes
	h.routes = sortByPrefixLen(routes)
	return h, nil
}

// Match returns the route whose prefix is the longest one path starts with.
// It only matches: ServeHTTP also refuses unsafe paths. The returned route
// must not be modified.
func (h *Handler) Match(path string) (*Route, bool) {
	if rt := h.match(path); rt != nil {
		return &rt.Route, true
	}
	return nil, false
}

// ForPath returns the handler of the route whose prefix is the longest one
// path starts with (wrapped in Config.Middleware), or nil when no route
// matches. A caller that routes requests itself matches once this way and
// hands the request straight to that route; ServeHTTP does the same.
func (h *Handler) ForPath(path string) http.Handler {
	if rt := h.match(path); rt != nil {
		return rt.handler
	}
	return nil
}

// routeHandler serves one matched route.
type routeHandler struct {
	h  *Handler
	rt *route
}

func (rh routeHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rh.h.serveRoute(w, r, rh.rt)
}

// Routes returns a copy of the route table in configuration order, with
// defaults filled in (Token, Exchange, Timeout).
func (h *Handler) Routes() []Route {
	out := make([]Route, len(h.byConfig))
	for i, rt := range h.byConfig {
		r := rt.Route
		r.Methods = append([]string(nil), r.Methods...)
		r.Scopes = append([]string(nil), r.Scopes...)
		out[i] = r
	}
	return out
}

func (h *Handler) match(path string) *route {
	for _, rt := range h.routes {
		if len(path) >= len(rt.Prefix) && path[:len(rt.Prefix)] == rt.Prefix {
			return rt
		}
	}
	return nil
}

// ServeHTTP proxies r to its route's upstream, or answers a JSON error:
// 404 not_found, 400 invalid_path, 405 method_not_allowed, 502 bad_gateway,
// 504 gateway_timeout, or whatever Config.TokenError writes.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if rt := h.match(r.URL.Path); rt != nil {
		rt.handler.ServeHTTP(w, r)
		return
	}
	h.serveRoute(w, r, nil)
}

// serveRoute proxies r to rt, which ServeHTTP or ForPath matched.
func (h *Handler) serveRoute(w http.ResponseWriter, r *http.Request, rt *route) {
	// Every answer goes through observedWriter, observed or not: it is
	// what keeps an upstream's interim 1xx answers, whose fields bypass
	// the response filter, from the browser.
	ow := &observedWriter{ResponseWriter: w, in: r}
	if h.observe == nil {
		h.serve(ow, r, rt)
		return
	}
	label := ""
	if rt != nil {
		label = rt.Prefix
	}
	start := time.Now()
	// Deferred so that a response aborted mid-body (ReverseProxy panics
	// with http.ErrAbortHandler) is observed too.
	defer func() { h.observe(r.Context(), label, ow.statusCode(), time.Since(start)) }()
	h.serve(ow, r, rt)
}

func (h *Handler) serve(w http.ResponseWriter, r *http.Request, rt *route) {
	if rt == nil {
		writeError(w, errNotFound)
		return
	}
	if !pathAllowed(r.URL.Path, r.URL.RawPath) {
		writeError(w, errInvalidPath)
		return
	}
	if !rt.allows(r.Method) {
		w.Header()["Allow"] = []string{rt.allow}
		writeError(w, errMethodNotAllowed)
		return
	}
	if !upgradeAllowed(r) {
		writeError(w, errUpgrade)
		return
	}
	if rt.mode == TokenNone {
		rt.rp.ServeHTTP(w, r)
		return
	}
	cred, err := h.tokens.Token(r, &rt.Route)
	if err == nil && cred.Token == "" && rt.mode != TokenUserOptional {
		err = ErrEmptyToken
	}
	if err != nil {
		h.tokenFailed(w, r, rt, err)
		return
	}
	switch {
	case cred.Token == "":
	case cred.Proof == nil:
		r = r.WithContext(&tokenContext{Context: r.Context(), token: cred.Token})
	default:
		replayable(r)
		r = r.WithContext(&dpopContext{Context: r.Context(), cred: cred})
	}
	rt.rp.ServeHTTP(w, r)
}

// tokenContext carries a bearer token from ServeHTTP to Rewrite. It is one
// allocation instead of context.WithValue's two, and no bigger than the
// token needs: this is the hot path.
type tokenContext struct {
	context.Context
	token string
}

// dpopContext carries a DPoP-bound credential to Rewrite and the
// transport.
type dpopContext struct {
	context.Context
	cred Credential
}

type tokenKey struct{}

func (c *tokenContext) Value(key any) any {
	if key == (tokenKey{}) {
		return c
	}
	return c.Context.Value(key)
}

func (c *dpopContext) Value(key any) any {
	if key == (tokenKey{}) {
		return c
	}
	return c.Context.Value(key)
}

func tokenFrom(ctx context.Context) Credential {
	switch c := ctx.Value(tokenKey{}).(type) {
	case *tokenContext:
		return Credential{Token: c.token}
	case *dpopContext:
		return c.cred
	}
	return Credential{}
}

// CloseIdleConnections closes the routes' idle upstream connections, for a
// Handler replaced by another (a configuration reload): calls under way
// keep theirs.
func (h *Handler) CloseIdleConnections() {
	for _, rt := range h.byConfig {
		if c, ok := rt.transport.(interface{ CloseIdleConnections() }); ok {
			c.CloseIdleConnections()
		}
	}
}
