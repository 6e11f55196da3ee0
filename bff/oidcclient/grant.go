package oidcclient

import (
	"context"
	"net/url"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
)

// RFC 8693 token exchange identifiers.
const (
	GrantTokenExchange   = "urn:ietf:params:oauth:grant-type:token-exchange"
	TokenTypeAccessToken = "urn:ietf:params:oauth:token-type:access_token"
)

// TokenRequest says which access token to ask for: an audience (Hydra,
// Auth0 and Keycloak read "audience"), an RFC 8707 resource indicator and
// scopes. The zero value asks for the client's default token. With
// ProviderEntra the audience is not sent: Entra ID's v2 endpoint names
// the API in the scopes (<App ID URI>/.default) and refuses resource.
type TokenRequest struct {
	Audience string
	Resource string
	Scopes   []string
	// Accept lists the aud values a token for this request may carry,
	// when they are not its Resource or Audience (an Entra ID API with a
	// custom App ID URI gets v2 tokens whose aud is its application ID).
	// It is only checked ([Client.CheckToken]), never sent.
	Accept []string
	// DPoP, when set, proves possession of the session's key with the
	// request, so the provider binds the new token to it (RFC 9449).
	DPoP *DPoPKey
}

// attrs describe the request in a span: the configured audience and
// resource, which are the API's names, not the user's.
func (r TokenRequest) attrs() []attribute.KeyValue {
	return []attribute.KeyValue{attribute.String("oauth.audience", r.Audience), attribute.String("oauth.resource", r.Resource)}
}

func (r TokenRequest) set(params url.Values, provider string) {
	if r.Audience != "" && provider != ProviderEntra {
		params.Set("audience", r.Audience)
	}
	if r.Resource != "" {
		params.Set("resource", r.Resource)
	}
	if len(r.Scopes) > 0 {
		params.Set("scope", strings.Join(r.Scopes, " "))
	}
}

// Token is the answer of a token grant.
type Token struct {
	AccessToken string
	// TokenType is TokenTypeDPoP for a DPoP-bound token, else "Bearer".
	TokenType string
	// RefreshToken is the refresh token the provider rotated to; "" when it
	// kept the old one.
	RefreshToken string
	// Expiry is the access token's (five minutes from now when the
	// provider gave no expires_in).
	Expiry time.Time
	// IDToken is a refreshed ID token that verified and names the expected
	// subject (OpenID Connect Core 12.2); "" otherwise.
	IDToken string
}

func newToken(t *tokenAnswer) *Token {
	return &Token{AccessToken: t.AccessToken, TokenType: tokenType(t.TokenType), Expiry: t.expiry}
}

// Refresh uses refreshToken (RFC 6749 6) for the token req asks for. When
// the answer carries an ID token it is verified and kept only if it names
// subject. A refresh token the provider no longer accepts is
// [ErrInvalidGrant].
func (c *Client) Refresh(ctx context.Context, refreshToken string, req TokenRequest, subject string) (_ *Token, err error) {
	ctx, end := c.span(ctx, "oidc.refresh", req.attrs()...)
	defer func() { end(err) }()
	if refreshToken == "" {
		return nil, ErrInvalidGrant
	}
	m, err := c.metadata(ctx)
	if err != nil {
		return nil, err
	}
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refreshToken}}
	req.set(form, c.cfg.Provider)
	t, err := c.token(ctx, m, form, req.DPoP)
	if err != nil {
		return nil, err
	}
	tok := newToken(t)
	tok.RefreshToken = t.RefreshToken
	if t.IDToken != "" {
		if idt, err := m.verifier.Verify(c.clientContext(ctx), t.IDToken); err == nil && idt.Subject == subject {
			tok.IDToken = t.IDToken
		}
	}
	return tok, nil
}

// TokenExchange exchanges subjectToken, an access token, for the token req
// asks for (RFC 8693). A refusal is [ErrInvalidGrant] or [*TokenError]: the
// provider's policy for that audience, which says nothing about the
// session's refresh token.
func (c *Client) TokenExchange(ctx context.Context, subjectToken string, req TokenRequest) (_ *Token, err error) {
	ctx, end := c.span(ctx, "oidc.token_exchange", req.attrs()...)
	defer func() { end(err) }()
	m, err := c.metadata(ctx)
	if err != nil {
		return nil, err
	}
	form := url.Values{
		"grant_type":           {GrantTokenExchange},
		"subject_token":        {subjectToken},
		"subject_token_type":   {TokenTypeAccessToken},
		"requested_token_type": {TokenTypeAccessToken},
	}
	req.set(form, c.cfg.Provider)
	t, err := c.token(ctx, m, form, req.DPoP)
	if err != nil {
		return nil, err
	}
	return newToken(t), nil
}

// ClientCredentials gets the client's own token for req (RFC 6749 4.4).
// It is never DPoP-bound: it belongs to no session's key.
func (c *Client) ClientCredentials(ctx context.Context, req TokenRequest) (_ *Token, err error) {
	ctx, end := c.span(ctx, "oidc.client_credentials", req.attrs()...)
	defer func() { end(err) }()
	m, err := c.metadata(ctx)
	if err != nil {
		return nil, err
	}
	form := url.Values{"grant_type": {"client_credentials"}}
	req.DPoP = nil
	req.set(form, c.cfg.Provider)
	t, err := c.token(ctx, m, form, nil)
	if err != nil {
		return nil, err
	}
	return newToken(t), nil
}
