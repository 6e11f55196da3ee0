package proxy

import (
	"errors"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"
)

func TestCredentialsReplaced(t *testing.T) {
	tests := []struct {
		name     string
		mode     string
		token    string
		wantAuth string // "" means no Authorization header
	}{
		{name: "user token", mode: TokenUser, token: "user-at", wantAuth: "Bearer user-at"},
		{name: "default mode is user", mode: "", token: "user-at", wantAuth: "Bearer user-at"},
		{name: "client token", mode: TokenClient, token: "client-at", wantAuth: "Bearer client-at"},
		{name: "user-optional signed in", mode: TokenUserOptional, token: "user-at", wantAuth: "Bearer user-at"},
		{name: "user-optional anonymous", mode: TokenUserOptional, token: "", wantAuth: ""},
		{name: "none", mode: TokenNone, token: "must-not-be-used", wantAuth: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &recorder{}
			be := newBackend(t, rec)
			var gotRoute *Route
			tokens := TokenSourceFunc(func(r *http.Request, route *Route) (Credential, error) {
				gotRoute = route
				return Credential{Token: tt.token}, nil
			})
			_, fe := newFrontend(t, Config{
				Routes: []Route{{Prefix: "/api/orders/", Upstream: be.URL, Token: tt.mode, Audience: "orders-api"}},
				Tokens: tokens,
			})
			req, _ := http.NewRequest("GET", fe.URL+"/api/orders/1", nil)
			req.Header.Set("Cookie", "__Host-bff=session-cookie-value")
			req.Header.Set("Authorization", "Basic YnJvd3NlcjpzZWNyZXQ=")
			req.Header.Set("Proxy-Authorization", "Basic cHJveHk6c2VjcmV0")
			res, err := fe.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			if body := readAll(t, res); res.StatusCode != http.StatusOK {
				t.Fatalf("status = %d, want 200 (body %s)", res.StatusCode, body)
			}
			got := rec.last(t)
			if v := got.Header.Values("Cookie"); len(v) != 0 {
				t.Errorf("upstream Cookie = %q, want none", v)
			}
			if v := got.Header.Values("Proxy-Authorization"); len(v) != 0 {
				t.Errorf("upstream Proxy-Authorization = %q, want none", v)
			}
			if v := got.Header.Values("Authorization"); tt.wantAuth == "" && len(v) != 0 || tt.wantAuth != "" && (len(v) != 1 || v[0] != tt.wantAuth) {
				t.Errorf("upstream Authorization = %q, want %q", v, tt.wantAuth)
			}
			if tt.mode == TokenNone {
				if gotRoute != nil {
					t.Errorf("TokenSource called for a none route")
				}
			} else if gotRoute == nil || gotRoute.Audience != "orders-api" {
				t.Errorf("TokenSource route = %+v, want the orders-api route", gotRoute)
			}
		})
	}
}

