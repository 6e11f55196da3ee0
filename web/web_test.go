package web

import (
	"bytes"
	"compress/gzip"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const (
	indexBody  = "<!doctype html><title>fixture</title>"
	appJS      = "console.log('hello from app.js');\n"
	brBody     = "BROTLI-BYTES-FOR-APP-JS"
	secretBody = "TOPSECRET-OUTSIDE-DIR"
)

func gzipped(t testing.TB, s string) string {
	t.Helper()
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	if _, err := zw.Write([]byte(s)); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// writeTree creates files (slash-separated names) under dir.
func writeTree(t testing.TB, dir string, files map[string]string) {
	t.Helper()
	for name, body := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// fixture is a served directory next to a directory holding a secret, with
// symlinks from one into the other.
type fixture struct {
	dir     string // served
	outside string // not served
}

func newFixture(t *testing.T) fixture {
	t.Helper()
	base := t.TempDir()
	fx := fixture{dir: filepath.Join(base, "site"), outside: filepath.Join(base, "outside")}
	writeTree(t, fx.dir, map[string]string{
		"index.html":                 indexBody,
		"app.js":                     appJS,
		"app.js.br":                  brBody,
		"app.js.gz":                  gzipped(t, appJS),
		"style.css":                  "body{margin:0}",
		"style.css.gz":               gzipped(t, "body{margin:0}"),
		"app.0123abcd.js":            "/* fingerprinted */",
		"app.0123abc.js":             "/* 7 hex: not a fingerprint */",
		"app.0123abcz.js":            "/* not hex */",
		"assets/logo.deadbeef99.svg": "<svg/>",
		"assets/data.json":           `{"a":1}`,
		".env":                       "SECRET=1",
		".git/config":                "[core]",
		"assets/.hidden.js":          "hidden",
		".well-known/security.txt":   "contact",
		"unknown.zzz":                "plain bytes",
		"unknown.zzz.gz":             "not used",
		"page.xyz":                   "<!doctype html><script>alert(1)</script>",
	})
	writeTree(t, fx.outside, map[string]string{"secret.txt": secretBody, "passwd": secretBody})
	for link, target := range map[string]string{
		"link.txt":   filepath.Join(fx.outside, "secret.txt"),
		"linkdir":    fx.outside,
		"relout.txt": filepath.Join("..", "outside", "secret.txt"),
		"alias.js":   "app.js", // inside: allowed
	} {
		if err := os.Symlink(target, filepath.Join(fx.dir, link)); err != nil {
			t.Skipf("symlinks unavailable: %v", err)
		}
	}
	return fx
}

// server starts the handler for cfg on a TLS test server whose client
// neither follows redirects nor decompresses bodies behind our back.
func server(t *testing.T, cfg Config) *httptest.Server {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	h, err := New(cfg)
	if err != nil {
		t.Fatalf("New(%+v) error = %v", cfg, err)
	}
	ts := httptest.NewTLSServer(h)
	t.Cleanup(ts.Close)
	ts.Client().Transport.(*http.Transport).DisableCompression = true
	ts.Client().CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return ts
}

// do sends a request whose request-target is rawPath exactly as given (no
// cleaning, no re-encoding) and returns the response with its body read.
func do(t *testing.T, ts *httptest.Server, method, rawPath string, hdr map[string]string) (*http.Response, string) {
	t.Helper()
	u, err := url.Parse(ts.URL)
	if err != nil {
		t.Fatal(err)
	}
	u.Opaque = rawPath
	req := &http.Request{Method: method, URL: u, Header: http.Header{}, Host: u.Host}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	res, err := ts.Client().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, rawPath, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", method, rawPath, err)
	}
	return res, string(b)
}

func checkSecurityHeaders(t *testing.T, h http.Header, csp string) {
	t.Helper()
	want := map[string]string{
		"Content-Security-Policy":    csp,
		"X-Content-Type-Options":     "nosniff",
		"Referrer-Policy":            "no-referrer",
		"X-Frame-Options":            "DENY",
		"Cross-Origin-Opener-Policy": "same-origin",
		"Permissions-Policy":         permissionsPolicy,
	}
	for k, v := range want {
		if got := h.Get(k); got != v {
			t.Errorf("header %s = %q, want %q", k, got, v)
		}
	}
}

func TestSPAFallback(t *testing.T) {
	fx := newFixture(t)
	ts := server(t, Config{Dir: fx.dir})
	tests := []struct {
		name       string
		path       string
		wantStatus int
		wantBody   string // "" means: do not check
	}{
		{name: "root", path: "/", wantStatus: 200, wantBody: indexBody},
		{name: "index", path: "/index.html", wantStatus: 200, wantBody: indexBody},
		{name: "client route", path: "/orders/42", wantStatus: 200, wantBody: indexBody},
		{name: "client route with query", path: "/settings?tab=2", wantStatus: 200, wantBody: indexBody},
		{name: "directory without slash", path: "/assets", wantStatus: 200, wantBody: indexBody},
		{name: "directory with slash never lists", path: "/assets/", wantStatus: 200, wantBody: indexBody},
		{name: "missing path with slash", path: "/nowhere/", wantStatus: 200, wantBody: indexBody},
		{name: "existing asset", path: "/app.js", wantStatus: 200, wantBody: appJS},
		{name: "nested asset", path: "/assets/data.json", wantStatus: 200, wantBody: `{"a":1}`},
		{name: "missing asset", path: "/missing.js", wantStatus: 404},
		{name: "missing nested asset", path: "/assets/missing.css", wantStatus: 404},
		{name: "missing asset under client route", path: "/orders/app.js", wantStatus: 404},
		{name: "symlink inside dir", path: "/alias.js", wantStatus: 200, wantBody: appJS},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, body := do(t, ts, "GET", tt.path, nil)
			if res.StatusCode != tt.wantStatus {
				t.Fatalf("GET %s status = %d, want %d", tt.path, res.StatusCode, tt.wantStatus)
			}
			if tt.wantBody != "" && body != tt.wantBody {
				t.Errorf("GET %s body = %q, want %q", tt.path, body, tt.wantBody)
			}
			checkSecurityHeaders(t, res.Header, DefaultCSP)
		})
	}
}

