package bff

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"
)

// backchannelEvent is the events member a logout token must carry.
const backchannelEvent = "http://schemas.openid.net/event/backchannel-logout"

const (
	// logoutTokenMaxAge bounds how old a logout token's iat may be. Tokens
	// without exp (common) are valid this long.
	logoutTokenMaxAge = 5 * time.Minute
	// logoutTokenClockSkew tolerates a provider clock slightly ahead.
	logoutTokenClockSkew = time.Minute
)

// logoutClaims are the OpenID Connect Back-Channel Logout 1.0 section 2.4
// claims the BFF checks beyond go-oidc's signature, iss and aud.
type logoutClaims struct {
	Subject  string                     `json:"sub"`
	SID      string                     `json:"sid"`
	JTI      string                     `json:"jti"`
	IssuedAt *json.Number               `json:"iat"`
	Expiry   *json.Number               `json:"exp"`
	Events   map[string]json.RawMessage `json:"events"`
}

var errInvalidLogoutToken = errorf(http.StatusBadRequest, "invalid_request", "The logout token is not valid.", nil)

func invalidLogoutToken(cause string) *HTTPError {
	e := *errInvalidLogoutToken
	e.Err = errors.New(cause)
	return &e
}

// handleBackchannelLogout ends every session the provider names in a
// verified logout token, on every instance (they share the store), and
// revokes their refresh tokens.
func (s *Server) handleBackchannelLogout(w http.ResponseWriter, r *http.Request) {
	n, err := s.backchannelLogout(r)
	if err != nil {
		s.metrics.backchannel.WithLabelValues("invalid").Inc()
		s.writeError(w, r, err)
		return
	}
	s.metrics.backchannel.WithLabelValues("ok").Inc()
	s.log.InfoContext(r.Context(), "back-channel logout", "request_id", requestID(r.Context()), "sessions_ended", n)
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
}

func (s *Server) backchannelLogout(r *http.Request) (int, error) {
	ctx := r.Context()
	// bffHeaders has bounded the body (maxBFFBody).
	if err := r.ParseForm(); err != nil {
		return 0, invalidLogoutToken("unreadable or oversized body")
	}
	raw := r.PostForm.Get("logout_token")
	if raw == "" {
		return 0, invalidLogoutToken("no logout_token")
	}
	info, err := s.provider.get(ctx)
	if err != nil {
		return 0, errProviderDown(err)
	}
	claims, err := s.verifyLogoutToken(ctx, info, raw, time.Now())
	if err != nil {
		return 0, err
	}
	first, err := s.sessions.FirstUse(ctx, "jti:"+claims.JTI, time.Now().Add(2*logoutTokenMaxAge))
	if err != nil {
		return 0, errStoreDown(err)
	}
	if !first {
		return 0, invalidLogoutToken("replayed jti")
	}
	n, err := s.endSessionsFor(ctx, claims.SID, claims.Subject, "backchannel")
	if err != nil {
		// The provider retries a failed delivery with the same token: it
		// must not be refused as a replay while sessions are still open.
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
		defer cancel()
		if ferr := s.sessions.Forget(fctx, "jti:"+claims.JTI); ferr != nil {
			s.log.WarnContext(ctx, "back-channel logout failed and its jti could not be released; the provider's retry will be refused",
				"request_id", requestID(ctx), "cause", ferr.Error())
		}
	}
	return n, err
}

// verifyLogoutToken checks a logout token per Back-Channel Logout 1.0
// section 2.6. go-oidc checks the signature against the provider's keys
// (logoutKeys), iss and aud; the rest is here. Providers in use send typ "JWT" and omit
// exp, so both are accepted and iat bounds the token's age instead.
func (s *Server) verifyLogoutToken(ctx context.Context, info *providerInfo, raw string, now time.Time) (*logoutClaims, error) {
	if typ, ok := jwtType(raw); !ok || !(typ == "" || strings.EqualFold(typ, "JWT") ||
		strings.EqualFold(strings.TrimPrefix(strings.ToLower(typ), "application/"), "logout+jwt")) {
		return nil, invalidLogoutToken("malformed token or unexpected typ")
	}
	tok, err := info.logoutVerifier.Verify(ctx, raw)
	if err != nil {
		return nil, invalidLogoutToken("verify: " + err.Error())
	}
	var c logoutClaims
	if err := tok.Claims(&c); err != nil {
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
	case c.IssuedAt == nil:
		return nil, invalidLogoutToken("no iat")
	case c.JTI == "":
		return nil, invalidLogoutToken("no jti")
	case hasNonce:
		return nil, invalidLogoutToken("nonce present")
	case c.SID == "" && c.Subject == "":
		return nil, invalidLogoutToken("neither sid nor sub")
	}
	iat, err := c.IssuedAt.Float64()
	if err != nil {
		return nil, invalidLogoutToken("bad iat")
	}
	issued := time.Unix(int64(iat), 0)
	if issued.Before(now.Add(-logoutTokenMaxAge)) || issued.After(now.Add(logoutTokenClockSkew)) {
		return nil, invalidLogoutToken("iat out of range")
	}
	if c.Expiry != nil {
		exp, err := c.Expiry.Float64()
		if err != nil || !time.Unix(int64(exp), 0).After(now.Add(-logoutTokenClockSkew)) {
			return nil, invalidLogoutToken("expired")
		}
	}
	ev, ok := c.Events[backchannelEvent]
	if !ok || !isJSONObject(ev) {
		return nil, invalidLogoutToken("no back-channel logout event")
	}
	return &c, nil
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

// endSessionsFor ends every session of a provider session (sid) or, with
// only sub, of a user. With both, a session must match both.
func (s *Server) endSessionsFor(ctx context.Context, sid, sub, reason string) (int, error) {
	var entries []sessionEntry
	var err error
	if sid != "" {
		entries, err = s.sessions.BySID(ctx, sid)
	} else {
		entries, err = s.sessions.BySubject(ctx, sub)
	}
	if err != nil {
		return 0, errStoreDown(err)
	}
	var keys []string
	for _, e := range entries {
		if sub == "" || e.Record.Subject == sub {
			keys = append(keys, e.Key)
		}
	}
	ended, err := s.endSessions(ctx, keys, reason)
	n := len(ended)
	if err != nil {
		return n, err
	}
	s.metrics.logouts.WithLabelValues(reason).Add(float64(n))
	return n, nil
}
