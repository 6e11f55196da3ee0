package oidcclient

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

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
	"response_mode": true, "request": true, "request_uri": true, "dpop_jkt": true, "resource": true,
}

// AuthCodeOption adds parameters to one authorization request, beyond the
// configured ones (like x/oauth2's AuthCodeOption; sealed: only this
// package makes them).
type AuthCodeOption interface {
	setValue(url.Values)
}

type authParam struct{ key, value string }

func (p authParam) setValue(v url.Values) { v.Set(p.key, p.value) }

// dpopBinding binds the sign-in's tokens to a DPoP key (RFC 9449 section
// 10): its thumbprint goes as dpop_jkt, and a pushed request carries a
// proof by it.
type dpopBinding struct{ key *DPoPKey }

func (b dpopBinding) setValue(v url.Values) { v.Set("dpop_jkt", b.key.Thumbprint()) }

// WithDPoP binds the authorization code to key, so that only a code
// exchange with key's proof redeems it. Use it when [Client.DPoP] is true.
func WithDPoP(key *DPoPKey) AuthCodeOption { return dpopBinding{key: key} }

// AuthCodeURL is the authorization request of one sign-in: code flow with
// PKCE S256, state, nonce, the configured scopes, resources and
// AuthParams, and opts. No option or AuthParam can override a protocol
// parameter. With PAR in force (RFC 9126) the request is pushed to the
// provider with the client's authentication, and the URL carries only
// client_id and request_uri.
func (c *Client) AuthCodeURL(ctx context.Context, state State, nonce Nonce, verifier Verifier, opts ...AuthCodeOption) (string, error) {
	m, err := c.metadata(ctx)
	if err != nil {
		return "", err
	}
	params := url.Values{}
	for k, v := range c.cfg.AuthParams {
		if !reservedParams[k] {
			params.Set(k, v)
		}
	}
	var key *DPoPKey
	for _, o := range opts {
		extra := url.Values{}
		o.setValue(extra)
		for k, vs := range extra {
			if k == "dpop_jkt" || !reservedParams[k] {
				params[k] = vs
			}
		}
		if b, ok := o.(dpopBinding); ok {
			key = b.key
		}
	}
	params.Set("response_type", "code")
	params.Set("client_id", c.cfg.ClientID)
	params.Set("redirect_uri", c.cfg.RedirectURL)
	params.Set("scope", strings.Join(c.scopes, " "))
	params.Set("state", string(state))
	params.Set("nonce", string(nonce))
	params.Set("code_challenge", oauth2.S256ChallengeFromVerifier(string(verifier)))
	params.Set("code_challenge_method", "S256")
	if len(c.cfg.Resources) > 0 {
		params["resource"] = slices.Clone(c.cfg.Resources)
	}
	if m.parURL != "" {
		uri, err := c.push(ctx, m, params, key)
		if err != nil {
			return "", err
		}
		params = url.Values{"client_id": {c.cfg.ClientID}, "request_uri": {uri}}
	}
	return withQuery(m.endpoint.AuthURL, params), nil
}

// withQuery adds params to endpoint's own query, if any.
func withQuery(endpoint string, params url.Values) string {
	sep := "?"
	if strings.Contains(endpoint, "?") {
		sep = "&"
	}
	return endpoint + sep + params.Encode()
}

// push sends an authorization request to the PAR endpoint (RFC 9126
// section 2) and returns its request_uri. x/oauth2 has no PAR; it goes
// through Client.call, with client authentication and, with key, a DPoP
// proof (and its nonce challenge).
func (c *Client) push(ctx context.Context, m *metadata, params url.Values, key *DPoPKey) (string, error) {
	a, err := c.call(ctx, m, m.parURL, params, key)
	if err != nil {
		return "", err
	}
	if a.status != http.StatusCreated && a.status != http.StatusOK {
		return "", fmt.Errorf("%w: pushed authorization request refused: %w", ErrUnavailable, refusal(a))
	}
	var r struct {
		RequestURI string `json:"request_uri"`
	}
	if err := json.Unmarshal(a.body, &r); err != nil || r.RequestURI == "" {
		return "", fmt.Errorf("%w: pushed authorization request answered without request_uri", ErrUnavailable)
	}
	return r.RequestURI, nil
}

// DPoP reports whether sign-ins should bind their tokens to a DPoP key
// ([WithDPoP]), by the configuration and the provider's discovery.
func (c *Client) DPoP(ctx context.Context) (bool, error) {
	m, err := c.metadata(ctx)
	if err != nil {
		return false, err
	}
	return m.dpop, nil
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
