package oidcclient

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"golang.org/x/oauth2"
)

// Identity is a verified sign-in: the ID token's subject, provider session
// and claims, and the tokens issued with it.
type Identity struct {
	Subject string
	// SID is the provider's session ID (the ID token's sid), for
	// back-channel and front-channel logout; "" when absent.
	SID    string
	Claims json.RawMessage
	// IDToken is the raw ID token, kept for id_token_hint at logout.
	IDToken      string
	AccessToken  string
	RefreshToken string
	// Expiry is the access token's; five minutes from now when the
	// provider gave no expires_in, so such a token is renewed, not trusted
	// forever.
	Expiry time.Time
}

// Exchange redeems an authorization code with its PKCE verifier and
// verifies the ID token (signature, iss, aud, exp) and its nonce. A code
// the provider refuses is [ErrInvalidGrant]; a provider that does not
// answer is [ErrUnavailable]; a bad ID token is [ErrInvalidIDToken] (or
// [ErrNoIDToken]).
func (c *Client) Exchange(ctx context.Context, code string, verifier Verifier, nonce Nonce) (*Identity, error) {
	m, err := c.metadata(ctx)
	if err != nil {
		return nil, err
	}
	extra, err := c.auth.params(m.endpoint.TokenURL)
	if err != nil {
		return nil, err
	}
	opts := []oauth2.AuthCodeOption{oauth2.VerifierOption(string(verifier))}
	for k, vs := range extra {
		for _, v := range vs {
			opts = append(opts, oauth2.SetAuthURLParam(k, v))
		}
	}
	ctx, cancel := context.WithTimeout(c.clientContext(ctx), c.cfg.Timeout)
	defer cancel()
	tok, err := c.oauth2Config(m).Exchange(ctx, code, opts...)
	if err != nil {
		return nil, tokenEndpointError(err)
	}
	rawID, _ := tok.Extra("id_token").(string)
	if rawID == "" {
		return nil, ErrNoIDToken
	}
	idt, err := m.verifier.Verify(ctx, rawID)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidIDToken, err)
	}
	if idt.Nonce != string(nonce) {
		return nil, fmt.Errorf("%w: nonce mismatch", ErrInvalidIDToken)
	}
	var claims json.RawMessage
	if err := idt.Claims(&claims); err != nil {
		return nil, fmt.Errorf("%w: claims: %v", ErrInvalidIDToken, err)
	}
	var std struct {
		SID string `json:"sid"`
	}
	_ = json.Unmarshal(claims, &std)
	return &Identity{
		Subject:      idt.Subject,
		SID:          std.SID,
		Claims:       claims,
		IDToken:      rawID,
		AccessToken:  tok.AccessToken,
		RefreshToken: tok.RefreshToken,
		Expiry:       expiry(tok),
	}, nil
}

// expiry treats a token without expires_in as valid for five minutes.
func expiry(t *oauth2.Token) time.Time {
	if t.Expiry.IsZero() {
		return time.Now().Add(5 * time.Minute)
	}
	return t.Expiry
}
