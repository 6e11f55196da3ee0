// Package bff is the backend-for-frontend: it signs users in with OpenID
// Connect (authorization code + PKCE) as a confidential client, keeps their
// tokens in an encrypted server-side session, and serves the /bff/* endpoints,
// the API proxy and the SPA behind one opaque session cookie.
package bff

import (
	"context"
	"errors"
	"net/http"
)

// Server is a configured BFF. It is safe for concurrent use.
type Server struct {
	handler http.Handler
	closers []func() error
}

// New checks cfg, opens the session store and builds the HTTP surface. It
// does not need the provider to be up: discovery is fetched on first use and
// retried, and /readyz reports it. Close releases the store.
func New(ctx context.Context, cfg Config) (*Server, error) {
	return nil, errors.New("bff: not implemented yet")
}

// Handler is the whole HTTP surface: /bff/*, the API routes, /healthz,
// /readyz, /metrics (unless Config.MetricsListen is set) and the SPA.
func (s *Server) Handler() http.Handler { return s.handler }

// MetricsHandler serves Prometheus metrics, for Config.MetricsListen.
func (s *Server) MetricsHandler() http.Handler { return http.NotFoundHandler() }

// Close releases the session store. Call it after the HTTP server has shut
// down.
func (s *Server) Close() error {
	var errs []error
	for _, c := range s.closers {
		errs = append(errs, c())
	}
	return errors.Join(errs...)
}
