package proxy

import (
	"net/http"
	"net/netip"
	"strings"
	"testing"
)

// clientClaims are headers that gateways, CDNs, identity proxies and
// frameworks read as facts about the client, by family. None may reach an
// upstream from a browser, whatever the peer.
var clientClaims = map[string][]string{
	"forwarding": {"X-Forwarded-User", "X-Forwarded-Email", "X-Forwarded-Groups", "X-Forwarded-Preferred-Username",
		"X-Forwarded-Access-Token", "X-Forwarded-Path", "X-Forwarded-Prefix", "X-Forwarded-Port", "X-Forwarded-Server",
		"X-Forwarded-Uri", "X-Forwarded-Ssl", "X-Forwarded-Scheme", "X-Forwarded-Protocol", "X-Forwarded-Client-Cert",
		"X-Forwarded", "Forwarded", "Via"},
	"original request (nginx, IIS, Envoy)": {"X-Original-Url", "X-Original-Uri", "X-Original-Host", "X-Original-Method",
		"X-Original-Forwarded-For", "X-Rewrite-Url", "X-Envoy-Original-Path", "X-Ms-Original-Url"},
	"client address": {"X-Real-Ip", "Client-Ip", "X-Client-Ip", "True-Client-Ip", "X-Cluster-Client-Ip",
		"Cf-Connecting-Ip", "Cf-Connecting-Ipv6", "Fastly-Client-Ip", "X-Envoy-External-Address", "Cloudfront-Viewer-Address",
		"X-Appengine-User-Ip", "Wl-Proxy-Client-Ip", "Proxy-Client-Ip", "X-Proxyuser-Ip", "X-Originating-Ip",
		"X-Remote-Addr", "X-Remote-Ip", "Akamai-Origin-Hop", "X-Akamai-Edgescape", "X-Coming-From"},
	"host, scheme, port and prefix": {"X-Host", "X-Http-Host", "X-Scheme", "X-Url-Scheme", "X-Http-Scheme", "X-Proto",
		"X-Port", "X-Script-Name", "Front-End-Https", "X-Arr-Ssl", "Cf-Visitor", "Fastly-Ssl", "Cloudfront-Forwarded-Proto",
		"X-Envoy-Internal", "Base-Url"},
	"identity (oauth2-proxy, Authelia, Azure, IAP, ALB, Cloudflare, Kubernetes)": {"X-Auth-Request-User",
		"X-Auth-Request-Email", "X-Auth-Request-Groups", "X-Auth-Request-Access-Token", "Remote-User", "Remote-Email",
		"Remote-Groups", "X-Remote-User", "X-Remote-Group", "X-User", "X-User-Id", "X-Userid", "X-Username",
		"X-User-Email", "X-Email", "X-Groups", "X-Authenticated-User", "X-Authenticated-Userid", "X-Ms-Client-Principal",
		"X-Ms-Client-Principal-Name", "X-Ms-Client-Principal-Id", "X-Ms-Token-Aad-Access-Token",
		"X-Goog-Authenticated-User-Email", "X-Goog-Iap-Jwt-Assertion", "X-Amzn-Oidc-Identity", "X-Amzn-Oidc-Data",
		"Cf-Access-Authenticated-User-Email", "Cf-Access-Jwt-Assertion", "X-Webauth-User", "X-Pomerium-Jwt-Assertion",
		"Impersonate-User", "Impersonate-Group", "X-Identity", "X-Oidc-Claims"},
	"client certificate": {"X-Ssl-Client-Cert", "X-Ssl-Client-Verify", "X-Ssl-Client-S-Dn", "Ssl-Client-Cert",
		"X-Client-Cert", "X-Client-Verify", "X-Arr-Clientcert", "X-Tls-Client-Cert"},
	"the BFF's own namespace": {"X-Bff-Session", "X-Bff-User"},
	"other identity gateways (SiteMinder, mod_auth_openidc, Shibboleth, Tailscale, IIS, Kong, Hasura)": {"Sm-User", "Smuser",
		"Sm-Universalid", "Oidc-Claim-Email", "Oidc-Access-Token", "Shib-Identity-Provider", "Eppn", "Affiliation",
		"Tailscale-User-Login", "Tailscale-User-Name", "Ms-Aspnetcore-Clientcert", "Ms-Aspnetcore-Winauthtoken",
		"X-Consumer-Id", "X-Consumer-Custom-Id", "X-Credential-Identifier", "X-Anonymous-Consumer", "X-Userinfo",
		"X-Id-Token", "X-Access-Token", "X-Scope-Orgid", "X-Hasura-Role", "X-Role", "X-Jwt-Claims"},
	"front-proxy directives": {"X-Sendfile-Type", "X-Accel-Mapping", "X-Accel-Redirect", "X-Lighttpd-Send-File"},
}

