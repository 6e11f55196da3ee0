package bff

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/bff-project/bff/bff/authz"
	"github.com/bff-project/bff/bff/config"
	"github.com/bff-project/bff/bff/tokens"
	"github.com/bff-project/bff/proxy"
	"github.com/bff-project/bff/web"
)

// buildHandler assembles the HTTP surface of DESIGN.md's contract.
func (s *Server) buildHandler() error {
	routes := make([]proxy.Route, len(s.cfg.APIs))
	atSignIn := make([]bool, len(s.cfg.APIs))
	accept := make([][]string, len(s.cfg.APIs))
	for i, a := range s.cfg.APIs {
		atSignIn[i], accept[i] = a.SignIn(), a.TokenAudiences
		routes[i] = proxy.Route{
			Prefix: a.Prefix, Upstream: a.Upstream, StripPrefix: a.StripPrefix, Methods: a.Methods,
			Timeout: a.Timeout, Token: a.Token, Audience: a.Audience, Resource: a.Resource,
			Scopes: a.Scopes, Exchange: a.Exchange, PassthroughCSP: a.PassthroughCSP,
		}
	}
	az, err := authz.New(authz.Config{Routes: authzRules(s.cfg.APIs)})
	if err != nil {
		return &config.Error{Key: "apis", Problem: err.Error()}
	}
	s.tokens, err = tokens.New(tokens.Config{
		Sessions: s.sessions, Provider: s.provider, Routes: routes, AtSignIn: atSignIn, Accept: accept, Logger: s.log,
		SignInAudience: s.cfg.OIDC.AuthParams["audience"],
		RefreshSkew:    s.cfg.OIDC.RefreshSkew, Timeout: s.cfg.OIDC.Timeout,
		Refreshed:  func(result string) { s.metrics.refreshes.WithLabelValues(result).Inc() },
		Ended:      func(reason string) { s.metrics.sessionsEnded.WithLabelValues(reason).Inc() },
		Revoke:     s.revokeToken,
		Tracer:     s.tracer,
		Authorizer: az,
	})
	if err != nil {
		return err
	}
	s.proxy, err = proxy.New(proxy.Config{
		Routes:         routes,
		Tokens:         s.tokens,
		TrustedProxies: s.trusted,
		PublicHost:     s.publicURL.Host,
		Logger:         s.log,
		TokenError:     s.writeError,
		StepUp:         s.stepUpFromUpstream,
		Observe:        s.observeProxy,
		TracerProvider: s.tracerProvider(),
		Propagator:     s.propagator(),
		// API calls pass the anti-forgery check, then are bound to their
		// session, so that ending it ends them.
		Middleware: func(h http.Handler) http.Handler { return s.csrfGuard(s.trackStreams(h)) },
	})
	if err != nil {
		return &config.Error{Key: "apis", Problem: err.Error()}
	}
	spa, err := web.New(web.Config{Dir: s.cfg.SPA.Dir, ContentSecurityPolicy: s.cfg.SPA.ContentSecurityPolicy, Logger: s.log})
	if err != nil {
		return &config.Error{Key: "spa.dir", Problem: err.Error()}
	}

	bff := http.NewServeMux()
	handle := func(pattern string, h handlerFunc, wrap ...func(http.Handler) http.Handler) {
		var hh http.Handler = s.serve(h)
		for _, w := range wrap {
			hh = w(hh)
		}
		bff.Handle(pattern, hh)
	}
	handle("GET /bff/login", s.handleLogin, s.limitLogins)
	handle("GET /bff/callback", s.handleCallback)
	// A GET pattern matches HEAD too. On the endpoints that change state
	// (a sign-in flow, a spent state, an ended session) HEAD must not: link
	// scanners and prefetchers send it, and it skips no guard of GET.
	// The event stream and front-channel logout refuse it too: one would
	// hold a connection for nothing, the other end sessions.
	for _, p := range []string{"/bff/login", "/bff/callback", "/bff/logout", "/bff/events", "/bff/frontchannel-logout"} {
		handle("HEAD "+p, s.handleBFFNotFound)
	}
	handle("GET /bff/user", s.handleUser, s.csrfGuard)
	handle("GET /bff/logout", s.handleLogout)
	handle("POST /bff/logout", s.handleLogout, s.csrfGuard)
	handle("POST /bff/backchannel-logout", s.handleBackchannelLogout)
	handle("GET /bff/sessions", s.handleListSessions, s.csrfGuard)
	handle("DELETE /bff/sessions", s.handleDeleteOtherSessions, s.csrfGuard)
	handle("DELETE /bff/sessions/{id}", s.handleDeleteSession, s.csrfGuard)
	handle("GET /bff/apis", s.handleAPIs, s.csrfGuard)
	// The provider fetches it (jwks_uri): no anti-forgery header.
	handle("GET /bff/jwks", s.handleJWKS)
	// EventSource cannot send X-CSRF: the handler checks Fetch Metadata.
	handle("GET /bff/events", s.handleEvents)
	handle("POST /bff/keepalive", s.handleKeepalive, s.csrfGuard)
	// Loaded by the provider's page in a cross-site iframe, by design.
	handle("GET /bff/frontchannel-logout", s.handleFrontchannelLogout)
	handle("/bff/", s.handleBFFNotFound)

	mux := http.NewServeMux()
	mux.Handle("/bff/", bffHeaders(bff))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.Handle("GET /readyz", s.serve(s.handleReady))
	if s.cfg.MetricsListen == "" {
		mux.Handle("GET /metrics", s.metrics.handler())
	} else {
		// Served on metrics_listen only; not the SPA's either.
		notFound := func(w http.ResponseWriter, r *http.Request) {
			writeJSON(w, http.StatusNotFound, errorBody{Error: "not_found", Description: "No such endpoint."})
		}
		mux.HandleFunc("/metrics", notFound)
		mux.HandleFunc("/metrics/", notFound)
	}
	for _, rt := range s.proxy.Routes() {
		// Reached only for paths the proxy does not match itself, such as
		// the prefix without its slash (the mux redirects).
		mux.Handle(rt.Prefix, s.proxy)
	}
	mux.Handle("/", spa)
	s.handler = s.observe(mux)
	return nil
}

