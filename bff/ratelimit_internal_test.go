package bff

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"
	"time"

	"github.com/bff-project/bff/bff/config"
)

// The limiter's memory is bounded however many addresses a client uses,
// and a bucket idle long enough to be full again is dropped.
func TestLoginLimiterBounded(t *testing.T) {
	l := newLoginLimiter(config.RateLimitConfig{LoginPerMinute: 60, Burst: 2})
	l.max = 100
	now := time.Unix(1e9, 0)
	for i := range 10_000 {
		a := netip.AddrFrom4([4]byte{198, 18, byte(i >> 8), byte(i)})
		l.allow(a, now)
		if n := len(l.cur) + len(l.prev); n > 2*l.max {
			t.Fatalf("after %d addresses the limiter holds %d buckets, want at most %d", i+1, n, 2*l.max)
		}
	}
	// A throttled address stays throttled within its window...
	l = newLoginLimiter(config.RateLimitConfig{LoginPerMinute: 60, Burst: 2})
	a := netip.MustParseAddr("203.0.113.1")
	l.allow(a, now)
	l.allow(a, now)
	if l.allow(a, now) {
		t.Fatal("third sign-in at once with burst 2 allowed")
	}
	// ... also across a rotation (here forced by a full generation) ...
	l.max = 2
	l.allow(netip.MustParseAddr("203.0.113.2"), now)
	l.allow(netip.MustParseAddr("203.0.113.3"), now) // rotates: a is in prev now
	if _, ok := l.prev[limiterKey(a)]; !ok {
		t.Fatal("no rotation happened")
	}
	if l.allow(a, now) {
		t.Error("throttled bucket reset by a rotation")
	}
	l.max = maxLimiterEntries
	// ... and is forgotten after two idle spans.
	later := now.Add(3 * l.span)
	l.allow(netip.MustParseAddr("203.0.113.4"), later)
	l.allow(netip.MustParseAddr("203.0.113.5"), later.Add(l.span))
	if _, ok := l.cur[limiterKey(a)]; ok {
		t.Error("idle bucket still in the current generation")
	}
	if _, ok := l.prev[limiterKey(a)]; ok {
		t.Error("idle bucket still in the previous generation")
	}
}

func TestLimiterKey(t *testing.T) {
	for _, tt := range []struct{ a, b string }{
		{"2001:db8::1", "2001:db8::ffff:1"},
		{"::ffff:203.0.113.5", "203.0.113.5"},
		{"64:ff9b::cb00:7105", "203.0.113.5"},      // RFC 6052 well-known prefix
		{"64:ff9b:1:cb00:71:500::", "203.0.113.5"}, // RFC 6052 /48 local-use prefix
	} {
		if ka, kb := limiterKey(netip.MustParseAddr(tt.a)), limiterKey(netip.MustParseAddr(tt.b)); ka != kb {
			t.Errorf("limiterKey(%s) = %v, limiterKey(%s) = %v, want one bucket", tt.a, ka, tt.b, kb)
		}
	}
	if limiterKey(netip.MustParseAddr("2001:db8:0:1::1")) == limiterKey(netip.MustParseAddr("2001:db8:0:2::1")) {
		t.Error("two /64s share a bucket")
	}
	// Review of issue 13: every IPv4 client behind a NAT64 shared one /64.
	if limiterKey(netip.MustParseAddr("64:ff9b::cb00:7105")) == limiterKey(netip.MustParseAddr("64:ff9b::cb00:7109")) {
		t.Error("two IPv4 clients behind NAT64 share a bucket")
	}
}

// Review of issue 13: a hop with a port, or a chain of trusted hops only,
// made every client the proxy itself, one bucket for the whole site.
func TestClientAddr(t *testing.T) {
	s := &Server{trusted: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("10.0.0.0/8")}}
	for _, tt := range []struct {
		name, peer string
		xff        []string
		want       string // "" means unknown
	}{
		{"untrusted peer", "198.51.100.1:5000", []string{"203.0.113.9"}, "198.51.100.1"},
		{"trusted peer without XFF", "127.0.0.1:5000", nil, "127.0.0.1"},
		{"rightmost untrusted hop", "127.0.0.1:5000", []string{"6.6.6.6, 203.0.113.9, 10.1.1.1"}, "203.0.113.9"},
		{"hop with a port", "127.0.0.1:5000", []string{"203.0.113.9:6123"}, "203.0.113.9"},
		{"IPv6 hop with a port", "127.0.0.1:5000", []string{"[2001:db8::7]:443"}, "2001:db8::7"},
		{"all hops trusted", "127.0.0.1:5000", []string{"10.0.0.5, 10.0.0.6"}, "10.0.0.5"},
		{"garbage hop", "127.0.0.1:5000", []string{"unknown"}, ""},
		{"garbage beyond a good hop", "127.0.0.1:5000", []string{"garbage, 203.0.113.9"}, "203.0.113.9"},
	} {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.RemoteAddr = tt.peer
		for _, v := range tt.xff {
			r.Header.Add("X-Forwarded-For", v)
		}
		a, ok := s.clientAddr(r)
		got := ""
		if ok {
			got = a.String()
		}
		if got != tt.want {
			t.Errorf("%s: clientAddr() = %q, want %q", tt.name, got, tt.want)
		}
	}
}
