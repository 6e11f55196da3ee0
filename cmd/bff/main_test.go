package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bff-project/bff/bff/config"
	"github.com/bff-project/bff/e2e/harness"
)

// syncBuffer is a bytes.Buffer safe for the server goroutine to write while
// the test reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// discovery serves a minimal OpenID discovery document.
func discovery(t *testing.T) *httptest.Server {
	t.Helper()
	var srv *httptest.Server
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/.well-known/openid-configuration" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{
			"issuer":                                srv.URL,
			"authorization_endpoint":                srv.URL + "/authorize",
			"token_endpoint":                        srv.URL + "/token",
			"jwks_uri":                              srv.URL + "/keys",
			"end_session_endpoint":                  srv.URL + "/logout",
			"revocation_endpoint":                   srv.URL + "/revoke",
			"backchannel_logout_supported":          true,
			"code_challenge_methods_supported":      []string{"S256"},
			"response_types_supported":              []string{"code"},
			"subject_types_supported":               []string{"public"},
			"id_token_signing_alg_values_supported": []string{"RS256"},
		})
	}))
	t.Cleanup(srv.Close)
	return srv
}

// writeConfig writes a valid config for issuer and returns its path.
func writeConfig(t *testing.T, issuer string) string {
	t.Helper()
	dir := t.TempDir()
	key, err := config.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	key2, _ := config.GenerateKey()
	cfg := `
listen: "127.0.0.1:0"
public_url: "http://localhost:8080"
oidc:
  issuer: "` + issuer + `"
  client_id: "spa-bff"
  client_secret: "main-test-secret-value"
session:
  path: "` + filepath.Join(dir, "sessions.db") + `"
  encryption_keys: ["` + key + `", "` + key2 + `"]
server:
  shutdown_timeout: 5s
`
	path := filepath.Join(dir, "bff.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestVersion(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run(t.Context(), []string{"version"}, nil, &out, &errb); code != 0 {
		t.Fatalf("bff version exit = %d, want 0; stderr %q", code, errb.String())
	}
	if got := out.String(); !strings.HasPrefix(got, version) || !strings.HasSuffix(got, "\n") {
		t.Errorf("bff version = %q, want %q...", got, version)
	}
}

func TestKeygen(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run(t.Context(), []string{"keygen"}, nil, &out, &errb); code != 0 {
		t.Fatalf("bff keygen exit = %d, want 0; stderr %q", code, errb.String())
	}
	key, ok := strings.CutSuffix(out.String(), "\n")
	if !ok {
		t.Errorf("bff keygen output %q does not end in a newline", out.String())
	}
	if _, err := config.ParseEncryptionKey(key); err != nil {
		t.Errorf("bff keygen printed %q: %v", key, err)
	}
}

func TestUsageErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
	}{
		{"unknown command", []string{"serve"}},
		{"unknown flag", []string{"-listen", ":1"}},
		{"extra argument", []string{"run", "-config", "x.yaml", "extra"}},
		{"check unknown flag", []string{"check", "-x"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			if code := run(t.Context(), tt.args, nil, &out, &errb); code != 2 {
				t.Errorf("bff %q exit = %d, want 2", tt.args, code)
			}
		})
	}
}

func TestRunBadConfig(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bff.yaml")
	const bad = "public_url: ftp://x\noidc:\n  client_secret: main-test-secret-value\nsession:\n  same_site: none\n"
	if err := os.WriteFile(path, []byte(bad), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		args    []string
		environ []string
	}{
		{"flag", []string{"-config", path}, nil},
		{"run subcommand", []string{"run", "-config", path}, nil},
		{"BFF_CONFIG", nil, []string{"BFF_CONFIG=" + path}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			if code := run(t.Context(), tt.args, tt.environ, &out, &errb); code != 2 {
				t.Fatalf("exit = %d, want 2; stderr:\n%s", code, errb.String())
			}
			stderr := errb.String()
			for _, key := range []string{"public_url", "oidc.issuer", "oidc.client_id", "session.same_site", "session.encryption_keys"} {
				if !strings.Contains(stderr, "config: "+key+": ") {
					t.Errorf("stderr lacks a line for %s:\n%s", key, stderr)
				}
			}
			if strings.Contains(stderr, "main-test-secret-value") {
				t.Errorf("stderr contains the client secret:\n%s", stderr)
			}
		})
	}
}

