package proxy

import (
	"net/http"
	"strings"
)

// upgradeAllowed reports whether r is a plain request or a WebSocket
// handshake. ReverseProxy itself passes any protocol the upstream agrees to
// switch to, and a raw tunnel would carry later requests past the route's
// path, method and token rules, so every other upgrade is refused. A lone
// Upgrade header without "Connection: upgrade" is no upgrade: ReverseProxy
// drops it as hop-by-hop.
func upgradeAllowed(r *http.Request) bool {
	if !hasToken(r.Header["Connection"], "upgrade") {
		return true
	}
	up := r.Header["Upgrade"]
	return r.Method == http.MethodGet && len(up) == 1 && strings.EqualFold(strings.TrimSpace(up[0]), "websocket")
}

// hasToken reports whether a comma-separated header holds token, ignoring
// case.
func hasToken(values []string, token string) bool {
	for _, v := range values {
		for part := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(part), token) {
				return true
			}
		}
	}
	return false
}
