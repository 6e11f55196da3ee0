package bff

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"regexp"
	"time"

	"github.com/bff-project/bff/session"
	"golang.org/x/oauth2"
)

var (
	errBadState = errorf(http.StatusBadRequest, "invalid_state",
		"This sign-in link is not valid any more (it expired, was already used, or was started in another browser). Please sign in again.", nil)
	providerErrorCode = regexp.MustCompile(`^[a-z_]{1,64}$`)
)

// handleCallback finishes sign-in: it checks state (once only), the RFC 9207
// iss parameter, exchanges the code with the PKCE verifier, verifies the ID
// token and its nonce, and starts a new session under a new cookie value.
// Nothing of the query string is logged: it carries the code.
func (s *Server) handleCallback(w http.ResponseWriter, r *http.Request) {
	if err := s.callback(w, r); err != nil {
		s.metrics.logins.WithLabelValues("failed").Inc()
		s.writeError(w, r, err)
	}
}

func (s *Server) callback(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	q := r.URL.Query()
	state := q.Get("state")
	sess, flows := s.login.read(r)
	flow, ok := flows[state]
	if state == "" || !ok {
		return errBadState
	}
	// Only a callback with a live flow costs a provider call; it is
	// limited before the flow is spent, so a refused one can be retried.
	if !s.allowSignIn(r, s.loginCallbacks) {
		w.Header().Set("Retry-After", "60")
		return errRateLimited
	}
	// The flow is spent whatever happens next.
	delete(flows, state)
	if err := s.login.write(w, r, sess, flows); err != nil {
		return errorf(http.StatusInternalServerError, "server_error", "Could not finish sign-in.", err)
	}
	// The cookie alone cannot stop a replay of an old copy of it, so
	// remember the state server-side (on every instance) until it would
	// have expired anyway.
	first, err := s.sessions.FirstUse(ctx, "state:"+state, flow.Created.Add(loginFlowTTL))
	if err != nil {
		return errStoreDown(err)
	}
	if !first {
		return errBadState
	}
	if e := q.Get("error"); e != "" {
		code := "access_denied"
		if providerErrorCode.MatchString(e) {
			code = e
		}
		// The provider's error_description is not shown: it is text an
		// attacker can put in a link.
		return errorf(http.StatusBadRequest, code, "Sign-in was not completed at the identity provider.", nil)
	}
	info, err := s.provider.get(ctx)
	if err != nil {
		return errProviderDown(err)
	}
	iss := q.Get("iss")
	if (info.issParameter || iss != "") && iss != s.cfg.OIDC.Issuer {
		// RFC 9207: a response from another issuer is a mix-up attack.
		return errorf(http.StatusBadRequest, "invalid_issuer", "The sign-in response came from an unexpected identity provider.", nil)
	}
	code := q.Get("code")
	if code == "" {
		return errorf(http.StatusBadRequest, "invalid_request", "The sign-in response had no authorization code.", nil)
	}
	rec, err := s.exchangeCode(ctx, info, code, flow)
	if err != nil {
		return err
	}
	rec.UserAgent = truncate(r.UserAgent(), 256)
	rec.IP = s.clientIP(r)
	// Renew the session ID at sign-in: an existing session of this browser
	// is ended, never upgraded (no fixation).
	if c, err := r.Cookie(sessionCookieName); err == nil {
		if _, err := s.endSession(ctx, session.StoreKey(c.Value), "relogin"); err != nil {
			return err
		}
	}
	token, err := s.sessions.Create(ctx, rec)
	if err != nil {
		return errStoreDown(err)
	}
	s.setSessionCookie(w, string(token), rec.ExpiresAt)
	s.metrics.logins.WithLabelValues("ok").Inc()
	s.metrics.sessionsCreated.Inc()
	s.log.InfoContext(ctx, "signed in", "request_id", requestID(ctx), "session", rec.ID)
	http.Redirect(w, r, flow.ReturnURL, http.StatusFound)
	return nil
}

func (s *Server) exchangeCode(ctx context.Context, info *providerInfo, code string, flow loginFlow) (*session.Record, error) {
	ctx, cancel := context.WithTimeout(s.provider.clientContext(ctx), s.cfg.OIDC.Timeout)
	defer cancel()
	tok, err := info.oauth2.Exchange(ctx, code, oauth2.VerifierOption(flow.Verifier))
	if err != nil {
		var re *oauth2.RetrieveError
		if errors.As(err, &re) && re.Response != nil && re.Response.StatusCode < 500 {
			return nil, errorf(http.StatusBadRequest, "invalid_grant",
				"The sign-in could not be completed (the code was rejected). Please sign in again.", errors.New("code exchange: "+re.ErrorCode))
		}
		return nil, errProviderDown(errors.New("code exchange failed"))
	}
	rawID, _ := tok.Extra("id_token").(string)
	if rawID == "" {
		return nil, errorf(http.StatusBadGateway, "invalid_id_token", "The identity provider sent no ID token.", nil)
	}
	idt, err := info.verifier.Verify(ctx, rawID)
	if err != nil {
		return nil, errorf(http.StatusBadRequest, "invalid_id_token", "The identity provider's ID token did not verify.", err)
	}
	if idt.Nonce != flow.Nonce {
		return nil, errorf(http.StatusBadRequest, "invalid_id_token", "The identity provider's ID token did not verify.", errors.New("nonce mismatch"))
	}
	var claims json.RawMessage
	var std struct {
		SID string `json:"sid"`
	}
	if err := idt.Claims(&claims); err != nil {
		return nil, errorf(http.StatusBadGateway, "invalid_id_token", "The identity provider's ID token could not be read.", err)
	}
	_ = json.Unmarshal(claims, &std)
	expiry := tokenExpiry(tok)
	return &session.Record{
		Subject:      idt.Subject,
		SID:          std.SID,
		Claims:       claims,
		IDToken:      session.Secret(rawID),
		AccessToken:  session.Secret(tok.AccessToken),
		AccessExpiry: expiry,
		// Without it the sign-in token would count as due at once.
		AccessRefreshAt: s.refreshAt(time.Now(), expiry),
		RefreshToken:    session.Secret(tok.RefreshToken),
	}, nil
}

// tokenExpiry treats a token without expires_in as valid for five minutes,
// so it is refreshed rather than trusted forever.
func tokenExpiry(t *oauth2.Token) time.Time {
	if t.Expiry.IsZero() {
		return time.Now().Add(5 * time.Minute)
	}
	return t.Expiry
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
