package proxy

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// tunnelBackend switches to any protocol it is asked for and then answers
// every byte with a line naming what it read, as a generic tunnel would.
func tunnelBackend(t *testing.T, called *int) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		*called++
		if r.Header.Get("Upgrade") == "" {
			return
		}
		conn, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Errorf("Hijack: %v", err)
			return
		}
		defer conn.Close()
		fmt.Fprintf(brw, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: %s\r\nConnection: Upgrade\r\n\r\ntunnel open\n", r.Header.Get("Upgrade"))
		brw.Flush()
	}
}

// TestOnlyWebSocketUpgrades: any other upgrade would turn the BFF into a
// byte pipe to the upstream, past the route's path, method and token rules.
func TestOnlyWebSocketUpgrades(t *testing.T) {
	called := 0
	be := newBackend(t, tunnelBackend(t, &called))
	_, fe := newFrontend(t, Config{Routes: []Route{
		{Prefix: "/api/ro/", Upstream: be.URL, Token: TokenNone, Methods: []string{"GET"}},
		{Prefix: "/api/all/", Upstream: be.URL, Token: TokenNone},
	}})
	addr := fe.Listener.Addr().String()
	tests := []struct{ name, head string }{
		{"h2c", "GET /api/ro/1 HTTP/1.1\r\nHost: spa.example\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAAP__"},
		{"any protocol", "GET /api/ro/1 HTTP/1.1\r\nHost: spa.example\r\nConnection: upgrade\r\nUpgrade: anything"},
		{"websocket among others", "GET /api/ro/1 HTTP/1.1\r\nHost: spa.example\r\nConnection: upgrade\r\nUpgrade: websocket, h2c"},
		{"two Upgrade headers", "GET /api/ro/1 HTTP/1.1\r\nHost: spa.example\r\nConnection: upgrade\r\nUpgrade: websocket\r\nUpgrade: h2c"},
		{"websocket by POST", "POST /api/all/1 HTTP/1.1\r\nHost: spa.example\r\nConnection: upgrade\r\nUpgrade: websocket\r\nContent-Length: 0"},
		{"non-printable protocol", "GET /api/ro/1 HTTP/1.1\r\nHost: spa.example\r\nConnection: upgrade\r\nUpgrade: \x80"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := called
			res, body := rawRequest(t, addr, tt.head)
			checkJSONError(t, res, body, http.StatusBadRequest, "unsupported_upgrade")
			if called != before {
				t.Error("the upstream was called")
			}
		})
	}
	// A lone Upgrade header is no upgrade: dropped as hop-by-hop, the
	// request goes through as a plain one.
	res, body := rawRequest(t, addr, "GET /api/ro/1 HTTP/1.1\r\nHost: spa.example\r\nUpgrade: h2c")
	if res.StatusCode != http.StatusOK || strings.Contains(body, "tunnel") {
		t.Errorf("Upgrade without Connection: upgrade = %d %q, want a plain 200", res.StatusCode, body)
	}
}

func TestEchoMethodsNeverProxied(t *testing.T) {
	rec := &recorder{}
	be := newBackend(t, rec)
	_, fe := newFrontend(t, Config{Routes: []Route{{Prefix: "/api/all/", Upstream: be.URL, Token: TokenNone}}})
	for _, m := range []string{"TRACE", "trace", "TRACK", "Track"} {
		res, body := rawRequest(t, fe.Listener.Addr().String(), m+" /api/all/1 HTTP/1.1\r\nHost: spa.example")
		if res.StatusCode != http.StatusMethodNotAllowed {
			t.Errorf("%s = %d %s, want 405", m, res.StatusCode, body)
		}
	}
	if rec.count() != 0 {
		t.Errorf("the upstream got %d requests, want none", rec.count())
	}
}

// TestMethodOverrideHeadersDropped: the headers frameworks read as "the
// real method" reach no route: they would run a method the route does not
// allow, or TRACE, which echoes the bearer token.
func TestMethodOverrideHeadersDropped(t *testing.T) {
	overrides := []string{"X-HTTP-Method-Override", "X-HTTP-Method", "X-Method-Override"}
	rec := &recorder{}
	be := newBackend(t, rec)
	_, fe := newFrontend(t, Config{Routes: []Route{
		{Prefix: "/api/ro/", Upstream: be.URL, Token: TokenNone, Methods: []string{"GET"}},
		{Prefix: "/api/all/", Upstream: be.URL, Token: TokenNone},
	}})
	for _, tt := range []struct {
		path   string
		method string
	}{{"/api/ro/1", "DELETE"}, {"/api/all/1", "TRACE"}, {"/api/all/1", "DELETE"}} {
		req, _ := http.NewRequest(http.MethodGet, fe.URL+tt.path, nil)
		for _, h := range overrides {
			req.Header.Set(h, tt.method)
		}
		res, err := fe.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		readAll(t, res)
		got := rec.last(t).Header
		for _, h := range overrides {
			if v := got.Values(h); len(v) != 0 {
				t.Errorf("%s: upstream %s = %q, want none", tt.path, h, v)
			}
		}
	}
}

