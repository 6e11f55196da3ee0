package bff_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/tls"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"net/textproto"
	"net/url"
	"path"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bff-project/bff/bff"
	"github.com/bff-project/bff/bff/config"
	"github.com/bff-project/bff/e2e/devop"
	"github.com/bff-project/bff/e2e/harness"
	"github.com/bff-project/bff/e2e/sampleapi"
)

// seenRequest is one request an upstream received.
type seenRequest struct {
	Method     string
	RequestURI string
	Path       string
	Header     http.Header
}

// recUpstream is an upstream that records every request and answers 200
// {"upstream": name}.
type recUpstream struct {
	name string
	srv  *httptest.Server
	mu   sync.Mutex
	seen []seenRequest
}

func newRecUpstream(t testing.TB, name string) *recUpstream {
	u := &recUpstream{name: name}
	u.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.mu.Lock()
		u.seen = append(u.seen, seenRequest{Method: r.Method, RequestURI: r.RequestURI, Path: r.URL.Path, Header: r.Header.Clone()})
		u.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.Header()["X-Request-Id"] = r.Header["X-Request-Id"] // echoed, as many services do
		_ = json.NewEncoder(w).Encode(map[string]string{"upstream": name})
	}))
	t.Cleanup(u.srv.Close)
	return u
}

func (u *recUpstream) requests() []seenRequest {
	u.mu.Lock()
	defer u.mu.Unlock()
	return slices.Clone(u.seen)
}

// last returns the newest request, failing the test if there is none.
func (u *recUpstream) last(t testing.TB) seenRequest {
	t.Helper()
	seen := u.requests()
	if len(seen) == 0 {
		t.Fatalf("upstream %s received no request", u.name)
	}
	return seen[len(seen)-1]
}

// TestAPIProxyHeaders: the upstream gets the BFF's bearer token for the
// route's audience and the X-Forwarded-* headers, never the browser's
// cookies or credentials.
func TestAPIProxyHeaders(t *testing.T) {
	up := newRecUpstream(t, "echo")
	r := newRig(t, harness.Options{Config: addRoute(config.APIConfig{
		Prefix: "/api/echo/", Upstream: up.srv.URL, StripPrefix: true, Audience: "orders-api", Scopes: []string{"orders.read"}})})
	host := strings.TrimPrefix(r.url, "https://")

	hdr := http.Header{}
	hdr.Set("Authorization", "Bearer browser-token")
	hdr.Set("Proxy-Authorization", "Basic YnJvd3Nlcjpw")
	hdr.Set("Cookie", "theme=dark")
	hdr.Set("X-Forwarded-For", "203.0.113.9")
	hdr.Set("X-Forwarded-Host", "evil.example")
	hdr.Set("X-Forwarded-Proto", "http")
	hdr.Set("X-Request-Id", "chosen-by-the-client")
	resp, body := r.call(t, http.MethodGet, "/api/echo/items?page=2", hdr, nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /api/echo/items = %d %s, want 200", resp.StatusCode, body)
	}
	got := up.last(t)
	if got.RequestURI != "/items?page=2" {
		t.Errorf("upstream request URI = %q, want /items?page=2", got.RequestURI)
	}
	if c := got.Header.Values("Cookie"); len(c) > 0 {
		t.Errorf("upstream Cookie = %q, want none", c)
	}
	if v := got.Header.Values("Proxy-Authorization"); len(v) > 0 {
		t.Errorf("upstream Proxy-Authorization = %q, want none", v)
	}
	auth := got.Header.Values("Authorization")
	if len(auth) != 1 || !strings.HasPrefix(auth[0], "Bearer ") || strings.Contains(auth[0], "browser-token") {
		t.Fatalf("upstream Authorization = %q, want one BFF bearer token", auth)
	}
	tok := strings.TrimPrefix(auth[0], "Bearer ")
	if !slices.Contains(r.env.OP.IssuedTokens(), tok) {
		t.Error("the upstream's bearer token was not issued by the provider")
	}
	claims := jwtClaims(t, tok)
	if aud := audiences(claims); !slices.Equal(aud, []string{"orders-api"}) {
		t.Errorf("token aud = %q, want [orders-api]", aud)
	}
	if claims["sub"] != harness.UserSubject {
		t.Errorf("token sub = %v, want %s", claims["sub"], harness.UserSubject)
	}
	for _, h := range []struct{ name, want string }{
		{"X-Forwarded-For", "127.0.0.1"},
		{"X-Forwarded-Proto", "https"},
		{"X-Forwarded-Host", host},
	} {
		if v := got.Header.Values(h.name); len(v) != 1 || v[0] != h.want {
			t.Errorf("upstream %s = %q, want %q", h.name, v, h.want)
		}
	}
	if strings.Contains(body, tok) {
		t.Error("the response to the browser contains the access token")
	}
	// One request ID, the BFF's, from the browser through the access log
	// to the upstream and back.
	ids := resp.Header.Values("X-Request-Id")
	if len(ids) != 1 || ids[0] == "chosen-by-the-client" {
		t.Fatalf("response X-Request-Id = %q, want the BFF's one", ids)
	}
	if v := got.Header.Values("X-Request-Id"); !slices.Equal(v, ids) {
		t.Errorf("upstream X-Request-Id = %q, want %q", v, ids)
	}
	if !strings.Contains(r.env.Logs.String(), `"request_id":"`+ids[0]+`"`) {
		t.Errorf("no access line with request_id %s", ids[0])
	}
}