func TestUpstreamPath(t *testing.T) {
	tests := []struct {
		name   string
		base   string // upstream path
		strip  bool
		target string // request target
		want   string // request URI the upstream sees
	}{
		{name: "strip, no base", strip: true, target: "/api/orders/1", want: "/1"},
		{name: "strip, base", base: "/base", strip: true, target: "/api/orders/1", want: "/base/1"},
		{name: "strip, base with slash", base: "/base/", strip: true, target: "/api/orders/1", want: "/base/1"},
		{name: "strip, prefix only", base: "/base", strip: true, target: "/api/orders/", want: "/base/"},
		{name: "no strip, no base", target: "/api/orders/1", want: "/api/orders/1"},
		{name: "no strip, base", base: "/v2", target: "/api/orders/1", want: "/v2/api/orders/1"},
		{name: "query kept", base: "/base", strip: true, target: "/api/orders/1?a=b&c=%20", want: "/base/1?a=b&c=%20"},
		{name: "escaped form kept, strip", base: "/base", strip: true, target: "/api/orders/a%3Bb/%7E", want: "/base/a%3Bb/%7E"},
		{name: "escaped form kept, no strip", target: "/api/orders/a%3Bb", want: "/api/orders/a%3Bb"},
		{name: "escaped prefix, strip", strip: true, target: "/api/%6Frders/x%3B", want: "/x%3B"},
		{name: "escaped base", base: "/a%20b", strip: true, target: "/api/orders/x", want: "/a%20b/x"},
		{name: "space", strip: true, target: "/api/orders/a%20b", want: "/a%20b"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &recorder{}
			be := newBackend(t, rec)
			_, fe := newFrontend(t, Config{
				Routes: []Route{{Prefix: "/api/orders/", Upstream: be.URL + tt.base, StripPrefix: tt.strip, Token: TokenNone}},
			})
			res, body := rawGet(t, fe.Listener.Addr().String(), tt.target)
			if res.StatusCode != http.StatusOK {
				t.Fatalf("status = %d, want 200 (body %s)", res.StatusCode, body)
			}
			if got := rec.last(t).RequestURI; got != tt.want {
				t.Errorf("upstream RequestURI = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestForwardedHeaders(t *testing.T) {
	tests := []struct {
		name       string
		trusted    []netip.Prefix
		publicHost string
		wantXFF    string
		wantProto  string
		wantHost   string
	}{
		{
			name:      "untrusted peer: spoofed headers ignored",
			wantXFF:   "127.0.0.1",
			wantProto: "http",
			wantHost:  "spa.example",
		},
		{
			name:      "trusted peer: chain extended",
			trusted:   []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")},
			wantXFF:   "6.6.6.6, 10.0.0.1, 127.0.0.1",
			wantProto: "https",
			wantHost:  "public.example",
		},
		{
			name:       "untrusted peer with a public host: the Host header is not believed either",
			publicHost: "app.example",
			wantXFF:    "127.0.0.1",
			wantProto:  "http",
			wantHost:   "app.example",
		},
		{
			name:       "trusted peer with a public host: its X-Forwarded-Host is kept",
			trusted:    []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")},
			publicHost: "app.example",
			wantXFF:    "6.6.6.6, 10.0.0.1, 127.0.0.1",
			wantProto:  "https",
			wantHost:   "public.example",
		},
		{
			name:      "peer outside the trusted prefixes",
			trusted:   []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("::1/128")},
			wantXFF:   "127.0.0.1",
			wantProto: "http",
			wantHost:  "spa.example",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &recorder{}
			be := newBackend(t, rec)
			_, fe := newFrontend(t, Config{
				Routes:         []Route{{Prefix: "/api/x/", Upstream: be.URL, Token: TokenNone}},
				TrustedProxies: tt.trusted,
				PublicHost:     tt.publicHost,
			})
			res, body := rawRequest(t, fe.Listener.Addr().String(), "GET /api/x/ HTTP/1.1\r\n"+
				"Host: spa.example\r\n"+
				"X-Forwarded-For: 6.6.6.6\r\nX-Forwarded-For: 10.0.0.1\r\n"+
				"X-Forwarded-Proto: https\r\n"+
				"X-Forwarded-Host: public.example\r\n"+
				"Forwarded: for=6.6.6.6\r\n"+
				"X-Real-Ip: 6.6.6.6")
			if res.StatusCode != http.StatusOK {
				t.Fatalf("status = %d, want 200 (body %s)", res.StatusCode, body)
			}
			got := rec.last(t).Header
			if v := strings.Join(got.Values("X-Forwarded-For"), "|"); v != tt.wantXFF {
				t.Errorf("X-Forwarded-For = %q, want %q", v, tt.wantXFF)
			}
			if v := got.Get("X-Forwarded-Proto"); v != tt.wantProto {
				t.Errorf("X-Forwarded-Proto = %q, want %q", v, tt.wantProto)
			}
			if v := got.Get("X-Forwarded-Host"); v != tt.wantHost {
				t.Errorf("X-Forwarded-Host = %q, want %q", v, tt.wantHost)
			}
			// Even from a trusted balancer: it passes the browser's own
			// X-Real-Ip through unchanged.
			if v := got.Get("X-Real-Ip"); v != "" {
				t.Errorf("X-Real-Ip = %q, want none", v)
			}
			if v := got.Get("Forwarded"); v != "" {
				t.Errorf("Forwarded = %q, want none", v)
			}
		})
	}
}

func TestHopByHopDropped(t *testing.T) {
	rec := &recorder{}
	be := newBackend(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec.ServeHTTP(w, r)
	}))
	beHop := newBackend(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Connection", "X-Bar")
		w.Header().Set("X-Bar", "hop")
		w.Header().Set("Keep-Alive", "timeout=5")
		w.Header().Set("X-End-To-End", "kept")
	}))
	_, fe := newFrontend(t, Config{Routes: []Route{
		{Prefix: "/api/req/", Upstream: be.URL, Token: TokenNone},
		{Prefix: "/api/res/", Upstream: beHop.URL, Token: TokenNone},
	}})
	addr := fe.Listener.Addr().String()

	res, body := rawRequest(t, addr, "GET /api/req/ HTTP/1.1\r\nHost: spa.example\r\n"+
		"Connection: X-Foo, keep-alive\r\nX-Foo: hop\r\nKeep-Alive: timeout=5\r\n"+
		"Proxy-Connection: keep-alive\r\nUpgrade: h2c\r\nTe: gzip\r\nX-End-To-End: kept")
	if res.StatusCode != http.StatusOK {
		t.Fatalf("status = %d, want 200 (body %s)", res.StatusCode, body)
	}
	got := rec.last(t).Header
	for _, k := range []string{"X-Foo", "Keep-Alive", "Proxy-Connection", "Upgrade", "Te"} {
		if v := got.Values(k); len(v) != 0 {
			t.Errorf("upstream request header %s = %q, want none", k, v)
		}
	}
	if v := got.Get("X-End-To-End"); v != "kept" {
		t.Errorf("upstream X-End-To-End = %q, want kept", v)
	}

	res, body = rawGet(t, addr, "/api/res/")
	if res.StatusCode != http.StatusOK {
		t.Fatalf("status = %d, want 200 (body %s)", res.StatusCode, body)
	}
	for _, k := range []string{"X-Bar", "Keep-Alive"} {
		if v := res.Header.Values(k); len(v) != 0 {
			t.Errorf("response header %s = %q, want none", k, v)
		}
	}
	if v := res.Header.Get("X-End-To-End"); v != "kept" {
		t.Errorf("response X-End-To-End = %q, want kept", v)
	}
}

