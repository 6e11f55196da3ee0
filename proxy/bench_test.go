package proxy

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"testing"
	"time"
)

// discardWriter is a reusable ResponseWriter that keeps nothing, so that
// benchmarks measure the proxy and not a recorder.
type discardWriter struct{ h http.Header }

func (d *discardWriter) Header() http.Header         { return d.h }
func (d *discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (d *discardWriter) WriteHeader(int)             {}

func benchBackend(b *testing.B) *httptest.Server {
	b.Helper()
	body := []byte(`{"id":1,"status":"shipped","items":[{"sku":"a","qty":2}]}`)
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(body)
	}))
	b.Cleanup(s.Close)
	return s
}

func benchRequest() *http.Request {
	r := httptest.NewRequest("GET", "/api/orders/42?expand=items", nil)
	r.RemoteAddr = "192.0.2.10:51234"
	r.Header.Set("Cookie", "__Host-bff=0123456789abcdef0123456789abcdef")
	r.Header.Set("Accept", "application/json")
	r.Header.Set("X-Csrf", "1")
	r.Header.Set("User-Agent", "Mozilla/5.0 (bench)")
	return r
}

// run serves h in parallel with one reusable request and writer per
// goroutine.
func runProxyBench(b *testing.B, h http.Handler) {
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		r := benchRequest()
		w := &discardWriter{h: make(http.Header)}
		for pb.Next() {
			clear(w.h)
			h.ServeHTTP(w, r)
		}
	})
}

// BenchmarkServeHTTP measures one proxied call over loopback: route match,
// path check, token, rewrite, round trip and response copy.
func BenchmarkServeHTTP(b *testing.B) {
	be := benchBackend(b)
	h, err := New(Config{
		Routes: []Route{
			{Prefix: "/api/users/", Upstream: be.URL, StripPrefix: true},
			{Prefix: "/api/orders/", Upstream: be.URL + "/base", StripPrefix: true, Audience: "orders-api"},
		},
		Tokens:  staticTokens("eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl"),
		Logger:  slog.New(slog.NewTextHandler(io.Discard, nil)),
		Observe: func(context.Context, string, int, time.Duration) {},
	})
	if err != nil {
		b.Fatal(err)
	}
	runProxyBench(b, h)
}

// BenchmarkBareReverseProxy is the baseline: a bare httputil.ReverseProxy
// (SetURL, SetXForwarded) with the same tuned transport.
func BenchmarkBareReverseProxy(b *testing.B) {
	be := benchBackend(b)
	target, _ := url.Parse(be.URL + "/base")
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.SetXForwarded()
		},
		Transport: &http.Transport{MaxIdleConns: 1024, MaxIdleConnsPerHost: 256, IdleConnTimeout: 90 * time.Second},
	}
	runProxyBench(b, rp)
}
