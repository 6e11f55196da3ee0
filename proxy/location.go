package proxy

import (
	"net/http"
	"net/url"
	"strings"
)

// rewriteLocation maps a Location that points at the upstream itself (an
// absolute URL on its scheme and host, as frameworks build from the Host
// header they saw) back to this route's public path, as nginx's
// proxy_redirect does. The internal address never reaches the browser: a
// Location on the upstream that this route does not lead to is dropped.
// Locations elsewhere, and relative ones, are left alone.
func (rt *route) rewriteLocation(hdr http.Header) {
	loc := hdr.Get("Location")
	if loc == "" {
		return
	}
	u, err := url.Parse(loc)
	if err != nil || u.Host == "" || !sameOrigin(u, rt.origin) {
		return
	}
	public, ok := rt.publicPath(u.EscapedPath())
	if !ok {
		delete(hdr, "Location")
		return
	}
	if u.RawQuery != "" {
		public += "?" + u.RawQuery
	}
	if u.Fragment != "" {
		public += "#" + u.EscapedFragment()
	}
	hdr.Set("Location", public)
}

// sameOrigin compares u with the upstream's origin; a Location without a
// scheme ("//host/path") takes the upstream's.
func sameOrigin(u, origin *url.URL) bool {
	scheme := u.Scheme
	if scheme == "" {
		scheme = origin.Scheme
	}
	return strings.EqualFold(scheme, origin.Scheme) &&
		strings.EqualFold(u.Hostname(), origin.Hostname()) &&
		portOrDefault(u, scheme) == portOrDefault(origin, origin.Scheme)
}

func portOrDefault(u *url.URL, scheme string) string {
	if p := u.Port(); p != "" {
		return p
	}
	if strings.EqualFold(scheme, "https") {
		return "443"
	}
	return "80"
}

// publicPath inverts upstreamPath for an escaped upstream path: the path a
// browser sends to this route to reach it, if any.
func (rt *route) publicPath(escaped string) (string, bool) {
	rest, ok := strings.CutPrefix(escaped, rt.baseRaw)
	if !ok || !strings.HasPrefix(rest, "/") {
		return "", false
	}
	if rt.StripPrefix {
		return rt.Prefix[:len(rt.Prefix)-1] + rest, true
	}
	if !strings.HasPrefix(rest, rt.Prefix) {
		return "", false
	}
	return rest, true
}