// The request cannot pick the upstream: not with an absolute-form request
// target, not with a Host header, not with X-Original-URL.
func TestRequestCannotChangeUpstream(t *testing.T) {
	rec := &recorder{}
	be := newBackend(t, rec)
	other := &recorder{}
	beOther := newBackend(t, other)
	_, fe := newFrontend(t, Config{Routes: []Route{
		{Prefix: "/api/orders/", Upstream: be.URL + "/base", StripPrefix: true, Token: TokenNone},
		{Prefix: "/api/admin/", Upstream: beOther.URL, Token: TokenNone},
	}})
	addr := fe.Listener.Addr().String()
	otherHost := beOther.Listener.Addr().String()
	res, body := rawRequest(t, addr, "GET http://"+otherHost+"/api/orders/1 HTTP/1.1\r\nHost: "+otherHost+
		"\r\nX-Original-Url: /api/admin/\r\nX-Rewrite-Url: /api/admin/")
	if res.StatusCode != http.StatusOK {
		t.Fatalf("status = %d, want 200 (body %s)", res.StatusCode, body)
	}
	got := rec.last(t)
	if got.Host != be.Listener.Addr().String() {
		t.Errorf("upstream Host = %q, want %q", got.Host, be.Listener.Addr().String())
	}
	if got.RequestURI != "/base/1" {
		t.Errorf("upstream RequestURI = %q, want /base/1", got.RequestURI)
	}
	for _, k := range []string{"X-Original-Url", "X-Rewrite-Url"} {
		if v := got.Header.Get(k); v != "" {
			t.Errorf("upstream %s = %q, want none", k, v)
		}
	}
	if n := other.count(); n != 0 {
		t.Errorf("other upstream saw %d requests, want 0", n)
	}
}