// TestAPIProxyAudiencePerRoute: each route gets a token for its own
// audience, checked by the sample APIs; a route configured with the wrong
// audience is refused by the API and the BFF passes the 401 through.
func TestAPIProxyAudiencePerRoute(t *testing.T) {
	tests := []struct {
		name      string
		path      string
		wantCode  int
		wantAPI   string
		wantAud   []string
		wantScope string
		wantError string       // the API's error code, when it refuses
		wantCalls devop.Counts // provider calls for the route's first token
	}{
		{name: "orders via refresh", path: "/api/orders/whoami?x=1", wantCode: 200, wantAPI: "orders",
			wantAud: []string{"orders-api"}, wantScope: "orders.read", wantCalls: devop.Counts{Refresh: 1}},
		{name: "profile via token exchange", path: "/api/profile/whoami", wantCode: 200, wantAPI: "profile",
			wantAud: []string{"profile-api"}, wantScope: "profile.read", wantCalls: devop.Counts{TokenExchange: 1}},
		{name: "misconfigured audience", path: "/api/wrong/whoami", wantCode: http.StatusUnauthorized, wantError: "invalid_token",
			wantCalls: devop.Counts{Refresh: 1}},
	}
	wrongRoute := func(c *bff.Config) {
		c.APIs = append(c.APIs, config.APIConfig{Prefix: "/api/wrong/", Upstream: c.APIs[0].Upstream, StripPrefix: true,
			Audience: "wrong-api", Scopes: []string{"orders.read"}})
	}
	r := newRig(t, harness.Options{Config: wrongRoute})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := r.env.OP.Counts()
			resp, body := r.call(t, http.MethodGet, tt.path, nil, nil)
			if resp.StatusCode != tt.wantCode {
				t.Fatalf("GET %s = %d %s, want %d", tt.path, resp.StatusCode, body, tt.wantCode)
			}
			if got := countsDelta(before, r.env.OP.Counts()); got != tt.wantCalls {
				t.Errorf("provider calls = %+v, want %+v", got, tt.wantCalls)
			}
			if tt.wantError != "" {
				var e errorAnswer
				_ = json.Unmarshal([]byte(body), &e)
				if e.Error != tt.wantError {
					t.Errorf("error = %q, want the API's %q passed through", e.Error, tt.wantError)
				}
				return
			}
			var a sampleAnswer
			if err := json.Unmarshal([]byte(body), &a); err != nil {
				t.Fatal(err)
			}
			if a.API != tt.wantAPI || a.Sub != harness.UserSubject || !slices.Equal(a.Audience, tt.wantAud) || !slices.Contains(a.Scopes, tt.wantScope) {
				t.Errorf("answer = %+v, want api %s, sub %s, aud %q, scope %s", a, tt.wantAPI, harness.UserSubject, tt.wantAud, tt.wantScope)
			}
		})
	}
	// The refused token really was minted for wrong-api: the API's check,
	// not the BFF, refused it.
	found := false
	for _, tok := range r.env.OP.IssuedTokens() {
		if strings.Count(tok, ".") == 2 && slices.Equal(audiences(jwtClaims(t, tok)), []string{"wrong-api"}) {
			found = true
		}
	}
	if !found {
		t.Error("no token for wrong-api was issued")
	}
}