// Issue 13: a config with an unknown key and a missing oidc.issuer
// reported only the unknown key. Both `bff check` and start-up report
// every problem at once.
func TestEveryProblemAtOnce(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bff.yaml")
	const cfg = `listne: ":1"
public_url: https://app.example.com
oidc:
  client_id: c
  client_secret: s
  timeout: soon
session:
  encryption_keys: ["AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="]
`
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		args     []string
		wantCode int
	}{
		{[]string{"check", "-config", path}, 1},
		{[]string{"-config", path}, 2},
	} {
		var out, errb bytes.Buffer
		code := run(t.Context(), tt.args, []string{"BFF_SESSION_IDLE_TIMEOUT=later"}, &out, &errb)
		if code != tt.wantCode {
			t.Errorf("bff %s exit = %d, want %d", strings.Join(tt.args, " "), code, tt.wantCode)
		}
		for _, want := range []string{"config: listne: unknown key", "config: oidc.issuer: required",
			"config: oidc.timeout: must be a duration", "config: BFF_SESSION_IDLE_TIMEOUT: must be a duration"} {
			if !strings.Contains(errb.String(), want) {
				t.Errorf("bff %s stderr lacks %q:\n%s", strings.Join(tt.args, " "), want, errb.String())
			}
		}
	}
}

// Issue 13: the variables Kubernetes injects for a Service named bff
// stopped start-up. They are warned about and listed by `bff check`.
func TestKubernetesServiceVariables(t *testing.T) {
	idp := discovery(t)
	env := []string{"BFF_SERVICE_HOST=10.0.0.7", "BFF_PORT=tcp://10.0.0.7:8080", "BFF_PORT_8080_TCP_ADDR=10.0.0.7"}
	var out, errb bytes.Buffer
	if code := run(t.Context(), []string{"check", "-config", writeConfig(t, idp.URL)}, env, &out, &errb); code != 0 {
		t.Fatalf("bff check exit = %d, want 0; stderr:\n%s", code, errb.String())
	}
	for _, name := range []string{"BFF_SERVICE_HOST", "BFF_PORT", "BFF_PORT_8080_TCP_ADDR"} {
		if !strings.Contains(errb.String(), "warning: "+name+" names no config key") {
			t.Errorf("bff check stderr does not list %s:\n%s", name, errb.String())
		}
	}
	if strings.Contains(errb.String(), "10.0.0.7") {
		t.Errorf("bff check shows a variable's value:\n%s", errb.String())
	}
}

func TestCheckCommand(t *testing.T) {
	idp := discovery(t)
	var out, errb bytes.Buffer
	env := []string{"BFF_SESSION_SAME_SITE=lax"}
	if code := run(t.Context(), []string{"check", "-config", writeConfig(t, idp.URL)}, env, &out, &errb); code != 0 {
		t.Fatalf("bff check exit = %d, want 0; stderr:\n%s", code, errb.String())
	}
	if got := out.String(); got != "config OK\n" {
		t.Errorf("bff check stdout = %q, want %q", got, "config OK\n")
	}
	if got, want := errb.String(), "warning: session.same_site is lax"; !strings.HasPrefix(got, want) || strings.Count(got, "\n") != 1 {
		t.Errorf("bff check stderr = %q, want one line starting %q", got, want)
	}

	dead := httptest.NewServer(http.NotFoundHandler())
	dead.Close()
	out.Reset()
	errb.Reset()
	if code := run(t.Context(), []string{"check", "-config", writeConfig(t, dead.URL)}, nil, &out, &errb); code != 1 {
		t.Fatalf("bff check (unreachable issuer) exit = %d, want 1", code)
	}
	if !strings.Contains(errb.String(), "config: oidc.issuer: discovery failed") || strings.Contains(out.String(), "config OK") {
		t.Errorf("bff check (unreachable issuer): stdout %q, stderr %q", out.String(), errb.String())
	}
}