func TestDefaultTransportDialsOnlyUpstream(t *testing.T) {
	routes, err := compileRoutes([]Route{{Prefix: "/api/a/", Upstream: "http://127.0.0.1:9/base", Token: TokenNone}}, false)
	if err != nil {
		t.Fatal(err)
	}
	tr := newTransport(routes[0])
	if tr.Proxy != nil {
		t.Errorf("Transport.Proxy is set, want nil (no environment proxy)")
	}
	if tr.MaxIdleConnsPerHost < 100 {
		t.Errorf("MaxIdleConnsPerHost = %d, want >= 100", tr.MaxIdleConnsPerHost)
	}
	if tr.ForceAttemptHTTP2 {
		t.Errorf("ForceAttemptHTTP2 = true for an http upstream, want false")
	}
	_, err = tr.DialContext(t.Context(), "tcp", "127.0.0.2:9")
	if err == nil || !strings.Contains(err.Error(), "refusing to dial") {
		t.Errorf("DialContext(other host) error = %v, want a refusal", err)
	}
}

func TestResponseHeadersFiltered(t *testing.T) {
	be := newBackend(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.SetCookie(w, &http.Cookie{Name: "__Host-bff", Value: "fixated", Path: "/", Secure: true})
		w.Header().Set("Access-Control-Allow-Origin", "*")
		w.Header().Set("Clear-Site-Data", `"cookies"`)
		w.Header().Set("Alt-Svc", `h3=":443"`)
		w.Header().Set("X-Api", "1")
	}))
	_, fe := newFrontend(t, Config{Routes: []Route{{Prefix: "/api/x/", Upstream: be.URL, Token: TokenNone}}})
	res, err := fe.Client().Get(fe.URL + "/api/x/")
	if err != nil {
		t.Fatal(err)
	}
	readAll(t, res)
	for _, k := range []string{"Set-Cookie", "Access-Control-Allow-Origin", "Clear-Site-Data", "Alt-Svc"} {
		if v := res.Header.Values(k); len(v) != 0 {
			t.Errorf("response %s = %q, want none", k, v)
		}
	}
	if v := res.Header.Get("X-Api"); v != "1" {
		t.Errorf("response X-Api = %q, want 1", v)
	}
}

func TestMethodNotAllowed(t *testing.T) {
	rec := &recorder{}
	be := newBackend(t, rec)
	_, fe := newFrontend(t, Config{Routes: []Route{
		{Prefix: "/api/ro/", Upstream: be.URL, Token: TokenNone, Methods: []string{"GET"}},
		{Prefix: "/api/rw/", Upstream: be.URL, Token: TokenNone, Methods: []string{"GET", "POST", "DELETE"}},
		{Prefix: "/api/all/", Upstream: be.URL, Token: TokenNone},
	}})
	tests := []struct {
		name      string
		method    string
		path      string
		want      int
		wantAllow string
	}{
		{name: "GET allowed", method: "GET", path: "/api/ro/1", want: 200},
		{name: "HEAD implied by GET", method: "HEAD", path: "/api/ro/1", want: 200},
		{name: "POST refused", method: "POST", path: "/api/ro/1", want: 405, wantAllow: "GET, HEAD"},
		{name: "PUT refused", method: "PUT", path: "/api/rw/1", want: 405, wantAllow: "GET, POST, DELETE, HEAD"},
		{name: "DELETE allowed", method: "DELETE", path: "/api/rw/1", want: 200},
		{name: "any method when none configured", method: "PATCH", path: "/api/all/1", want: 200},
		{name: "TRACE never proxied", method: "TRACE", path: "/api/all/1", want: 405},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := rec.count()
			req, _ := http.NewRequest(tt.method, fe.URL+tt.path, nil)
			res, err := fe.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body := readAll(t, res)
			if tt.want == 405 {
				if tt.method != "HEAD" {
					checkJSONError(t, res, body, 405, "method_not_allowed")
				}
				if got := res.Header.Get("Allow"); got != tt.wantAllow {
					t.Errorf("Allow = %q, want %q", got, tt.wantAllow)
				}
				if rec.count() != before {
					t.Errorf("upstream was called for a refused method")
				}
				return
			}
			if res.StatusCode != tt.want {
				t.Errorf("status = %d, want %d", res.StatusCode, tt.want)
			}
		})
	}
}

func TestNoRouteIs404(t *testing.T) {
	obs := newObservations()
	_, fe := newFrontend(t, Config{
		Routes:  []Route{{Prefix: "/api/x/", Upstream: "http://127.0.0.1:9", Token: TokenNone}},
		Observe: obs.observe,
	})
	res, body := rawGet(t, fe.Listener.Addr().String(), "/api/y/1")
	checkJSONError(t, res, body, 404, "not_found")
	if got, want := obs.next(t), (observation{"", 404}); got != want {
		t.Errorf("Observe = %+v, want %+v", got, want)
	}
}

