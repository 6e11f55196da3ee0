package proxy

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// recorder is a backend that remembers the requests it saw.
type recorder struct {
	mu   sync.Mutex
	reqs []*http.Request
}

func (rec *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rec.mu.Lock()
	rec.reqs = append(rec.reqs, r.Clone(r.Context()))
	rec.mu.Unlock()
	w.Header().Set("Content-Type", "text/plain")
	fmt.Fprintf(w, "upstream saw %s", r.URL.RequestURI())
}

func (rec *recorder) count() int {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return len(rec.reqs)
}

// last returns the last request seen, failing the test if there is none.
func (rec *recorder) last(t *testing.T) *http.Request {
	t.Helper()
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.reqs) == 0 {
		t.Fatal("upstream saw no request")
	}
	return rec.reqs[len(rec.reqs)-1]
}

func newBackend(t *testing.T, h http.Handler) *httptest.Server {
	t.Helper()
	s := httptest.NewServer(h)
	t.Cleanup(s.Close)
	return s
}

// newFrontend builds a Handler from cfg and serves it.
func newFrontend(t *testing.T, cfg Config) (*Handler, *httptest.Server) {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	h, err := New(cfg)
	if err != nil {
		t.Fatalf("New() error = %v", err)
	}
	s := httptest.NewServer(h)
	t.Cleanup(s.Close)
	return h, s
}

// staticTokens returns tok for every request and records the routes asked.
func staticTokens(tok string) TokenSource {
	return TokenSourceFunc(func(*http.Request, *Route) (Credential, error) { return Credential{Token: tok}, nil })
}

// rawRequest sends head (request line and headers, without the final empty
// line) byte for byte, so that no client library cleans the path.
func rawRequest(t *testing.T, addr, head string) (*http.Response, string) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(conn, head+"\r\nConnection: close\r\n\r\n"); err != nil {
		t.Fatalf("write: %v", err)
	}
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("read response: %v", err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("read body: %v", err)
	}
	return res, string(body)
}

// rawGet sends GET target with a Host header.
func rawGet(t *testing.T, addr, target string) (*http.Response, string) {
	t.Helper()
	return rawRequest(t, addr, "GET "+target+" HTTP/1.1\r\nHost: "+addr+"\r\nX-Csrf: 1")
}

// observations collects Config.Observe calls.
type observations struct {
	ch chan observation
}

type observation struct {
	route  string
	status int
}

func newObservations() *observations { return &observations{ch: make(chan observation, 100)} }

func (o *observations) observe(_ context.Context, route string, status int, d time.Duration) {
	o.ch <- observation{route, status}
}

// next waits for the next observation.
func (o *observations) next(t *testing.T) observation {
	t.Helper()
	select {
	case ob := <-o.ch:
		return ob
	case <-time.After(5 * time.Second):
		t.Fatal("Observe was not called")
		return observation{}
	}
}

// logBuffer is a concurrency-safe log sink.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func newLogger(b *logBuffer) *slog.Logger {
	return slog.New(slog.NewTextHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// checkJSONError checks the contract's error shape.
func checkJSONError(t *testing.T, res *http.Response, body string, wantStatus int, wantCode string) {
	t.Helper()
	if res.StatusCode != wantStatus {
		t.Errorf("status = %d, want %d (body %s)", res.StatusCode, wantStatus, body)
	}
	if got := res.Header.Get("Content-Type"); got != "application/json" {
		t.Errorf("Content-Type = %q, want application/json", got)
	}
	if got := res.Header.Get("Cache-Control"); got != "no-store" {
		t.Errorf("Cache-Control = %q, want no-store", got)
	}
	if want := `{"error":"` + wantCode + `","error_description":"`; !strings.HasPrefix(body, want) {
		t.Errorf("body = %s, want prefix %s", body, want)
	}
}

func readAll(t *testing.T, res *http.Response) string {
	t.Helper()
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("read body: %v", err)
	}
	return string(b)
}
