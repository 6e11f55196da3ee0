package proxy

import (
	"net/http"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
)

// traced wraps t so that each upstream call is a client span of the
// request's trace, named by rt's prefix (never by the path, which may
// carry user data), when tracing is configured; t itself otherwise.
func (h *Handler) traced(t http.RoundTripper, rt *route) http.RoundTripper {
	if h.tracer == nil || h.propagator == nil {
		return t
	}
	name := "proxy " + rt.Prefix
	return otelhttp.NewTransport(t,
		otelhttp.WithTracerProvider(h.tracer),
		otelhttp.WithPropagators(h.propagator),
		otelhttp.WithSpanNameFormatter(func(string, *http.Request) string { return name }),
	)
}