// TestAPIProxyCSRF: API routes need X-CSRF: 1 and refuse cross-site
// requests, foreign origins and CORS preflights.
func TestAPIProxyCSRF(t *testing.T) {
	r := newRig(t, harness.Options{})
	tests := []struct {
		name     string
		method   string
		hdr      map[string]string
		noCSRF   bool
		wantCode int
	}{
		{name: "same origin", method: "GET", wantCode: 200},
		{name: "same origin with Origin", method: "POST", hdr: map[string]string{"Origin": r.url}, wantCode: 200},
		{name: "same-origin fetch metadata", method: "GET", hdr: map[string]string{"Sec-Fetch-Site": "same-origin"}, wantCode: 200},
		{name: "no X-CSRF", method: "GET", noCSRF: true, wantCode: 403},
		{name: "no X-CSRF on POST", method: "POST", noCSRF: true, wantCode: 403},
		{name: "X-CSRF not 1", method: "GET", noCSRF: true, hdr: map[string]string{"X-CSRF": "true"}, wantCode: 403},
		{name: "cross-site", method: "GET", hdr: map[string]string{"Sec-Fetch-Site": "cross-site"}, wantCode: 403},
		{name: "foreign origin", method: "POST", hdr: map[string]string{"Origin": "https://evil.example"}, wantCode: 403},
		{name: "null origin", method: "POST", hdr: map[string]string{"Origin": "null"}, wantCode: 403},
		{name: "same host other scheme", method: "POST", hdr: map[string]string{"Origin": strings.Replace(r.url, "https:", "http:", 1)}, wantCode: 403},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest(tt.method, r.url+"/api/orders/x", nil)
			if err != nil {
				t.Fatal(err)
			}
			if !tt.noCSRF {
				req.Header.Set("X-CSRF", "1")
			}
			for k, v := range tt.hdr {
				req.Header.Set(k, v)
			}
			resp, body := r.b.Do(t, req)
			if resp.StatusCode != tt.wantCode {
				t.Fatalf("%s /api/orders/x = %d %s, want %d", tt.method, resp.StatusCode, body, tt.wantCode)
			}
			if tt.wantCode == http.StatusForbidden {
				var e errorAnswer
				if err := json.Unmarshal([]byte(body), &e); err != nil || e.Error != "csrf" {
					t.Errorf("body = %s, want {\"error\":\"csrf\"}", body)
				}
			}
		})
	}
}

// TestAPIProxyNoCORS: a CORS preflight is never granted, on API routes and
// on /bff/*.
func TestAPIProxyNoCORS(t *testing.T) {
	r := newRig(t, harness.Options{})
	for _, p := range []string{"/api/orders/x", "/api/profile/x", "/bff/user", "/bff/sessions"} {
		t.Run(p, func(t *testing.T) {
			req, err := http.NewRequest(http.MethodOptions, r.url+p, nil)
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Origin", "https://evil.example")
			req.Header.Set("Access-Control-Request-Method", "POST")
			req.Header.Set("Access-Control-Request-Headers", "x-csrf, content-type")
			resp, body := r.b.Do(t, req)
			for k := range resp.Header {
				if strings.HasPrefix(strings.ToLower(k), "access-control-allow-") {
					t.Errorf("preflight answer has %s: %q", k, resp.Header.Values(k))
				}
			}
			if resp.StatusCode < 400 {
				t.Errorf("OPTIONS %s = %d %s, want a refusal", p, resp.StatusCode, body)
			}
		})
	}
}

// TestAPIProxyTokenModes: "user" needs a session, "user-optional" calls
// anonymously without one, "none" never sends a token.
func TestAPIProxyTokenModes(t *testing.T) {
	opt := newRecUpstream(t, "optional")
	open := newRecUpstream(t, "open")
	r := newRig(t, harness.Options{Config: withConfig(
		addRoute(config.APIConfig{Prefix: "/api/opt/", Upstream: opt.srv.URL, Token: "user-optional"}),
		addRoute(config.APIConfig{Prefix: "/api/open/", Upstream: open.srv.URL, Token: "none"}),
	)})
	anon := r.env.NewBrowser()
	tests := []struct {
		name      string
		b         *harness.Browser
		path      string
		up        *recUpstream // nil: must not reach an upstream
		wantCode  int
		wantError string
		wantAuth  bool
	}{
		{name: "user without session", b: anon, path: "/api/orders/x", wantCode: 401, wantError: "unauthenticated"},
		{name: "user-optional without session", b: anon, path: "/api/opt/x", up: opt, wantCode: 200},
		{name: "user-optional with session", b: r.b, path: "/api/opt/x", up: opt, wantCode: 200, wantAuth: true},
		{name: "none without session", b: anon, path: "/api/open/x", up: open, wantCode: 200},
		{name: "none with session", b: r.b, path: "/api/open/x", up: open, wantCode: 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var before int
			if tt.up != nil {
				before = len(tt.up.requests())
			}
			req, err := http.NewRequest(http.MethodGet, r.url+tt.path, nil)
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("X-CSRF", "1")
			req.Header.Set("Authorization", "Bearer browser-token")
			resp, body := tt.b.Do(t, req)
			if resp.StatusCode != tt.wantCode {
				t.Fatalf("GET %s = %d %s, want %d", tt.path, resp.StatusCode, body, tt.wantCode)
			}
			if tt.wantError != "" {
				var e errorAnswer
				if err := json.Unmarshal([]byte(body), &e); err != nil || e.Error != tt.wantError {
					t.Errorf("body = %s, want error %q", body, tt.wantError)
				}
			}
			if tt.up == nil {
				return
			}
			seen := tt.up.requests()
			if len(seen) != before+1 {
				t.Fatalf("upstream %s got %d requests, want 1", tt.up.name, len(seen)-before)
			}
			auth := seen[len(seen)-1].Header.Values("Authorization")
			switch {
			case tt.wantAuth && (len(auth) != 1 || !strings.HasPrefix(auth[0], "Bearer ey")):
				t.Errorf("upstream Authorization = %q, want the user's bearer JWT", auth)
			case !tt.wantAuth && len(auth) > 0:
				t.Errorf("upstream Authorization = %q, want none", auth)
			}
		})
	}
}

