// Package redistest gives tests a Redis: the one named by
// BFF_TEST_REDIS_URL, or a private redis-server started from PATH on a free
// loopback port. It is imported only by _test.go files and e2e programs
// (e2e/bench), never by the production binary; [Launch] is the part that
// needs no testing.TB.
//
// When neither is available a test is skipped with a message saying so,
// unless BFF_TEST_REQUIRE (a comma-separated list such as "redis,chromium")
// contains "redis": then it fails, so CI cannot pass by skipping.
package redistest

import (
	"errors"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// Environment variables.
const (
	EnvURL     = "BFF_TEST_REDIS_URL"
	EnvRequire = "BFF_TEST_REQUIRE"
)

// Server returns a Redis URL for t: BFF_TEST_REDIS_URL if set, otherwise a
// private redis-server stopped in t.Cleanup. Tests sharing one server keep
// apart by key prefix.
func Server(t testing.TB) (url string) {
	t.Helper()
	if u := os.Getenv(EnvURL); u != "" {
		return u
	}
	return Start(t).URL
}

// Instance is a private redis-server that a test can stop and restart on
// the same port, to simulate an outage. It wraps a [Process]; its methods
// fail t on error.
type Instance struct {
	// URL is redis://127.0.0.1:<port>/0.
	URL string

	t testing.TB
	p *Process
}

// Start starts a private redis-server (without persistence) and stops it
// in t.Cleanup. BFF_TEST_REDIS_URL does not apply: an outage test must own
// its server. It skips t when redis-server is not on PATH, or fails it
// when BFF_TEST_REQUIRE contains "redis".
func Start(t testing.TB) *Instance {
	t.Helper()
	return start(t, LaunchOptions{})
}

// StartPersistent is [Start] for a server that writes every change to an
// append-only file (fsync always) in a directory of its own, so that it
// keeps its data across Stop and Restart, as a production Redis with
// persistence does across a crash.
func StartPersistent(t testing.TB) *Instance {
	t.Helper()
	return start(t, LaunchOptions{Persistent: true})
}

func start(t testing.TB, opts LaunchOptions) *Instance {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		why := "redis-server not on PATH and " + EnvURL + " unset"
		if os.Getenv(EnvURL) != "" {
			why = "redis-server not on PATH (this test needs a private server; " + EnvURL + " cannot be stopped)"
		}
		unavailable(t, why)
	}
	opts.Bin, opts.Dir = bin, t.TempDir()
	p, err := Launch(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return &Instance{URL: p.URL(), t: t, p: p}
}

// Addr is the server's host:port.
func (in *Instance) Addr() string { return in.p.Addr() }

// Stop kills the server with SIGKILL; its data is lost unless it came
// from StartPersistent. Stopping a stopped server does nothing.
func (in *Instance) Stop() { in.p.Kill() }

// Restart starts the server again on the same port: empty, or with its
// data when it came from StartPersistent.
func (in *Instance) Restart() {
	in.t.Helper()
	if err := in.p.Restart(); err != nil {
		in.t.Fatal(err)
	}
}

// Pause freezes the server with SIGSTOP: it keeps its connections and
// port but answers nothing, like a hung host. Resume undoes it.
// On systems without SIGSTOP it skips the test.
func (in *Instance) Pause() { in.check(in.p.Pause()) }

// Resume continues a paused server.
func (in *Instance) Resume() { in.check(in.p.Resume()) }

func (in *Instance) check(err error) {
	in.t.Helper()
	if errors.Is(err, errNoSignal) {
		in.t.Skip(err)
	}
	if err != nil {
		in.t.Fatal(err)
	}
}

// unavailable skips t, or fails it when BFF_TEST_REQUIRE names redis.
func unavailable(t testing.TB, why string) {
	t.Helper()
	if Required() {
		t.Fatalf("redistest: %s, but %s=%q requires redis", why, EnvRequire, os.Getenv(EnvRequire))
	}
	t.Skipf("redistest: %s", why)
}

// Required reports whether BFF_TEST_REQUIRE lists "redis".
func Required() bool {
	list := strings.Split(os.Getenv(EnvRequire), ",")
	for i := range list {
		list[i] = strings.ToLower(strings.TrimSpace(list[i]))
	}
	return slices.Contains(list, "redis")
}