// handleBFFNotFound answers unknown /bff/ paths, and known ones with the
// wrong method, in the contract's JSON shape.
func (s *Server) handleBFFNotFound(w http.ResponseWriter, r *http.Request) error {
	allow := map[string]string{
		"/bff/login": "GET", "/bff/callback": "GET", "/bff/user": "GET", "/bff/logout": "GET, POST",
		"/bff/backchannel-logout": "POST", "/bff/sessions": "GET, DELETE", "/bff/apis": "GET", "/bff/jwks": "GET",
		"/bff/events": "GET", "/bff/keepalive": "POST", "/bff/frontchannel-logout": "GET",
	}[r.URL.Path]
	if allow == "" && strings.HasPrefix(r.URL.Path, "/bff/sessions/") {
		allow = "DELETE"
	}
	if allow != "" {
		w.Header().Set("Allow", allow)
		return errorf(http.StatusMethodNotAllowed, "method_not_allowed", "This method is not allowed here.", nil)
	}
	s.writeError(w, r, errorf(http.StatusNotFound, "not_found", "No such endpoint.", nil))
	return nil
}

type apiInfo struct {
	Name     string   `json:"name"`
	Prefix   string   `json:"prefix"`
	Audience string   `json:"audience,omitempty"`
	Scopes   []string `json:"scopes"`
	Token    string   `json:"token"`
}

// handleAPIs lists the API routes for the SPA (an extension of the
// contract). Upstream addresses are internal and not shown.
func (s *Server) handleAPIs(w http.ResponseWriter, r *http.Request) error {
	list := make([]apiInfo, 0, len(s.cfg.APIs))
	for _, a := range s.cfg.APIs {
		name := strings.Trim(a.Prefix, "/")
		if i := strings.LastIndex(name, "/"); i >= 0 {
			name = name[i+1:]
		}
		scopes := a.Scopes
		if scopes == nil {
			scopes = []string{}
		}
		list = append(list, apiInfo{Name: name, Prefix: a.Prefix, Audience: a.Audience, Scopes: scopes, Token: a.Token})
	}
	writeJSON(w, http.StatusOK, map[string]any{"apis": list})
	return nil
}

// handleJWKS publishes the public keys of the private_key_jwt client keys
// (public members only), so a provider can register the client by
// jwks_uri and learn a new key before it signs; 404 when the client
// authenticates otherwise.
func (s *Server) handleJWKS(w http.ResponseWriter, r *http.Request) error {
	set := s.provider.JWKS()
	if set == nil {
		// JSON whatever the caller accepts: a provider fetches this, not a
		// person.
		writeJSON(w, http.StatusNotFound, errorBody{Error: "not_found",
			Description: "This client has no public keys (oidc.client_auth is not private_key_jwt).", RequestID: requestID(r.Context())})
		return nil
	}
	w.Header().Set("Content-Type", "application/jwk-set+json")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(set) // the client is gone if this fails
	return nil
}

func (s *Server) handleReady(w http.ResponseWriter, r *http.Request) error {
	if err := s.Ready(r.Context()); err != nil {
		writeJSON(w, http.StatusServiceUnavailable, errorBody{Error: "not_ready", Description: err.Error()})
		return nil
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
	return nil
}

func (s *Server) observeProxy(ctx context.Context, route string, status int, d time.Duration) {
	if route == "" {
		return
	}
	observeWithExemplar(ctx, s.metrics.proxyDuration.WithLabelValues(route), d.Seconds())
	if status == http.StatusBadGateway || status == http.StatusGatewayTimeout || status == 499 {
		s.metrics.upstreamErrors.WithLabelValues(route, strconv.Itoa(status)).Inc()
	}
}

// authzRules are the routes' rules (apis[].require) in authz's terms.
func authzRules(apis []config.APIConfig) [][]authz.Rule {
	out := make([][]authz.Rule, len(apis))
	for i, a := range apis {
		for _, r := range a.Require {
			rule := authz.Rule{Methods: r.Methods, ACR: r.ACR, AMR: r.AMR, MaxAge: r.MaxAge}
			if len(r.Claims) > 0 {
				rule.Claims = make(map[string][]any, len(r.Claims))
				for name, vals := range r.Claims {
					for _, v := range vals {
						rule.Claims[name] = append(rule.Claims[name], v.Value)
					}
				}
			}
			out[i] = append(out[i], rule)
		}
	}
	return out
}
