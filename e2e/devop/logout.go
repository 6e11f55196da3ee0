package devop

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// BackChannelLogoutEvent is the events member of a logout token
// (OpenID Connect Back-Channel Logout 1.0, section 2.4).
const BackChannelLogoutEvent = "http://schemas.openid.net/event/backchannel-logout"

// SignLogoutToken signs claims as they are with the provider's current
// signing key (RS256, kid and typ "logout+jwt" headers). It adds nothing,
// so tests can build malformed logout tokens.
func (p *Provider) SignLogoutToken(claims map[string]any) (string, error) {
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", fmt.Errorf("devop: logout token: %w", err)
	}
	return p.store.key.sign(payload, "logout+jwt")
}

// LogoutTokenClaims returns the claims of a valid logout token for
// clientID: iss, aud, iat, exp (2 minutes), jti, events, and sub and sid
// when not empty.
func (p *Provider) LogoutTokenClaims(clientID, sub, sid string) map[string]any {
	now := time.Now()
	c := map[string]any{
		"iss":    p.issuer,
		"aud":    clientID,
		"iat":    now.Unix(),
		"exp":    now.Add(2 * time.Minute).Unix(),
		"jti":    rand.Text(),
		"events": map[string]any{BackChannelLogoutEvent: map[string]any{}},
	}
	if sub != "" {
		c["sub"] = sub
	}
	if sid != "" {
		c["sid"] = sid
	}
	return c
}

// BackChannelLogout sends an OpenID Connect Back-Channel Logout 1.0 logout
// token for sub and/or sid (at least one is required) to every client with
// a BackChannelLogoutURI, as a form POST with the logout_token field. It
// tries every client and returns the first error; a non-2xx answer is an
// error. It does not revoke any token: it only notifies the clients.
func (p *Provider) BackChannelLogout(ctx context.Context, sub, sid string) error {
	if sub == "" && sid == "" {
		return errors.New("devop: back-channel logout: sub or sid is required")
	}
	p.store.mu.Lock()
	targets := map[string]string{}
	for id, c := range p.store.clients {
		if c.cfg.BackChannelLogoutURI != "" {
			targets[id] = c.cfg.BackChannelLogoutURI
		}
	}
	p.store.mu.Unlock()
	var first error
	for id, uri := range targets {
		if err := p.sendLogoutToken(ctx, id, uri, sub, sid); err != nil && first == nil {
			first = err
		}
	}
	return first
}

func (p *Provider) sendLogoutToken(ctx context.Context, clientID, uri, sub, sid string) error {
	token, err := p.SignLogoutToken(p.LogoutTokenClaims(clientID, sub, sid))
	if err != nil {
		return err
	}
	body := url.Values{"logout_token": {token}}.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, uri, strings.NewReader(body))
	if err != nil {
		return fmt.Errorf("devop: back-channel logout to %s: %w", clientID, err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := p.httpClient.Do(req)
	if err != nil {
		return fmt.Errorf("devop: back-channel logout to %s: %w", clientID, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("devop: back-channel logout to %s: status %s", clientID, resp.Status)
	}
	return nil
}