// TestUserAnswersKeptFromSharedCaches: the upstream saw a bearer token, not
// the cookie the browser was authenticated by, so its caching directives
// are made private on user routes.
func TestUserAnswersKeptFromSharedCaches(t *testing.T) {
	tests := []struct {
		mode, upstream, want string
	}{
		{TokenUser, "", "no-store"},
		{TokenUser, "public, max-age=600", "private, max-age=600"},
		{TokenUser, "max-age=60, s-maxage=600, proxy-revalidate", "private, max-age=60"},
		{TokenUser, "no-cache", "private, no-cache"},
		{TokenUser, "no-store", "no-store"},
		{TokenUser, "private, max-age=5", "private, max-age=5"},
		{TokenUser, "public", "no-store"},
		{TokenUser, `private="Authorization", max-age=600`, "private, max-age=600"},
		{TokenUser, `private=, max-age=600`, "private, max-age=600"},
		{TokenUser, `no-cache="Set-Cookie"`, `private, no-cache="Set-Cookie"`},
		{TokenUserOptional, "public, max-age=600", "private, max-age=600"},
		{TokenNone, "public, max-age=600", "public, max-age=600"},
		{TokenClient, "public, max-age=600", "public, max-age=600"},
	}
	for _, tt := range tests {
		t.Run(tt.mode+"/"+tt.upstream, func(t *testing.T) {
			be := newBackend(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if tt.upstream != "" {
					w.Header().Set("Cache-Control", tt.upstream)
				}
			}))
			_, fe := newFrontend(t, Config{
				Routes: []Route{{Prefix: "/api/x/", Upstream: be.URL, Token: tt.mode}},
				Tokens: staticTokens("tok"),
			})
			res, err := fe.Client().Get(fe.URL + "/api/x/")
			if err != nil {
				t.Fatal(err)
			}
			readAll(t, res)
			if got := strings.Join(res.Header.Values("Cache-Control"), ", "); got != tt.want {
				t.Errorf("Cache-Control = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestLocationOnUpstreamMappedBack: a redirect an upstream builds from its
// own address is mapped to the public path of the route, or dropped when
// the route does not lead there; the internal address never reaches the
// browser.
func TestLocationOnUpstreamMappedBack(t *testing.T) {
	be := newBackend(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Location", strings.ReplaceAll(r.Header.Get("X-Test-Location"), "UPSTREAM", "http://"+r.Host))
		w.WriteHeader(http.StatusFound)
	}))
	host := strings.TrimPrefix(be.URL, "http://")
	_, fe := newFrontend(t, Config{Routes: []Route{
		{Prefix: "/api/orders/", Upstream: be.URL + "/v1", StripPrefix: true, Token: TokenNone},
		{Prefix: "/api/x/", Upstream: be.URL, Token: TokenNone},
	}})
	tests := []struct{ path, location, want string }{
		{"/api/orders/1", "UPSTREAM/v1/43?a=1#top", "/api/orders/43?a=1#top"},
		{"/api/orders/1", "//" + host + "/v1/43", "/api/orders/43"},
		{"/api/orders/1", "UPSTREAM/v1", ""},    // the base itself: no route path leads there
		{"/api/orders/1", "UPSTREAM/admin", ""}, // outside the route
		{"/api/orders/1", "https://login.example/start", "https://login.example/start"},
		{"/api/orders/1", "/relative/path", "/relative/path"},
		{"/api/x/1", "UPSTREAM/api/x/7", "/api/x/7"},
		{"/api/x/1", "UPSTREAM/admin/users", ""},
		{"/api/x/1", "https://" + host + "/api/x/7", "https://" + host + "/api/x/7"}, // another scheme, another origin
	}
	for _, tt := range tests {
		t.Run(tt.path+" "+tt.location, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodGet, fe.URL+tt.path, nil)
			req.Header.Set("X-Test-Location", tt.location)
			res, err := fe.Client().Transport.RoundTrip(req)
			if err != nil {
				t.Fatal(err)
			}
			readAll(t, res)
			if got := res.Header.Get("Location"); got != tt.want {
				t.Errorf("Location = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestUserAnswersKeptFromCDNs: CDNs obey their own cache headers over
// Cache-Control, so those are dropped from answers on user routes.
func TestUserAnswersKeptFromCDNs(t *testing.T) {
	cdnHeaders := []string{"CDN-Cache-Control", "Cloudflare-CDN-Cache-Control", "Surrogate-Control", "Edge-Control"}
	be := newBackend(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for _, h := range cdnHeaders {
			w.Header().Set(h, "public, max-age=600")
		}
	}))
	_, fe := newFrontend(t, Config{
		Routes: []Route{
			{Prefix: "/api/user/", Upstream: be.URL, Token: TokenUser},
			{Prefix: "/api/none/", Upstream: be.URL, Token: TokenNone},
		},
		Tokens: staticTokens("tok"),
	})
	for path, kept := range map[string]bool{"/api/user/": false, "/api/none/": true} {
		res, err := fe.Client().Get(fe.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		readAll(t, res)
		for _, h := range cdnHeaders {
			if got := res.Header.Get(h) != ""; got != kept {
				t.Errorf("%s: %s present %v, want %v", path, h, got, kept)
			}
		}
	}
}
