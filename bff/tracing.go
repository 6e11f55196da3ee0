package bff

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// startRequestSpan starts the server span of a request when tracing is on
// (s.tracer is nil otherwise, and nothing here runs). A caller's trace
// context is believed only from a same-origin request of the app's own
// scripts (Sec-Fetch-Site: same-origin, which pages cannot forge) or from
// a trusted proxy: another site must not join its traces with ours. The
// span names the route, never the path: paths can carry user data.
func (s *Server) startRequestSpan(r *http.Request, class, route string) (*http.Request, trace.Span) {
	ctx := r.Context()
	if s.traceTrusted(r) {
		ctx = s.tracing.Propagator.Extract(ctx, propagation.HeaderCarrier(r.Header))
	}
	name := r.Method + " " + route
	ctx, span := s.tracer.Start(ctx, name, trace.WithSpanKind(trace.SpanKindServer), trace.WithAttributes(
		attribute.String("http.request.method", r.Method), attribute.String("http.route", route),
		attribute.String("bff.class", class)))
	return r.WithContext(ctx), span
}

func (s *Server) traceTrusted(r *http.Request) bool {
	if r.Header.Get("Sec-Fetch-Site") == "same-origin" {
		return true
	}
	_, trusted := s.peer(r)
	return trusted
}

func endRequestSpan(span trace.Span, status int) {
	span.SetAttributes(attribute.Int("http.response.status_code", status))
	if status >= 500 {
		span.SetStatus(codes.Error, http.StatusText(status))
	}
	span.End()
}

// bffEndpoints are the /bff/ paths that name a span; any other (a 404)
// is "/bff/", so a client cannot make up span names.
var bffEndpoints = map[string]bool{
	"/bff/login": true, "/bff/callback": true, "/bff/user": true, "/bff/logout": true,
	"/bff/backchannel-logout": true, "/bff/sessions": true, "/bff/apis": true, "/bff/events": true,
	"/bff/keepalive": true, "/bff/jwks": true, "/bff/frontchannel-logout": true,
}

// spanRoute is the low-cardinality name of what a request reached: the
// /bff/ endpoint (with /bff/sessions/{id} for any ID), the API route's
// prefix, or "/" for the SPA.
func (s *Server) spanRoute(class, path string) string {
	switch class {
	case "bff":
		if strings.HasPrefix(path, "/bff/sessions/") {
			return "/bff/sessions/{id}"
		}
		if bffEndpoints[path] {
			return path
		}
		return "/bff/"
	case "health":
		return path
	case "api":
		if rt, ok := s.proxy.Match(path); ok {
			return rt.Prefix
		}
	}
	return "/"
}

// exemplar is the trace of ctx as a Prometheus exemplar, nil when the
// request is not traced (or not sampled).
func exemplar(ctx context.Context) prometheus.Labels {
	sc := trace.SpanContextFromContext(ctx)
	if !sc.IsSampled() {
		return nil
	}
	return prometheus.Labels{"trace_id": sc.TraceID().String()}
}

// observeWithExemplar observes v on o, with ctx's trace as the exemplar
// when there is one, so that a slow bucket leads to its trace.
func observeWithExemplar(ctx context.Context, o prometheus.Observer, v float64) {
	if ex := exemplar(ctx); ex != nil {
		if eo, ok := o.(prometheus.ExemplarObserver); ok {
			eo.ObserveWithExemplar(v, ex)
			return
		}
	}
	o.Observe(v)
}

// traceStoreCall records a session store call as a span of ctx's trace,
// after the fact (the store reports calls when they end).
func (s *Server) traceStoreCall(ctx context.Context, op string, d time.Duration, err error) {
	if s.tracer == nil || !trace.SpanContextFromContext(ctx).IsValid() {
		return
	}
	end := time.Now()
	_, span := s.tracer.Start(ctx, "session."+op, trace.WithTimestamp(end.Add(-d)), trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(attribute.String("db.operation.name", op), attribute.String("db.system.name", s.cfg.Session.Store)))
	if err != nil {
		span.SetStatus(codes.Error, "store call failed")
	}
	span.End(trace.WithTimestamp(end))
}

// tracerProvider and propagator are tracing's, or nil when it is off.
func (s *Server) tracerProvider() trace.TracerProvider {
	if s.tracing == nil {
		return nil
	}
	return s.tracing.Provider
}

func (s *Server) propagator() propagation.TextMapPropagator {
	if s.tracing == nil {
		return nil
	}
	return s.tracing.Propagator
}
