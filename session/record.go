package session

import (
	"encoding/json"
	"log/slog"
	"maps"
	"slices"
	"time"
)

// Record is one signed-in browser session. It is stored inside the
// encrypted envelope, so every field, not just the tokens, is confidential
// at rest: its tokens in a compact binary bundle, every other field as
// JSON (see codec.go). A field added here needs only its json tag.
//
// A *Record returned by [Manager.Load] is shared with other requests and
// must not be modified; change a session with [Manager.Update].
type Record struct {
	// ID is the public session ID shown in /bff/user and /bff/sessions. It
	// is random and unrelated to the cookie value.
	ID string `json:"id"`
	// Subject is the ID token's sub.
	Subject string `json:"sub"`
	// SID is the provider's session ID (ID token sid), for back-channel
	// logout.
	SID string `json:"sid,omitempty"`
	// Claims are the ID token's claims as JSON.
	Claims json.RawMessage `json:"claims,omitempty"`
	// ACR, AMR and AuthTime are the sign-in's strength: the verified ID
	// token's acr, amr and auth_time (zero when the provider sent none).
	// They are set at sign-in only (a token refresh does not
	// re-authenticate the user), checked by the routes' rules
	// (apis[].require) and shown in /bff/user. A step-up sign-in makes a
	// new record with new values.
	ACR      string    `json:"acr,omitempty"`
	AMR      []string  `json:"amr,omitempty"`
	AuthTime time.Time `json:"aut,omitzero"`

	IDToken      Secret    `json:"idt,omitempty"`
	AccessToken  Secret    `json:"at,omitempty"`
	AccessExpiry time.Time `json:"ate"`
	// AccessRefreshAt is when AccessToken is due for refresh: shortly
	// before AccessExpiry.
	AccessRefreshAt time.Time `json:"atr"`
	// AccessTokenType is "DPoP" when AccessToken is DPoP-bound (RFC 9449)
	// to DPoPKey, "" or "Bearer" otherwise. Issue 15: keep it in any
	// encoding of the record.
	AccessTokenType string `json:"att,omitempty"`
	// AccessRefused, when set, says why AccessToken must not be sent to
	// an API: "audience" when it lacks the audience the sign-in asked for
	// (a provider's silent fallback to a default audience). Set whenever
	// AccessToken is.
	AccessRefused string `json:"atf,omitempty"`
	RefreshToken  Secret `json:"rt,omitempty"`
	// DPoPKey is the session's DPoP private key (32 bytes of a P-256
	// scalar, base64url), created at sign-in: the tokens of a session
	// with one are bound to it, and every instance signs the proofs with
	// it. It is as secret as the tokens: sealed in the record, never
	// logged, never sent to the browser. Issue 15: keep it in any
	// encoding of the record.
	DPoPKey Secret `json:"dpk,omitempty"`
	// Resources are the RFC 8707 resource indicators the sign-in request
	// carried, so that no route asks the provider for a resource outside
	// the session's grant (strict providers refuse it, and some use up the
	// refresh token while refusing). nil for sessions made before this
	// was recorded. Issue 20: keep it in any encoding of the record.
	Resources []string `json:"res,omitempty"`
	// Tokens caches access tokens obtained for API audiences, by a key the
	// token manager chooses (audience, resource and scopes).
	Tokens map[string]Token `json:"tok,omitempty"`

	CreatedAt  time.Time `json:"cat"`
	LastSeenAt time.Time `json:"lsa"`
	// ExpiresAt is the absolute end: CreatedAt + Lifetime.
	ExpiresAt time.Time `json:"exp"`
	UserAgent string    `json:"ua,omitempty"`
	IP        string    `json:"ip,omitempty"`
}

// Token is an access token for one API audience.
type Token struct {
	AccessToken Secret `json:"at"`
	// Type is "DPoP" for a DPoP-bound token, "" or "Bearer" otherwise.
	// Issue 15: keep it in any encoding of the record.
	Type string `json:"tt,omitempty"`
	// Refused, when set, says why the provider's last token for this API
	// was not kept ("audience" or "scope": it did not carry what the route
	// asked for); AccessToken is then empty, and calls are refused until
	// RefreshAt rather than asking the provider again on each one.
	Refused string    `json:"rf,omitempty"`
	Expiry  time.Time `json:"exp"`
	// RefreshAt is when the token is due for renewal, before Expiry.
	RefreshAt time.Time `json:"ra"`
}

// Clone returns a deep copy that may be modified.
func (r *Record) Clone() *Record {
	c := *r
	c.Claims = append(json.RawMessage(nil), r.Claims...)
	c.AMR = slices.Clone(r.AMR)
	c.Tokens = maps.Clone(r.Tokens)
	c.Resources = slices.Clone(r.Resources)
	return &c
}

// IdleExpiresAt is when the session ends if it is not used again.
func (r *Record) IdleExpiresAt(idle time.Duration) time.Time {
	t := r.LastSeenAt.Add(idle)
	if t.After(r.ExpiresAt) {
		return r.ExpiresAt
	}
	return t
}

// LogValue implements slog.LogValuer: a record in a log line shows which
// tokens it holds, never their values. (slog's JSON handler would otherwise
// marshal the record, and a Secret marshals to its value.)
func (r *Record) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("id", r.ID),
		slog.Bool("id_token", r.IDToken != ""),
		slog.Bool("access_token", r.AccessToken != ""),
		slog.Bool("refresh_token", r.RefreshToken != ""),
		slog.Int("api_tokens", len(r.Tokens)),
		slog.Bool("dpop", r.DPoPKey != ""),
		slog.Time("expires_at", r.ExpiresAt),
	)
}

// LogValue implements slog.LogValuer: presence and expiry only.
func (t Token) LogValue() slog.Value {
	return slog.GroupValue(slog.Bool("access_token", t.AccessToken != ""), slog.Time("expiry", t.Expiry))
}
