package oidcclient

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Errors of [Client.CheckToken], for errors.Is. Their texts say which
// audiences or scopes the token has (the API's names and permission
// names, never the token or a claim about the user).
var (
	// ErrAudienceMismatch: an access token issued for an API does not
	// name that API in its aud. The provider ignored the audience or
	// resource asked for (Auth0 falls back to its default audience
	// silently), and the token must not be forwarded: another API might
	// accept it, and this one should not.
	ErrAudienceMismatch = errors.New("oidcclient: access token audience mismatch")
	// ErrScopeMismatch: an access token lacks a scope its route asked
	// for. The provider granted less than asked (a policy, a consent the
	// user did not give), so the API would refuse the call anyway, and a
	// token carrying other scopes must not stand in for it.
	ErrScopeMismatch = errors.New("oidcclient: access token scope mismatch")
)

// idTokenScopes are scopes of the sign-in, which providers leave out of
// access tokens' scope claims: they are never required of one.
var idTokenScopes = []string{"openid", "profile", "email", "address", "phone", "offline_access"}

// CheckToken checks that an access token issued for req names what req
// asked for: one of its audiences (req.Accept when set, else its
// resource or audience) in aud, and each of its scopes in scope or scp
// (RFC 9068's space-separated scope, or scp as Entra ID and Okta write
// it, a string or an array). It is the one place the BFF reads an access
// token, after every refresh or exchange, for routes and presets alike.
//
// Tokens that are not JWTs (opaque, or encrypted) cannot be read and
// pass: only the API can check them. A JWT without a scope claim passes
// the scope check for the same reason. The signature is not verified:
// the BFF is not the token's audience, and this is a check against a
// provider's misrouting, not an authentication.
//
// With the entra preset, an audience api://<id> also accepts aud <id>
// (v2 tokens carry the API's application ID), a scope
// <resource>/<permission> is satisfied by <permission> (scp holds the
// short names), and <resource>/.default asks for nothing in particular.
func (c *Client) CheckToken(accessToken string, req TokenRequest) error {
	return checkToken(accessToken, c.expect(req))
}

// expectation is what an access token must carry.
type expectation struct {
	audiences []string // any one of them; none: not checked
	scopes    []string // all of them
	// shortScopes: a scope "<resource>/<permission>" is satisfied by
	// "<permission>" (Entra ID).
	shortScopes bool
}

func (c *Client) expect(req TokenRequest) expectation {
	e := expectation{audiences: req.Accept, shortScopes: c.cfg.Provider == ProviderEntra}
	if len(e.audiences) == 0 {
		e.audiences = []string{req.Resource, req.Audience}
	}
	e.audiences = slices.DeleteFunc(slices.Clone(e.audiences), func(s string) bool { return s == "" })
	if e.shortScopes {
		for _, a := range e.audiences {
			if id, ok := strings.CutPrefix(a, "api://"); ok && id != "" && !strings.Contains(id, "/") {
				e.audiences = append(e.audiences, id)
			}
		}
	}
	for _, s := range req.Scopes {
		if slices.Contains(idTokenScopes, s) || (e.shortScopes && strings.HasSuffix(s, "/.default")) {
			continue
		}
		e.scopes = append(e.scopes, s)
	}
	return e
}

func checkToken(accessToken string, e expectation) error {
	if len(e.audiences) == 0 && len(e.scopes) == 0 {
		return nil
	}
	c, ok := readClaims(accessToken)
	if !ok {
		return nil
	}
	if len(e.audiences) > 0 && !slices.ContainsFunc(e.audiences, func(a string) bool { return slices.Contains(c.aud, a) }) {
		return fmt.Errorf("%w: token aud %q, want one of %q", ErrAudienceMismatch, c.aud, e.audiences)
	}
	if c.scopes == nil {
		return nil
	}
	var missing []string
	for _, s := range e.scopes {
		if slices.Contains(c.scopes, s) {
			continue
		}
		if i := strings.LastIndexByte(s, '/'); e.shortScopes && i >= 0 && slices.Contains(c.scopes, s[i+1:]) {
			continue
		}
		missing = append(missing, s)
	}
	if len(missing) > 0 {
		return fmt.Errorf("%w: token lacks %q (has %q)", ErrScopeMismatch, missing, c.scopes)
	}
	return nil
}

// tokenClaims are the claims CheckToken reads.
type tokenClaims struct {
	aud    []string
	scopes []string // nil: the token says nothing of its scopes
}

// readClaims reads aud and scope/scp of a compact JWS; ok is false when
// accessToken is not one.
func readClaims(accessToken string) (tokenClaims, bool) {
	parts := strings.Split(accessToken, ".")
	if len(parts) != 3 {
		return tokenClaims{}, false
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return tokenClaims{}, false
	}
	var raw struct {
		Aud   json.RawMessage `json:"aud"`
		Scope json.RawMessage `json:"scope"`
		Scp   json.RawMessage `json:"scp"`
	}
	if err := json.Unmarshal(payload, &raw); err != nil {
		return tokenClaims{}, false
	}
	var c tokenClaims
	c.aud, _ = stringOrList(raw.Aud)
	if s, ok := stringOrList(raw.Scope); ok {
		c.scopes = s
	}
	if s, ok := stringOrList(raw.Scp); ok {
		c.scopes = append(c.scopes, s...)
	}
	return c, true
}

// stringOrList reads a claim that is a space-separated string or an
// array of strings; ok is false when it is absent or neither.
func stringOrList(raw json.RawMessage) (_ []string, ok bool) {
	var one string
	if json.Unmarshal(raw, &one) == nil {
		return append([]string{}, strings.Fields(one)...), true
	}
	var many []string
	if json.Unmarshal(raw, &many) == nil && many != nil {
		return many, true
	}
	return nil, false
}
