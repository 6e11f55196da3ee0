package proxy

import (
	"slices"
	"strings"
	"testing"
	"time"
)

func TestNewRejectsBadRoutes(t *testing.T) {
	ok := Route{Prefix: "/api/ok/", Upstream: "http://127.0.0.1:9001", Token: TokenNone}
	tests := []struct {
		name  string
		route Route
		want  string // substring of the error
	}{
		{name: "empty prefix", route: Route{Upstream: ok.Upstream}, want: "prefix is required"},
		{name: "root prefix", route: Route{Prefix: "/", Upstream: ok.Upstream}, want: `must not be "/"`},
		{name: "no leading slash", route: Route{Prefix: "api/", Upstream: ok.Upstream}, want: "start and end"},
		{name: "no trailing slash", route: Route{Prefix: "/api", Upstream: ok.Upstream}, want: "start and end"},
		{name: "dot-dot segment", route: Route{Prefix: "/api/../bff/", Upstream: ok.Upstream}, want: `".." segment`},
		{name: "dot segment", route: Route{Prefix: "/api/./x/", Upstream: ok.Upstream}, want: `"." segment`},
		{name: "empty segment", route: Route{Prefix: "/api//x/", Upstream: ok.Upstream}, want: "empty path segment"},
		{name: "encoded char", route: Route{Prefix: "/api/%2e/", Upstream: ok.Upstream}, want: "only letters"},
		{name: "under /bff/", route: Route{Prefix: "/bff/api/", Upstream: ok.Upstream}, want: "/bff/"},
		{name: "/bff/ itself, any case", route: Route{Prefix: "/BFF/", Upstream: ok.Upstream}, want: "/bff/"},
		{name: "healthz", route: Route{Prefix: "/healthz/", Upstream: ok.Upstream}, want: "/healthz/"},
		{name: "metrics", route: Route{Prefix: "/metrics/x/", Upstream: ok.Upstream}, want: "/metrics/"},
		{name: "no upstream", route: Route{Prefix: "/api/a/"}, want: "upstream is required"},
		{name: "relative upstream", route: Route{Prefix: "/api/a/", Upstream: "/orders"}, want: "scheme must be http or https"},
		{name: "ftp upstream", route: Route{Prefix: "/api/a/", Upstream: "ftp://h/x"}, want: "scheme must be http or https"},
		{name: "no host", route: Route{Prefix: "/api/a/", Upstream: "http:///x"}, want: "with a host"},
		{name: "userinfo", route: Route{Prefix: "/api/a/", Upstream: "http://u:hunter2@h/"}, want: "userinfo"},
		{name: "query", route: Route{Prefix: "/api/a/", Upstream: "http://h/?a=b"}, want: "query"},
		{name: "fragment", route: Route{Prefix: "/api/a/", Upstream: "http://h/#x"}, want: "fragment"},
		{name: "dirty upstream path", route: Route{Prefix: "/api/a/", Upstream: "http://h/a/../b"}, want: "path must be clean"},
		{name: "bad port", route: Route{Prefix: "/api/a/", Upstream: "http://h:99999/"}, want: "bad port"},
		{name: "unparsable upstream", route: Route{Prefix: "/api/a/", Upstream: "http://h/%zz"}, want: "not a URL"},
		{name: "unknown token", route: Route{Prefix: "/api/a/", Upstream: ok.Upstream, Token: "cookie"}, want: `token "cookie"`},
		{name: "unknown exchange", route: Route{Prefix: "/api/a/", Upstream: ok.Upstream, Exchange: "implicit"}, want: `exchange "implicit"`},
		{name: "lower-case method", route: Route{Prefix: "/api/a/", Upstream: ok.Upstream, Methods: []string{"get"}}, want: `use "GET"`},
		{name: "bad method", route: Route{Prefix: "/api/a/", Upstream: ok.Upstream, Methods: []string{"GE T"}}, want: "not an HTTP method"},
		{name: "TRACE", route: Route{Prefix: "/api/a/", Upstream: ok.Upstream, Methods: []string{"TRACE"}}, want: "never proxied"},
		{name: "negative timeout", route: Route{Prefix: "/api/a/", Upstream: ok.Upstream, Timeout: -time.Second}, want: "negative"},
		{name: "bad scope", route: Route{Prefix: "/api/a/", Upstream: ok.Upstream, Scopes: []string{"a b"}}, want: "scope"},
		{name: "bad resource", route: Route{Prefix: "/api/a/", Upstream: ok.Upstream, Resource: "orders"}, want: "resource"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(Config{Routes: []Route{ok, tt.route}, Tokens: staticTokens("t")})
			if err == nil {
				t.Fatalf("New() error = nil, want %q", tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("New() error = %q, want it to contain %q", err, tt.want)
			}
			if !strings.Contains(err.Error(), "route 1 (") {
				t.Errorf("New() error = %q, want it to name route 1", err)
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Errorf("New() error = %q leaks the upstream's password", err)
			}
		})
	}
}

