package web

import "net/http"

// DefaultCSP is the Content-Security-Policy used when Config.ContentSecurityPolicy
// is empty. It allows scripts, styles, fonts and fetches from the page's own
// origin only (no inline code, no eval), images from the origin and data:
// URLs, and forbids plugins, <base>, framing and cross-origin form posts.
const DefaultCSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// permissionsPolicy turns off the powerful features the SPA never uses, so a
// script injected into it cannot use them either.
const permissionsPolicy = "camera=(), microphone=(), geolocation=(), payment=(), usb=(), browsing-topics=()"

// SetSecurityHeaders sets the headers every page and every /bff response
// carries: Content-Security-Policy (csp, or [DefaultCSP] when csp is empty),
// X-Content-Type-Options, Referrer-Policy, X-Frame-Options,
// Cross-Origin-Opener-Policy, Cross-Origin-Resource-Policy and
// Permissions-Policy. It replaces any earlier values of those headers and
// leaves all others alone.
//
// It does NOT set Strict-Transport-Security: only the server knows whether
// it is reached over HTTPS, so that header is the caller's to add.
func SetSecurityHeaders(h http.Header, csp string) {
	if csp == "" {
		csp = DefaultCSP
	}
	h.Set("Content-Security-Policy", csp)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Cross-Origin-Resource-Policy", "same-origin")
	h.Set("Permissions-Policy", permissionsPolicy)
}
