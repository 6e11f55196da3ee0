package proxy

import (
	"net/http"
	"net/url"
	"path"
	"strings"
	"testing"
)

// traversalPayloads must never reach another route or an upstream path
// outside the route's base.
var traversalPayloads = []string{
	"/api/orders/../../admin",
	"/api/orders/../admin/x",
	"/api/orders/./1",
	"/api/orders/%2e%2e/admin",
	"/api/orders/%2E%2E/%2e%2e/admin",
	"/api/orders/.%2e/admin",
	"/api/orders/..%2fadmin",
	"/api/orders/..%2Fadmin",
	"/api/orders/1%2f..%2f..%2fadmin",
	"/api/orders/%252e%252e/admin",
	"/api/orders/%252e%252e%252fadmin",
	"/api/orders/%25252e%25252e/admin",
	"/api/orders/..%5cadmin",
	"/api/orders/..\\admin",
	"/api/orders/..;/admin",
	"/api/orders/%2e%2e;x/admin",
	"/api/orders/%00/x",
	"/api/orders/a%0d%0aX-Injected:%201",
	"/api/orders//admin",
	"/api/orders/...",
	"/api/orders/..",
	"/api/orders/1/..",
	"/api/orders/%2e",
	"/api/orders/%c0%ae%c0%ae/admin", // overlong UTF-8 is not decoded by Go, but must not be ".."
}

func TestPathTraversal(t *testing.T) {
	orders := &recorder{}
	admin := &recorder{}
	beOrders := newBackend(t, orders)
	beAdmin := newBackend(t, admin)
	obs := newObservations()
	_, fe := newFrontend(t, Config{
		Routes: []Route{
			{Prefix: "/api/orders/", Upstream: beOrders.URL + "/base", StripPrefix: true, Token: TokenNone},
			{Prefix: "/api/admin/", Upstream: beAdmin.URL, Token: TokenNone},
		},
		Observe: obs.observe,
	})
	addr := fe.Listener.Addr().String()
	for _, p := range traversalPayloads {
		t.Run(p, func(t *testing.T) {
			res, body := rawGet(t, addr, p)
			if p == "/api/orders/%c0%ae%c0%ae/admin" {
				// Not a traversal: Go does not decode overlong UTF-8, so
				// this is a literal segment under the base.
				if res.StatusCode != http.StatusOK {
					t.Fatalf("status = %d, want 200", res.StatusCode)
				}
				if got := orders.last(t).URL.Path; !strings.HasPrefix(got, "/base/") {
					t.Errorf("upstream path = %q, want under /base/", got)
				}
				obs.next(t)
				return
			}
			checkJSONError(t, res, body, http.StatusBadRequest, "invalid_path")
			if ob := obs.next(t); ob.status != http.StatusBadRequest {
				t.Errorf("Observe status = %d, want 400", ob.status)
			}
		})
	}
	if n := admin.count(); n != 0 {
		t.Errorf("admin upstream saw %d requests, want 0", n)
	}
	if n := orders.count(); n != 1 {
		t.Errorf("orders upstream saw %d requests, want 1", n)
	}
}

func TestSafePath(t *testing.T) {
	tests := []struct {
		path string
		want bool
	}{
		{"/api/orders/1", true},
		{"/api/orders/", true},
		{"/api/orders/a.b/.hidden/x..y/..z", true},
		{"/api/orders/a;b=c", true},
		{"/api/orders/100%", true},
		{"/api/orders/%zz", true},
		{"/api/orders/%41", true}, // a literal "%41" (raw was %2541): harmless when decoded again
		{"/api/orders/caf\u00e9", true},
		{"", false},
		{"api/orders", false},
		{"/api/orders/..", false},
		{"/api/orders/../x", false},
		{"/api/orders/./x", false},
		{"/api/orders/. ./x", false},
		{"/api/orders/.. /x", false},
		{"/api/orders/..;jsessionid=1/x", false},
		{"/api/orders//x", false},
		{"/api/orders/a\\b", false},
		{"/api/orders/a\x00b", false},
		{"/api/orders/a\nb", false},
		{"/api/orders/a\x7fb", false},
		{"/api/orders/%2e%2e", false},
		{"/api/orders/%2F", false},
		{"/api/orders/%5c", false},
		{"/api/orders/%00", false},
		{"/api/orders/%2525", false},
	}
	for _, tt := range tests {
		if got := safePath(tt.path); got != tt.want {
			t.Errorf("safePath(%q) = %v, want %v", tt.path, got, tt.want)
		}
	}
}

