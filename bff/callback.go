package bff

import (
	"context"
	"errors"
	"net/http"
	"regexp"
	"slices"
	"time"

	"github.com/bff-project/bff/bff/oidcclient"
	"github.com/bff-project/bff/bff/tokens"
	"github.com/bff-project/bff/session"
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
func (s *Server) handleCallback(w http.ResponseWriter, r *http.Request) error {
	err := s.callback(w, r)
	if err != nil {
		s.metrics.logins.WithLabelValues("failed").Inc()
	}
	return err
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
	switch err := s.provider.CheckIssuer(ctx, q.Get("iss")); {
	case errors.Is(err, oidcclient.ErrIssuerMismatch):
		// RFC 9207: a response from another issuer is a mix-up attack.
		return errorf(http.StatusBadRequest, "invalid_issuer", "The sign-in response came from an unexpected identity provider.", nil)
	case err != nil:
		return errProviderDown(err)
	}
	code := q.Get("code")
	if code == "" {
		return errorf(http.StatusBadRequest, "invalid_request", "The sign-in response had no authorization code.", nil)
	}
	rec, err := s.exchangeCode(ctx, code, flow)
	if err != nil {
		return err
	}
	// A sign-in that did not reach what it asked for (a provider that
	// ignored acr_values or max_age) changes nothing: the session it was
	// to upgrade stays as it was.
	if err := checkStrength(flow, rec, time.Now()); err != nil {
		// Its refresh token belongs to no session: it must not stay alive.
		s.revokeAll(ctx, []*session.Record{rec})
		return err
	}
	rec.UserAgent = truncate(r.UserAgent(), 256)
	rec.IP = s.clientIP(r)
	// Renew the session ID at sign-in: an existing session of this browser
	// is ended, never upgraded (no fixation): the one whose cookie came
	// (same_site lax) and the one the sign-in started from.
	var prev []string
	if c, err := r.Cookie(sessionCookieName); err == nil {
		prev = append(prev, session.StoreKey(c.Value))
	}
	if flow.Prev != "" && !slices.Contains(prev, flow.Prev) {
		prev = append(prev, flow.Prev)
	}
	ended, err := s.endPrevious(ctx, prev, rec.Subject)
	if err != nil {
		return err
	}
	// The same user signing in again (a step-up) continues the session:
	// new ID, cookie, tokens and strength, the same start and absolute
	// end. Another user replaces it.
	continued := sameUser(ended, rec.Subject)
	token, err := s.sessions.Continue(ctx, rec, continued)
	if err != nil {
		return errStoreDown(err)
	}
	s.setSessionCookie(w, string(token), rec.ExpiresAt)
	s.metrics.logins.WithLabelValues("ok").Inc()
	s.metrics.sessionsCreated.Inc()
	s.log.InfoContext(ctx, "signed in", "request_id", requestID(ctx), "session", rec.ID, "continued", continued != nil)
	http.Redirect(w, r, flow.ReturnURL, http.StatusFound)
	return nil
}

// endPrevious ends the browser's previous sessions at a sign-in by sub:
// one of sub's own ends for session.ReasonStepUp (its streams hear that the
// session goes on under a new cookie), any other for
// session.ReasonReplaced.
func (s *Server) endPrevious(ctx context.Context, keys []string, sub string) ([]*session.Record, error) {
	var ended []*session.Record
	for _, key := range keys {
		old, err := s.sessions.LoadKey(ctx, key)
		if err != nil {
			return ended, errStoreDown(err)
		}
		reason := session.ReasonReplaced
		if old != nil && old.Subject == sub {
			reason = session.ReasonStepUp
		}
		recs, err := s.endSessions(ctx, []string{key}, reason)
		ended = append(ended, recs...)
		if err != nil {
			return ended, err
		}
	}
	return ended, nil
}

// sameUser is the ended session of sub, if any: the session a sign-in by
// the same user continues.
func sameUser(ended []*session.Record, sub string) *session.Record {
	for _, rec := range ended {
		if rec.Subject == sub {
			return rec
		}
	}
	return nil
}

// exchangeCode redeems the code and makes the new session's record.
func (s *Server) exchangeCode(ctx context.Context, code string, flow loginFlow) (*session.Record, error) {
	var key *oidcclient.DPoPKey
	if flow.DPoPJKT != "" {
		var err error
		if key, err = s.callbackDPoPKey(flow.Verifier, flow.DPoPJKT); err != nil {
			return nil, errorf(http.StatusBadRequest, "invalid_state", "This sign-in cannot be completed any more. Please sign in again.", err)
		}
	}
	id, err := s.provider.Exchange(ctx, code, oidcclient.Verifier(flow.Verifier), oidcclient.Nonce(flow.Nonce), key)
	switch {
	case errors.Is(err, oidcclient.ErrInvalidGrant), errors.As(err, new(*oidcclient.TokenError)):
		return nil, errorf(http.StatusBadRequest, "invalid_grant",
			"The sign-in could not be completed (the code was rejected). Please sign in again.", err)
	case errors.Is(err, oidcclient.ErrNoIDToken):
		return nil, errorf(http.StatusBadGateway, "invalid_id_token", "The identity provider sent no ID token.", nil)
	case errors.Is(err, oidcclient.ErrInvalidIDToken):
		return nil, errorf(http.StatusBadRequest, "invalid_id_token", "The identity provider's ID token did not verify.", err)
	case err != nil:
		return nil, errProviderDown(err)
	}
	rec := &session.Record{
		Subject:         id.Subject,
		SID:             id.SID,
		Claims:          id.Claims,
		ACR:             id.ACR,
		AMR:             id.AMR,
		AuthTime:        id.AuthTime,
		IDToken:         session.Secret(id.IDToken),
		AccessToken:     session.Secret(id.AccessToken),
		AccessTokenType: id.TokenType,
		AccessRefused:   s.tokens.SignInRefusal(id.AccessToken),
		AccessExpiry:    id.Expiry,
		// Without it the sign-in token would count as due at once.
		AccessRefreshAt: s.tokens.RefreshAt(time.Now(), id.Expiry),
		RefreshToken:    session.Secret(id.RefreshToken),
		Resources:       s.signInResources,
	}
	if key != nil {
		rec.DPoPKey = tokens.SealDPoPKey(key)
	}
	return rec, nil
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
