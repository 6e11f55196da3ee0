package oidcclient

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// BackchannelEvent is the events member a logout token must carry.
const BackchannelEvent = "http://schemas.openid.net/event/backchannel-logout"

const (
	// logoutTokenMaxAge bounds how old a logout token's iat may be. Tokens
	// without exp (common) are valid this long.
	logoutTokenMaxAge = 5 * time.Minute
	// logoutTokenClockSkew tolerates a provider clock slightly ahead.
	logoutTokenClockSkew = time.Minute
)

// LogoutTokenMaxAge is how long a verified logout token stays acceptable,
// so how long its jti must be remembered against replay (twice, for
// clock skew).
const LogoutTokenMaxAge = logoutTokenMaxAge

// LogoutClaims are the claims of a verified logout token that say what to
// end (OpenID Connect Back-Channel Logout 1.0 section 2.4).
type LogoutClaims struct {
	Subject  string                     `json:"sub"`
	SID      string                     `json:"sid"`
	JTI      string                     `json:"jti"`
	IssuedAt *json.Number               `json:"iat"`
	Expiry   *json.Number               `json:"exp"`
	Events   map[string]json.RawMessage `json:"events"`
}

// ErrInvalidLogoutToken means a logout token failed a check; the wrapped
// text says which, for the log.
var ErrInvalidLogoutToken = errors.New("oidcclient: invalid logout token")

func invalidLogoutToken(cause string) error {
	return fmt.Errorf("%w: %s", ErrInvalidLogoutToken, cause)
}

// VerifyLogoutToken checks a logout token per Back-Channel Logout 1.0
// section 2.6: the signature against the provider's keys (a cache that
// fetches them again only for an unknown key ID, at most every 10 s, so
// forged tokens cannot make the BFF hammer the provider), iss, aud, iat
// within five minutes, exp when present, jti present, the back-channel
// event, sid and/or sub, and no nonce. Providers in use send typ "JWT" and
// omit exp, so both are accepted. It does NOT check jti for replay: the
// caller remembers it across instances.
func (c *Client) VerifyLogoutToken(ctx context.Context, raw string, now time.Time) (_ *LogoutClaims, err error) {
	ctx, end := c.span(ctx, "oidc.verify_logout_token")
	defer func() { end(err) }()
	m, err := c.metadata(ctx)
	if err != nil {
		return nil, err
	}
	if typ, ok := jwtType(raw); !ok || !(typ == "" || strings.EqualFold(typ, "JWT") ||
		strings.EqualFold(strings.TrimPrefix(strings.ToLower(typ), "application/"), "logout+jwt")) {
		return nil, invalidLogoutToken("malformed token or unexpected typ")
	}
	tok, err := m.logoutVerifier.Verify(ctx, raw)
	if err != nil {
		return nil, invalidLogoutToken("verify: " + err.Error())
	}
	var cl LogoutClaims
	if err := tok.Claims(&cl); err != nil {
		return nil, invalidLogoutToken("claims: " + err.Error())
	}
	// Section 2.4: nonce MUST NOT be present, not even as null, so look
	// at the keys rather than decoded values.
	var present map[string]json.RawMessage
	if err := tok.Claims(&present); err != nil {
		return nil, invalidLogoutToken("claims: " + err.Error())
	}
	_, hasNonce := present["nonce"]
	switch {
	case cl.IssuedAt == nil:
		return nil, invalidLogoutToken("no iat")
	case cl.JTI == "":
		return nil, invalidLogoutToken("no jti")
	case hasNonce:
		return nil, invalidLogoutToken("nonce present")
	case cl.SID == "" && cl.Subject == "":
		return nil, invalidLogoutToken("neither sid nor sub")
	}
	iat, err := cl.IssuedAt.Float64()
	if err != nil {
		return nil, invalidLogoutToken("bad iat")
	}
	issued := time.Unix(int64(iat), 0)
	if issued.Before(now.Add(-logoutTokenMaxAge)) || issued.After(now.Add(logoutTokenClockSkew)) {
		return nil, invalidLogoutToken("iat out of range")
	}
	if cl.Expiry != nil {
		exp, err := cl.Expiry.Float64()
		if err != nil || !time.Unix(int64(exp), 0).After(now.Add(-logoutTokenClockSkew)) {
			return nil, invalidLogoutToken("expired")
		}
	}
	ev, ok := cl.Events[BackchannelEvent]
	if !ok || !isJSONObject(ev) {
		return nil, invalidLogoutToken("no back-channel logout event")
	}
	return &cl, nil
}

// jwtType returns the typ header of a compact JWS.
func jwtType(raw string) (string, bool) {
	header, _, ok := strings.Cut(raw, ".")
	if !ok {
		return "", false
	}
	b, err := base64.RawURLEncoding.DecodeString(header)
	if err != nil {
		return "", false
	}
	var h struct {
		Typ string `json:"typ"`
	}
	if err := json.Unmarshal(b, &h); err != nil {
		return "", false
	}
	return h.Typ, true
}

func isJSONObject(m json.RawMessage) bool {
	var v map[string]any
	return json.Unmarshal(m, &v) == nil && v != nil
}