func TestCacheControl(t *testing.T) {
	fx := newFixture(t)
	ts := server(t, Config{Dir: fx.dir})
	tests := []struct {
		name string
		path string
		want string
	}{
		{name: "root", path: "/", want: cacheRevalidate},
		{name: "index", path: "/index.html", want: cacheRevalidate},
		{name: "fallback", path: "/deep/route", want: cacheRevalidate},
		{name: "plain asset", path: "/app.js", want: cacheRevalidate},
		{name: "fingerprinted", path: "/app.0123abcd.js", want: cacheImmutable},
		{name: "fingerprinted nested", path: "/assets/logo.deadbeef99.svg", want: cacheImmutable},
		{name: "seven hex digits", path: "/app.0123abc.js", want: cacheRevalidate},
		{name: "not hex", path: "/app.0123abcz.js", want: cacheRevalidate},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, _ := do(t, ts, "GET", tt.path, nil)
			if res.StatusCode != 200 {
				t.Fatalf("GET %s status = %d, want 200", tt.path, res.StatusCode)
			}
			if got := res.Header.Get("Cache-Control"); got != tt.want {
				t.Errorf("GET %s Cache-Control = %q, want %q", tt.path, got, tt.want)
			}
		})
	}
}

func TestContentType(t *testing.T) {
	fx := newFixture(t)
	ts := server(t, Config{Dir: fx.dir})
	tests := []struct {
		path string
		want string
	}{
		{"/", "text/html; charset=utf-8"},
		{"/app.js", "text/javascript; charset=utf-8"},
		{"/style.css", "text/css; charset=utf-8"},
		{"/assets/data.json", "application/json"},
		{"/assets/logo.deadbeef99.svg", "image/svg+xml"},
		{"/unknown.zzz", "application/octet-stream"},
		{"/page.xyz", "application/octet-stream"}, // HTML inside, never sniffed
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			res, _ := do(t, ts, "GET", tt.path, nil)
			if got := res.Header.Get("Content-Type"); got != tt.want {
				t.Errorf("GET %s Content-Type = %q, want %q", tt.path, got, tt.want)
			}
		})
	}
}

