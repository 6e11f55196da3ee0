package oidcclient

import (
	"context"
	"errors"
	"net/http"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// span starts a span named name when tracing is on; end records err's
// kind (never its text, which may quote what the provider sent) and ends
// it. Without tracing both cost a nil check.
func (c *Client) span(ctx context.Context, name string, attrs ...attribute.KeyValue) (context.Context, func(error)) {
	if c.tracer == nil {
		return ctx, func(error) {}
	}
	ctx, sp := c.tracer.Start(ctx, name, trace.WithAttributes(attrs...))
	return ctx, func(err error) {
		if err != nil {
			sp.SetStatus(codes.Error, errorKind(err))
		}
		sp.End()
	}
}

// errorKind names an error for a span without its text.
func errorKind(err error) string {
	var te *TokenError
	switch {
	case errors.Is(err, ErrInvalidGrant):
		return "invalid_grant"
	case errors.As(err, &te):
		return te.Code
	case errors.Is(err, ErrUnavailable):
		return "provider_unavailable"
	case errors.Is(err, ErrInvalidIDToken), errors.Is(err, ErrNoIDToken):
		return "invalid_id_token"
	case errors.Is(err, ErrInvalidLogoutToken):
		return "invalid_logout_token"
	}
	return "error"
}

// traced is client with each request a span (otelhttp) that passes the
// trace context on to the provider.
func traced(client *http.Client, cfg Config) *http.Client {
	c := *client
	base := c.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	c.Transport = otelhttp.NewTransport(base, otelhttp.WithTracerProvider(cfg.TracerProvider), otelhttp.WithPropagators(cfg.Propagator))
	return &c
}
