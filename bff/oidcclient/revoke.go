package oidcclient

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
)

// ErrNoRevocation is returned by [Client.Revoke] when the provider has no
// revocation endpoint.
var ErrNoRevocation = errors.New("oidcclient: the provider has no revocation endpoint")

// Revoke revokes a refresh token (RFC 7009) at the provider's revocation
// endpoint: some providers' end_session leaves refresh tokens alive.
// x/oauth2 has no revocation call; it goes through Client.call, with the
// client's authentication.
func (c *Client) Revoke(ctx context.Context, refreshToken string) (err error) {
	ctx, end := c.span(ctx, "oidc.revoke")
	defer func() { end(err) }()
	m, err := c.metadata(ctx)
	if err != nil {
		return err
	}
	if m.revocationURL == "" {
		return ErrNoRevocation
	}
	form := url.Values{"token": {refreshToken}, "token_type_hint": {"refresh_token"}}
	a, err := c.call(ctx, m, m.revocationURL, form, nil)
	if err != nil {
		return err
	}
	if a.status != http.StatusOK {
		return fmt.Errorf("oidcclient: revocation endpoint answered %d", a.status)
	}
	return nil
}

// ErrNoIntrospection is returned by [Client.RefreshTokenActive] when the
// provider has no introspection endpoint.
var ErrNoIntrospection = errors.New("oidcclient: the provider has no introspection endpoint")

// RefreshTokenActive asks the provider's introspection endpoint (RFC 7662)
// whether refreshToken is still active. It changes nothing at the
// provider, so it is how a client learns whether a refused request used
// its refresh token up (some providers rotate it before they refuse).
func (c *Client) RefreshTokenActive(ctx context.Context, refreshToken string) (bool, error) {
	m, err := c.metadata(ctx)
	if err != nil {
		return false, err
	}
	if m.introspectionURL == "" {
		return false, ErrNoIntrospection
	}
	form := url.Values{"token": {refreshToken}, "token_type_hint": {"refresh_token"}}
	a, err := c.call(ctx, m, m.introspectionURL, form, nil)
	if err != nil {
		return false, err
	}
	if a.status != http.StatusOK {
		return false, fmt.Errorf("oidcclient: introspection endpoint answered %d", a.status)
	}
	var r struct {
		Active bool `json:"active"`
	}
	if err := json.Unmarshal(a.body, &r); err != nil {
		return false, fmt.Errorf("oidcclient: introspection answer: %w", err)
	}
	return r.Active, nil
}

// EndSessionURL is the provider's end_session_endpoint with id_token_hint
// (when given), client_id, post_logout_redirect_uri and a random state
// (OpenID Connect RP-Initiated Logout 1.0), or "" when the provider has no
// such endpoint or is unreachable.
func (c *Client) EndSessionURL(ctx context.Context, idTokenHint, postLogoutURL string) string {
	m, err := c.metadata(ctx)
	if err != nil || m.endSessionURL == "" {
		return ""
	}
	u, err := url.Parse(m.endSessionURL)
	if err != nil {
		return ""
	}
	q := u.Query()
	if idTokenHint != "" {
		q.Set("id_token_hint", idTokenHint)
	}
	q.Set("client_id", c.cfg.ClientID)
	q.Set("post_logout_redirect_uri", postLogoutURL)
	q.Set("state", randomValue())
	u.RawQuery = q.Encode()
	return u.String()
}
