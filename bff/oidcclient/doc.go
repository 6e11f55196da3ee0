// Package oidcclient is the BFF's client of its OpenID provider: discovery,
// the authorization request (pushed with RFC 9126 PAR when in force), the
// callback's code exchange with ID-token verification, the token grants
// (refresh with audience, resource and scopes; RFC 8693 token exchange;
// client credentials), RFC 7009 revocation, RFC 7662 introspection of the
// refresh token, the RP-initiated logout URL and back-channel logout-token
// verification. Client authentication is one piece (auth.go: client
// secret, private_key_jwt, mutual TLS) used by every request to the token,
// PAR, revocation and introspection endpoints; DPoP (RFC 9449) keys and
// proofs are another (dpop.go), as is the check that an API's token names
// that API in its aud and the scopes asked for ([Client.CheckToken]).
//
// It is built on go-oidc (discovery, ID tokens), x/oauth2 (authorization
// URL, PKCE, token requests) and go-jose. It knows nothing of HTTP
// handlers, cookies or session stores, and must not import the bff,
// session or proxy packages: callers hand it strings and get typed
// results and errors ([ErrInvalidGrant], [ErrUnavailable], [*TokenError],
// [*ConfigError], [ErrAudienceMismatch], [ErrScopeMismatch]).
package oidcclient
