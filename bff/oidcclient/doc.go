// Package oidcclient is the BFF's client of its OpenID provider: discovery,
// the authorization request, the callback's code exchange with ID-token
// verification, the token grants (refresh with audience, resource and
// scopes; RFC 8693 token exchange; client credentials), RFC 7009
// revocation, the RP-initiated logout URL and back-channel logout-token
// verification, with client authentication as one piece.
//
// It is built on go-oidc (discovery, ID tokens), x/oauth2 (authorization
// URL, PKCE, token requests) and go-jose. It knows nothing of HTTP
// handlers, cookies or session stores, and must not import the bff,
// session or proxy packages: callers hand it strings and get typed
// results and errors ([ErrInvalidGrant], [ErrUnavailable], [*TokenError]).
package oidcclient
