package tokens

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// startSpan starts the span of one renewal (flight names it in
// m.renewing while it runs) and returns the function that ends it.
func (m *Manager) startSpan(ctx context.Context, flight string, sp *spec) (context.Context, func(error)) {
	if m.cfg.Tracer == nil {
		return ctx, func(error) {}
	}
	ctx, span := m.cfg.Tracer.Start(ctx, "tokens.renew", trace.WithAttributes(
		attribute.Bool("bff.token.sign_in", sp.signIn), attribute.String("oauth.audience", sp.req.Audience),
		attribute.String("oauth.resource", sp.req.Resource), attribute.String("bff.token.exchange", sp.exchange)))
	m.renewing.Store(flight, span)
	return ctx, func(err error) {
		m.renewing.Delete(flight)
		if err != nil {
			span.SetStatus(codes.Error, "renewal failed")
		}
		span.End()
	}
}

// joinSpan links the span of ctx to the renewal under way for flight, if
// any: the call will wait for that renewal instead of making its own.
func (m *Manager) joinSpan(ctx context.Context, flight string) {
	if m.cfg.Tracer == nil {
		return
	}
	sc := trace.SpanContextFromContext(ctx)
	if !sc.IsValid() {
		return
	}
	if v, ok := m.renewing.Load(flight); ok {
		v.(trace.Span).AddLink(trace.Link{SpanContext: sc})
	}
}
