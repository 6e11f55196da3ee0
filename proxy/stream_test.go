package proxy

import (
	"bufio"
	"bytes"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestServerSentEventsFlushed(t *testing.T) {
	firstSeen := make(chan struct{})
	var secondSent atomic.Bool
	be := newBackend(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		w.Header().Set("Content-Length", "30") // a known length must not delay events either
		fmt.Fprint(w, "data: one\n\n")
		http.NewResponseController(w).Flush()
		select {
		case <-firstSeen:
		case <-time.After(5 * time.Second):
		}
		secondSent.Store(true)
		fmt.Fprint(w, "data: two\n\n........")
	}))
	obs := newObservations() // the status-recording writer must keep Flush working
	_, fe := newFrontend(t, Config{
		Routes:  []Route{{Prefix: "/api/events/", Upstream: be.URL}},
		Tokens:  staticTokens("at"),
		Observe: obs.observe,
	})
	res, err := fe.Client().Get(fe.URL + "/api/events/")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	br := bufio.NewReader(res.Body)
	line, err := br.ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	if line != "data: one\n" {
		t.Fatalf("first line = %q, want %q", line, "data: one\n")
	}
	if secondSent.Load() {
		t.Fatal("first event arrived only after the upstream sent the second: not flushed")
	}
	close(firstSeen)
	rest, err := io.ReadAll(br)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(rest), "data: two\n") {
		t.Errorf("rest = %q, want the second event", rest)
	}
	if got, want := obs.next(t), (observation{"/api/events/", 200}); got != want {
		t.Errorf("Observe = %+v, want %+v", got, want)
	}
}

// webSocketAccept is RFC 6455's Sec-WebSocket-Accept for key.
func webSocketAccept(key string) string {
	h := sha1.Sum([]byte(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	return base64.StdEncoding.EncodeToString(h[:])
}

func TestWebSocketEcho(t *testing.T) {
	tests := []struct {
		name      string
		transport http.RoundTripper
	}{
		{name: "default transport"},
		{name: "custom RoundTripper", transport: roundTripperFunc(http.DefaultTransport.RoundTrip)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { testWebSocketEcho(t, tt.transport) })
	}
}

// echoBackend completes a WebSocket handshake by hand, sends the upgrade
// request's headers to upgraded, and echoes every byte.
func echoBackend(t *testing.T, upgraded chan<- http.Header) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
			http.Error(w, "want an upgrade", http.StatusBadRequest)
			return
		}
		upgraded <- r.Header.Clone()
		conn, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Errorf("Hijack: %v", err)
			return
		}
		defer conn.Close()
		fmt.Fprintf(brw, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n",
			webSocketAccept(r.Header.Get("Sec-WebSocket-Key")))
		brw.Flush()
		io.Copy(conn, brw) // echo every byte until the client closes
	}
}

func testWebSocketEcho(t *testing.T, transport http.RoundTripper) {
	upgraded := make(chan http.Header, 1)
	be := newBackend(t, echoBackend(t, upgraded))
	obs := newObservations()
	_, fe := newFrontend(t, Config{
		Routes:    []Route{{Prefix: "/api/ws/", Upstream: be.URL, StripPrefix: true}},
		Tokens:    staticTokens("ws-token"),
		Observe:   obs.observe,
		Transport: transport,
	})

	conn, err := net.Dial("tcp", fe.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	const key = "dGhlIHNhbXBsZSBub25jZQ=="
	fmt.Fprintf(conn, "GET /api/ws/chat HTTP/1.1\r\nHost: spa.example\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\nOrigin: http://spa.example\r\nCookie: __Host-bff=cookie\r\n\r\n", key)
	br := bufio.NewReader(conn)
	res, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("status = %d, want 101", res.StatusCode)
	}
	if got, want := res.Header.Get("Sec-WebSocket-Accept"), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="; got != want {
		t.Errorf("Sec-WebSocket-Accept = %q, want %q", got, want)
	}
	hdr := <-upgraded
	if got := hdr.Get("Authorization"); got != "Bearer ws-token" {
		t.Errorf("upstream Authorization = %q, want Bearer ws-token", got)
	}
	if got := hdr.Get("Cookie"); got != "" {
		t.Errorf("upstream Cookie = %q, want none", got)
	}

	// A masked text frame "hello", then raw bytes: the tunnel is byte-exact.
	frame := []byte{0x81, 0x85, 1, 2, 3, 4}
	for i, c := range []byte("hello") {
		frame = append(frame, c^frame[2+i%4])
	}
	for _, msg := range [][]byte{frame, []byte("second message")} {
		if _, err := conn.Write(msg); err != nil {
			t.Fatal(err)
		}
		got := make([]byte, len(msg))
		if _, err := io.ReadFull(br, got); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, msg) {
			t.Errorf("echo = %q, want %q", got, msg)
		}
	}
	conn.Close()
	if got, want := obs.next(t), (observation{"/api/ws/", 101}); got != want {
		t.Errorf("Observe = %+v, want %+v", got, want)
	}
}