func TestTokenError(t *testing.T) {
	errNoSession := errors.New("bff: no session")
	tests := []struct {
		name       string
		mode       string
		token      string
		err        error
		custom     bool
		wantStatus int
		wantCode   string
		wantErr    error
	}{
		{name: "custom writer", err: errNoSession, custom: true, wantStatus: 401, wantCode: "unauthenticated", wantErr: errNoSession},
		{name: "default 502", err: errNoSession, wantStatus: 502, wantCode: "bad_gateway"},
		{name: "empty user token fails closed", mode: TokenUser, custom: true, wantStatus: 401, wantCode: "unauthenticated", wantErr: ErrEmptyToken},
		{name: "empty client token fails closed", mode: TokenClient, wantStatus: 502, wantCode: "bad_gateway"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &recorder{}
			be := newBackend(t, rec)
			var gotErr error
			obs := newObservations()
			var logs logBuffer
			cfg := Config{
				Routes:  []Route{{Prefix: "/api/x/", Upstream: be.URL, Token: tt.mode}},
				Tokens:  TokenSourceFunc(func(*http.Request, *Route) (Credential, error) { return Credential{Token: tt.token}, tt.err }),
				Observe: obs.observe,
				Logger:  newLogger(&logs),
			}
			if tt.custom {
				cfg.TokenError = func(w http.ResponseWriter, r *http.Request, err error) {
					gotErr = err
					w.Header().Set("Content-Type", "application/json")
					w.Header().Set("Cache-Control", "no-store")
					w.WriteHeader(http.StatusUnauthorized)
					w.Write([]byte(`{"error":"unauthenticated","error_description":"sign in"}`))
				}
			}
			_, fe := newFrontend(t, cfg)
			res, body := rawGet(t, fe.Listener.Addr().String(), "/api/x/1")
			checkJSONError(t, res, body, tt.wantStatus, tt.wantCode)
			if tt.custom && !errors.Is(gotErr, tt.wantErr) {
				t.Errorf("TokenError err = %v, want %v", gotErr, tt.wantErr)
			}
			if n := rec.count(); n != 0 {
				t.Errorf("upstream saw %d requests, want 0", n)
			}
			if got, want := obs.next(t), (observation{"/api/x/", tt.wantStatus}); got != want {
				t.Errorf("Observe = %+v, want %+v", got, want)
			}
			if strings.Contains(body, "bff: no session") {
				t.Errorf("body %s leaks the error text", body)
			}
		})
	}
}

func TestObserveOncePerRequest(t *testing.T) {
	be := newBackend(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/teapot":
			w.WriteHeader(http.StatusTeapot)
		case "/early-hints":
			w.Header().Set("Link", "</app.css>; rel=preload")
			w.WriteHeader(http.StatusEarlyHints)
			w.WriteHeader(http.StatusCreated)
		default:
			w.Write([]byte("ok"))
		}
	}))
	obs := newObservations()
	_, fe := newFrontend(t, Config{
		Routes:  []Route{{Prefix: "/api/x/", Upstream: be.URL, StripPrefix: true, Token: TokenNone}},
		Observe: obs.observe,
	})
	tests := []struct {
		name, path string
		want       int
	}{
		{name: "ok", path: "/api/x/", want: 200},
		{name: "upstream status passed on", path: "/api/x/teapot", want: 418},
		{name: "1xx is not the final status", path: "/api/x/early-hints", want: 201},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := fe.Client().Get(fe.URL + tt.path) // skips the 103, like a browser
			if err != nil {
				t.Fatal(err)
			}
			body := readAll(t, res)
			if res.StatusCode != tt.want {
				t.Errorf("status = %d, want %d (body %s)", res.StatusCode, tt.want, body)
			}
			if got, want := obs.next(t), (observation{"/api/x/", tt.want}); got != want {
				t.Errorf("Observe = %+v, want %+v", got, want)
			}
			select {
			case ob := <-obs.ch:
				t.Errorf("Observe called again with %+v, want once", ob)
			case <-time.After(20 * time.Millisecond):
			}
		})
	}
}