// eventCounter counts the server-sent events an upstream handler writes.
type eventCounter struct {
	http.ResponseWriter
	n *atomic.Int32
}

func (w eventCounter) Write(b []byte) (int, error) {
	if bytes.HasPrefix(b, []byte("data: ")) {
		w.n.Add(1)
	}
	return w.ResponseWriter.Write(b)
}

func (w eventCounter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// TestAPIProxyServerSentEvents: an event stream of the orders sample API
// (three events, 100ms apart) is passed through as it comes: the first
// event reaches the browser before the API has written the last one.
func TestAPIProxyServerSentEvents(t *testing.T) {
	var written atomic.Int32
	r := newRig(t, harness.Options{Config: func(c *bff.Config) {
		// The orders route's own sample API, counting what it writes.
		h, err := sampleapi.New(sampleapi.Config{Name: "orders", Issuer: c.OIDC.Issuer, Audience: "orders-api", RequiredScope: "orders.read"})
		if err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			h.ServeHTTP(eventCounter{ResponseWriter: w, n: &written}, req)
		}))
		t.Cleanup(srv.Close)
		c.APIs[0].Upstream = srv.URL
	}})
	req, err := http.NewRequest(http.MethodGet, r.url+"/api/orders/events", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-CSRF", "1")
	req.Header.Set("Accept", "text/event-stream")
	resp, err := r.b.Client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); resp.StatusCode != 200 || !strings.HasPrefix(ct, "text/event-stream") {
		t.Fatalf("GET /api/orders/events = %d %q, want 200 text/event-stream", resp.StatusCode, ct)
	}
	var events []string
	writtenAtFirst := int32(-1)
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if data, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
			if events == nil {
				writtenAtFirst = written.Load()
			}
			events = append(events, data)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if want := []string{"1", "2", "3"}; !slices.Equal(events, want) {
		t.Fatalf("events = %q, want %q", events, want)
	}
	if writtenAtFirst >= 3 {
		t.Errorf("the API had written %d events when the first arrived, want fewer than 3 (streamed, not buffered)", writtenAtFirst)
	}
}

const wsGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

func wsAccept(key string) string {
	sum := sha1.Sum([]byte(key + wsGUID))
	return base64.StdEncoding.EncodeToString(sum[:])
}

// wsWriteFrame writes one final frame (RFC 6455, section 5.2), masked when
// mask is set, as a client must.
func wsWriteFrame(w io.Writer, opcode byte, payload []byte, mask []byte) error {
	var hdr []byte
	hdr = append(hdr, 0x80|opcode)
	maskBit := byte(0)
	if mask != nil {
		maskBit = 0x80
	}
	switch n := len(payload); {
	case n < 126:
		hdr = append(hdr, maskBit|byte(n))
	case n < 1<<16:
		hdr = append(hdr, maskBit|126)
		hdr = binary.BigEndian.AppendUint16(hdr, uint16(n))
	default:
		hdr = append(hdr, maskBit|127)
		hdr = binary.BigEndian.AppendUint64(hdr, uint64(n))
	}
	data := slices.Clone(payload)
	if mask != nil {
		hdr = append(hdr, mask...)
		for i := range data {
			data[i] ^= mask[i%4]
		}
	}
	_, err := w.Write(append(hdr, data...))
	return err
}

