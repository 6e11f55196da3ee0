// Package proxy is the BFF's reverse proxy to internal APIs.
//
// The SPA calls /api/... on its own origin with only its session cookie. For
// each configured [Route] the [Handler] removes the browser's credentials
// (Cookie, Authorization, Proxy-Authorization, DPoP), asks a [TokenSource]
// for an access token meant for that API, attaches it as "Authorization:
// Bearer" (or, for a DPoP-bound token, "Authorization: DPoP" with a fresh
// proof for the exact upstream request, answering an upstream's nonce
// challenge once),
// sets X-Forwarded-For/-Proto/-Host from the real connection and forwards the
// request with [httputil.ReverseProxy] (Rewrite, never Director). Request
// bodies, server-sent events and WebSocket upgrades are streamed.
//
// Only the configured upstreams are ever dialled: the target scheme, host and
// base path come from the route, never from the request, and a request path
// that could climb out of the route (dot segments, encoded slashes or
// backslashes, double encoding, control characters) is refused with 400.
//
// One response filter runs on every route (claims.go, response.go,
// location.go): the browser's client-claimed headers never reach an API, and
// nothing an API answers can act on the app's origin. On routes called with
// the user's token, an API's RFC 9470 step-up challenge (401 with
// error="insufficient_user_authentication") is not passed on: Config.StepUp
// answers it (stepup.go), so the BFF can have the user sign in again.
//
// The Handler does NOT check anti-forgery headers (X-CSRF, Origin,
// Sec-Fetch-Site) and does NOT look at sessions: Config.Middleware does
// both before it, and the TokenSource maps a session to a token. It must
// not import the bff packages or session: it declares the one-method
// interface it needs (TokenSource).
package proxy
