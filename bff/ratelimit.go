package bff

import (
	"net/http"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// ipLimiter limits sign-in requests per client IP, so /bff/login cannot be
// used to flood the provider. Idle entries are dropped so the table cannot
// grow without bound.
type ipLimiter struct {
	limit rate.Limit
	burst int
	mu    sync.Mutex
	ips   map[string]*ipEntry
	swept time.Time
}

type ipEntry struct {
	lim  *rate.Limiter
	seen time.Time
}

const maxLimiterEntries = 100000

func newIPLimiter(cfg RateLimitConfig) *ipLimiter {
	if cfg.LoginPerMinute < 0 {
		return nil
	}
	return &ipLimiter{limit: rate.Limit(float64(cfg.LoginPerMinute) / 60), burst: cfg.Burst, ips: map[string]*ipEntry{}}
}

func (l *ipLimiter) allow(ip string, now time.Time) bool {
	if l == nil {
		return true
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.swept) > time.Minute || len(l.ips) >= maxLimiterEntries {
		// An entry idle long enough to have refilled its bucket is the same
		// as no entry.
		full := time.Duration(float64(l.burst)/float64(l.limit)) * time.Second
		for k, e := range l.ips {
			if now.Sub(e.seen) > full {
				delete(l.ips, k)
			}
		}
		l.swept = now
	}
	e, ok := l.ips[ip]
	if !ok {
		e = &ipEntry{lim: rate.NewLimiter(l.limit, l.burst)}
		l.ips[ip] = e
	}
	e.seen = now
	return e.lim.AllowN(now, 1)
}

func (s *Server) rateLimit(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !s.limiter.allow(s.clientIP(r), time.Now()) {
			s.metrics.rateLimited.Inc()
			w.Header().Set("Retry-After", "60")
			s.writeError(w, r, errorf(http.StatusTooManyRequests, "rate_limited", "Too many sign-in attempts. Wait a minute and try again.", nil))
			return
		}
		next.ServeHTTP(w, r)
	})
}
