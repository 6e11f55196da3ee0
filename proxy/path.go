package proxy

import "strings"

// Path policy. A request path is forwarded only if, in its decoded form
// (URL.Path):
//
//   - it starts with "/" and has no empty segment ("//");
//   - no segment is made only of dots and spaces ("." , "..", ". .", "...")
//     once a ";parameter" is cut off ("..;x" is ".." to Tomcat);
//   - it has no backslash, NUL or other control character;
//   - it has no percent-encoded "%2e", "%2f", "%5c", "%00" or "%25", that
//     is, the raw request was double-encoded ("%252e%252e"). Such a path is
//     refused rather than forwarded as-is, because an upstream or a
//     framework that decodes once more would see a traversal;
//
// and, in its raw form (URL.RawPath, set only when it differs from the
// default encoding), it has no "%2f", "%5c" or "%00": an encoded slash would
// let the upstream see a segment structure the route check did not.
//
// Because nothing can remove a segment, a safe path that starts with a
// route's prefix stays under that route's upstream base path, once decoded,
// and again if decoded twice (see FuzzUpstreamPath).

// pathAllowed reports whether a request's URL.Path and URL.RawPath follow
// the path policy.
func pathAllowed(path, rawPath string) bool {
	return safePath(path) && (rawPath == "" || safeRawPath(rawPath))
}

// safePath reports whether the decoded path p follows the path policy.
func safePath(p string) bool {
	if p == "" || p[0] != '/' {
		return false
	}
	segStart := 1
	for i := 1; i <= len(p); i++ {
		if i == len(p) || p[i] == '/' {
			if !safeSegment(p[segStart:i], i == len(p)) {
				return false
			}
			segStart = i + 1
			continue
		}
		switch c := p[i]; {
		case c < 0x20 || c == 0x7f || c == '\\':
			return false
		case c == '%' && i+2 < len(p) && doubleEncoded(p[i+1], p[i+2]):
			return false
		}
	}
	return true
}

// safeSegment reports whether one segment is acceptable; last is true for
// the final one, which may be empty (trailing slash).
func safeSegment(s string, last bool) bool {
	if s == "" {
		return last
	}
	if i := strings.IndexByte(s, ';'); i >= 0 {
		s = s[:i]
	}
	dots := false
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '.':
			dots = true
		case ' ':
		default:
			return true
		}
	}
	return !dots
}

// doubleEncoded reports whether "%" hi lo encodes '.', '/', '\\', NUL or
// '%' (the hex digits are matched case-insensitively).
func doubleEncoded(hi, lo byte) bool {
	lo |= 0x20 // lower-case a letter; digits are unaffected
	switch hi {
	case '2':
		return lo == 'e' || lo == 'f' || lo == '5'
	case '5':
		return lo == 'c'
	case '0':
		return lo == '0'
	}
	return false
}

// safeRawPath reports whether the escaped path raw has no encoded slash,
// backslash or NUL and no literal backslash.
func safeRawPath(raw string) bool {
	for i := 0; i < len(raw); i++ {
		switch raw[i] {
		case '\\':
			return false
		case '%':
			if i+2 >= len(raw) {
				continue
			}
			hi, lo := raw[i+1], raw[i+2]|0x20
			if hi == '2' && lo == 'f' || hi == '5' && lo == 'c' || hi == '0' && lo == '0' {
				return false
			}
		}
	}
	return true
}

// upstreamPath returns the outbound path (and its raw form when rawPath is
// set) for a request path already matched to rt and checked by safePath.
func (rt *route) upstreamPath(path, rawPath string) (string, string) {
	rest := path
	if rt.StripPrefix {
		rest = path[len(rt.Prefix)-1:]
	}
	if rawPath == "" {
		return rt.basePath + rest, ""
	}
	rawRest := rawPath
	if rt.StripPrefix {
		// With no encoded slash, the raw path has the same "/" structure as
		// the decoded one: the prefix ends at the raw path's slashes-th "/".
		n := 0
		for i := 0; i < len(rawPath); i++ {
			if rawPath[i] == '/' {
				n++
				if n == rt.slashes {
					rawRest = rawPath[i:]
					break
				}
			}
		}
	}
	return rt.basePath + rest, rt.baseRaw + rawRest
}

// resolve is the whole path decision of one request: the route that
// matches, the policy checks and the outbound path. ServeHTTP makes the same
// calls; tests and the fuzz target use resolve.
func (h *Handler) resolve(path, rawPath string) (rt *route, out, outRaw string, ok bool) {
	rt = h.match(path)
	if rt == nil || !pathAllowed(path, rawPath) {
		return rt, "", "", false
	}
	out, outRaw = rt.upstreamPath(path, rawPath)
	return rt, out, outRaw, true
}
