package proxy

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httputil"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// route is a validated Route with everything the hot path needs
// precomputed.
type route struct {
	Route // defaults filled in; handed to TokenSource and Match by pointer

	mode   string // Token with its default
	origin *url.URL
	// upstreamHost is the upstream's host as browserURL writes it, for
	// finding it in answers.
	upstreamHost string
	basePath     string // upstream path without its final "/"; "" for none
	baseRaw      string // escaped form of basePath
	slashes      int    // number of "/" in Prefix
	allowAll     bool   // Methods empty
	allow        string // Allow header for 405
	rp           *httputil.ReverseProxy
	handler      http.Handler // routeHandler in Config.Middleware
	// transport dials the upstream (under the tracing and DPoP wrappers).
	transport http.RoundTripper
	// nonce is the upstream server's last DPoP nonce, shared by every
	// route to the same origin.
	nonce *nonceCell
}

// userToken reports whether rt's calls carry the user's token (or would,
// for a signed-in user).
func (rt *route) userToken() bool { return rt.mode == TokenUser || rt.mode == TokenUserOptional }

// allows reports whether method may be proxied on rt.
func (rt *route) allows(method string) bool {
	if rt.allowAll {
		// TRACE (and IIS's TRACK) would echo the bearer token back to the
		// caller; CONNECT would open a tunnel. Compared without case, as
		// some servers do.
		for _, m := range echoMethods {
			if strings.EqualFold(method, m) {
				return false
			}
		}
		return true
	}
	for _, m := range rt.Methods {
		if m == method {
			return true
		}
	}
	return false
}

var echoMethods = []string{http.MethodTrace, "TRACK", http.MethodConnect}

// reservedSegments are first path segments the BFF serves itself.
var reservedSegments = []string{"bff", "healthz", "readyz", "metrics"}

