package telemetry

import (
	"context"
	"errors"
	"os"
	"strings"

	"go.opentelemetry.io/contrib/exporters/autoexport"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.37.0"
	"go.opentelemetry.io/otel/trace"
)

// Tracing is a configured tracer provider and the W3C propagator.
type Tracing struct {
	Provider   trace.TracerProvider
	Propagator propagation.TextMapPropagator
	shutdown   func(context.Context) error
}

// Shutdown flushes the spans not yet exported and stops the exporter.
func (t *Tracing) Shutdown(ctx context.Context) error {
	if t == nil || t.shutdown == nil {
		return nil
	}
	return t.shutdown(ctx)
}

// Tracer is the BFF's tracer on t, or a no-op one when t is nil.
func (t *Tracing) Tracer() trace.Tracer {
	if t == nil {
		return nil
	}
	return t.Provider.Tracer("github.com/bff-project/bff")
}

// Enabled reports whether the environment asks for traces: an exporter
// other than "none" in OTEL_TRACES_EXPORTER, or an OTLP endpoint. The OTEL
// SDK's own default (OTLP to localhost) is not taken as a request: a BFF
// without OTEL_* settings must not try to reach a collector nobody runs.
func Enabled(getenv func(string) string) bool {
	if e := strings.TrimSpace(getenv("OTEL_TRACES_EXPORTER")); e != "" {
		return e != "none"
	}
	if strings.EqualFold(strings.TrimSpace(getenv("OTEL_SDK_DISABLED")), "true") {
		return false
	}
	return getenv("OTEL_EXPORTER_OTLP_ENDPOINT") != "" || getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") != ""
}

// Setup builds tracing from the OTEL_* environment (read with os.Getenv,
// as the exporters do), or returns nil when [Enabled] says no. version
// becomes service.version; service.name is OTEL_SERVICE_NAME or "bff".
// Sampling follows OTEL_TRACES_SAMPLER (default: parent-based, always on).
func Setup(ctx context.Context, version string) (*Tracing, error) {
	if !Enabled(os.Getenv) {
		return nil, nil
	}
	exp, err := autoexport.NewSpanExporter(ctx)
	if err != nil {
		return nil, errors.New("telemetry: span exporter: " + err.Error())
	}
	attrs := []resource.Option{resource.WithFromEnv(), resource.WithTelemetrySDK(),
		resource.WithAttributes(semconv.ServiceVersion(version))}
	if os.Getenv("OTEL_SERVICE_NAME") == "" {
		attrs = append(attrs, resource.WithAttributes(semconv.ServiceName("bff")))
	}
	res, err := resource.New(ctx, attrs...)
	if err != nil {
		return nil, errors.New("telemetry: resource: " + err.Error())
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(scrubbingExporter{exp}), sdktrace.WithResource(res))
	return &Tracing{
		Provider: tp,
		// W3C Trace Context only: baggage from a browser is user-chosen
		// text that upstreams might log or trust.
		Propagator: propagation.TraceContext{},
		shutdown:   tp.Shutdown,
	}, nil
}