// wsReadFrame reads one frame and unmasks it.
func wsReadFrame(r *bufio.Reader) (opcode byte, payload []byte, masked bool, err error) {
	var h [2]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return 0, nil, false, err
	}
	opcode, masked = h[0]&0x0f, h[1]&0x80 != 0
	n := uint64(h[1] & 0x7f)
	switch n {
	case 126:
		var b [2]byte
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return 0, nil, false, err
		}
		n = uint64(binary.BigEndian.Uint16(b[:]))
	case 127:
		var b [8]byte
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return 0, nil, false, err
		}
		n = binary.BigEndian.Uint64(b[:])
	}
	if n > 1<<20 {
		return 0, nil, false, errors.New("frame too large")
	}
	var mask [4]byte
	if masked {
		if _, err := io.ReadFull(r, mask[:]); err != nil {
			return 0, nil, false, err
		}
	}
	payload = make([]byte, n)
	if _, err := io.ReadFull(r, payload); err != nil {
		return 0, nil, false, err
	}
	if masked {
		for i := range payload {
			payload[i] ^= mask[i%4]
		}
	}
	return opcode, payload, masked, nil
}

// wsEchoUpstream accepts a WebSocket handshake by hand, reports the
// handshake's headers on upgraded and echoes masked frames back unmasked.
func wsEchoUpstream(upgraded chan<- http.Header) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		key := r.Header.Get("Sec-WebSocket-Key")
		if !strings.EqualFold(r.Header.Get("Upgrade"), "websocket") || key == "" {
			http.Error(w, "websocket handshake expected", http.StatusBadRequest)
			return
		}
		upgraded <- r.Header.Clone()
		conn, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
		fmt.Fprintf(brw, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n", wsAccept(key))
		if brw.Flush() != nil {
			return
		}
		for {
			op, payload, masked, err := wsReadFrame(brw.Reader)
			if err != nil || !masked {
				return
			}
			if wsWriteFrame(conn, op, payload, nil) != nil || op == 0x8 { // close
				return
			}
		}
	}
}

// TestAPIProxyWebSocket: a WebSocket handshake is proxied when its Origin
// is the BFF's own (it cannot carry X-CSRF) and refused otherwise.
func TestAPIProxyWebSocket(t *testing.T) {
	upgraded := make(chan http.Header, 10)
	ws := httptest.NewServer(wsEchoUpstream(upgraded))
	t.Cleanup(ws.Close)
	r := newRig(t, harness.Options{Config: addRoute(config.APIConfig{
		Prefix: "/api/ws/", Upstream: ws.URL, StripPrefix: true, Audience: "orders-api", Scopes: []string{"orders.read"}})})
	anon := r.env.NewBrowser()
	cookie := r.sessionCookie(t)
	tests := []struct {
		name      string
		origin    string
		cookie    string
		hdr       map[string]string
		wantCode  int
		wantError string
	}{
		{name: "same origin", origin: r.url, cookie: cookie, wantCode: http.StatusSwitchingProtocols},
		{name: "same origin with fetch metadata", origin: r.url, cookie: cookie, hdr: map[string]string{"Sec-Fetch-Site": "same-origin"}, wantCode: http.StatusSwitchingProtocols},
		{name: "foreign origin", origin: "https://evil.example", cookie: cookie, wantCode: http.StatusForbidden, wantError: "csrf"},
		{name: "foreign origin with X-CSRF", origin: "https://evil.example", cookie: cookie, hdr: map[string]string{"X-CSRF": "1"}, wantCode: http.StatusForbidden, wantError: "csrf"},
		{name: "no origin", cookie: cookie, wantCode: http.StatusForbidden, wantError: "csrf"},
		{name: "cross-site", origin: r.url, cookie: cookie, hdr: map[string]string{"Sec-Fetch-Site": "cross-site"}, wantCode: http.StatusForbidden, wantError: "csrf"},
		{name: "no session", origin: r.url, cookie: anon.Cookie(r.url, "__Host-bff"), wantCode: http.StatusUnauthorized, wantError: "unauthenticated"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hdr := http.Header{}
			if tt.origin != "" {
				hdr.Set("Origin", tt.origin)
			}
			if tt.cookie != "" {
				hdr.Set("Cookie", "__Host-bff="+tt.cookie)
			}
			for k, v := range tt.hdr {
				hdr.Set(k, v)
			}
			key := base64.StdEncoding.EncodeToString([]byte(tt.name + "-0123456789")[:16])
			resp, br, conn := wsHandshake(t, r.url, "/api/ws/chat", key, hdr)
			defer conn.Close()
			if resp.StatusCode != tt.wantCode {
				t.Fatalf("handshake = %d, want %d", resp.StatusCode, tt.wantCode)
			}
			if tt.wantCode != http.StatusSwitchingProtocols {
				body, _ := io.ReadAll(resp.Body)
				var e errorAnswer
				if err := json.Unmarshal(body, &e); err != nil || e.Error != tt.wantError {
					t.Errorf("body = %s, want error %q", body, tt.wantError)
				}
				select {
				case <-upgraded:
					t.Error("a refused handshake reached the upstream")
				default:
				}
				return
			}
			if got := resp.Header.Get("Sec-WebSocket-Accept"); got != wsAccept(key) {
				t.Errorf("Sec-WebSocket-Accept = %q, want %q", got, wsAccept(key))
			}
			var up http.Header
			select {
			case up = <-upgraded:
			case <-time.After(5 * time.Second):
				t.Fatal("the upstream saw no handshake")
			}
			if v := up.Values("Cookie"); len(v) > 0 {
				t.Errorf("upstream Cookie = %q, want none", v)
			}
			if tok, ok := strings.CutPrefix(up.Get("Authorization"), "Bearer "); !ok ||
				!slices.Equal(audiences(jwtClaims(t, tok)), []string{"orders-api"}) {
				t.Errorf("upstream Authorization = %q, want a bearer token for orders-api", up.Get("Authorization"))
			}
			msg := []byte("hello through the BFF " + tt.name)
			if err := wsWriteFrame(conn, 0x1, msg, []byte{1, 2, 3, 4}); err != nil {
				t.Fatal(err)
			}
			op, payload, masked, err := wsReadFrame(br)
			if err != nil {
				t.Fatalf("reading echo: %v", err)
			}
			if op != 0x1 || masked || !bytes.Equal(payload, msg) {
				t.Errorf("echo = op %d masked %v %q, want text %q unmasked", op, masked, payload, msg)
			}
			_ = wsWriteFrame(conn, 0x8, nil, []byte{5, 6, 7, 8})
		})
	}
}

