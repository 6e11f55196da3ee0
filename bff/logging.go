package bff

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"

	"github.com/bff-project/bff/bff/config"
	"go.opentelemetry.io/otel/trace"
)

// traceHandler adds the trace and span IDs of a traced request to each of
// its log lines, so that a log line leads to its trace and back.
type traceHandler struct{ slog.Handler }

func (h traceHandler) Handle(ctx context.Context, r slog.Record) error {
	if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
		r.AddAttrs(slog.String("trace_id", sc.TraceID().String()), slog.String("span_id", sc.SpanID().String()))
	}
	return h.Handler.Handle(ctx, r)
}

func (h traceHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return traceHandler{h.Handler.WithAttrs(attrs)}
}

func (h traceHandler) WithGroup(name string) slog.Handler {
	return traceHandler{h.Handler.WithGroup(name)}
}

// NewLogger returns a logger writing cfg.Format ("json", the default, or
// "text") at cfg.Level ("debug", "info" (default), "warn" or "error") to w.
//
// As a safety net it redacts, whatever the group, every attribute whose key
// (case-insensitive, "-" and "_" alike) is cookie, set-cookie, authorization,
// proxy-authorization, access_token, refresh_token, id_token, code,
// code_verifier, client_secret, logout_token, token, password or key, and
// the same names inside http.Header and url.Values values. It does not look
// inside other values or error strings: code must still never log secrets.
func NewLogger(cfg config.LogConfig, w io.Writer) (*slog.Logger, error) {
	level, err := cfg.SlogLevel()
	if err != nil {
		return nil, err
	}
	opts := &slog.HandlerOptions{Level: level, ReplaceAttr: redactAttr}
	switch cfg.Format {
	case "", "json":
		return slog.New(traceHandler{slog.NewJSONHandler(w, opts)}), nil
	case "text":
		return slog.New(traceHandler{slog.NewTextHandler(w, opts)}), nil
	}
	return nil, fmt.Errorf("bff: log format %q: want json or text", cfg.Format)
}

// redactedValue replaces secrets in logs.
const redactedValue = "[redacted]"

// sensitiveKeys are attribute, header and parameter names whose values are
// never logged, normalized by sensitiveKey.
var sensitiveKeys = map[string]bool{
	"cookie": true, "set_cookie": true, "authorization": true, "proxy_authorization": true,
	"access_token": true, "refresh_token": true, "id_token": true, "code": true,
	"code_verifier": true, "client_secret": true, "logout_token": true, "token": true,
	"password": true, "key": true,
}

func sensitiveKey(k string) bool {
	if sensitiveKeys[k] {
		return true // the common spelling, without allocating
	}
	if !strings.ContainsAny(k, "ABCDEFGHIJKLMNOPQRSTUVWXYZ-") {
		return false // already normal: the lookup above was the answer
	}
	return sensitiveKeys[strings.ReplaceAll(strings.ToLower(k), "-", "_")]
}

func redactAttr(groups []string, a slog.Attr) slog.Attr {
	if len(groups) == 0 {
		// The built-in keys are never secret. Once ReplaceAttr is set, the
		// JSON handler would encode a returned Level by reflection on every
		// line, so hand it back as a string.
		switch a.Key {
		case slog.TimeKey, slog.MessageKey:
			return a
		case slog.LevelKey:
			if l, ok := a.Value.Any().(slog.Level); ok {
				return slog.String(a.Key, l.String())
			}
			return a
		}
	}
	if sensitiveKey(a.Key) {
		return slog.String(a.Key, redactedValue)
	}
	if a.Value.Kind() != slog.KindAny {
		return a
	}
	switch v := a.Value.Any().(type) {
	case http.Header:
		return slog.Any(a.Key, redactValues(v))
	case url.Values:
		return slog.Any(a.Key, redactValues(v))
	}
	return a
}

// redactValues returns a copy of m with sensitive names' values redacted.
func redactValues[M ~map[string][]string](m M) M {
	out := make(M, len(m))
	for k, vs := range m {
		if sensitiveKey(k) {
			vs = []string{redactedValue}
		}
		out[k] = vs
	}
	return out
}
