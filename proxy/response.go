package proxy

import (
	"io"
	"net/http"
	"strings"
)

// APIContentSecurityPolicy is the Content-Security-Policy given to every
// proxied answer that has none of its own, unless its route sets
// PassthroughCSP. An API answer is data for the SPA's scripts, never a
// page: should a browser be made to open one (a link to /api/…), nothing in
// it may run, load, be framed or reach the origin's cookies and storage.
const APIContentSecurityPolicy = "default-src 'none'; frame-ancestors 'none'; sandbox"

// droppedResponseHeaders (lower case) act on the whole origin, on the
// front proxy, or on the browser's view of the BFF, none of which an
// internal API may do: cookies (they could replace or fix the session
// cookie), CORS grants (the BFF grants no cross-origin access),
// Clear-Site-Data (it wipes the session cookie), Alt-Svc (it moves the
// origin to another server), HSTS (the BFF sets its own; an API's max-age=0
// would turn it off), Service-Worker-Allowed (a worker for the whole
// origin), Origin-Agent-Cluster, Timing-Allow-Origin, the reporting and
// pinning policies, persistent client hints, the front proxy's own
// directives (nginx X-Accel-*, X-Sendfile, LiteSpeed) and the request ID
// (the browser sees the BFF's).
var droppedResponseHeaders = map[string]bool{
	"set-cookie": true, "set-cookie2": true, "clear-site-data": true, "alt-svc": true,
	"strict-transport-security": true, "service-worker-allowed": true, "origin-agent-cluster": true,
	"timing-allow-origin": true, "nel": true, "report-to": true, "reporting-endpoints": true,
	"expect-ct": true, "public-key-pins": true, "public-key-pins-report-only": true,
	"accept-ch": true, "accept-ch-lifetime": true, "critical-ch": true,
	"x-sendfile": true, "x-lighttpd-send-file": true, "x-lighttpd-sendfile": true,
	"proxy-authenticate": true, "x-request-id": true,
	// A DPoP nonce (RFC 9449 section 9) is for the BFF, which holds the
	// key; the browser has nothing to do with it.
	"dpop-nonce": true,
	// Browser state kept per origin: FedCM login status, device-bound
	// sessions, shared storage, topics, prerendering and speculation.
	"set-login": true, "secure-session-registration": true, "sec-session-registration": true,
	"secure-session-challenge": true, "sec-session-challenge": true, "shared-storage-write": true,
	"observe-browsing-topics": true, "supports-loading-mode": true, "speculation-rules": true,
}

// droppedResponsePrefixes (lower case) are whole families of such headers.
var droppedResponsePrefixes = []string{"access-control-", "x-accel-", "x-litespeed-", "x-sendfile-", "attribution-reporting-"}

// bffResponseHeaders (lower case) are set or rewritten by the filter on the
// header section, so a trailer of the same name, which some clients merge
// into the headers, is dropped.
var bffResponseHeaders = map[string]bool{
	"content-type": true, "content-security-policy": true, "x-content-type-options": true,
	"cache-control": true, "location": true, "content-location": true, "refresh": true,
	"link": true, "www-authenticate": true, "content-length": true, "content-encoding": true,
	"transfer-encoding": true, "trailer": true, "vary": true, "expires": true, "pragma": true,
}

// droppedResponseHeader reports whether an upstream may not send name.
func droppedResponseHeader(name string) bool {
	var buf [64]byte
	var n []byte
	if len(name) > len(buf) {
		n = normalizeName(name, make([]byte, len(name)))
	} else {
		n = normalizeName(name, buf[:len(name)])
	}
	if droppedResponseHeaders[string(n)] {
		return true
	}
	for _, p := range droppedResponsePrefixes {
		if len(n) >= len(p) && string(n[:len(p)]) == p {
			return true
		}
	}
	return false
}

var droppedVerdicts = nameVerdicts{classify: droppedResponseHeader}

// modifyResponse is the one response filter, on every route: it drops what
// an API must not send (droppedResponseHeader, challenges that would make
// the browser ask for a password, trailers of either kind), maps the
// upstream's own address back to the route in Location, Content-Location,
// Refresh and Link, makes the answer inert should a browser open it
// (nosniff, a Content-Type, APIContentSecurityPolicy), and, on routes
// called with the user's token, keeps it out of shared caches and turns an
// RFC 9470 step-up challenge into Config.StepUp's answer (stepup.go).
func (rt *route) modifyResponse(res *http.Response) error {
	if res.StatusCode == http.StatusUnauthorized && rt.userToken() {
		if c, ok := stepUpChallenge(res.Header["Www-Authenticate"]); ok {
			return &stepUpError{c} // the error handler answers instead
		}
	}
	hdr := res.Header
	for name := range hdr {
		if droppedVerdicts.is(name) {
			delete(hdr, name)
		}
	}
	dropPasswordChallenges(hdr)
	rt.rewriteAddresses(hdr)
	if res.StatusCode != http.StatusSwitchingProtocols {
		rt.setInert(hdr, res.StatusCode)
	}
	if rt.userToken() {
		keepFromSharedCaches(hdr)
	}
	filterTrailers(res)
	return nil
}

var (
	// Shared by every response that gets them, sparing an allocation per
	// call; capacity 1, so an Add copies instead of writing into them.
	noStore     = []string{"no-store"}
	noSniff     = []string{"nosniff"}
	octetStream = []string{"application/octet-stream"}
	apiCSP      = []string{APIContentSecurityPolicy}
)

