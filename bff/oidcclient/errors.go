package oidcclient

import (
	"errors"
	"fmt"
)

// ErrInvalidGrant means the provider refused the grant itself (RFC 6749
// 5.2 invalid_grant): an authorization code that is spent, expired or not
// this client's, or a refresh token that is revoked or expired. A session
// built on that refresh token is over. errors.Is finds it.
var ErrInvalidGrant = errors.New("oidcclient: invalid_grant")

// TokenError is any other refusal by the token endpoint (a 4xx with an
// RFC 6749 5.2 error code such as invalid_scope, invalid_target or
// unauthorized_client): a problem with this request or this client's
// configuration, not with the session. Its text holds the code only,
// never the provider's description or body.
type TokenError struct {
	Code   string // the "error" member, e.g. "invalid_scope"
	Status int    // the HTTP status
}

func (e *TokenError) Error() string {
	return fmt.Sprintf("oidcclient: token endpoint refused the request: %s (%d)", e.Code, e.Status)
}

// ErrInvalidIDToken means an ID token did not verify: signature, issuer,
// audience, expiry or nonce.
var ErrInvalidIDToken = errors.New("oidcclient: invalid ID token")

// ErrNoIDToken means the token endpoint's answer to a code exchange had no
// ID token.
var ErrNoIDToken = errors.New("oidcclient: no ID token in the token response")