func TestETag(t *testing.T) {
	fx := newFixture(t)
	ts := server(t, Config{Dir: fx.dir})

	res, _ := do(t, ts, "GET", "/app.js", nil)
	tag := res.Header.Get("ETag")
	if !strings.HasPrefix(tag, `"`) || !strings.HasSuffix(tag, `"`) || len(tag) < 10 {
		t.Fatalf("ETag = %q, want a strong quoted tag", tag)
	}
	res, _ = do(t, ts, "GET", "/app.js", nil)
	if got := res.Header.Get("ETag"); got != tag {
		t.Errorf("second ETag = %q, want %q", got, tag)
	}

	res, body := do(t, ts, "GET", "/app.js", map[string]string{"If-None-Match": tag})
	if res.StatusCode != http.StatusNotModified {
		t.Fatalf("If-None-Match status = %d, want 304", res.StatusCode)
	}
	if body != "" {
		t.Errorf("304 body = %q, want empty", body)
	}
	if got := res.Header.Get("ETag"); got != tag {
		t.Errorf("304 ETag = %q, want %q", got, tag)
	}
	if got := res.Header.Get("Cache-Control"); got != cacheRevalidate {
		t.Errorf("304 Cache-Control = %q, want %q", got, cacheRevalidate)
	}
	checkSecurityHeaders(t, res.Header, DefaultCSP)

	res, _ = do(t, ts, "GET", "/app.js", map[string]string{"If-None-Match": `"other"`})
	if res.StatusCode != http.StatusOK {
		t.Errorf("stale If-None-Match status = %d, want 200", res.StatusCode)
	}

	// The SPA fallback is index.html: same tag, so it revalidates too.
	res, _ = do(t, ts, "GET", "/", nil)
	indexTag := res.Header.Get("ETag")
	res, _ = do(t, ts, "GET", "/some/route", map[string]string{"If-None-Match": indexTag})
	if res.StatusCode != http.StatusNotModified {
		t.Errorf("fallback If-None-Match status = %d, want 304", res.StatusCode)
	}

	// A changed file gets a new tag, even with the same size.
	p := filepath.Join(fx.dir, "app.js")
	if err := os.WriteFile(p, []byte(strings.ToUpper(appJS)), 0o644); err != nil {
		t.Fatal(err)
	}
	future := time.Now().Add(time.Hour)
	if err := os.Chtimes(p, future, future); err != nil {
		t.Fatal(err)
	}
	res, body = do(t, ts, "GET", "/app.js", map[string]string{"If-None-Match": tag})
	if res.StatusCode != http.StatusOK || body != strings.ToUpper(appJS) {
		t.Fatalf("after change: status %d body %q, want 200 %q", res.StatusCode, body, strings.ToUpper(appJS))
	}
	if got := res.Header.Get("ETag"); got == tag {
		t.Errorf("after change ETag = %q, want a new tag", got)
	}
}

func TestRange(t *testing.T) {
	fx := newFixture(t)
	ts := server(t, Config{Dir: fx.dir})
	res, _ := do(t, ts, "GET", "/app.js", nil)
	tag := res.Header.Get("ETag")
	tests := []struct {
		name       string
		hdr        map[string]string
		wantStatus int
		wantBody   string
	}{
		{name: "prefix", hdr: map[string]string{"Range": "bytes=0-6"}, wantStatus: 206, wantBody: appJS[:7]},
		{name: "suffix", hdr: map[string]string{"Range": "bytes=-3"}, wantStatus: 206, wantBody: appJS[len(appJS)-3:]},
		{name: "if-range match", hdr: map[string]string{"Range": "bytes=0-6", "If-Range": tag}, wantStatus: 206, wantBody: appJS[:7]},
		{name: "if-range stale", hdr: map[string]string{"Range": "bytes=0-6", "If-Range": `"old"`}, wantStatus: 200, wantBody: appJS},
		{name: "unsatisfiable", hdr: map[string]string{"Range": "bytes=9999-"}, wantStatus: 416},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, body := do(t, ts, "GET", "/app.js", tt.hdr)
			if res.StatusCode != tt.wantStatus {
				t.Fatalf("status = %d, want %d", res.StatusCode, tt.wantStatus)
			}
			if tt.wantBody != "" && body != tt.wantBody {
				t.Errorf("body = %q, want %q", body, tt.wantBody)
			}
			checkSecurityHeaders(t, res.Header, DefaultCSP)
		})
	}
}

func TestSecurityHeadersEverywhere(t *testing.T) {
	fx := newFixture(t)
	const csp = "default-src 'none'; script-src 'self'"
	ts := server(t, Config{Dir: fx.dir, ContentSecurityPolicy: csp})
	res, _ := do(t, ts, "GET", "/app.js", nil)
	tag := res.Header.Get("ETag")
	tests := []struct {
		name       string
		method     string
		path       string
		hdr        map[string]string
		wantStatus int
	}{
		{name: "200", method: "GET", path: "/", wantStatus: 200},
		{name: "HEAD", method: "HEAD", path: "/app.js", wantStatus: 200},
		{name: "404", method: "GET", path: "/missing.png", wantStatus: 404},
		{name: "404 refused path", method: "GET", path: "/.env", wantStatus: 404},
		{name: "304", method: "GET", path: "/app.js", hdr: map[string]string{"If-None-Match": tag}, wantStatus: 304},
		{name: "206", method: "GET", path: "/app.js", hdr: map[string]string{"Range": "bytes=0-1"}, wantStatus: 206},
		{name: "405", method: "POST", path: "/", wantStatus: 405},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, _ := do(t, ts, tt.method, tt.path, tt.hdr)
			if res.StatusCode != tt.wantStatus {
				t.Fatalf("%s %s status = %d, want %d", tt.method, tt.path, res.StatusCode, tt.wantStatus)
			}
			checkSecurityHeaders(t, res.Header, csp)
		})
	}
}