// setInert makes sure a browser that opens the answer as a page finds
// nothing it would run: no sniffing (an answer without Content-Type would be
// sniffed as HTML on the app's own origin, where its script could call every
// API with the user's cookie), and a sandboxing CSP unless the upstream set
// its own or the route passes CSPs through.
func (rt *route) setInert(hdr http.Header, status int) {
	hdr["X-Content-Type-Options"] = noSniff
	if status != http.StatusNoContent && status != http.StatusNotModified {
		if ct := hdr["Content-Type"]; len(ct) == 0 || strings.TrimSpace(ct[0]) == "" {
			hdr["Content-Type"] = octetStream
		}
	}
	if !rt.PassthroughCSP && !rt.ownCSP(hdr["Content-Security-Policy"]) {
		hdr["Content-Security-Policy"] = apiCSP
	}
	if vals := hdr["Content-Security-Policy-Report-Only"]; len(vals) > 0 && rt.namesUpstream(strings.Join(vals, " ")) {
		delete(hdr, "Content-Security-Policy-Report-Only")
	}
}

// ownCSP reports whether an upstream's policy may stand for the default:
// it sets at least one directive (an empty policy enforces nothing), and
// sends no report to the upstream's own address, which the browser would
// learn.
func (rt *route) ownCSP(vals []string) bool {
	set := false
	for _, v := range vals {
		for d := range strings.SplitSeq(v, ";") {
			if strings.Trim(d, " \t,") != "" {
				set = true
			}
		}
	}
	return set && !rt.namesUpstream(strings.Join(vals, " "))
}

// dropPasswordChallenges removes WWW-Authenticate values that name a scheme
// other than Bearer or DPoP. Basic, Digest, NTLM and Negotiate make the
// browser ask the user for a password in a dialog on the app's own origin
// (a phishing form the API never needed: it gets a token, not passwords).
// A value that cannot be told apart is dropped.
func dropPasswordChallenges(hdr http.Header) {
	vals := hdr["Www-Authenticate"]
	if len(vals) == 0 {
		return
	}
	kept := vals[:0:0]
	for _, v := range vals {
		if onlyTokenChallenges(v) {
			kept = append(kept, v)
		}
	}
	if len(kept) == 0 {
		delete(hdr, "Www-Authenticate")
		return
	}
	hdr["Www-Authenticate"] = kept
}

// onlyTokenChallenges reports whether every challenge in a WWW-Authenticate
// value (RFC 9110 §11.6.1: challenges and their auth-params are both
// comma-separated; a challenge starts with a scheme token not followed by
// "=") is Bearer or DPoP.
func onlyTokenChallenges(v string) bool {
	seen := false
	inQuote := false
	start := 0
	check := func(part string) bool {
		part = strings.TrimSpace(part)
		if part == "" {
			return true
		}
		scheme := part
		if i := strings.IndexAny(part, " \t"); i >= 0 {
			scheme = part[:i]
		}
		if strings.Contains(scheme, "=") {
			return seen // an auth-param of the challenge before
		}
		seen = true
		return strings.EqualFold(scheme, "Bearer") || strings.EqualFold(scheme, "DPoP")
	}
	for i := 0; i < len(v); i++ {
		switch v[i] {
		case '\\':
			if inQuote {
				i++
			}
		case '"':
			inQuote = !inQuote
		case ',':
			if !inQuote {
				if !check(v[start:i]) {
					return false
				}
				start = i + 1
			}
		}
	}
	return !inQuote && check(v[start:]) && seen
}

// filterTrailers drops trailers the header filter would drop, and those
// naming a header the filter sets. Trailers can only come with a body of
// unknown length (HTTP/1.1 chunked) or over HTTP/2, and some arrive without
// being announced, so such bodies are wrapped to filter again once read:
// ReverseProxy copies res.Trailer after closing the body.
func filterTrailers(res *http.Response) {
	if res.Trailer == nil && res.ContentLength >= 0 && res.ProtoMajor < 2 {
		return
	}
	if res.Body == nil || res.Body == http.NoBody || res.StatusCode == http.StatusSwitchingProtocols {
		return
	}
	dropTrailers(res.Trailer)
	res.Body = &trailerFilter{ReadCloser: res.Body, res: res}
}

func dropTrailers(t http.Header) {
	for name := range t {
		if droppedResponseHeader(name) || bffResponseHeaders[strings.ToLower(name)] {
			delete(t, name)
		}
	}
}

// trailerFilter filters res.Trailer once the body is read or closed.
type trailerFilter struct {
	io.ReadCloser
	res *http.Response
}

func (f *trailerFilter) Read(p []byte) (int, error) {
	n, err := f.ReadCloser.Read(p)
	if err == io.EOF {
		dropTrailers(f.res.Trailer)
	}
	return n, err
}

func (f *trailerFilter) Close() error {
	err := f.ReadCloser.Close()
	dropTrailers(f.res.Trailer)
	return err
}

// keepFromSharedCaches: the upstream saw a bearer token, not the cookie the
// browser was authenticated by, so its answer must not be stored by a
// shared cache. CDNs obey their own cache headers over Cache-Control (RFC
// 9213), nginx's proxy_cache X-Accel-Expires (dropped on every route): none
// may store a per-user answer.
func keepFromSharedCaches(hdr http.Header) {
	for name := range hdr {
		if name == "Surrogate-Control" || name == "Edge-Control" || strings.HasSuffix(name, "Cdn-Cache-Control") {
			delete(hdr, name)
		}
	}
	if cc := hdr["Cache-Control"]; len(cc) == 0 {
		hdr["Cache-Control"] = noStore
	} else {
		hdr["Cache-Control"] = []string{privateCacheControl(cc)}
	}
}

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
