package bff

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
)

type ctxKey int

const (
	requestIDKey ctxKey = iota
)

func requestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey).(string)
	return id
}

// Request IDs are a random per-process prefix and a counter: unique across
// instances and restarts for matching a user's report to a log line, and
// cheap on the hot path. They are not secrets.
var (
	requestIDPrefix = func() string {
		var b [5]byte
		_, _ = rand.Read(b[:])
		return strings.ToLower(base32.StdEncoding.EncodeToString(b[:]))
	}()
	requestCounter atomic.Uint64
)

func newRequestID() string {
	return requestIDPrefix + strconv.FormatUint(requestCounter.Add(1), 36)
}

// maxBFFBody bounds every /bff/* request body.
const maxBFFBody = 64 << 10

// bffCSP allows nothing but the inline style of the error page.
const bffCSP = "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"

// bffHeaders marks every /bff/* answer as private and unframeable: none of
// them may be cached, and none should leak a URL through Referer.
func bffHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// No /bff endpoint takes more than a logout token's form.
		r.Body = http.MaxBytesReader(w, r.Body, maxBFFBody)
		h := w.Header()
		h.Set("Cache-Control", "no-store")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Content-Security-Policy", bffCSP)
		next.ServeHTTP(w, r)
	})
}

// csrfGuard is the anti-forgery check of every JSON endpoint and API route.
// A browser only sends a custom header cross-origin after a CORS preflight,
// which the BFF never grants, so X-CSRF: 1 proves the request was made by
// the application's own scripts. Sec-Fetch-Site: cross-site is refused
// outright. A WebSocket handshake cannot carry custom headers, so it is
// checked by its Origin instead.
func (s *Server) csrfGuard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !s.sameOriginRequest(r) {
			s.writeError(w, r, errCSRF)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (s *Server) sameOriginRequest(r *http.Request) bool {
	if r.Header.Get("Sec-Fetch-Site") == "cross-site" {
		return false
	}
	if isWebSocketUpgrade(r) {
		return s.isPublicOrigin(r.Header.Get("Origin"))
	}
	if r.Header.Get("X-CSRF") != "1" {
		return false
	}
	// A browser always sends Origin on non-GET fetches; when present it must
	// be ours.
	if o := r.Header.Get("Origin"); o != "" && !s.isPublicOrigin(o) {
		return false
	}
	return true
}

func (s *Server) isPublicOrigin(origin string) bool {
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" {
		return false
	}
	return strings.EqualFold(u.Scheme, s.publicURL.Scheme) && strings.EqualFold(u.Host, s.publicURL.Host)
}

func isWebSocketUpgrade(r *http.Request) bool {
	return strings.EqualFold(r.Header.Get("Upgrade"), "websocket") &&
		headerHasToken(r.Header, "Connection", "upgrade")
}

func headerHasToken(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		for _, part := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(part), token) {
				return true
			}
		}
	}
	return false
}
