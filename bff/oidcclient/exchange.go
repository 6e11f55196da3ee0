package oidcclient

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"time"
)

// Identity is a verified sign-in: the ID token's subject, provider session
// and claims, and the tokens issued with it.
type Identity struct {
	Subject string
	// SID is the provider's session ID (the ID token's sid), for
	// back-channel and front-channel logout; "" when absent.
	SID    string
	Claims json.RawMessage
	// ACR, AMR and AuthTime are the ID token's acr, amr and auth_time
	// (OpenID Connect Core 1.0 section 2): how and when the user
	// authenticated, as the provider says. Empty and zero when absent.
	ACR      string
	AMR      []string
	AuthTime time.Time
	// IDToken is the raw ID token, kept for id_token_hint at logout.
	IDToken     string
	AccessToken string
	// TokenType is TokenTypeDPoP for a DPoP-bound access token, else
	// "Bearer".
	TokenType    string
	RefreshToken string
	// Scope is the scope the provider granted, when it said ("" when not).
	Scope string
	// Expiry is the access token's; five minutes from now when the
	// provider gave no expires_in, so such a token is renewed, not trusted
	// forever.
	Expiry time.Time
}

// Exchange redeems an authorization code with its PKCE verifier and
// verifies the ID token (signature, iss, aud, exp) and its nonce. With key
// the request carries a DPoP proof, so the tokens are bound to key (the
// key whose thumbprint the authorization request named as dpop_jkt). A
// code the provider refuses is [ErrInvalidGrant]; a provider that does not
// answer is [ErrUnavailable]; a bad ID token is [ErrInvalidIDToken] (or
// [ErrNoIDToken]).
func (c *Client) Exchange(ctx context.Context, code string, verifier Verifier, nonce Nonce, key *DPoPKey) (_ *Identity, err error) {
	ctx, end := c.span(ctx, "oidc.exchange")
	defer func() { end(err) }()
	m, err := c.metadata(ctx)
	if err != nil {
		return nil, err
	}
	form := url.Values{
		"grant_type": {"authorization_code"}, "code": {code},
		"redirect_uri": {c.cfg.RedirectURL}, "code_verifier": {string(verifier)},
	}
	tok, err := c.token(ctx, m, form, key)
	if err != nil {
		return nil, err
	}
	if tok.IDToken == "" {
		return nil, ErrNoIDToken
	}
	vctx, vend := c.span(ctx, "oidc.verify_id_token")
	idt, err := m.verifier.Verify(c.clientContext(vctx), tok.IDToken)
	if err != nil {
		err = fmt.Errorf("%w: %v", ErrInvalidIDToken, err)
	}
	vend(err)
	if err != nil {
		return nil, err
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
		// acr and amr of unexpected types are taken as absent: a
		// session is never stronger than what is clearly stated.
		ACR      any     `json:"acr"`
		AMR      any     `json:"amr"`
		AuthTime float64 `json:"auth_time"`
	}
	_ = json.Unmarshal(claims, &std)
	acr, _ := std.ACR.(string)
	return &Identity{
		Subject:      idt.Subject,
		SID:          std.SID,
		Claims:       claims,
		ACR:          acr,
		AMR:          stringList(std.AMR),
		AuthTime:     numericDate(std.AuthTime),
		IDToken:      tok.IDToken,
		AccessToken:  tok.AccessToken,
		TokenType:    tokenType(tok.TokenType),
		RefreshToken: tok.RefreshToken,
		Scope:        tok.Scope,
		Expiry:       tok.expiry,
	}, nil
}

// TokenTypeDPoP is the token_type of a DPoP-bound access token (RFC 9449
// section 5); any other is sent as a bearer token.
const TokenTypeDPoP = "DPoP"

// tokenType is "DPoP" for a DPoP-bound token, whatever its case, and
// "Bearer" for any other.
func tokenType(t string) string {
	if strings.EqualFold(t, TokenTypeDPoP) {
		return TokenTypeDPoP
	}
	return "Bearer"
}

// stringList is v when it is a JSON array of strings, else nil.
func stringList(v any) []string {
	arr, ok := v.([]any)
	if !ok {
		return nil
	}
	out := make([]string, 0, len(arr))
	for _, e := range arr {
		s, ok := e.(string)
		if !ok {
			return nil
		}
		out = append(out, s)
	}
	return out
}

// numericDate is a JWT NumericDate (seconds since the epoch); zero for 0
// or a negative value.
func numericDate(secs float64) time.Time {
	if secs <= 0 {
		return time.Time{}
	}
	whole := int64(secs)
	return time.Unix(whole, int64((secs-float64(whole))*1e9))
}
