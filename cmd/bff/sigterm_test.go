package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/bff-project/bff/session"
	"github.com/bff-project/bff/session/boltstore"
)

// TestSIGTERMDrainsInFlightRequest builds the real binary, starts it, and
// sends SIGTERM while a proxied request is still waiting on its upstream
// and a /bff/events stream is open: the request must complete, the stream
// must end at once (it would otherwise hold the shutdown for its whole
// timeout, a minute here), the process must exit 0, and the bolt file
// must have been closed cleanly (it opens again at once).
func TestSIGTERMDrainsInFlightRequest(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "bff")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		t.Fatalf("go build: %v", err)
	}

	entered := make(chan struct{}, 1)
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		entered <- struct{}{}
		time.Sleep(1500 * time.Millisecond)
		io.WriteString(w, "slow answer")
	}))
	defer upstream.Close()

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	dbPath := filepath.Join(dir, "sessions.db")
	cfg := fmt.Sprintf(`listen: %q
public_url: "http://%s"
oidc:
  issuer: "http://127.0.0.1:1"
  client_id: "c"
  client_secret: "s"
session:
  path: %q
  encryption_keys: [%q]
apis:
  - prefix: "/api/slow/"
    upstream: %q
    token: "none"
server:
  shutdown_timeout: "60s"
`, addr, addr, dbPath, base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{1}, 32)), upstream.URL)
	cookie := createSession(t, dbPath, bytes.Repeat([]byte{1}, 32))
	cfgPath := filepath.Join(dir, "bff.yaml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}

	cmd := exec.Command(bin, "-config", cfgPath)
	// What Kubernetes injects for a Service named bff: warned about, not
	// fatal (issue 13).
	cmd.Env = append(os.Environ(), "BFF_SERVICE_HOST=10.0.0.7", "BFF_PORT=tcp://10.0.0.7:8080")
	var stderr syncBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	waitListening(t, addr)

	// Issue 13: SIGHUP killed the process. Issue 18: it reloads the file.
	// A route added to the file is served after SIGHUP, without a restart.
	fast := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "fast answer") }))
	defer fast.Close()
	added := cfg + fmt.Sprintf("  - prefix: \"/api/fast/\"\n    upstream: %q\n    token: \"none\"\n", fast.URL)
	added = strings.Replace(added, "server:\n", "", 1)
	added = strings.Replace(added, "  shutdown_timeout: \"60s\"\n", "", 1) + "server:\n  shutdown_timeout: \"60s\"\n"
	if err := os.WriteFile(cfgPath, []byte(added), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return strings.Contains(stderr.String(), "configuration reloaded") }, &stderr)
	if got := getBody(t, "http://"+addr+"/api/fast/x"); got != "fast answer" {
		t.Errorf("GET /api/fast/x after SIGHUP = %q, want the new route's answer", got)
	}
	// A broken file is refused, every problem logged, and the running
	// configuration kept.
	if err := os.WriteFile(cfgPath, []byte(added+"bogus_key: 1\nlisten: [\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return strings.Contains(stderr.String(), "reload refused") }, &stderr)
	if got := getBody(t, "http://"+addr+"/api/fast/x"); got != "fast answer" {
		t.Errorf("GET /api/fast/x after a refused reload = %q, want the route still served", got)
	}
	if !strings.Contains(stderr.String(), "BFF_PORT, BFF_SERVICE_HOST") {
		t.Errorf("no warning naming the Kubernetes variables; stderr:\n%s", stderr.String())
	}

	stream := openEventStream(t, addr, cookie)

	type result struct {
		status int
		body   string
		err    error
	}
	done := make(chan result, 1)
	go func() {
		req, _ := http.NewRequest("GET", "http://"+addr+"/api/slow/x", nil)
		req.Header.Set("X-CSRF", "1")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			done <- result{err: err}
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		done <- result{status: resp.StatusCode, body: string(b)}
	}()
	select {
	case <-entered:
	case <-time.After(10 * time.Second):
		t.Fatalf("request never reached the upstream; stderr:\n%s", stderr.String())
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}

	select {
	case <-stream:
	case <-time.After(15 * time.Second):
		t.Fatal("the /bff/events stream is still open 15s after SIGTERM (shutdown_timeout 60s)")
	}
	res := <-done
	if res.err != nil || res.status != http.StatusOK || res.body != "slow answer" {
		t.Errorf("in-flight request across SIGTERM = %d %q %v, want 200 \"slow answer\"", res.status, res.body, res.err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("exit after SIGTERM = %v, want 0; stderr:\n%s", err, stderr.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatal("process did not exit after SIGTERM")
	}
	if _, err := net.DialTimeout("tcp", addr, 200*time.Millisecond); err == nil {
		t.Error("still listening after exit")
	}
	// bbolt holds an exclusive file lock while open: opening it again at
	// once proves the store was closed, not just abandoned.
	b, err := boltstore.Open(dbPath)
	if err != nil {
		t.Fatalf("bolt file after shutdown: %v", err)
	}
	b.Close()
	if !strings.Contains(stderr.String(), "shutting down") {
		t.Errorf("no shutdown log line; stderr:\n%s", stderr.String())
	}
}

// createSession stores a session in the bolt file at path, sealed with
// key, before the binary opens it, and returns its cookie value.
func createSession(t *testing.T, path string, key []byte) string {
	t.Helper()
	store, err := boltstore.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	cipher, err := session.NewCipher([][]byte{key})
	if err != nil {
		t.Fatal(err)
	}
	m, err := session.NewManager(session.Config{Store: store, Cipher: cipher})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := m.Create(context.Background(), &session.Record{Subject: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	return string(tok)
}

// openEventStream opens /bff/events with cookie, waits for its first
// event, and returns a channel closed when the stream ends.
func openEventStream(t *testing.T, addr, cookie string) <-chan struct{} {
	t.Helper()
	req, _ := http.NewRequest("GET", "http://"+addr+"/bff/events", nil)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	req.AddCookie(&http.Cookie{Name: "__Host-bff", Value: cookie})
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		t.Fatalf("GET /bff/events = %d, want 200", resp.StatusCode)
	}
	first := make(chan struct{})
	ended := make(chan struct{})
	go func() {
		defer close(ended)
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		var once sync.Once
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), "event: session") {
				once.Do(func() { close(first) })
			}
		}
	}()
	select {
	case <-first:
	case <-time.After(10 * time.Second):
		t.Fatal("no session event on /bff/events within 10s")
	}
	return ended
}

func waitListening(t *testing.T, addr string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if c, err := net.DialTimeout("tcp", addr, 100*time.Millisecond); err == nil {
			c.Close()
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s never listened", addr)
}

// waitFor polls cond for up to 10 s.
func waitFor(t *testing.T, cond func() bool, logs *syncBuffer) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("condition not met in 10s; stderr:\n%s", logs.String())
}

// getBody GETs u with X-CSRF and returns the body ("" on failure).
func getBody(t *testing.T, u string) string {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	req.Header.Set("X-CSRF", "1")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}
