package oidcclient

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// ErrAudienceMismatch means an access token issued for an API does not
// name that API in its aud: the provider ignored the audience or
// resource asked for, and the token must not be forwarded (another API
// might accept it, and this one should not). errors.Is finds it; the
// error's text says which audiences the token has, never the token.
var ErrAudienceMismatch = errors.New("oidcclient: access token audience mismatch")

// CheckAudience checks that an access token meant for an API carries one
// of want (the route's resource indicator or audience; "" entries are
// ignored) in its aud claim. Tokens that are not JWTs (opaque, or
// encrypted) cannot be read and pass: only the API can check them. The
// signature is not verified: the BFF is not the token's audience, and
// this is a check against a provider's misrouting, not an authentication.
// It is the one place the BFF reads an access token's audience, for
// routes and for provider presets alike.
func CheckAudience(accessToken string, want ...string) error {
	want = slices.DeleteFunc(slices.Clone(want), func(s string) bool { return s == "" })
	if len(want) == 0 {
		return nil
	}
	aud, ok := jwtAudience(accessToken)
	if !ok {
		return nil
	}
	for _, w := range want {
		if slices.Contains(aud, w) {
			return nil
		}
	}
	return fmt.Errorf("%w: token aud %q, want one of %q", ErrAudienceMismatch, aud, want)
}

// jwtAudience reads the aud claim (a string or an array) of a compact JWS;
// ok is false when accessToken is not one.
func jwtAudience(accessToken string) (aud []string, ok bool) {
	parts := strings.Split(accessToken, ".")
	if len(parts) != 3 {
		return nil, false
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return nil, false
	}
	var c struct {
		Aud json.RawMessage `json:"aud"`
	}
	if err := json.Unmarshal(payload, &c); err != nil {
		return nil, false
	}
	var one string
	if json.Unmarshal(c.Aud, &one) == nil {
		return []string{one}, true
	}
	var many []string
	_ = json.Unmarshal(c.Aud, &many)
	return many, true
}
