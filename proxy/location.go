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
// is on the upstream but no path of the route leads there (or cannot be
// parsed, which a browser might still read as the upstream).
func (rt *route) mapURL(raw string) (string, bool) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
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

// mapRefresh maps the URL of a Refresh value ("5; url=https://…", the
// url= optional and its value optionally quoted).
func (rt *route) mapRefresh(v string) (string, bool) {
	sep := strings.IndexAny(v, ";,")
	if sep < 0 {
		return v, true // a bare delay reloads the same URL
	}
	delay, target := strings.TrimSpace(v[:sep]), strings.TrimSpace(v[sep+1:])
	if len(target) >= 4 && strings.EqualFold(target[:4], "url=") {
		target = strings.TrimSpace(target[4:])
	}
	target = strings.Trim(target, `"'`)
	mapped, ok := rt.mapURL(target)
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
		if !ok {
			continue
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

// sameOrigin compares u with the upstream's origin; a URL without a scheme
// ("//host/path") takes the upstream's.
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