// uploadChunk is the i-th chunk of the test upload.
func uploadChunk(i, size int) []byte {
	data := bytes.Repeat([]byte("0123456789abcdef"), size/16)
	data[0] = byte(i)
	return data
}

// hashingBackend reads the body incrementally, closes firstRead once it has
// read chunk bytes, and answers "<length> <sha256>".
func hashingBackend(firstRead chan<- struct{}, chunk int) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		h := sha256.New()
		buf := make([]byte, 64<<10)
		n, signalled := 0, false
		for {
			m, err := r.Body.Read(buf)
			h.Write(buf[:m])
			n += m
			if n >= chunk && !signalled {
				close(firstRead)
				signalled = true
			}
			if err == io.EOF {
				break
			}
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
		}
		fmt.Fprintf(w, "%d %x", n, h.Sum(nil))
	}
}

// feedUpload writes n chunks to pw, waiting after the first one until the
// upstream has read it. It reports an error if it waited in vain.
func feedUpload(pw *io.PipeWriter, n, chunk int, firstRead <-chan struct{}) <-chan error {
	done := make(chan error, 1)
	go func() {
		data := uploadChunk(0, chunk)
		for i := 0; i < n; i++ {
			data[0] = byte(i) // safe: Write returns once the reader has it all
			if _, err := pw.Write(data); err != nil {
				done <- err
				return
			}
			if i > 0 {
				continue
			}
			select {
			case <-firstRead:
			case <-time.After(10 * time.Second):
				err := fmt.Errorf("upstream did not read the first chunk before the client sent the rest: the proxy buffers")
				pw.CloseWithError(err)
				done <- err
				return
			}
		}
		done <- pw.Close()
	}()
	return done
}

// TestUploadStreamed proves a 10 MB request body is streamed: the client
// sends the rest only after the upstream has read the first chunk, which
// would deadlock (and time out) if the proxy buffered the body.
func TestUploadStreamed(t *testing.T) {
	const (
		chunk = 1 << 20
		total = 10 * chunk
	)
	want := sha256.New()
	for i := 0; i < total/chunk; i++ {
		want.Write(uploadChunk(i, chunk))
	}
	firstRead := make(chan struct{})
	be := newBackend(t, hashingBackend(firstRead, chunk))
	_, fe := newFrontend(t, Config{
		Routes: []Route{{Prefix: "/api/upload/", Upstream: be.URL}},
		Tokens: staticTokens("at"),
	})

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	pr, pw := io.Pipe()
	done := feedUpload(pw, total/chunk, chunk, firstRead)
	res, err := fe.Client().Post(fe.URL+"/api/upload/big", "application/octet-stream", pr)
	if err != nil {
		t.Fatal(err)
	}
	body := readAll(t, res)
	runtime.ReadMemStats(&after)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if wantBody := fmt.Sprintf("%d %s", total, hex.EncodeToString(want.Sum(nil))); body != wantBody {
		t.Errorf("upstream got %q, want %q", body, wantBody)
	}
	// Client, proxy and upstream share this process; together, with the
	// client's 1 MB chunk, they must still allocate far less than the body.
	if grew := after.TotalAlloc - before.TotalAlloc; grew > total/4 {
		t.Errorf("allocated %d bytes while streaming %d, want far less", grew, total)
	} else {
		t.Logf("allocated %d bytes while streaming %d", grew, total)
	}
}
