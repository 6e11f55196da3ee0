package bff

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// clientIP is the client's address for logs and the session list: see
// clientAddr; the TCP peer's when that is unknown.
func (s *Server) clientIP(r *http.Request) string {
	if a, ok := s.clientAddr(r); ok {
		return a.String()
	}
	host, _ := s.peer(r)
	return host
}

// clientAddr is the TCP peer, or, when the peer is a trusted proxy, the
// rightmost X-Forwarded-For hop that is not itself a trusted proxy (the
// leftmost when all are: an internal client). Hops may carry a port
// ("198.51.100.7:5123", "[2001:db8::1]:443"), as Azure Application Gateway
// sends them. false when a trusted proxy named a hop that is no address:
// the client is then unknown, which the sign-in limit must not take for
// the proxy itself.
func (s *Server) clientAddr(r *http.Request) (netip.Addr, bool) {
	host, trusted := s.peer(r)
	peer, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}, false
	}
	if !trusted {
		return peer.Unmap(), true
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	if len(r.Header.Values("X-Forwarded-For")) == 0 {
		return peer.Unmap(), true // the trusted proxy is the client
	}
	var leftmost netip.Addr
	for i := len(hops) - 1; i >= 0; i-- {
		a, ok := parseHop(hops[i])
		if !ok {
			return netip.Addr{}, false
		}
		if !s.isTrusted(a) {
			return a, true
		}
		leftmost = a
	}
	return leftmost, leftmost.IsValid()
}

// parseHop reads one X-Forwarded-For hop, with or without a port.
func parseHop(h string) (netip.Addr, bool) {
	h = strings.TrimSpace(h)
	if a, err := netip.ParseAddr(h); err == nil {
		return a.Unmap(), true
	}
	if ap, err := netip.ParseAddrPort(h); err == nil {
		return ap.Addr().Unmap(), true
	}
	return netip.Addr{}, false
}

// peer is the TCP peer's address, and whether it is a trusted proxy.
func (s *Server) peer(r *http.Request) (host string, trusted bool) {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	addr, err := netip.ParseAddr(host)
	return host, err == nil && s.isTrusted(addr)
}

func (s *Server) isTrusted(a netip.Addr) bool {
	a = a.Unmap()
	for _, p := range s.trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}
