package oidcclient

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// ErrNoRevocation is returned by [Client.Revoke] when the provider has no
// revocation endpoint.
var ErrNoRevocation = errors.New("oidcclient: the provider has no revocation endpoint")

// Revoke revokes a refresh token (RFC 7009) at the provider's revocation
// endpoint: some providers' end_session leaves refresh tokens alive.
// x/oauth2 has no revocation call, so this request is written here.
func (c *Client) Revoke(ctx context.Context, refreshToken string) error {
	m, err := c.metadata(ctx)
	if err != nil {
		return err
	}
	if m.revocationURL == "" {
		return ErrNoRevocation
	}
	form := url.Values{"token": {refreshToken}, "token_type_hint": {"refresh_token"}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, m.revocationURL, nil)
	if err != nil {
		return err
	}
	if err := c.authenticate(req, form, m.revocationURL); err != nil {
		return err
	}
	req.Body = io.NopCloser(strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("%w: revocation endpoint unreachable", ErrUnavailable)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("oidcclient: revocation endpoint answered %d", resp.StatusCode)
	}
	return nil
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
