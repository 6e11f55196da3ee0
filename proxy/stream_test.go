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
	_, fe := newFrontend(t, Config{
		Routes: []Route{{Prefix: "/api/events/", Upstream: be.URL}},
		Tokens: staticTokens("at"),
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
}

// webSocketAccept is RFC 6455's Sec-WebSocket-Accept for key.
func webSocketAccept(key string) string {
	h := sha1.Sum([]byte(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	return base64.StdEncoding.EncodeToString(h[:])
}

func TestWebSocketEcho(t *testing.T) {
	upgraded := make(chan http.Header, 1)
	be := newBackend(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
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
	}))
	obs := newObservations()
	_, fe := newFrontend(t, Config{
		Routes:  []Route{{Prefix: "/api/ws/", Upstream: be.URL, StripPrefix: true}},
		Tokens:  staticTokens("ws-token"),
		Observe: obs.observe,
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

// TestUploadStreamed proves a 10 MB request body is streamed: the client
// sends the rest only after the upstream has read the first chunk, which
// would deadlock (and time out) if the proxy buffered the body.
func TestUploadStreamed(t *testing.T) {
	const (
		chunk = 1 << 20
		total = 10 * chunk
	)
	firstRead := make(chan struct{})
	be := newBackend(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
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
	}))
	_, fe := newFrontend(t, Config{
		Routes: []Route{{Prefix: "/api/upload/", Upstream: be.URL}},
		Tokens: staticTokens("at"),
	})

	pr, pw := io.Pipe()
	want := sha256.New()
	streamed := make(chan bool, 1)
	go func() {
		data := bytes.Repeat([]byte("0123456789abcdef"), chunk/16)
		for i := 0; i < total/chunk; i++ {
			data[0] = byte(i)
			want.Write(data)
			if _, err := pw.Write(data); err != nil {
				streamed <- false
				return
			}
			if i == 0 {
				select {
				case <-firstRead:
					streamed <- true
				case <-time.After(10 * time.Second):
					streamed <- false
					pw.CloseWithError(fmt.Errorf("upstream did not see the first chunk: the proxy buffers"))
					return
				}
			}
		}
		pw.Close()
	}()

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	req, _ := http.NewRequest("POST", fe.URL+"/api/upload/big", pr)
	res, err := fe.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body := readAll(t, res)
	runtime.ReadMemStats(&after)
	if !<-streamed {
		t.Fatal("upstream did not read the first chunk before the client sent the rest: the body was buffered")
	}
	if wantBody := fmt.Sprintf("%d %s", total, hex.EncodeToString(want.Sum(nil))); body != wantBody {
		t.Errorf("upstream got %q, want %q", body, wantBody)
	}
	// Client, proxy and upstream share this process; all of them together
	// must still allocate far less than the body's size.
	if grew := after.TotalAlloc - before.TotalAlloc; grew > total/2 {
		t.Errorf("allocated %d bytes while streaming %d, want far less", grew, total)
	} else {
		t.Logf("allocated %d bytes while streaming %d", grew, total)
	}
}
