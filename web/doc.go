// Package web serves the single-page app: the static-file handler with SPA
// fallback, caching, precompressed variants and security headers, and the
// embedded demo SPA (web/app/: HTML, CSS and an ES module, no build step)
// that talks to the BFF's /bff/* endpoints.
//
// It knows nothing of sessions, tokens or the API routes, and imports no
// other package of this module.
package web
