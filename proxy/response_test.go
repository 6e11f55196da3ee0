package proxy

import (
	"io"
	"net/http"
	"net/http/httptrace"
	"net/textproto"
	"strings"
	"testing"
)

// scripted is an upstream that answers with the headers (and optional
// trailers) a test puts in the request's X-Test-* headers.
func scripted(t *testing.T) string {
	be := newBackend(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for _, kv := range r.Header.Values("X-Test-Header") {
			k, v, _ := strings.Cut(kv, "=")
			w.Header().Add(k, strings.ReplaceAll(v, "UPSTREAM", "http://"+r.Host))
		}
		if r.Header.Get("X-Test-No-Type") == "" && w.Header().Get("Content-Type") == "" {
			w.Header().Set("Content-Type", "application/json")
		} else if r.Header.Get("X-Test-No-Type") != "" {
			w.Header()["Content-Type"] = nil // no sniffing by the upstream's own server either
		}
		for _, k := range r.Header.Values("X-Test-Declare-Trailer") {
			w.Header().Add("Trailer", k)
		}
		w.WriteHeader(http.StatusOK)
		io.WriteString(w, r.Header.Get("X-Test-Body"))
		w.(http.Flusher).Flush() // chunked: trailers can follow
		for _, kv := range r.Header.Values("X-Test-Trailer") {
			k, v, _ := strings.Cut(kv, "=")
			w.Header().Set(http.TrailerPrefix+k, v)
		}
	}))
	return be.URL
}

func get(t *testing.T, url string, hdr http.Header) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header = hdr
	res, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body = struct {
		io.Reader
		io.Closer
	}{strings.NewReader(readAll(t, res)), io.NopCloser(nil)}
	return res
}

// TestAnswersAreInert: a browser that opens an API answer as a page (a
// link to /api/...) finds nothing it would sniff, run or frame, on every
// route, unless a route opts out of the default CSP.
func TestAnswersAreInert(t *testing.T) {
	up := scripted(t)
	_, fe := newFrontend(t, Config{Routes: []Route{
		{Prefix: "/api/user/", Upstream: up, Token: TokenUser},
		{Prefix: "/api/none/", Upstream: up, Token: TokenNone},
		{Prefix: "/api/client/", Upstream: up, Token: TokenClient},
		{Prefix: "/api/own-csp/", Upstream: up, Token: TokenNone, PassthroughCSP: true},
	}, Tokens: staticTokens("tok")})
	tests := []struct {
		name, path        string
		header            http.Header
		wantType, wantCSP string
	}{
		{name: "html without Content-Type is not sniffed", path: "/api/user/x",
			header:   http.Header{"X-Test-No-Type": {"1"}, "X-Test-Body": {"<html><script>alert(document.cookie)</script>"}},
			wantType: "application/octet-stream", wantCSP: APIContentSecurityPolicy},
		{name: "every route", path: "/api/none/x",
			header:   http.Header{"X-Test-No-Type": {"1"}, "X-Test-Body": {"<html><script>x</script>"}},
			wantType: "application/octet-stream", wantCSP: APIContentSecurityPolicy},
		{name: "client route", path: "/api/client/x",
			header:   http.Header{"X-Test-No-Type": {"1"}, "X-Test-Body": {"<svg onload=x>"}},
			wantType: "application/octet-stream", wantCSP: APIContentSecurityPolicy},
		{name: "declared type kept", path: "/api/user/x",
			header:   http.Header{"X-Test-Body": {`{"a":1}`}},
			wantType: "application/json", wantCSP: APIContentSecurityPolicy},
		{name: "upstream's own CSP kept", path: "/api/user/x",
			header:   http.Header{"X-Test-Header": {"Content-Security-Policy=default-src 'self'"}},
			wantType: "application/json", wantCSP: "default-src 'self'"},
		{name: "route passes CSP through", path: "/api/own-csp/x",
			header:   http.Header{"X-Test-No-Type": {"1"}},
			wantType: "application/octet-stream", wantCSP: ""},
		{name: "upstream's nosniff off is overridden", path: "/api/none/x",
			header:   http.Header{"X-Test-Header": {"X-Content-Type-Options=sniff"}, "X-Test-No-Type": {"1"}},
			wantType: "application/octet-stream", wantCSP: APIContentSecurityPolicy},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := get(t, fe.URL+tt.path, tt.header)
			if got := res.Header.Values("X-Content-Type-Options"); len(got) != 1 || got[0] != "nosniff" {
				t.Errorf("X-Content-Type-Options = %q, want [nosniff]", got)
			}
			if got := res.Header.Get("Content-Type"); got != tt.wantType {
				t.Errorf("Content-Type = %q, want %q", got, tt.wantType)
			}
			if got := strings.Join(res.Header.Values("Content-Security-Policy"), " | "); got != tt.wantCSP {
				t.Errorf("Content-Security-Policy = %q, want %q", got, tt.wantCSP)
			}
		})
	}
}