func TestSafeRawPath(t *testing.T) {
	tests := []struct {
		raw  string
		want bool
	}{
		{"/api/orders/a%3Bb", true},
		{"/api/orders/%", true},
		{"/api/orders/a%2Fb", false},
		{"/api/orders/a%2fb", false},
		{"/api/orders/a%5Cb", false},
		{"/api/orders/a%00", false},
		{"/api/orders/a\\b", false},
	}
	for _, tt := range tests {
		if got := safeRawPath(tt.raw); got != tt.want {
			t.Errorf("safeRawPath(%q) = %v, want %v", tt.raw, got, tt.want)
		}
	}
}

// FuzzUpstreamPath checks the property of the path decision: whatever
// request target it accepts is forwarded under the matched route's upstream
// base path (and, without StripPrefix, under base + prefix), when decoded
// once as an upstream does and again as a careless one might.
func FuzzUpstreamPath(f *testing.F) {
	for _, p := range traversalPayloads {
		f.Add(p)
	}
	for _, p := range []string{"/api/orders/1", "/api/orders/", "/api/files/a%3Bb", "/api/%6frders/x", "/api/files/x?y=%2e%2e", "/api/orders/%2541"} {
		f.Add(p)
	}
	h, err := New(Config{Routes: []Route{
		{Prefix: "/api/orders/", Upstream: "http://127.0.0.1:9001/base", StripPrefix: true, Token: TokenNone},
		{Prefix: "/api/files/", Upstream: "http://127.0.0.1:9002/v1/", Token: TokenNone},
		{Prefix: "/api/root/", Upstream: "http://127.0.0.1:9003", StripPrefix: true, Token: TokenNone},
	}})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, target string) {
		u, err := url.ParseRequestURI(target) // as net/http's server does
		if err != nil {
			return
		}
		rt, out, outRaw, ok := h.resolve(u.Path, u.RawPath)
		if !ok {
			return
		}
		under := rt.basePath + "/"
		if !rt.StripPrefix {
			under = rt.basePath + rt.Prefix
		}
		if !strings.HasPrefix(out, under) {
			t.Fatalf("resolve(%q) = %q, want under %q", target, out, under)
		}
		wire := (&url.URL{Path: out, RawPath: outRaw}).EscapedPath()
		once, err := url.PathUnescape(wire)
		if err != nil {
			t.Fatalf("resolve(%q): outbound %q does not decode: %v", target, wire, err)
		}
		if once != out {
			t.Fatalf("resolve(%q): outbound %q decodes to %q, want %q", target, wire, once, out)
		}
		twice, err := url.PathUnescape(once)
		if err != nil {
			twice = once // not decodable again: an upstream would refuse it
		}
		for _, p := range []string{once, twice} {
			if strings.ContainsAny(p, "\\\x00") {
				t.Fatalf("resolve(%q): outbound %q decodes to %q with a backslash or NUL", target, wire, p)
			}
			if c := path.Clean(p) + "/"; !strings.HasPrefix(c, under) {
				t.Fatalf("resolve(%q): outbound %q decodes to %q, which cleans to %q outside %q", target, wire, p, c, under)
			}
		}
		if strings.Count(wire, "/") != strings.Count(out, "/") {
			t.Fatalf("resolve(%q): outbound %q has a different segment structure than %q", target, wire, out)
		}
		// A redirect to the outbound path maps back to the path requested.
		back, ok := rt.publicPath(wire)
		if !ok {
			t.Fatalf("resolve(%q): publicPath(%q) found no public path", target, wire)
		}
		if backDec, err := url.PathUnescape(back); err != nil || backDec != u.Path {
			t.Fatalf("resolve(%q): publicPath(%q) = %q, want the request path %q", target, wire, back, u.Path)
		}
	})
}
