package bff

import (
	"log/slog"
	"net/http"
	"time"

	"github.com/bff-project/bff/bff/config"
	"github.com/bff-project/bff/bff/telemetry"
)

// Config is what [New] needs: the configuration (the file and the
// environment, see [config.Load]) and the program's own dependencies, which
// no file sets.
type Config struct {
	config.Config

	// Logger receives every log line. If nil, slog.Default() is used.
	Logger *slog.Logger
	// HTTPClient makes every call to the provider. If nil, a client with
	// OIDC.Timeout and a tuned transport is used.
	HTTPClient *http.Client
	// Version is reported by the version metric. Set by cmd/bff.
	Version string
	// Tracing, when set, traces requests, provider calls, token renewals,
	// store calls and proxied calls (see bff/telemetry). Default nil: off,
	// and nothing is wrapped.
	Tracing *telemetry.Tracing
	// StreamCheckInterval is how often in-flight API calls are checked
	// against the store, so that a session ended on another instance, or
	// expired, ends them. Default 10s; tests shorten it.
	StreamCheckInterval time.Duration
}
