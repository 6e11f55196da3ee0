package proxy

import (
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/netip"
	"strings"
)

// reverseProxy builds rt's ReverseProxy.
func (h *Handler) reverseProxy(rt *route, base http.RoundTripper) *httputil.ReverseProxy {
	return &httputil.ReverseProxy{
		Rewrite:        func(pr *httputil.ProxyRequest) { h.rewrite(rt, pr) },
		Transport:      routeTransport(base, rt),
		ModifyResponse: rt.modifyResponse,
		ErrorHandler:   h.errorHandler(rt),
		ErrorLog:       slog.NewLogLogger(h.log.Handler(), slog.LevelWarn),
		BufferPool:     copyBuffers,
		// FlushInterval 0: ReverseProxy already flushes every write of a
		// text/event-stream or unknown-length (streamed) response.
	}
}

// rewrite turns the inbound request into the upstream one. ReverseProxy has
// already removed hop-by-hop headers and every inbound Forwarded and
// X-Forwarded-* header.
func (h *Handler) rewrite(rt *route, pr *httputil.ProxyRequest) {
	// origin has no path, so SetURL's join leaves the request path alone
	// (no allocation); the path is set just after. SetURL also clears
	// Out.Host: the Host header is the upstream's.
	pr.SetURL(rt.origin)
	out := pr.Out
	out.URL.Path, out.URL.RawPath = rt.upstreamPath(pr.In.URL.Path, pr.In.URL.RawPath)

	hdr := out.Header
	delete(hdr, "Cookie")
	delete(hdr, "Authorization")
	delete(hdr, "Proxy-Authorization")
	// Headers some frameworks take as the "real" URL: they would let the
	// browser pick another upstream route.
	delete(hdr, "X-Original-Url")
	delete(hdr, "X-Rewrite-Url")
	// Frameworks that honour these would run a method the route does not
	// allow, or one refused on every route (TRACE echoes the bearer
	// token). The SPA can send any method itself: it never needs them.
	delete(hdr, "X-Http-Method-Override")
	delete(hdr, "X-Http-Method")
	delete(hdr, "X-Method-Override")
	if tok := tokenFrom(pr.In.Context()); tok != "" {
		hdr["Authorization"] = []string{"Bearer " + tok}
	}
	h.setForwarded(pr.In, hdr)
}

// setForwarded sets X-Forwarded-For/-Proto/-Host. From a trusted peer the
// inbound chain is extended and its proto and host kept; from anyone else
// the inbound values are ignored.
func (h *Handler) setForwarded(in *http.Request, hdr http.Header) {
	ip, _, err := net.SplitHostPort(in.RemoteAddr)
	if err != nil {
		ip = ""
	}
	proto := "http"
	if in.TLS != nil {
		proto = "https"
	}
	host := in.Host
	if ip != "" && h.isTrusted(ip) {
		if prior := in.Header["X-Forwarded-For"]; len(prior) > 0 {
			ip = strings.Join(prior, ", ") + ", " + ip
		}
		if v := in.Header["X-Forwarded-Proto"]; len(v) == 1 && (v[0] == "http" || v[0] == "https") {
			proto = v[0]
		}
		if v := in.Header["X-Forwarded-Host"]; len(v) == 1 && v[0] != "" {
			host = v[0]
		}
	} else {
		for _, k := range untrustedHeaders {
			delete(hdr, k)
		}
		if h.publicHost != "" {
			host = h.publicHost
		}
	}
	// One backing array for the three values (capacity-limited slices, so
	// a later Add cannot write into a neighbour).
	vals := [...]string{ip, proto, host}
	if ip != "" {
		hdr["X-Forwarded-For"] = vals[0:1:1]
	}
	hdr["X-Forwarded-Proto"] = vals[1:2:2]
	hdr["X-Forwarded-Host"] = vals[2:3:3]
}

