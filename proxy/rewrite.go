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
		Transport:      h.traced(&dpopTransport{next: rt.transport, rt: rt, h: h}, rt),
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
	// A browser's own DPoP proof proves nothing the BFF vouches for.
	delete(hdr, "Dpop")
	delete(hdr, "Proxy-Authorization")
	// Frameworks that honour these would run a method the route does not
	// allow, or one refused on every route (TRACE echoes the bearer
	// token). The SPA can send any method itself: it never needs them.
	delete(hdr, "X-Http-Method-Override")
	delete(hdr, "X-Http-Method")
	delete(hdr, "X-Method-Override")
	// Addresses, hosts, schemes, prefixes, certificates and identities
	// only a proxy may claim; the original URL (X-Original-Url and kin),
	// which would let the browser pick another upstream route.
	dropClientClaims(hdr)
	// Everything the BFF sets is set here, after ReverseProxy removed the
	// headers the browser's Connection header named: "Connection:
	// X-Request-Id" must not cost the upstream the request ID.
	if id := pr.In.Header["X-Request-Id"]; id != nil {
		hdr["X-Request-Id"] = id
	}
	if h.propagator != nil {
		// The upstream joins the BFF's trace (otelhttp sets these from the
		// call's span); the browser's own are not passed on beside them.
		delete(hdr, "Traceparent")
		delete(hdr, "Tracestate")
	}
	if cred := tokenFrom(pr.In.Context()); cred.Token != "" {
		if cred.Proof == nil {
			hdr["Authorization"] = []string{"Bearer " + cred.Token}
		} else {
			h.setDPoP(rt, out, cred)
		}
	}
	h.setForwarded(pr.In, hdr)
}

// setForwarded sets X-Forwarded-For/-Proto/-Host, which rewrite has
// removed with every other client claim. From a trusted peer the inbound
// chain is extended and its proto and host kept; from anyone else the
// inbound values are ignored.
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
	} else if h.publicHost != "" {
		host = h.publicHost
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