func TestNewReportsAllProblems(t *testing.T) {
	_, err := New(Config{Routes: []Route{
		{Prefix: "/api/orders/", Upstream: "http://127.0.0.1:9001"},
		{Prefix: "/api/orders/v2/", Upstream: "http://127.0.0.1:9002"},
		{Prefix: "/api/bad", Upstream: "http://127.0.0.1:9003"},
		{Prefix: "/api/files/", Upstream: "gopher://h"},
		{Prefix: "/api/orders/", Upstream: "http://127.0.0.1:9001"},
	}})
	if err == nil {
		t.Fatal("New() error = nil, want errors")
	}
	want := []string{
		`route 1 ("/api/orders/v2/") overlaps route 0 ("/api/orders/")`,
		`route 4 ("/api/orders/") overlaps route 0 ("/api/orders/")`,
		`route 4 ("/api/orders/") overlaps route 1 ("/api/orders/v2/")`,
		`route 2 ("/api/bad"): prefix must start and end with "/"`,
		`route 3 ("/api/files/"): upstream "gopher://h": scheme must be http or https`,
		`route 0 ("/api/orders/"): token mode "" needs Config.Tokens`,
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("New() error = %q\nwant it to contain %q", err, w)
		}
	}
	if got := strings.Count(err.Error(), "\n") + 1; got < len(want) {
		t.Errorf("New() reported %d problems, want at least %d", got, len(want))
	}
}

func TestRoutesDefaults(t *testing.T) {
	in := []Route{
		{Prefix: "/api/b/", Upstream: "https://b.internal/v1", Methods: []string{"GET"}, Scopes: []string{"b.read"}},
		{Prefix: "/api/a/", Upstream: "http://127.0.0.1:9001", Token: TokenNone, Timeout: time.Second, Exchange: ExchangeTokenExchange},
	}
	h, err := New(Config{Routes: in, Tokens: staticTokens("t")})
	if err != nil {
		t.Fatal(err)
	}
	got := h.Routes()
	if len(got) != 2 || got[0].Prefix != "/api/b/" || got[1].Prefix != "/api/a/" {
		t.Fatalf("Routes() = %+v, want config order", got)
	}
	if got[0].Token != TokenUser || got[0].Exchange != ExchangeRefresh || got[0].Timeout != DefaultTimeout {
		t.Errorf("Routes()[0] = %+v, want defaults user/refresh/30s", got[0])
	}
	if got[1].Token != TokenNone || got[1].Exchange != ExchangeTokenExchange || got[1].Timeout != time.Second {
		t.Errorf("Routes()[1] = %+v, want the configured values", got[1])
	}
	got[0].Scopes[0] = "mutated"
	in[0].Scopes[0] = "mutated too"
	if s := h.Routes()[0].Scopes[0]; s != "b.read" {
		t.Errorf("Routes()[0].Scopes[0] = %q after mutating copies, want b.read", s)
	}
	if !slices.Equal(got[0].Methods, []string{"GET", "HEAD"}) {
		t.Errorf("Routes()[0].Methods = %q, want GET, HEAD", got[0].Methods)
	}
}

func TestMatch(t *testing.T) {
	h, err := New(Config{Routes: []Route{
		{Prefix: "/api/", Upstream: "http://127.0.0.1:1", Token: TokenNone},
	}})
	if err != nil {
		t.Fatal(err)
	}
	h2, err := New(Config{Routes: []Route{
		{Prefix: "/api/a/", Upstream: "http://127.0.0.1:1", Token: TokenNone},
		{Prefix: "/api/abc/", Upstream: "http://127.0.0.1:2", Token: TokenNone},
		{Prefix: "/v1/x/y/", Upstream: "http://127.0.0.1:3", Token: TokenNone},
	}})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		h    *Handler
		path string
		want string // prefix, "" for no match
	}{
		{name: "single", h: h, path: "/api/x", want: "/api/"},
		{name: "prefix itself", h: h, path: "/api/", want: "/api/"},
		{name: "without final slash", h: h, path: "/api", want: ""},
		{name: "other", h: h, path: "/apix/", want: ""},
		{name: "a", h: h2, path: "/api/a/1", want: "/api/a/"},
		{name: "abc not a", h: h2, path: "/api/abc/1", want: "/api/abc/"},
		{name: "ab", h: h2, path: "/api/ab/1", want: ""},
		{name: "deep", h: h2, path: "/v1/x/y/z", want: "/v1/x/y/"},
		{name: "case-sensitive", h: h2, path: "/API/a/1", want: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, ok := tt.h.Match(tt.path)
			got := ""
			if ok {
				got = r.Prefix
			}
			if got != tt.want {
				t.Errorf("Match(%q) = %q, want %q", tt.path, got, tt.want)
			}
		})
	}
}

func TestNewWithoutTokensForNoneRoutes(t *testing.T) {
	if _, err := New(Config{Routes: []Route{{Prefix: "/api/x/", Upstream: "http://h", Token: TokenNone}}}); err != nil {
		t.Errorf("New() error = %v, want nil", err)
	}
}
