package proxy

import (
	"bytes"
	"maps"
	"net/http"
	"sync"
	"sync/atomic"
)

// This file decides which browser request headers claim something only a
// proxy in front of the API could know: the client's address, the host,
// scheme, port or path prefix it used, its TLS certificate, or who it is.
// Frameworks and gateways read such headers as facts (Rails and Spring the
// X-Forwarded-* family, Flask X-Script-Name, nginx X-Real-IP, Envoy
// x-envoy-*, oauth2-proxy X-Auth-Request-*, Authelia Remote-*, Azure
// X-MS-CLIENT-PRINCIPAL, Google IAP X-Goog-Authenticated-User-*, AWS ALB
// x-amzn-oidc-*, Cloudflare Cf-*, Kubernetes Impersonate-*), so a browser
// that sends one could pose as another user or origin to the API. They are
// recognised by family, not by a short list: a whole vendor prefix, or a
// word in the name that names an address, an identity or the original
// request. The BFF then sets X-Forwarded-For/-Proto/-Host itself.

// claimPrefixes are name prefixes (lower case, "_" read as "-") whose
// every header is a client claim: each names a proxy, CDN or identity
// gateway.
var claimPrefixes = []string{
	"x-forwarded", "forwarded", "x-original-", "x-rewrite-", "x-real-",
	"true-client-", "client-", "x-client-ip", "x-client-addr", "x-client-cert", "x-client-verify",
	"x-client-dn", "x-client-s-dn", "x-client-i-dn", "x-cluster-client-",
	"remote-", "x-remote-", "x-envoy-", "x-amzn-", "x-amz-cf-", "cloudfront-",
	"cf-", "fastly-", "akamai-", "x-akamai-", "x-arr-", "x-iis-",
	"x-ms-client-principal", "x-ms-token-", "x-ms-original-",
	"x-goog-authenticated-", "x-goog-iap-", "x-appengine-",
	"x-auth-request-", "x-authenticated-", "x-authentik-", "x-webauth-", "x-pomerium-",
	"x-ssl-", "ssl-client-", "x-tls-", "wl-proxy-", "proxy-client-", "x-proxyuser-",
	"impersonate-", "x-bff-", "x-originating-", "x-coming-from",
	// Spring Security / SiteMinder, mod_auth_openidc, Shibboleth,
	// Tailscale Serve, ASP.NET Core behind IIS, Kong, Hasura.
	"sm-", "smuser", "smuniversalid", "oidc-", "shib-", "eppn", "affiliation", "tailscale-",
	"ms-aspnetcore-", "x-consumer-", "x-credential-", "x-anonymous-consumer", "x-userinfo",
	"x-id-token", "x-access-token", "x-scope-orgid", "x-hasura-",
	// Front-proxy directives (Rack::Sendfile reads X-Sendfile-Type and
	// X-Accel-Mapping from the request, CVE-2025-61780).
	"x-sendfile", "x-accel-", "x-lighttpd-",
}

// claimWords are words that make a header a client claim wherever they
// appear in its name (X-User-Email, X-Host, X-Scheme, X-Url-Scheme, X-Port,
// X-Script-Name, Remote-User, OIDC_CLAIM_email), whatever its prefix:
// identity gateways use names of every shape.
var claimWords = map[string]bool{
	"forwarded": true, "real": true, "original": true, "rewrite": true, "remote": true,
	"authenticated": true, "principal": true, "impersonate": true,
	"ip": true, "ips": true, "addr": true, "address": true, "connecting": true, "viewer": true, "visitor": true,
	"host": true, "scheme": true, "proto": true, "protocol": true, "https": true, "ssl": true, "tls": true,
	"port": true, "prefix": true, "script": true, "cert": true, "clientcert": true,
	"user": true, "userid": true, "username": true, "useremail": true, "email": true, "groups": true,
	"roles": true, "role": true, "identity": true, "oidc": true, "iap": true, "jwt": true,
	"consumer": true, "credential": true, "userinfo": true, "claim": true, "claims": true,
}

// wordExempt are standard request fields whose names hold a claim word but
// claim nothing: browsers set them.
var wordExempt = map[string]bool{"user-agent": true}

// claimNames are standard-looking names that are client claims too.
var claimNames = map[string]bool{
	"via": true, "front-end-https": true, "base-url": true,
}

// isClientClaim reports whether a request header name carries a claim that
// only a trusted proxy may make. Case is ignored and "_" counts as "-":
// CGI-style servers (WSGI, PHP-FPM) read X_Forwarded_For as
// X-Forwarded-For. Browser fetch metadata (Sec-*) is never a claim:
// browsers set it and scripts cannot.
func isClientClaim(name string) bool {
	var buf [64]byte
	if len(name) > len(buf) {
		return isClientClaimNormal(normalizeName(name, make([]byte, len(name))))
	}
	return isClientClaimNormal(normalizeName(name, buf[:len(name)]))
}

// normalizeName lowers name into buf (of its length), "_" as "-".
func normalizeName(name string, buf []byte) []byte {
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case 'A' <= c && c <= 'Z':
			c += 'a' - 'A'
		case c == '_':
			c = '-'
		}
		buf[i] = c
	}
	return buf
}

func isClientClaimNormal(n []byte) bool {
	if claimNames[string(n)] {
		return true
	}
	for _, p := range claimPrefixes {
		if len(n) >= len(p) && string(n[:len(p)]) == p {
			return true
		}
	}
	// Fetch metadata (Sec-*) is set by browsers, never by scripts.
	if wordExempt[string(n)] || len(n) > 4 && string(n[:4]) == "sec-" {
		return false
	}
	for rest := n; len(rest) > 0; {
		w := rest
		if i := bytes.IndexByte(rest, '-'); i >= 0 {
			w, rest = rest[:i], rest[i+1:]
		} else {
			rest = nil
		}
		if claimWords[string(w)] {
			return true
		}
	}
	return false
}

// dropClientClaims removes every client claim from an outbound request.
func dropClientClaims(h http.Header) {
	for name := range h {
		if claimVerdicts.is(name) {
			delete(h, name)
		}
	}
}

// nameVerdicts remembers a classification of header names: the same few
// names arrive on every request, and a lookup costs less than classifying
// them again. It is read without a lock (copy on write) and holds at most
// maxNameVerdicts names, so a client inventing names cannot grow it; names
// beyond that are classified afresh each time.
type nameVerdicts struct {
	classify func(string) bool
	mu       sync.Mutex
	m        atomic.Pointer[map[string]bool]
}

const maxNameVerdicts = 512

func (c *nameVerdicts) is(name string) bool {
	if m := c.m.Load(); m != nil {
		if v, ok := (*m)[name]; ok {
			return v
		}
	}
	v := c.classify(name)
	c.mu.Lock()
	defer c.mu.Unlock()
	old := c.m.Load()
	if old != nil && len(*old) >= maxNameVerdicts {
		return v
	}
	m := make(map[string]bool, 1+len(mapOrNil(old)))
	maps.Copy(m, mapOrNil(old))
	m[name] = v
	c.m.Store(&m)
	return v
}

func mapOrNil(p *map[string]bool) map[string]bool {
	if p == nil {
		return nil
	}
	return *p
}

var claimVerdicts = nameVerdicts{classify: isClientClaim}
