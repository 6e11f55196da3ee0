package bff

import (
	"bufio"
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"go.opentelemetry.io/otel/trace"
)

// observe routes each request to its API route (matched once, here) or to
// mux (everything else), gives each request an ID (returned as
// X-Request-Id and shown on error pages), counts it by route class and
// status, and writes one access log line. The line has the path but never
// the query string (the callback's carries the authorization code) nor any
// header value. API calls pass the ID on to the upstream. API calls, the
// hot path, skip the ServeMux: the proxy refuses dot segments and encoded
// separators itself, so the mux's path cleaning adds nothing there.
func (s *Server) observe(mux http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := s.requestID(r)
		ids := []string{id}
		w.Header()["X-Request-Id"] = ids // canonical already
		if s.hsts != nil {
			w.Header()["Strict-Transport-Security"] = s.hsts
		}
		class, next := s.route(r.URL.Path)
		if s.tracer != nil {
			var span trace.Span
			r, span = s.startRequestSpan(r, class, s.spanRoute(class, r.URL.Path))
			defer func() { endRequestSpan(span, statusOf(w)) }()
		}
		if class == "api" {
			// The upstream logs the same ID (ReverseProxy copies the
			// header; a client's own is replaced, it could not be trusted
			// to be unique).
			r.Header["X-Request-Id"] = ids
		} else {
			next = mux
			// Handlers log the ID; the API path reads it back from the
			// response header instead (see writeError), sparing a copy of
			// the request on the hot path.
			r = r.WithContext(context.WithValue(r.Context(), requestIDKey, id))
		}
		sw := &statusWriter{ResponseWriter: w, requestID: id, hsts: s.hsts}
		w = sw
		next.ServeHTTP(sw, r)
		status := statusOf(sw)
		s.metrics.request(class, status)
		if class == "health" {
			return
		}
		s.log.LogAttrs(r.Context(), accessLevel(status), "request",
			slog.String("request_id", id), slog.String("method", r.Method), slog.String("path", r.URL.Path),
			slog.Int("status", status), slog.Duration("duration", time.Since(start)),
			slog.String("class", class), slog.String("ip", s.clientIP(r)))
	})
}

// requestID is the ID a trusted proxy in front gave the request (one
// X-Request-Id of up to 128 letters, digits and "._:-=", as nginx's
// $request_id or a load balancer's), so that its logs match the BFF's, or
// else a new one. A client's own is never taken: it could reuse another
// request's ID to muddle the logs.
func (s *Server) requestID(r *http.Request) string {
	if v := r.Header["X-Request-Id"]; len(s.trusted) > 0 && len(v) == 1 && validRequestID(v[0]) {
		if _, trusted := s.peer(r); trusted {
			return v[0]
		}
	}
	return newRequestID()
}

func validRequestID(v string) bool {
	if v == "" || len(v) > 128 {
		return false
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == ':' || c == '-' || c == '=') {
			return false
		}
	}
	return true
}

// route is the class of a request by its path, and the handler of an API
// route (nil for the other classes).
func (s *Server) route(path string) (string, http.Handler) {
	switch {
	case strings.HasPrefix(path, "/bff/"):
		return "bff", nil
	case path == "/healthz" || path == "/readyz" || path == "/metrics":
		return "health", nil
	}
	if h := s.proxy.ForPath(path); h != nil {
		return "api", h
	}
	return "static", nil
}

// statusOf is the status w sent (200 when it sent nothing yet, as the
// server will).
func statusOf(w http.ResponseWriter) int {
	if sw, ok := w.(*statusWriter); ok && sw.status != 0 {
		return sw.status
	}
	return http.StatusOK
}

// statusWriter records the status. It unwraps for http.ResponseController,
// and keeps Flush and Hijack working for streams and WebSockets.
type statusWriter struct {
	http.ResponseWriter
	status    int
	requestID string
	hsts      []string
}

func (w *statusWriter) WriteHeader(code int) {
	// 1xx other than 101 are interim; the final status comes later.
	if w.status == 0 && (code >= 200 || code == http.StatusSwitchingProtocols) {
		w.status = code
		w.keepRequestID()
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
		w.keepRequestID()
	}
	return w.ResponseWriter.Write(b)
}

// keepRequestID puts the headers observe set back (the request ID, HSTS)
// if a handler cleared the header map: ReverseProxy does after an
// upstream's 1xx answer, which the proxy then drops.
func (w *statusWriter) keepRequestID() {
	h := w.ResponseWriter.Header()
	if h["X-Request-Id"] == nil {
		h["X-Request-Id"] = []string{w.requestID}
	}
	if w.hsts != nil && h["Strict-Transport-Security"] == nil {
		h["Strict-Transport-Security"] = w.hsts
	}
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (w *statusWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	if h, ok := w.ResponseWriter.(http.Hijacker); ok {
		if w.status == 0 {
			w.status = http.StatusSwitchingProtocols
		}
		return h.Hijack()
	}
	return nil, nil, errors.New("bff: connection cannot be hijacked")
}

func accessLevel(status int) slog.Level {
	if status >= 500 {
		return slog.LevelWarn
	}
	return slog.LevelInfo
}
