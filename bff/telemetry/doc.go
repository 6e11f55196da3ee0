// Package telemetry sets up OpenTelemetry tracing for the BFF from the
// standard OTEL_* environment variables (through the contrib autoexport
// package: OTLP over gRPC or HTTP, console, none), and holds the few
// helpers the other packages share: which trace context to believe, and
// the rule that no span attribute ever carries a token, cookie, code,
// state or claim value.
//
// Tracing is off unless the environment asks for it (OTEL_TRACES_EXPORTER
// set to something other than "none", or an OTLP endpoint set); then
// [Setup] returns nil and nothing is wrapped, so it costs nothing. It must
// not import the bff, session or proxy packages.
package telemetry