// TestClientClaimsDropped: every family of client-claimed headers is
// stripped, from untrusted and trusted peers alike (a load balancer passes
// the browser's own through), also when spelled with underscores, which
// CGI-style servers read like dashes.
func TestClientClaimsDropped(t *testing.T) {
	rec := &recorder{}
	be := newBackend(t, rec)
	for _, peer := range []struct {
		name    string
		trusted []netip.Prefix
	}{
		{"untrusted peer", nil},
		{"trusted peer", []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}},
	} {
		_, fe := newFrontend(t, Config{
			Routes:         []Route{{Prefix: "/api/x/", Upstream: be.URL, Token: TokenNone}},
			TrustedProxies: peer.trusted,
		})
		for family, names := range clientClaims {
			t.Run(peer.name+"/"+family, func(t *testing.T) {
				var head strings.Builder
				head.WriteString("GET /api/x/ HTTP/1.1\r\nHost: spa.example")
				for _, h := range names {
					head.WriteString("\r\n" + h + ": spoofed")
					head.WriteString("\r\n" + strings.ReplaceAll(strings.ToLower(h), "-", "_") + ": spoofed")
				}
				res, body := rawRequest(t, fe.Listener.Addr().String(), head.String())
				if res.StatusCode != http.StatusOK {
					t.Fatalf("status = %d, want 200 (body %s)", res.StatusCode, body)
				}
				for name, v := range rec.last(t).Header {
					if strings.Contains(strings.Join(v, ","), "spoofed") {
						t.Errorf("upstream got %s: %q, want it dropped", name, v)
					}
				}
			})
		}
	}
}

// TestOrdinaryHeadersKept: headers an SPA sends for itself are not taken
// for claims.
func TestOrdinaryHeadersKept(t *testing.T) {
	for _, h := range []string{"X-Requested-With", "X-Csrf", "X-Client-Version", "X-Api-Version", "X-Timezone",
		"X-Correlation-Id", "Accept-Language", "Content-Type", "If-None-Match", "User-Agent", "Sec-Fetch-User",
		"Sec-Fetch-Site", "Traceparent", "X-Page-Size", "X-Idempotency-Key", "Idempotency-Key", "Max-Forwards", "Prefer",
		"Priority", "Baggage", "Tracestate", "Access-Control-Request-Method", "Sec-Websocket-Key", "Sec-Websocket-Protocol",
		"Origin", "Referer", "Range", "If-Modified-Since", "Cache-Control", "Save-Data", "X-Tenant-Id"} {
		if isClientClaim(http.CanonicalHeaderKey(h)) {
			t.Errorf("isClientClaim(%q) = true, want false", h)
		}
	}
	for _, names := range clientClaims {
		for _, h := range names {
			if !isClientClaim(h) {
				t.Errorf("isClientClaim(%q) = false, want true", h)
			}
		}
	}
}

// TestConnectionCannotDropBFFHeaders: a browser's Connection header names
// headers to remove as hop-by-hop; it must not remove those the BFF sets.
func TestConnectionCannotDropBFFHeaders(t *testing.T) {
	rec := &recorder{}
	be := newBackend(t, rec)
	_, fe := newFrontend(t, Config{
		Routes: []Route{{Prefix: "/api/x/", Upstream: be.URL, Token: TokenUser}},
		Tokens: staticTokens("tok"),
	})
	res, body := rawRequest(t, fe.Listener.Addr().String(), "GET /api/x/ HTTP/1.1\r\nHost: spa.example\r\n"+
		"X-Request-Id: bff-id-1\r\n"+
		"Connection: keep-alive, X-Request-Id, Authorization, X-Forwarded-For, X-Forwarded-Proto, X-Forwarded-Host")
	if res.StatusCode != http.StatusOK {
		t.Fatalf("status = %d, want 200 (body %s)", res.StatusCode, body)
	}
	got := rec.last(t).Header
	for name, want := range map[string]string{
		"X-Request-Id": "bff-id-1", "Authorization": "Bearer tok", "X-Forwarded-For": "127.0.0.1",
		"X-Forwarded-Proto": "http", "X-Forwarded-Host": "spa.example",
	} {
		if v := got.Get(name); v != want {
			t.Errorf("upstream %s = %q, want %q", name, v, want)
		}
	}
}

func BenchmarkDropClientClaims(b *testing.B) {
	h := http.Header{
		"Accept": {"application/json"}, "X-Csrf": {"1"}, "Accept-Language": {"en"}, "User-Agent": {"bench"},
		"Sec-Fetch-Site": {"same-origin"}, "Sec-Fetch-Mode": {"cors"}, "X-Request-Id": {"abc"}, "Accept-Encoding": {"gzip"},
	}
	b.ReportAllocs()
	for b.Loop() {
		dropClientClaims(h)
	}
}
