package proxy

import (
	"net/http"
	"net/url"
	"strings"
)

// rewriteAddresses maps every URL on the upstream's own address (an
// absolute URL on its scheme and host, as frameworks build from the Host
// header they saw) back to this route's public path, as nginx's
// proxy_redirect does, in each header that carries one: every Location
// value, Content-Location, Refresh ("5; url=…") and each Link value. The
// internal address never reaches the browser: a URL on the upstream that
// this route does not lead to is dropped (with its Link value, or the whole
// header). URLs elsewhere, and relative ones, are left alone.
func (rt *route) rewriteAddresses(hdr http.Header) {
	for _, name := range [...]string{"Location", "Content-Location"} {
		vals := hdr[name]
		if len(vals) == 0 {
			continue
		}
		kept := vals[:0:0]
		for _, v := range vals {
			if mapped, ok := rt.mapURL(v); ok {
				kept = append(kept, mapped)
			}
		}
		setOrDelete(hdr, name, kept)
	}
	if vals := hdr["Refresh"]; len(vals) > 0 {
		kept := vals[:0:0]
		for _, v := range vals {
			if mapped, ok := rt.mapRefresh(v); ok {
				kept = append(kept, mapped)
			}
		}
		setOrDelete(hdr, "Refresh", kept)
	}
	if vals := hdr["Link"]; len(vals) > 0 {
		kept := vals[:0:0]
		for _, v := range vals {
			if mapped := rt.mapLinks(v); mapped != "" {
				kept = append(kept, mapped)
			}
		}
		setOrDelete(hdr, "Link", kept)
	}
}

func setOrDelete(hdr http.Header, name string, vals []string) {
	if len(vals) == 0 {
		delete(hdr, name)
		return
	}
	hdr[name] = vals
}

// mapURL returns raw with the upstream's address mapped to the route's
// public path, raw itself when it is not on the upstream, or false when it
// is on the upstream but no path of the route leads there, or when a
// browser would not read it as a URL at all. It reads raw as a browser
// does (browserURL).
func (rt *route) mapURL(raw string) (string, bool) {
	u, ok := browserURL(raw)
	if !ok {
		return "", false
	}
	if u.Host == "" || !sameOrigin(u, rt.origin) {
		return raw, true
	}
	public, ok := rt.publicPath(u.EscapedPath())
	if !ok {
		return "", false
	}
	if u.RawQuery != "" {
		public += "?" + u.RawQuery
	}
	if u.Fragment != "" {
		public += "#" + u.EscapedFragment()
	}
	return public, true
}

// mapRefresh maps the URL of a Refresh value, parsed as the HTML Standard
// does: a delay, then ";", "," or white space, then an optional "url=",
// then the URL, optionally quoted.
func (rt *route) mapRefresh(v string) (string, bool) {
	rest := strings.TrimLeft(v, " \t\n\f\r")
	i := 0
	for i < len(rest) && ('0' <= rest[i] && rest[i] <= '9' || rest[i] == '.') {
		i++
	}
	if i == 0 {
		return "", false // not a refresh browsers act on; drop rather than guess
	}
	delay, rest := rest[:i], strings.TrimLeft(rest[i:], " \t\n\f\r")
	if rest != "" && (rest[0] == ';' || rest[0] == ',') {
		rest = strings.TrimLeft(rest[1:], " \t\n\f\r")
	}
	if rest == "" {
		return v, true // a bare delay reloads the same URL
	}
	if len(rest) >= 3 && strings.EqualFold(rest[:3], "url") {
		if after := strings.TrimLeft(rest[3:], " \t\n\f\r"); strings.HasPrefix(after, "=") {
			rest = strings.TrimLeft(after[1:], " \t\n\f\r")
		}
	}
	if rest != "" && (rest[0] == '"' || rest[0] == '\'') {
		if end := strings.IndexByte(rest[1:], rest[0]); end >= 0 {
			rest = rest[1 : 1+end]
		} else {
			rest = rest[1:]
		}
	}
	mapped, ok := rt.mapURL(rest)
	if !ok {
		return "", false
	}
	return delay + "; url=" + mapped, true
}

// mapLinks maps the target of each link-value in a Link header (RFC 8288:
// `<uri-reference>; params`, comma-separated; commas may appear inside
// quoted params) and drops the link-values it cannot map. It returns "" when
// none is left.
func (rt *route) mapLinks(v string) string {
	var out []string
	for rest := v; ; {
		rest = strings.TrimLeft(rest, " \t,")
		if rest == "" {
			break
		}
		if rest[0] != '<' {
			return strings.Join(out, ", ") // malformed: keep what was mapped
		}
		end := strings.IndexByte(rest, '>')
		if end < 0 {
			break
		}
		target := rest[1:end]
		params, next := splitLinkParams(rest[end+1:])
		rest = next
		mapped, ok := rt.mapURL(target)
		if !ok || rt.namesUpstream(params) {
			continue // params such as anchor= and imagesrcset= hold URLs too
		}
		out = append(out, "<"+mapped+">"+params)
	}
	return strings.Join(out, ", ")
}

// splitLinkParams returns the params of one link-value (up to the first
// comma outside quotes) and what follows that comma.
func splitLinkParams(s string) (params, rest string) {
	inQuote := false
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			if inQuote {
				i++
			}
		case '"':
			inQuote = !inQuote
		case ',':
			if !inQuote {
				return s[:i], s[i+1:]
			}
		}
	}
	return s, ""
}

// namesUpstream reports whether s names the upstream's host in any
// spelling net/url or a browser would read, for values that are not one
// URL (Link params, a CSP's report-uri).
func (rt *route) namesUpstream(s string) bool {
	s = strings.ToLower(s)
	if containsHost(s, rt.upstreamHost) {
		return true
	}
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return strings.ContainsRune(" \t,;\"'<>=", r) }) {
		if u, ok := browserURL(f); ok && u.Host != "" && strings.EqualFold(u.Hostname(), rt.upstreamHost) {
			return true
		}
	}
	return false
}

// sameOrigin compares u, read by browserURL, with the upstream's origin; a
// URL without a scheme ("//host/path") takes the upstream's.
func sameOrigin(u, origin *url.URL) bool {
	scheme := u.Scheme
	if scheme == "" {
		scheme = origin.Scheme
	}
	return strings.EqualFold(scheme, origin.Scheme) &&
		u.Hostname() == canonicalHost(origin.Hostname()) &&
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

// containsHost reports whether host occurs in s as a whole host name: not
// inside a longer name.
func containsHost(s, host string) bool {
	for i := 0; ; {
		j := strings.Index(s[i:], host)
		if j < 0 {
			return false
		}
		start, end := i+j, i+j+len(host)
		if (start == 0 || !isHostByte(s[start-1])) && (end == len(s) || !isHostByte(s[end]) || s[end] == '.' && (end+1 == len(s) || !isHostByte(s[end+1]))) {
			return true
		}
		i = start + 1
	}
}

func isHostByte(c byte) bool {
	return 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_'
}
