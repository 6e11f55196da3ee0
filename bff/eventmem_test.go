package bff

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http/httptest"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/bff-project/bff/session"
)

// idleStreams and maxBytesPerStream are the figure README's Performance
// section states: 1,000 idle /bff/events streams on one instance, each
// within this many bytes of heap and goroutine stack. Measured: about
// 36 KiB on plain HTTP/1.1 (18 KiB heap: the connection's read and write
// buffers, the response's chunk buffer, the stream and its watcher; 18
// KiB stack: the handler's goroutine and net/http's background read of
// the connection, both the connection's own).
const (
	idleStreams       = 1000
	maxBytesPerStream = 48 << 10
)

// TestIdleEventStreamMemory opens 1,000 /bff/events streams, one per
// session, on one instance (bolt store, plain HTTP/1.1), and measures what
// they hold while idle: heap in use and goroutine stacks, after a GC, over
// the same figures before. The client side is a raw TCP connection per
// stream that reads nothing after the first event, so what is counted is
// the server's, plus a few hundred bytes per connection for the client's
// socket. It prints the figure and fails above maxBytesPerStream.
func TestIdleEventStreamMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("opens 1,000 streams")
	}
	cfg := validConfig()
	cfg.Session.Path = filepath.Join(t.TempDir(), "s.db")
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	cfg.Server.MaxEventStreams = 2 * idleStreams
	s, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(func() { srv.Close(); s.Close() })

	cookies := make([]string, idleStreams)
	for i := range cookies {
		tok, err := s.sessions.Create(context.Background(), &session.Record{Subject: fmt.Sprintf("user-%d", i)})
		if err != nil {
			t.Fatal(err)
		}
		cookies[i] = string(tok)
	}
	open := func(cookie string) net.Conn {
		c, err := net.Dial("tcp", srv.Listener.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(c, "GET /bff/events HTTP/1.1\r\nHost: app.example.com\r\nSec-Fetch-Site: same-origin\r\nCookie: %s=%s\r\n\r\n", sessionCookieName, cookie)
		// Read up to the first event; then the stream is idle.
		var buf [1024]byte
		var got []byte
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		for !bytes.Contains(got, []byte("event: session")) {
			n, err := c.Read(buf[:])
			if err != nil {
				t.Fatalf("reading the stream: %v (got %q)", err, got)
			}
			got = append(got, buf[:n]...)
		}
		if !bytes.HasPrefix(got, []byte("HTTP/1.1 200")) {
			t.Fatalf("GET /bff/events = %q, want 200", got)
		}
		return c
	}
	// Warm up: the first streams grow pools and maps the rest reuse.
	for _, c := range []net.Conn{open(cookies[0]), open(cookies[1])} {
		c.Close()
	}
	before := memInUse()
	conns := make([]net.Conn, 0, idleStreams)
	for _, cookie := range cookies {
		conns = append(conns, open(cookie))
	}
	time.Sleep(200 * time.Millisecond) // let every handler park
	after := memInUse()
	per := (after.total() - before.total()) / idleStreams
	t.Logf("%d idle event streams: %d bytes each (heap %d, stacks %d), %d goroutines",
		idleStreams, per, (after.heap-before.heap)/idleStreams, (after.stack-before.stack)/idleStreams, runtime.NumGoroutine())
	if per > maxBytesPerStream {
		t.Errorf("an idle event stream holds %d bytes, want at most %d", per, maxBytesPerStream)
	}
	for _, c := range conns {
		c.Close()
	}
}

type memFigures struct{ heap, stack int64 }

func (m memFigures) total() int64 { return m.heap + m.stack }

func memInUse() memFigures {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return memFigures{heap: int64(ms.HeapAlloc), stack: int64(ms.StackInuse)}
}