// TestOriginWideHeadersDropped: nothing an API sends may act on the whole
// origin, on the front proxy or on the BFF's own cookies, on any route.
func TestOriginWideHeadersDropped(t *testing.T) {
	up := scripted(t)
	_, fe := newFrontend(t, Config{Routes: []Route{
		{Prefix: "/api/user/", Upstream: up, Token: TokenUser},
		{Prefix: "/api/none/", Upstream: up, Token: TokenNone},
	}, Tokens: staticTokens("tok")})
	dropped := []string{
		"Set-Cookie=__Host-bff=attacker; Path=/; Secure; HttpOnly", "Set-Cookie=theme=dark", "Set-Cookie2=a=b",
		"Strict-Transport-Security=max-age=0", "Service-Worker-Allowed=/", "Clear-Site-Data=\"*\"",
		"Origin-Agent-Cluster=?0", "Timing-Allow-Origin=*", "Alt-Svc=h3=\":443\"; ma=86400",
		"NEL={\"report_to\":\"x\",\"max_age\":1}", "Report-To={\"group\":\"x\"}", "Reporting-Endpoints=x=\"https://evil.example\"",
		"Expect-CT=max-age=0", "Public-Key-Pins=pin-sha256=\"x\"", "Accept-CH=Sec-CH-UA-Model", "Critical-CH=Sec-CH-UA-Model",
		"X-Accel-Redirect=/internal/secrets", "X-Accel-Expires=600", "X-Accel-Buffering=no", "X-Sendfile=/etc/passwd",
		"X-LiteSpeed-Cache-Control=public", "Access-Control-Allow-Origin=*", "Access-Control-Allow-Credentials=true",
		"Access-Control-Expose-Headers=*", "Access-Control-Max-Age=600", "Proxy-Authenticate=Basic realm=x",
		"WWW-Authenticate=Basic realm=\"Sign in\"", "WWW-Authenticate=Negotiate", "WWW-Authenticate=Bearer, Basic realm=x",
		"X-Request-Id=upstream-id",
	}
	for _, path := range []string{"/api/user/x", "/api/none/x"} {
		for _, h := range dropped {
			name, _, _ := strings.Cut(h, "=")
			t.Run(path+"/"+name, func(t *testing.T) {
				res := get(t, fe.URL+path, http.Header{"X-Test-Header": {h}})
				if v := res.Header.Values(name); len(v) != 0 {
					t.Errorf("%s = %q, want it dropped", name, v)
				}
			})
		}
	}
	// Token challenges are the SPA's to read.
	kept := `Bearer realm="api", error="insufficient_scope", scope="orders.write"`
	res := get(t, fe.URL+"/api/user/x", http.Header{"X-Test-Header": {"WWW-Authenticate=" + kept}})
	if got := res.Header.Get("Www-Authenticate"); got != kept {
		t.Errorf("WWW-Authenticate = %q, want %q", got, kept)
	}
}