func TestMethodNotAllowed(t *testing.T) {
	ts := server(t, Config{})
	for _, method := range []string{"POST", "PUT", "PATCH", "DELETE", "OPTIONS"} {
		t.Run(method, func(t *testing.T) {
			res, _ := do(t, ts, method, "/app.js", nil)
			if res.StatusCode != http.StatusMethodNotAllowed {
				t.Errorf("%s status = %d, want 405", method, res.StatusCode)
			}
			if got, want := res.Header.Get("Allow"), "GET, HEAD"; got != want {
				t.Errorf("%s Allow = %q, want %q", method, got, want)
			}
		})
	}
}

func TestMissingIndexAfterStart(t *testing.T) {
	fx := newFixture(t)
	ts := server(t, Config{Dir: fx.dir})
	if err := os.Remove(filepath.Join(fx.dir, "index.html")); err != nil {
		t.Fatal(err)
	}
	res, _ := do(t, ts, "GET", "/route", nil)
	if res.StatusCode != http.StatusInternalServerError {
		t.Errorf("status = %d, want 500", res.StatusCode)
	}
	checkSecurityHeaders(t, res.Header, DefaultCSP)
}

func TestNewErrors(t *testing.T) {
	base := t.TempDir()
	writeTree(t, base, map[string]string{
		"file":                  "not a dir",
		"noindex/app.js":        "x",
		"indexdir/index.html/x": "index.html is a directory",
		"good/index.html":       indexBody,
	})
	tests := []struct {
		name    string
		cfg     Config
		wantErr []string // substrings; nil means success
	}{
		{name: "embedded", cfg: Config{}},
		{name: "dir", cfg: Config{Dir: filepath.Join(base, "good")}},
		{name: "missing dir", cfg: Config{Dir: filepath.Join(base, "missing")}, wantErr: []string{"missing"}},
		{name: "not a dir", cfg: Config{Dir: filepath.Join(base, "file")}, wantErr: []string{"not a directory"}},
		{name: "no index", cfg: Config{Dir: filepath.Join(base, "noindex")}, wantErr: []string{"no index.html"}},
		{name: "index is a dir", cfg: Config{Dir: filepath.Join(base, "indexdir")}, wantErr: []string{"no index.html"}},
		{name: "bad csp", cfg: Config{ContentSecurityPolicy: "default-src 'self'\r\nSet-Cookie: x=1"}, wantErr: []string{"control character"}},
		{
			name:    "every problem at once",
			cfg:     Config{Dir: filepath.Join(base, "missing"), ContentSecurityPolicy: "a\nb"},
			wantErr: []string{"missing", "control character"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, err := New(tt.cfg)
			if tt.wantErr == nil {
				if err != nil || h == nil {
					t.Fatalf("New() = %v, %v; want a handler", h, err)
				}
				return
			}
			if err == nil {
				t.Fatalf("New() error = nil, want one mentioning %q", tt.wantErr)
			}
			for _, want := range tt.wantErr {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("New() error = %q, want it to mention %q", err, want)
				}
			}
			if !strings.HasPrefix(err.Error(), "web: ") {
				t.Errorf("New() error = %q, want prefix %q", err, "web: ")
			}
		})
	}
}

// TestPathUnderAFileIsQuiet: /index.html/x is as harmless as a missing
// file, and anyone can send it: no warning per request.
func TestPathUnderAFileIsQuiet(t *testing.T) {
	fx := newFixture(t)
	var logs bytes.Buffer
	ts := server(t, Config{Dir: fx.dir, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	for _, p := range []string{"/index.html/x", "/app.js/x.js", "/assets/data.json/deeper/route"} {
		res, _ := do(t, ts, "GET", p, nil)
		if res.StatusCode >= 500 {
			t.Errorf("GET %s = %d, want no server error", p, res.StatusCode)
		}
	}
	if logs.Len() != 0 {
		t.Errorf("log after paths under files = %q, want nothing", logs.String())
	}
}
