package oidcclient

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// These calls check a live provider for `bff check --probe`. They change
// nothing at the provider and never report what it sent beyond an error
// code: a description can quote what was asked.

// ProbeKeys fetches the provider's JWKS and reports how many signing keys
// it holds; an error when it cannot be fetched or holds none.
func (c *Client) ProbeKeys(ctx context.Context) (int, error) {
	m, err := c.metadata(ctx)
	if err != nil {
		return 0, err
	}
	keys, err := m.keys.fetch(ctx)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, k := range keys {
		if k.Use == "" || k.Use == "sig" {
			n++
		}
	}
	if n == 0 {
		return 0, errors.New("the JWKS holds no signing key")
	}
	return n, nil
}

// ErrClientAuth means the token endpoint refused the client's credentials
// (invalid_client or unauthorized_client).
var ErrClientAuth = errors.New("oidcclient: the provider refused the client's credentials")

// ProbeClientAuth makes a refresh-token grant with a refresh token no
// provider issued: a provider that accepts the client's credentials
// answers invalid_grant (the token), one that does not, invalid_client.
// Nothing is issued either way.
func (c *Client) ProbeClientAuth(ctx context.Context) error {
	req := TokenRequest{}
	if m, err := c.metadata(ctx); err == nil && m.dpop {
		// A provider that binds this client's tokens wants a proof on
		// every grant: a throwaway key's, as nothing is issued.
		if req.DPoP, err = NewDPoPKey(); err != nil {
			return err
		}
	}
	_, err := c.Refresh(ctx, "bff-probe-"+randomValue(), req, "")
	var te *TokenError
	switch {
	case errors.Is(err, ErrInvalidGrant):
		return nil
	case errors.As(err, &te) && (te.Code == "invalid_client" || te.Code == "unauthorized_client" || te.Status == http.StatusUnauthorized):
		return fmt.Errorf("%w (%s)", ErrClientAuth, te.Code)
	case err == nil:
		return errors.New("oidcclient: the provider accepted a made-up refresh token")
	}
	return err
}

// ErrRedirectRefused means the authorization endpoint refused the
// redirect URI (not registered for this client).
var ErrRedirectRefused = errors.New("oidcclient: the provider refused the redirect URI")

// ProbeRedirectURI sends the authorization request a sign-in would (not
// followed) and reads the answer: a redirect to the provider's own login
// or consent page, or back to the redirect URI, means the provider took
// the redirect URI; an error answer of its own (4xx) means it did not.
// Some providers cannot tell before the user signs in: then the check
// says so rather than guess.
func (c *Client) ProbeRedirectURI(ctx context.Context) (string, error) {
	u, err := c.AuthCodeURL(ctx, NewState(), NewNonce(), NewVerifier())
	if err != nil {
		return "", err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return "", err
	}
	client := *c.http
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := client.Do(req)
	if err != nil {
		return "", fmt.Errorf("%w: authorization endpoint unreachable", ErrUnavailable)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	switch {
	case resp.StatusCode >= 300 && resp.StatusCode < 400:
		loc, _ := url.Parse(resp.Header.Get("Location"))
		if loc != nil && strings.HasPrefix(loc.String(), c.cfg.RedirectURL) {
			if e := loc.Query().Get("error"); e != "" {
				return "accepted (the provider redirected back with " + e + ")", nil
			}
		}
		return "accepted", nil
	case resp.StatusCode == http.StatusOK:
		return "accepted (the provider shows a page)", nil
	case resp.StatusCode >= 400 && resp.StatusCode < 500:
		var e struct {
			Error string `json:"error"`
		}
		if json.Unmarshal(body, &e) == nil && e.Error != "" {
			return "", fmt.Errorf("%w (%s)", ErrRedirectRefused, e.Error)
		}
		return "", fmt.Errorf("%w (answer %d)", ErrRedirectRefused, resp.StatusCode)
	}
	return "", fmt.Errorf("%w: authorization endpoint answered %d", ErrUnavailable, resp.StatusCode)
}

// Endpoints reports which optional endpoints discovery advertises.
func (c *Client) Endpoints(ctx context.Context) (revocation, endSession bool, err error) {
	m, err := c.metadata(ctx)
	if err != nil {
		return false, false, err
	}
	return m.revocationURL != "", m.endSessionURL != "", nil
}