// wsHandshake dials the BFF over TLS and sends a WebSocket handshake for
// path with hdr.
func wsHandshake(t *testing.T, base, p, key string, hdr http.Header) (*http.Response, *bufio.Reader, net.Conn) {
	t.Helper()
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := tls.Dial("tcp", u.Host, &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"http/1.1"}})
	if err != nil {
		t.Fatal(err)
	}
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	req, err := http.NewRequest(http.MethodGet, base+p, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header = hdr.Clone()
	req.Header.Set("Upgrade", "websocket")
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Sec-WebSocket-Key", key)
	req.Header.Set("Sec-WebSocket-Version", "13")
	if err := req.Write(conn); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, req)
	if err != nil {
		t.Fatalf("reading handshake answer: %v", err)
	}
	return resp, br, conn
}

// TestAPIProxyUploadStreamed: a 10 MB request body reaches the upstream
// intact and streamed: the browser only sends the rest after the upstream
// has received the first MB.
func TestAPIProxyUploadStreamed(t *testing.T) {
	const (
		mb    = 1 << 20
		total = 10 * mb
	)
	firstMB := make(chan struct{})
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := sha256.New()
		var n int64
		buf := make([]byte, 32<<10)
		for {
			k, err := r.Body.Read(buf)
			h.Write(buf[:k])
			if n < mb && n+int64(k) >= mb {
				close(firstMB)
			}
			n += int64(k)
			if err == io.EOF {
				break
			}
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"bytes": n, "sha256": hex.EncodeToString(h.Sum(nil))})
	}))
	t.Cleanup(upstream.Close)
	r := newRig(t, harness.Options{Config: addRoute(config.APIConfig{Prefix: "/api/upload/", Upstream: upstream.URL, StripPrefix: true})})

	data := make([]byte, total)
	for i := range data {
		data[i] = byte(i*7 + i/4093)
	}
	sum := sha256.Sum256(data)
	pr, pw := io.Pipe()
	go func() {
		if _, err := pw.Write(data[:mb]); err != nil {
			return
		}
		select {
		case <-firstMB:
		case <-time.After(15 * time.Second):
			pw.CloseWithError(errors.New("the upstream never got the first MB: the body was buffered"))
			return
		}
		_, err := pw.Write(data[mb:])
		pw.CloseWithError(err)
	}()
	resp, body := r.call(t, http.MethodPost, "/api/upload/files", http.Header{"Content-Type": {"application/octet-stream"}}, pr)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST /api/upload/files = %d %s, want 200", resp.StatusCode, body)
	}
	var got struct {
		Bytes  int64  `json:"bytes"`
		SHA256 string `json:"sha256"`
	}
	if err := json.Unmarshal([]byte(body), &got); err != nil {
		t.Fatal(err)
	}
	if got.Bytes != total || got.SHA256 != hex.EncodeToString(sum[:]) {
		t.Errorf("upstream got %d bytes sha256 %s, want %d bytes sha256 %x", got.Bytes, got.SHA256, total, sum)
	}
}

