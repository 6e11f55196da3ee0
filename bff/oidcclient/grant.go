package oidcclient

import (
	"context"
	"net/url"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// RFC 8693 token exchange identifiers.
const (
	GrantTokenExchange   = "urn:ietf:params:oauth:grant-type:token-exchange"
	TokenTypeAccessToken = "urn:ietf:params:oauth:token-type:access_token"
)

// TokenRequest says which access token to ask for: an audience (Hydra,
// Auth0 and Keycloak read "audience"), an RFC 8707 resource indicator and
// scopes. The zero value asks for the client's default token.
type TokenRequest struct {
	Audience string
	Resource string
	Scopes   []string
}

func (r TokenRequest) set(params url.Values) {
	if r.Audience != "" {
		params.Set("audience", r.Audience)
	}
	if r.Resource != "" {
		params.Set("resource", r.Resource)
	}
}

// Token is the answer of a token grant.
type Token struct {
	AccessToken string
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

// Refresh uses refreshToken (RFC 6749 6) for the token req asks for. When
// the answer carries an ID token it is verified and kept only if it names
// subject. A refresh token the provider no longer accepts is
// [ErrInvalidGrant].
func (c *Client) Refresh(ctx context.Context, refreshToken string, req TokenRequest, subject string) (*Token, error) {
	if refreshToken == "" {
		return nil, ErrInvalidGrant
	}
	params := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refreshToken}}
	req.set(params)
	t, m, err := c.grant(ctx, params, req.Scopes)
	if err != nil {
		return nil, err
	}
	tok := &Token{AccessToken: t.AccessToken, RefreshToken: t.RefreshToken, Expiry: expiry(t)}
	if raw, _ := t.Extra("id_token").(string); raw != "" {
		if idt, err := m.verifier.Verify(c.clientContext(ctx), raw); err == nil && idt.Subject == subject {
			tok.IDToken = raw
		}
	}
	return tok, nil
}

// TokenExchange exchanges subjectToken, an access token, for the token req
// asks for (RFC 8693). A refusal is [ErrInvalidGrant] or [*TokenError]: the
// provider's policy for that audience, which says nothing about the
// session's refresh token.
func (c *Client) TokenExchange(ctx context.Context, subjectToken string, req TokenRequest) (*Token, error) {
	params := url.Values{
		"grant_type":           {GrantTokenExchange},
		"subject_token":        {subjectToken},
		"subject_token_type":   {TokenTypeAccessToken},
		"requested_token_type": {TokenTypeAccessToken},
	}
	req.set(params)
	t, _, err := c.grant(ctx, params, req.Scopes)
	if err != nil {
		return nil, err
	}
	return &Token{AccessToken: t.AccessToken, Expiry: expiry(t)}, nil
}

// ClientCredentials gets the client's own token for req (RFC 6749 4.4).
func (c *Client) ClientCredentials(ctx context.Context, req TokenRequest) (*Token, error) {
	params := url.Values{}
	req.set(params)
	t, _, err := c.grant(ctx, params, req.Scopes)
	if err != nil {
		return nil, err
	}
	return &Token{AccessToken: t.AccessToken, Expiry: expiry(t)}, nil
}

// grant calls the token endpoint. It rides on x/oauth2's client-credentials
// request, which lets grant_type be overridden, so client authentication,
// error parsing and expiry handling are x/oauth2's, while the refresh-token
// grant can carry audience, resource and scope and RFC 8693 works at all:
// x/oauth2's own refresh takes no extra parameters (golang/oauth2#84, #388).
func (c *Client) grant(ctx context.Context, params url.Values, scopes []string) (*oauth2.Token, *metadata, error) {
	m, err := c.metadata(ctx)
	if err != nil {
		return nil, nil, err
	}
	extra, err := c.auth.params(m.endpoint.TokenURL)
	if err != nil {
		return nil, nil, err
	}
	for k, v := range extra {
		params[k] = v
	}
	cc := clientcredentials.Config{
		ClientID:       c.cfg.ClientID,
		ClientSecret:   c.auth.secret(),
		TokenURL:       m.endpoint.TokenURL,
		AuthStyle:      c.auth.style(),
		Scopes:         scopes,
		EndpointParams: params,
	}
	ctx, cancel := context.WithTimeout(c.clientContext(ctx), c.cfg.Timeout)
	defer cancel()
	t, err := cc.Token(ctx)
	if err != nil {
		return nil, nil, tokenEndpointError(err)
	}
	return t, m, nil
}
