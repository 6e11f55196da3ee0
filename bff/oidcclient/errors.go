package oidcclient

import (
	"errors"
	"fmt"
	"net/http"

	"golang.org/x/oauth2"
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

// tokenEndpointError maps an x/oauth2 token request error: a 4xx with an
// error code is the provider's refusal (ErrInvalidGrant or *TokenError);
// anything else (unreachable, 5xx, unreadable) is ErrUnavailable. Only the
// error code is kept: RetrieveError's text holds the raw response body.
func tokenEndpointError(err error) error {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) && re.Response != nil && re.Response.StatusCode < http.StatusInternalServerError {
		if re.ErrorCode == "invalid_grant" {
			return ErrInvalidGrant
		}
		return &TokenError{Code: re.ErrorCode, Status: re.Response.StatusCode}
	}
	return fmt.Errorf("%w: token endpoint unreachable or failing", ErrUnavailable)
}
