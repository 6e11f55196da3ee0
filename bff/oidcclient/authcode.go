package oidcclient

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"net/url"

	"golang.org/x/oauth2"
)

// State is the OAuth 2.0 state of one sign-in (RFC 6749 10.12): it ties the
// provider's answer to the browser that asked.
type State string

// Nonce ties an ID token to one sign-in (OpenID Connect Core 3.1.2.1).
type Nonce string

// Verifier is a PKCE code verifier (RFC 7636); only its S256 challenge
// leaves the BFF before the code exchange.
type Verifier string

// NewState, NewNonce and NewVerifier return fresh random values (256 bits).
func NewState() State { return State(randomValue()) }

// NewNonce returns a fresh random nonce.
func NewNonce() Nonce { return Nonce(randomValue()) }

// NewVerifier returns a fresh PKCE verifier.
func NewVerifier() Verifier { return Verifier(oauth2.GenerateVerifier()) }

func randomValue() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// reservedParams are set by the protocol; AuthParams cannot change them.
var reservedParams = map[string]bool{
	"state": true, "nonce": true, "code_challenge": true, "code_challenge_method": true,
	"redirect_uri": true, "client_id": true, "response_type": true, "scope": true,
	"response_mode": true, "request": true, "request_uri": true,
}

// AuthCodeOption adds parameters to one authorization request, beyond the
// configured ones (like x/oauth2's AuthCodeOption; sealed: only this
// package makes them).
type AuthCodeOption interface {
	setValue(url.Values)
}

type authParam struct{ key, value string }

func (p authParam) setValue(v url.Values) { v.Set(p.key, p.value) }

// AuthCodeURL is the authorization request of one sign-in: code flow with
// PKCE S256, state, nonce, the configured scopes and AuthParams, and opts.
// No option or AuthParam can override a protocol parameter.
func (c *Client) AuthCodeURL(ctx context.Context, state State, nonce Nonce, verifier Verifier, opts ...AuthCodeOption) (string, error) {
	m, err := c.metadata(ctx)
	if err != nil {
		return "", err
	}
	params := url.Values{}
	for k, v := range c.cfg.AuthParams {
		params.Set(k, v)
	}
	for _, o := range opts {
		o.setValue(params)
	}
	oopts := []oauth2.AuthCodeOption{oauth2.S256ChallengeOption(string(verifier)), oauth2.SetAuthURLParam("nonce", string(nonce))}
	for k, vs := range params {
		if !reservedParams[k] && len(vs) > 0 {
			oopts = append(oopts, oauth2.SetAuthURLParam(k, vs[0]))
		}
	}
	return c.oauth2Config(m).AuthCodeURL(string(state), oopts...), nil
}

// ErrIssuerMismatch is returned by [Client.CheckIssuer] for an answer from
// another issuer.
var ErrIssuerMismatch = errors.New("oidcclient: authorization response from another issuer")

// CheckIssuer checks the iss parameter of an authorization response (RFC
// 9207): it must be the issuer whenever it is present, and it must be
// present when the provider advertises it. A response from another issuer
// is a mix-up attack.
func (c *Client) CheckIssuer(ctx context.Context, iss string) error {
	m, err := c.metadata(ctx)
	if err != nil {
		return err
	}
	if (m.issParameter || iss != "") && iss != c.cfg.Issuer {
		return ErrIssuerMismatch
	}
	return nil
}

func (c *Client) oauth2Config(m *metadata) *oauth2.Config {
	ep := m.endpoint
	ep.AuthStyle = c.auth.style()
	return &oauth2.Config{
		ClientID:     c.cfg.ClientID,
		ClientSecret: c.auth.secret(),
		Endpoint:     ep,
		RedirectURL:  c.cfg.RedirectURL,
		Scopes:       c.scopes,
	}
}