// TestAPIProxyPathTraversal: no request path, however encoded, takes a
// proxied call out of its route: no other route's upstream is reached and
// the route's upstream only ever sees paths under its base path, even
// decoded once more.
func TestAPIProxyPathTraversal(t *testing.T) {
	orders := newRecUpstream(t, "orders")
	admin := newRecUpstream(t, "admin")
	const base = "/orders-base"
	r := newRig(t, harness.Options{Config: func(c *bff.Config) {
		c.APIs[0].Upstream = orders.srv.URL + base
		c.APIs = append(c.APIs, config.APIConfig{Prefix: "/api/admin/", Upstream: admin.srv.URL, Token: "none"})
	}})
	// Control: a plain path is forwarded under the base path.
	resp, body := r.call(t, http.MethodGet, "/api/orders/items/1", nil, nil)
	if resp.StatusCode != http.StatusOK || orders.last(t).Path != base+"/items/1" {
		t.Fatalf("GET /api/orders/items/1 = %d %s, upstream path %q; want 200 at %s/items/1",
			resp.StatusCode, body, orders.last(t).Path, base)
	}

	paths := []string{
		"/api/orders/../../admin",
		"/api/orders/../admin/x",
		"/api/orders/x/../../admin/x",
		"/api/orders/./../admin/x",
		"/api/orders//../admin/x",
		"/api/orders/%2e%2e/%2e%2e/admin",
		"/api/orders/%2E%2E/admin/x",
		"/api/orders/..%2f..%2fadmin",
		"/api/orders/..%2F..%2Fapi%2Fadmin%2Fx",
		"/api/orders/%2e%2e%2fadmin",
		"/api/orders/%2e%2e%5cadmin",
		"/api/orders/..%5c..%5capi%5cadmin%5cx",
		"/api/orders/..\\..\\api\\admin\\x",
		"/api/orders/.%2e/admin",
		"/api/orders/.%2e/.%2e/api/admin/x",
		"/api/orders/%252e%252e/%252e%252e/admin",
		"/api/orders/%252e%252e%252fadmin",
		"/api/orders/..%252f..%252fadmin",
		"/api/orders/..;/admin/x",
		"/api/orders/..;x=1/..;/admin",
		"/api/orders/%2e%2e;/admin",
		"/api/orders/. ./admin",
		"/api/orders/%00/../admin",
		"/api/orders/x%00/../../admin",
		"/api/orders/%c0%ae%c0%ae/admin",
		"/api/orders/..%c0%afadmin",
		"/api/orders/x?/../../admin",
		"/api/orders/%2e%2e/%2e%2e/bff/sessions",
	}
	allowed := []int{301, 302, 303, 307, 308, 400, 403, 404, 405}
	for _, p := range paths {
		t.Run(p, func(t *testing.T) {
			before := len(orders.requests())
			resp, body := rawAPICall(t, r, p)
			seen := orders.requests()[before:]
			for _, s := range seen {
				if msg := escapes(s, base); msg != "" {
					t.Errorf("upstream saw %q: %s", s.RequestURI, msg)
				}
			}
			if len(seen) == 0 && !slices.Contains(allowed, resp.StatusCode) {
				t.Errorf("GET %s = %d %.200s, want a redirect, 400 or 404", p, resp.StatusCode, body)
			}
			if len(seen) > 0 && resp.StatusCode != http.StatusOK {
				t.Errorf("GET %s = %d, reached the upstream", p, resp.StatusCode)
			}
			t.Logf("GET %s = %d %s; upstream paths %q", p, resp.StatusCode, resp.Header.Get("Location"), pathsOf(seen))
		})
	}
	if got := admin.requests(); len(got) > 0 {
		t.Errorf("the admin upstream was reached: %q", pathsOf(got))
	}
}

// rawAPICall sends p to the BFF byte for byte (no client-side cleaning or
// re-encoding), with X-CSRF and the session cookie.
func rawAPICall(t *testing.T, r *rig, p string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, r.url+"/", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.URL.Opaque = p
	if i := strings.IndexByte(p, '?'); i >= 0 {
		req.URL.Opaque, req.URL.RawQuery = p[:i], p[i+1:]
	}
	req.Header.Set("X-CSRF", "1")
	return r.b.Do(t, req)
}

// escapes reports how a request an upstream received left base, or "".
func escapes(s seenRequest, base string) string {
	under := func(p string) bool { return p == base || strings.HasPrefix(p, base+"/") }
	raw, _, _ := strings.Cut(s.RequestURI, "?")
	once, err := url.PathUnescape(raw)
	if err != nil {
		return "undecodable path"
	}
	twice, err := url.PathUnescape(once)
	if err != nil {
		twice = once
	}
	for _, p := range []string{raw, once, twice, s.Path} {
		if !under(p) || !under(path.Clean(p)) {
			return fmt.Sprintf("%q is not under %s", p, base)
		}
		if strings.ContainsAny(p, "\\\x00") {
			return fmt.Sprintf("%q has a backslash or NUL", p)
		}
		for _, seg := range strings.Split(p, "/") {
			if seg == ".." || seg == "." {
				return fmt.Sprintf("%q has a dot segment", p)
			}
		}
	}
	return ""
}