// untrustedHeaders are dropped unless the peer is a trusted proxy: each
// claims something about the client only a proxy can know.
var untrustedHeaders = []string{
	"X-Real-Ip", "X-Client-Ip", "True-Client-Ip", "X-Cluster-Client-Ip", "Cf-Connecting-Ip",
	"X-Forwarded-Port", "X-Forwarded-Prefix", "X-Forwarded-Server", "X-Forwarded-Uri", "X-Original-Uri",
	"X-Original-Host", "X-Forwarded-Ssl", "X-Forwarded-Scheme", "X-Url-Scheme", "Front-End-Https",
}

func (h *Handler) isTrusted(ip string) bool {
	if len(h.trusted) == 0 {
		return false
	}
	addr, err := netip.ParseAddr(ip)
	if err != nil {
		return false
	}
	addr = addr.Unmap()
	for _, p := range h.trusted {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

// modifyResponse drops response headers an internal API must not set on
// the BFF's origin: cookies (they could overwrite or fix the session
// cookie), CORS grants (the BFF never grants cross-origin access),
// Clear-Site-Data (it could wipe the session cookie) and Alt-Svc (it would
// send the browser to another server for the whole origin); a Location on
// the upstream's own address is mapped back to the route. On routes
// called with the user's token it keeps the answer out of shared caches,
// CDNs included.
func (rt *route) modifyResponse(res *http.Response) error {
	hdr := res.Header
	delete(hdr, "Set-Cookie")
	delete(hdr, "Access-Control-Allow-Origin")
	delete(hdr, "Access-Control-Allow-Credentials")
	delete(hdr, "Access-Control-Allow-Headers")
	delete(hdr, "Access-Control-Allow-Methods")
	delete(hdr, "Access-Control-Expose-Headers")
	delete(hdr, "Clear-Site-Data")
	delete(hdr, "Alt-Svc")
	// The request ID the browser sees is the BFF's, passed to the upstream
	// with the request; an upstream's echo or its own would make two.
	delete(hdr, "X-Request-Id")
	rt.rewriteLocation(hdr)
	if rt.mode == TokenUser || rt.mode == TokenUserOptional {
		// CDNs obey their own cache headers over Cache-Control (RFC 9213),
		// nginx's proxy_cache X-Accel-Expires: none may store a per-user
		// answer.
		for name := range hdr {
			if name == "Surrogate-Control" || name == "Edge-Control" || name == "X-Accel-Expires" ||
				strings.HasSuffix(name, "Cdn-Cache-Control") {
				delete(hdr, name)
			}
		}
		if cc := hdr["Cache-Control"]; len(cc) == 0 {
			hdr["Cache-Control"] = noStore
		} else {
			hdr["Cache-Control"] = []string{privateCacheControl(cc)}
		}
	}
	return nil
}

// noStore is shared by every response that gets it, sparing an allocation
// per call; capacity 1, so an Add copies instead of writing into it.
var noStore = []string{"no-store"}

// privateCacheControl is cc made safe for a per-user answer the upstream
// produced for a bearer token, not knowing the browser's request was
// authenticated by a cookie that caches do not see: no directive lets a
// shared cache (a CDN, a company proxy) store it, and an answer without any
// directive is not stored at all. The browser's own cache keeps what the
// upstream allowed it.
func privateCacheControl(cc []string) string {
	var kept []string
	private := false
	for _, v := range cc {
		for d := range strings.SplitSeq(v, ",") {
			d = strings.TrimSpace(d)
			name, _, qualified := strings.Cut(strings.ToLower(d), "=")
			switch name {
			case "", "public", "s-maxage", "proxy-revalidate":
				continue
			case "private":
				// private="Field" lets shared caches store the rest (RFC
				// 9111 §5.2.2.7): the bare directive replaces it, as it
				// does an odd "private=".
				private = true
				if qualified {
					d = "private"
				}
			case "no-store":
				private = true
			}
			kept = append(kept, d)
		}
	}
	switch {
	case len(kept) == 0:
		return "no-store"
	case private:
		return strings.Join(kept, ", ")
	}
	return "private, " + strings.Join(kept, ", ")
}