// TestRunServesAndShutsDown starts the real server on a free port, makes a
// request and stops it the way SIGTERM does.
func TestRunServesAndShutsDown(t *testing.T) {
	idp := discovery(t)
	path := writeConfig(t, idp.URL)
	ctx, stop := context.WithCancel(t.Context())
	defer stop()
	var out, errb syncBuffer
	done := make(chan int, 1)
	go func() { done <- run(ctx, []string{"-config", path}, nil, &out, &errb) }()

	addr := waitForListen(t, &errb, done)
	resp, err := http.Get("http://" + addr + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET /healthz = %d, want 200", resp.StatusCode)
	}

	stop()
	select {
	case code := <-done:
		if code != 0 {
			t.Errorf("exit after shutdown = %d, want 0; stderr:\n%s", code, errb.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("server did not shut down")
	}
	if logs := errb.String(); strings.Contains(logs, "main-test-secret-value") {
		t.Errorf("logs contain the client secret:\n%s", logs)
	}
}

// waitForListen returns the address from the "listening" log line.
func waitForListen(t *testing.T, logs *syncBuffer, done <-chan int) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		sc := bufio.NewScanner(strings.NewReader(logs.String()))
		for sc.Scan() {
			var rec struct{ Msg, Server, Addr string }
			if json.Unmarshal(sc.Bytes(), &rec) == nil && rec.Msg == "listening" && rec.Server == "http" {
				return rec.Addr
			}
		}
		select {
		case code := <-done:
			t.Fatalf("bff exited with %d before listening; stderr:\n%s", code, logs.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
	t.Fatalf("no listening log line; stderr:\n%s", logs.String())
	return ""
}

// `bff check --probe` prints one line per check and exits 1 when any
// failed, against the real development provider.
func TestCheckProbeCommand(t *testing.T) {
	env := harness.Start(t, harness.Options{})
	cfg := fmt.Sprintf(`public_url: %q
oidc:
  issuer: %q
  client_id: %q
  client_secret: %q
session:
  path: %q
  encryption_keys: [%q, %q]
apis:
  - prefix: /api/orders/
    upstream: %q
`, env.Default.URL, env.OPURL, harness.ClientID, harness.ClientSecret, filepath.Join(t.TempDir(), "s.db"), env.Key, env.Key[:40]+"AAA=", env.APIs["orders"])
	path := filepath.Join(t.TempDir(), "bff.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name     string
		environ  []string
		wantCode int
		want     string
	}{
		{"healthy", nil, 0, "client authentication"},
		{"wrong secret", []string{"BFF_OIDC_CLIENT_SECRET=wrong-secret-value"}, 1, "FAIL"},
	} {
		var out, errb bytes.Buffer
		code := run(t.Context(), []string{"check", "--probe", "-config", path}, tt.environ, &out, &errb)
		t.Logf("%s:\n%s", tt.name, out.String())
		if code != tt.wantCode || !strings.Contains(out.String(), tt.want) {
			t.Errorf("%s: bff check --probe = %d, stdout:\n%s\nstderr:\n%s\nwant exit %d and %q", tt.name, code, out.String(), errb.String(), tt.wantCode, tt.want)
		}
		if strings.Contains(out.String()+errb.String(), "wrong-secret-value") || strings.Contains(out.String()+errb.String(), harness.ClientSecret) {
			t.Errorf("%s: output shows the client secret", tt.name)
		}
	}
}