// TestUpstreamAddressesMappedBack: every header that can carry a URL has
// the upstream's own address mapped to the route or dropped.
func TestUpstreamAddressesMappedBack(t *testing.T) {
	up := scripted(t)
	host := strings.TrimPrefix(up, "http://")
	_, port, _ := strings.Cut(host, ":")
	_, fe := newFrontend(t, Config{Routes: []Route{
		{Prefix: "/api/orders/", Upstream: up + "/v1", StripPrefix: true, Token: TokenNone},
	}})
	tests := []struct {
		name, header string
		want         []string
	}{
		{"Location, every value", "Location=UPSTREAM/v1/1|Location=UPSTREAM/admin|Location=https://idp.example/x",
			[]string{"/api/orders/1", "https://idp.example/x"}},
		{"Content-Location", "Content-Location=UPSTREAM/v1/items/7?x=1", []string{"/api/orders/items/7?x=1"}},
		{"Content-Location outside the route", "Content-Location=UPSTREAM/internal", nil},
		{"Refresh", "Refresh=0; url=UPSTREAM/v1/next", []string{"0; url=/api/orders/next"}},
		{"Refresh quoted", "Refresh=5;URL='UPSTREAM/v1/next'", []string{"5; url=/api/orders/next"}},
		{"Refresh outside the route", "Refresh=0; url=UPSTREAM/metrics", nil},
		{"Refresh elsewhere", "Refresh=3; url=https://example.com/", []string{"3; url=https://example.com/"}},
		{"Link", `Link=<UPSTREAM/v1/items?page=2>; rel="next", <UPSTREAM/admin>; rel="x, y", </rel>; rel=prev`,
			[]string{`</api/orders/items?page=2>; rel="next", </rel>; rel=prev`}},
		{"Link only internal", `Link=<UPSTREAM/debug>; rel=help`, nil},
		{"no upstream host anywhere", "Location=//" + host + "/debug", nil},
		// Spellings a browser reads as the upstream's address (WHATWG URL).
		{"backslashes", `Location=/\` + host + "/debug", nil},
		{"many slashes", "Location=///" + host + "/debug", nil},
		{"scheme with backslashes", `Location=http:\\` + host + `\debug`, nil},
		{"scheme with one slash", "Location=http:/" + host + "/debug", nil},
		{"scheme without slashes", "Location=http:" + host + "/debug", nil},
		{"scheme in capitals", "Location=HTTP://" + host + "/debug", nil},
		{"a tab inside", "Location=http://127.0.\t0.1:" + port + "/debug", nil},
		{"short IPv4", "Location=http://127.1:" + port + "/debug", nil},
		{"hex IPv4", "Location=http://0x7f000001:" + port + "/debug", nil},
		{"decimal IPv4", "Location=http://2130706433:" + port + "/debug", nil},
		{"octal IPv4", "Location=http://0177.0.0.1:" + port + "/debug", nil},
		{"trailing dot", "Location=http://127.0.0.1.:" + port + "/debug", nil},
		{"leading-zero port", "Location=http://127.0.0.1:0" + port + "/debug", nil},
		{"mapped in another spelling", "Location=http://127.1:" + port + "/v1/9", []string{"/api/orders/9"}},
		{"Content-Location with backslashes", `Content-Location=/\` + host + "/x", nil},
		{"Refresh with white space only", "Refresh=0 http://" + host + "/x", nil},
		{"Refresh with a tab before url", "Refresh=0;\turl=http://" + host + "/x", nil},
		{"Refresh with spaces around =", "Refresh=1; URL = 'http://" + host + "/v1/n'", []string{"1; url=/api/orders/n"}},
		{"Link with the upstream in a param", `Link=</ok>; rel=preload; imagesrcset="http://` + host + `/a.png 2x", </fine>; rel=next`,
			[]string{"</fine>; rel=next"}},
		{"Link with backslashes", `Link=<http:\\` + host + `\x>; rel=next`, nil},
		{"CSP reporting to the upstream", "Content-Security-Policy=default-src 'self'; report-uri http://" + host + "/csp",
			[]string{APIContentSecurityPolicy}},
		{"report-only CSP reporting to the upstream", "Content-Security-Policy-Report-Only=default-src 'none'; report-uri http://" + host + "/r", nil},
		{"empty CSP", "Content-Security-Policy=", []string{APIContentSecurityPolicy}},
		{"blank CSP", "Content-Security-Policy= ; ", []string{APIContentSecurityPolicy}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			name, _, _ := strings.Cut(tt.header, "=")
			res := get(t, fe.URL+"/api/orders/x", http.Header{"X-Test-Header": strings.Split(tt.header, "|")})
			got := res.Header.Values(name)
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("%s = %q, want %q", name, got, tt.want)
			}
			for _, vs := range res.Header {
				for _, v := range vs {
					if strings.Contains(v, port) {
						t.Errorf("a header still names the upstream's port: %q", v)
					}
				}
			}
		})
	}
}

// TestTrailersFiltered: trailers, announced or not, are filtered like
// headers.
func TestTrailersFiltered(t *testing.T) {
	up := scripted(t)
	_, fe := newFrontend(t, Config{Routes: []Route{{Prefix: "/api/x/", Upstream: up, Token: TokenNone}}})
	res, err := http.DefaultTransport.RoundTrip(mustRequest(t, fe.URL+"/api/x/", http.Header{
		"X-Test-Declare-Trailer": {"Set-Cookie", "Server-Timing", "Content-Type"},
		"X-Test-Trailer": {"Set-Cookie=__Host-bff=x", "Server-Timing=db;dur=1", "Content-Type=text/html",
			"Strict-Transport-Security=max-age=0", "X-Accel-Redirect=/x"},
		"X-Test-Body": {"body"},
	}))
	if err != nil {
		t.Fatal(err)
	}
	readAll(t, res)
	if got := res.Trailer.Get("Server-Timing"); got != "db;dur=1" {
		t.Errorf("trailer Server-Timing = %q, want it kept", got)
	}
	for _, name := range []string{"Set-Cookie", "Content-Type", "Strict-Transport-Security", "X-Accel-Redirect"} {
		if v := res.Trailer.Values(name); len(v) != 0 {
			t.Errorf("trailer %s = %q, want it dropped", name, v)
		}
	}
}

func mustRequest(t *testing.T, url string, hdr http.Header) *http.Request {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header = hdr
	return req
}

// TestInterimAnswersDropped: an upstream's 103 (whose fields skip the
// response filter) never reaches the browser, also when nothing observes
// the proxy.
func TestInterimAnswersDropped(t *testing.T) {
	be := newBackend(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Set-Cookie", "__Host-bff=planted")
		w.Header().Set("Link", "</evil.js>; rel=preload")
		w.WriteHeader(http.StatusEarlyHints)
		w.Header().Del("Set-Cookie")
		w.Header().Del("Link")
		w.WriteHeader(http.StatusOK)
	}))
	_, fe := newFrontend(t, Config{Routes: []Route{{Prefix: "/api/x/", Upstream: be.URL, Token: TokenNone}}})
	var interim []int
	trace := &httptrace.ClientTrace{Got1xxResponse: func(code int, _ textproto.MIMEHeader) error {
		interim = append(interim, code)
		return nil
	}}
	req := mustRequest(t, fe.URL+"/api/x/", http.Header{})
	req = req.WithContext(httptrace.WithClientTrace(req.Context(), trace))
	res, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	readAll(t, res)
	if len(interim) != 0 {
		t.Errorf("the browser got interim answers %v, want none", interim)
	}
	if v := res.Header.Values("Set-Cookie"); len(v) != 0 {
		t.Errorf("Set-Cookie = %q, want none", v)
	}
}
