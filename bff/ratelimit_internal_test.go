package bff

import (
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
	} {
		if ka, kb := limiterKey(netip.MustParseAddr(tt.a)), limiterKey(netip.MustParseAddr(tt.b)); ka != kb {
			t.Errorf("limiterKey(%s) = %v, limiterKey(%s) = %v, want one bucket", tt.a, ka, tt.b, kb)
		}
	}
	if limiterKey(netip.MustParseAddr("2001:db8:0:1::1")) == limiterKey(netip.MustParseAddr("2001:db8:0:2::1")) {
		t.Error("two /64s share a bucket")
	}
}
