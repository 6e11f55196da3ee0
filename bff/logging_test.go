package bff

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/bff-project/bff/bff/config"
)

func TestNewLoggerRedacts(t *testing.T) {
	const secret = "s3cr3t-XYZZY-value"
	keys := []string{
		"cookie", "Set-Cookie", "authorization", "Proxy-Authorization", "access_token",
		"refresh_token", "ID_TOKEN", "code", "code_verifier", "client_secret",
		"logout_token", "token", "password", "key", "access-token",
	}
	for _, format := range []string{"json", "text"} {
		t.Run(format, func(t *testing.T) {
			var buf bytes.Buffer
			logger, err := NewLogger(config.LogConfig{Format: format, Level: "debug"}, &buf)
			if err != nil {
				t.Fatal(err)
			}
			var args []any
			for _, k := range keys {
				args = append(args, slog.String(k, secret))
			}
			args = append(args,
				slog.Group("req", slog.String("Authorization", "Bearer "+secret), slog.String("path", "/kept")),
				slog.Any("headers", http.Header{"Cookie": {secret}, "Accept": {"text/kept"}}),
				slog.Any("query", url.Values{"code": {secret}, "state": {"kept-state"}}),
				slog.Any("token", struct{ V string }{secret}),
			)
			logger.With("client_secret", secret).Info("event", args...)
			out := buf.String()
			if strings.Contains(out, secret) {
				t.Errorf("log output contains the secret:\n%s", out)
			}
			for _, want := range []string{"[redacted]", "/kept", "text/kept", "kept-state"} {
				if !strings.Contains(out, want) {
					t.Errorf("log output lacks %q:\n%s", want, out)
				}
			}
		})
	}
}

func TestNewLoggerFormatAndLevel(t *testing.T) {
	var buf bytes.Buffer
	logger, err := NewLogger(config.LogConfig{}, &buf) // defaults: json, info
	if err != nil {
		t.Fatal(err)
	}
	logger.Debug("hidden")
	logger.Info("shown", "n", 1)
	var rec map[string]any
	if err := json.Unmarshal(buf.Bytes(), &rec); err != nil {
		t.Fatalf("default format is not one JSON line: %v: %q", err, buf.String())
	}
	if got, want := rec["msg"], "shown"; got != want {
		t.Errorf("msg = %v, want %v", got, want)
	}

	buf.Reset()
	logger, err = NewLogger(config.LogConfig{Format: "text", Level: "warn"}, &buf)
	if err != nil {
		t.Fatal(err)
	}
	logger.Info("hidden")
	logger.Warn("shown")
	if got := buf.String(); !strings.Contains(got, "level=WARN msg=shown") || strings.Contains(got, "hidden") {
		t.Errorf("text logger at warn wrote %q", got)
	}

	for _, cfg := range []config.LogConfig{{Format: "xml"}, {Level: "verbose"}} {
		if _, err := NewLogger(cfg, &buf); err == nil {
			t.Errorf("NewLogger(%+v) = nil error", cfg)
		}
	}
}