func pathsOf(seen []seenRequest) []string {
	var out []string
	for _, s := range seen {
		out = append(out, s.RequestURI)
	}
	return out
}

// An upstream's interim answers (103 Early Hints) are not passed on: their
// fields would reach the browser unfiltered. The final answer keeps its
// request ID (ReverseProxy clears the header map after a 1xx), and the
// request is logged and counted with its final status.
func TestAPIProxyEarlyHintsCountedByFinalStatus(t *testing.T) {
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Link", "</app.css>; rel=preload")
		w.Header().Set("Set-Cookie", "__Host-bff=planted; Path=/; Secure")
		w.WriteHeader(http.StatusEarlyHints)
		w.WriteHeader(http.StatusTeapot)
	}))
	defer upstream.Close()
	env := harness.Start(t, harness.Options{Config: func(c *bff.Config) {
		c.APIs = append(c.APIs, config.APIConfig{Prefix: "/api/hints/", Upstream: upstream.URL, Token: "none"})
	}})
	var interim []int
	trace := &httptrace.ClientTrace{Got1xxResponse: func(code int, _ textproto.MIMEHeader) error {
		interim = append(interim, code)
		return nil
	}}
	req, _ := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace),
		http.MethodGet, env.Default.URL+"/api/hints/x", nil)
	req.Header.Set("X-CSRF", "1")
	resp, err := env.NewBrowser().Client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusTeapot {
		t.Fatalf("status = %d, want 418", resp.StatusCode)
	}
	if len(interim) != 0 {
		t.Errorf("interim answers %v reached the client, want none", interim)
	}
	if resp.Header.Get("X-Request-Id") == "" || resp.Header.Get("Set-Cookie") != "" {
		t.Errorf("final headers %v: want an X-Request-Id and no Set-Cookie", resp.Header)
	}
	// Review of issue 13: the 1xx also cleared the BFF's own HSTS.
	if got := resp.Header.Get("Strict-Transport-Security"); got != "max-age=31536000" {
		t.Errorf("final Strict-Transport-Security = %q, want the BFF's", got)
	}
	if logs := env.Logs.String(); !strings.Contains(logs, `"status":418`) || strings.Contains(logs, `"status":103`) {
		t.Errorf("access log should record 418, not 103:\n%s", logs)
	}
}

// TestRequestIDFromTrustedProxy: behind a trusted proxy, its request ID
// is the BFF's too (browser, access log, upstream), when well formed.
func TestRequestIDFromTrustedProxy(t *testing.T) {
	up := newRecUpstream(t, "echo")
	r := newRig(t, harness.Options{Config: withConfig(
		addRoute(config.APIConfig{Prefix: "/api/echo/", Upstream: up.srv.URL, Token: "none"}),
		func(c *bff.Config) { c.TrustedProxies = []string{"127.0.0.1/32", "::1/128"} },
	)})
	tests := []struct {
		name  string
		sent  []string
		taken bool
	}{
		{"nginx request_id", []string{"3f2a9c0e1b4d4e8f9a7b6c5d4e3f2a1b"}, true},
		{"with dots, colons, dashes, equals", []string{"Root=1-67891233:abc.def_ghi"}, true},
		{"space", []string{"a b"}, false},
		{"quote", []string{`a"b`}, false},
		{"too long", []string{strings.Repeat("a", 129)}, false},
		{"two values", []string{"one", "two"}, false},
		{"empty", []string{""}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := r.call(t, http.MethodGet, "/api/echo/x", http.Header{"X-Request-Id": tt.sent}, nil)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status = %d %s", resp.StatusCode, body)
			}
			ids := resp.Header.Values("X-Request-Id")
			if len(ids) != 1 {
				t.Fatalf("response X-Request-Id = %q, want one", ids)
			}
			if taken := ids[0] == tt.sent[0]; taken != tt.taken {
				t.Errorf("response X-Request-Id = %q for %q: taken %v, want %v", ids[0], tt.sent, taken, tt.taken)
			}
			if v := up.last(t).Header.Values("X-Request-Id"); !slices.Equal(v, ids) {
				t.Errorf("upstream X-Request-Id = %q, want %q", v, ids)
			}
			if !strings.Contains(r.env.Logs.String(), `"request_id":"`+ids[0]+`"`) {
				t.Errorf("no access line with request_id %s", ids[0])
			}
		})
	}
}
