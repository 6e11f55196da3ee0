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
	// SweepInterval is how often the sessions with API calls in flight or
	// event streams here are re-read from the store: the safety net for a
	// session end whose event no instance heard, and for API calls of a
	// session that expired. Ends on any instance reach them at once by
	// events. Default 30s; tests change it.
	SweepInterval time.Duration
	// EventHeartbeat is how often an idle /bff/events stream gets a
	// comment, so that proxies keep it open. Default 15s; tests shorten it.
	EventHeartbeat time.Duration
}
