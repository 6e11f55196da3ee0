package session

import (
	"encoding/json"
	"log/slog"
	"maps"
	"time"
)

// Record is one signed-in browser session. It is stored as JSON inside the
// encrypted envelope, so every field, not just the tokens, is confidential
// at rest.
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

	IDToken      Secret    `json:"idt,omitempty"`
	AccessToken  Secret    `json:"at,omitempty"`
	AccessExpiry time.Time `json:"ate"`
	// AccessRefreshAt is when AccessToken is due for refresh: shortly
	// before AccessExpiry.
	AccessRefreshAt time.Time `json:"atr"`
	RefreshToken    Secret    `json:"rt,omitempty"`
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
	AccessToken Secret    `json:"at"`
	Expiry      time.Time `json:"exp"`
	// RefreshAt is when the token is due for renewal, before Expiry.
	RefreshAt time.Time `json:"ra"`
}

// Clone returns a deep copy that may be modified.
func (r *Record) Clone() *Record {
	c := *r
	c.Claims = append(json.RawMessage(nil), r.Claims...)
	c.Tokens = maps.Clone(r.Tokens)
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
		slog.Time("expires_at", r.ExpiresAt),
	)
}

// LogValue implements slog.LogValuer: presence and expiry only.
func (t Token) LogValue() slog.Value {
	return slog.GroupValue(slog.Bool("access_token", t.AccessToken != ""), slog.Time("expiry", t.Expiry))
}