func compileRoutes(routes []Route, haveTokens bool) ([]*route, error) {
	var errs []error
	out := make([]*route, 0, len(routes))
	for i, r := range routes {
		rt, problems := compileRoute(r)
		for _, p := range problems {
			errs = append(errs, fmt.Errorf("proxy: route %d (%q): %s", i, r.Prefix, p))
		}
		if r.Token != TokenNone && !haveTokens {
			errs = append(errs, fmt.Errorf("proxy: route %d (%q): token mode %q needs Config.Tokens, which is nil", i, r.Prefix, r.Token))
		}
		out = append(out, rt)
	}
	for i := range routes {
		for j := i + 1; j < len(routes); j++ {
			a, b := routes[i].Prefix, routes[j].Prefix
			if a == "" || b == "" {
				continue
			}
			if strings.HasPrefix(a, b) || strings.HasPrefix(b, a) {
				errs = append(errs, fmt.Errorf("proxy: route %d (%q) overlaps route %d (%q): one prefix is a prefix of the other", j, b, i, a))
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return out, nil
}

// compileRoute validates r and returns it compiled, or the problems found
// (rt is nil only when a problem makes it unusable).
func compileRoute(r Route) (*route, []string) {
	var problems []string
	problems = append(problems, prefixProblems(r.Prefix)...)
	u, upProblems := parseUpstream(r.Upstream)
	problems = append(problems, upProblems...)

	rt := &route{Route: r}
	rt.Methods = slices.Clone(r.Methods)
	rt.Scopes = slices.Clone(r.Scopes)
	switch r.Token {
	case "":
		rt.Token = TokenUser
	case TokenUser, TokenUserOptional, TokenClient, TokenNone:
	default:
		problems = append(problems, fmt.Sprintf("token %q: want one of user, user-optional, client, none", r.Token))
	}
	rt.mode = rt.Token
	switch r.Exchange {
	case "":
		rt.Exchange = ExchangeRefresh
	case ExchangeRefresh, ExchangeTokenExchange:
	default:
		problems = append(problems, fmt.Sprintf("exchange %q: want refresh or token-exchange", r.Exchange))
	}
	switch {
	case r.Timeout < 0:
		problems = append(problems, fmt.Sprintf("timeout %v: must not be negative", r.Timeout))
	case r.Timeout == 0:
		rt.Timeout = DefaultTimeout
	}
	problems = append(problems, methodProblems(r.Methods)...)
	for _, s := range r.Scopes {
		if s == "" || strings.ContainsAny(s, " \t\r\n\"\\") {
			problems = append(problems, fmt.Sprintf("scope %q: must be a non-empty RFC 6749 scope token", s))
		}
	}
	if r.Resource != "" {
		if ru, err := url.Parse(r.Resource); err != nil || !ru.IsAbs() || ru.Fragment != "" {
			problems = append(problems, "resource: must be an absolute URI without a fragment (RFC 8707)")
		}
	}
	if len(problems) > 0 {
		return nil, problems
	}

	rt.origin = &url.URL{Scheme: u.Scheme, Host: u.Host}
	rt.upstreamHost = canonicalHost(u.Hostname())
	rt.basePath = strings.TrimSuffix(u.Path, "/")
	rt.baseRaw = strings.TrimSuffix(u.EscapedPath(), "/")
	rt.slashes = strings.Count(r.Prefix, "/")
	rt.allowAll = len(rt.Methods) == 0
	if slices.Contains(rt.Methods, http.MethodGet) && !slices.Contains(rt.Methods, http.MethodHead) {
		rt.Methods = append(rt.Methods, http.MethodHead)
	}
	rt.allow = strings.Join(rt.Methods, ", ")
	return rt, nil
}

func prefixProblems(p string) []string {
	switch {
	case p == "":
		return []string{"prefix is required"}
	case p == "/":
		return []string{`prefix must not be "/": it would capture /bff/ and the SPA`}
	case p[0] != '/' || p[len(p)-1] != '/':
		return []string{`prefix must start and end with "/"`}
	}
	var problems []string
	for i := 0; i < len(p); i++ {
		if c := p[i]; !isUnreserved(c) && c != '/' {
			problems = append(problems, fmt.Sprintf(`prefix has %q: only letters, digits, "-", ".", "_", "~" and "/" are allowed`, c))
			break
		}
	}
	segs := strings.Split(p[1:len(p)-1], "/")
	for _, s := range segs {
		switch s {
		case "":
			problems = append(problems, "prefix has an empty path segment")
		case ".", "..":
			problems = append(problems, fmt.Sprintf("prefix has a %q segment", s))
		default:
			continue
		}
		break
	}
	for _, r := range reservedSegments {
		if strings.EqualFold(segs[0], r) {
			problems = append(problems, fmt.Sprintf("prefix is under /%s/, which the BFF serves itself", r))
		}
	}
	return problems
}

func isUnreserved(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '-' || c == '.' || c == '_' || c == '~'
}

func parseUpstream(s string) (*url.URL, []string) {
	if s == "" {
		return nil, []string{"upstream is required"}
	}
	u, err := url.Parse(s)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // url.Error repeats the URL, which may hold credentials
		}
		return nil, []string{fmt.Sprintf("upstream: not a URL: %v", err)}
	}
	var problems []string
	if u.User != nil {
		// Do not print the URL: it holds credentials.
		return nil, []string{"upstream must not contain userinfo (credentials)"}
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		problems = append(problems, fmt.Sprintf("upstream %q: scheme must be http or https", s))
	}
	if u.Host == "" || u.Hostname() == "" {
		problems = append(problems, fmt.Sprintf("upstream %q: must be absolute with a host", s))
	}
	for i := 0; i < len(u.Host); i++ {
		if u.Host[i] >= 0x80 {
			problems = append(problems, fmt.Sprintf("upstream %q: host must be ASCII (use the xn-- form)", s))
			break
		}
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			problems = append(problems, fmt.Sprintf("upstream %q: bad port", s))
		}
	}
	if u.RawQuery != "" || u.ForceQuery {
		problems = append(problems, fmt.Sprintf("upstream %q: must not have a query", s))
	}
	if strings.Contains(s, "#") {
		problems = append(problems, fmt.Sprintf("upstream %q: must not have a fragment", s))
	}
	if u.Opaque != "" || (u.Path != "" && !safePath(u.Path)) || (u.RawPath != "" && !safeRawPath(u.RawPath)) {
		problems = append(problems, fmt.Sprintf("upstream %q: path must be clean (no empty, dot or encoded-slash segments)", s))
	}
	return u, problems
}

func methodProblems(methods []string) []string {
	var problems []string
	for _, m := range methods {
		switch {
		case m == "" || strings.IndexFunc(m, func(r rune) bool { return !isTokenChar(r) }) >= 0:
			problems = append(problems, fmt.Sprintf("method %q: not an HTTP method token", m))
		case m != strings.ToUpper(m):
			problems = append(problems, fmt.Sprintf("method %q: methods are case-sensitive; use %q", m, strings.ToUpper(m)))
		case m == http.MethodTrace || m == http.MethodConnect:
			problems = append(problems, fmt.Sprintf("method %q: never proxied", m))
		}
	}
	return problems
}

// isTokenChar reports whether r is an RFC 9110 tchar.
func isTokenChar(r rune) bool {
	return r < 0x80 && (isUnreserved(byte(r)) || strings.ContainsRune("!#$%&'*+^`|", r))
}

// sortByPrefixLen returns routes ordered longest prefix first.
func sortByPrefixLen(routes []*route) []*route {
	s := slices.Clone(routes)
	slices.SortStableFunc(s, func(a, b *route) int { return len(b.Prefix) - len(a.Prefix) })
	return s
}
