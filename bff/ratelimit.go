package bff

import (
	"net/http"
	"net/netip"
	"sync"
	"time"

	"github.com/bff-project/bff/bff/config"
	"golang.org/x/time/rate"
)

// loginLimiter limits sign-ins per client address: starts at /bff/login,
// and, separately, callbacks that carry a live sign-in flow (the ones that
// cost a call to the provider's token endpoint and a store write; a
// callback without one is refused before any work and is not counted).
//
// What it protects is the provider and the store from one address that
// scripts sign-ins; it must never stand between real users and sign-in.
// So the default is generous (a whole office behind one NAT signs in at
// once), IPv6 clients are keyed by their /64 (one host can use its whole
// prefix), and an untrusted private or loopback peer is not limited at all:
// that is almost always a load balancer missing from trusted_proxies, and
// limiting it would limit the whole site as one client.
//
// Buckets live in two generations of a map: each generation spans the time
// a bucket takes to refill, so a bucket idle that long (as good as new) is
// dropped with its generation, all at once, in O(1); a generation is also
// retired early when it holds max entries, which bounds memory to 2 × max.
type loginLimiter struct {
	limit rate.Limit
	burst int
	span  time.Duration
	max   int
	mu    sync.Mutex
	cur   map[netip.Prefix]*rate.Limiter
	prev  map[netip.Prefix]*rate.Limiter
	since time.Time // when cur began
}

// maxLimiterEntries bounds one generation of a loginLimiter.
const maxLimiterEntries = 100_000

func newLoginLimiter(cfg config.RateLimitConfig) *loginLimiter {
	if cfg.LoginPerMinute < 0 {
		return nil
	}
	perSecond := float64(cfg.LoginPerMinute) / 60
	span := time.Duration(float64(cfg.Burst) / perSecond * float64(time.Second))
	return &loginLimiter{
		limit: rate.Limit(perSecond), burst: cfg.Burst, span: max(span, time.Minute), max: maxLimiterEntries,
		cur: map[netip.Prefix]*rate.Limiter{},
	}
}

// allow takes one sign-in from addr's bucket.
func (l *loginLimiter) allow(addr netip.Addr, now time.Time) bool {
	if l == nil || !addr.IsValid() {
		return true
	}
	key := limiterKey(addr)
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.since) >= l.span || len(l.cur) >= l.max {
		l.prev, l.cur, l.since = l.cur, make(map[netip.Prefix]*rate.Limiter, min(len(l.cur), l.max)), now
	}
	lim, ok := l.cur[key]
	if !ok {
		if lim, ok = l.prev[key]; !ok {
			lim = rate.NewLimiter(l.limit, l.burst)
		}
		l.cur[key] = lim
	}
	return lim.AllowN(now, 1)
}

// nat64 are the RFC 6052 prefixes whose addresses embed an IPv4 client in
// their last 32 bits (the well-known one and the local-use one).
var nat64 = []netip.Prefix{netip.MustParsePrefix("64:ff9b::/96"), netip.MustParsePrefix("64:ff9b:1::/48")}

// limiterKey is the bucket of an address: an IPv4 address alone (also one
// behind an RFC 6052 translator, whose IPv6 form is one /64 for every IPv4
// client), any other IPv6 address by its /64, which one host may own.
func limiterKey(a netip.Addr) netip.Prefix {
	a = a.Unmap()
	if b := a.As16(); a.Is6() {
		switch {
		case nat64[0].Contains(a):
			a = netip.AddrFrom4([4]byte{b[12], b[13], b[14], b[15]})
		case nat64[1].Contains(a): // /48: bits 48-63 and 72-87 (RFC 6052 2.2)
			a = netip.AddrFrom4([4]byte{b[6], b[7], b[9], b[10]})
		}
	}
	bits := 32
	if a.Is6() {
		bits = 64
	}
	p, _ := a.Prefix(bits)
	return p
}

// limitLogins guards sign-in starts.
func (s *Server) limitLogins(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !s.allowSignIn(r, s.loginStarts) {
			w.Header().Set("Retry-After", "60")
			s.writeError(w, r, errRateLimited)
			return
		}
		next.ServeHTTP(w, r)
	})
}

var errRateLimited = errorf(http.StatusTooManyRequests, "rate_limited",
	"Too many sign-in attempts from your network. Wait a minute and try again.", nil)

// allowSignIn takes one sign-in of r's client from l, unless the client
// cannot be told apart from others (an untrusted private peer).
func (s *Server) allowSignIn(r *http.Request, l *loginLimiter) bool {
	if l == nil {
		return true
	}
	addr, ok := s.clientAddr(r)
	if !ok {
		return true // a proxy sent no usable address: no bucket is this client's
	}
	if host, trusted := s.peer(r); !trusted && (addr.IsPrivate() || addr.IsLoopback() || addr.IsLinkLocalUnicast()) {
		if len(r.Header["X-Forwarded-For"]) > 0 {
			s.unlistedProxy.Do(func() {
				s.log.Warn("requests from a private address carry X-Forwarded-For, but it is not in trusted_proxies: "+
					"sign-ins from it are not rate-limited and the client IP in logs and the session list is the proxy's; "+
					"list the load balancer in trusted_proxies", "peer", host)
			})
		}
		return true
	}
	if l.allow(addr, time.Now()) {
		return true
	}
	s.metrics.rateLimited.Inc()
	return false
}
