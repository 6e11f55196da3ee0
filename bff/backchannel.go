package bff

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/bff-project/bff/bff/oidcclient"
	"github.com/bff-project/bff/session"
)

var errInvalidLogoutToken = errorf(http.StatusBadRequest, "invalid_request", "The logout token is not valid.", nil)

func invalidLogoutToken(cause error) *HTTPError {
	e := *errInvalidLogoutToken
	e.Err = cause
	return &e
}

// handleBackchannelLogout ends every session the provider names in a
// verified logout token, on every instance (they share the store), and
// revokes their refresh tokens.
func (s *Server) handleBackchannelLogout(w http.ResponseWriter, r *http.Request) error {
	n, err := s.backchannelLogout(r)
	if err != nil {
		s.metrics.backchannel.WithLabelValues("invalid").Inc()
		return err
	}
	s.metrics.backchannel.WithLabelValues("ok").Inc()
	s.log.InfoContext(r.Context(), "back-channel logout", "request_id", requestID(r.Context()), "sessions_ended", n)
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	return nil
}

func (s *Server) backchannelLogout(r *http.Request) (int, error) {
	ctx := r.Context()
	// bffHeaders has bounded the body (maxBFFBody).
	if err := r.ParseForm(); err != nil {
		return 0, invalidLogoutToken(errors.New("unreadable or oversized body"))
	}
	raw := r.PostForm.Get("logout_token")
	if raw == "" {
		return 0, invalidLogoutToken(errors.New("no logout_token"))
	}
	claims, err := s.provider.VerifyLogoutToken(ctx, raw, time.Now())
	switch {
	case errors.Is(err, oidcclient.ErrInvalidLogoutToken):
		return 0, invalidLogoutToken(err)
	case err != nil:
		return 0, errProviderDown(err)
	}
	first, err := s.sessions.FirstUse(ctx, "jti:"+claims.JTI, time.Now().Add(2*oidcclient.LogoutTokenMaxAge))
	if err != nil {
		return 0, errStoreDown(err)
	}
	if !first {
		return 0, invalidLogoutToken(errors.New("replayed jti"))
	}
	n, err := s.endSessionsFor(ctx, claims.SID, claims.Subject, session.ReasonBackchannel, "backchannel")
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

// endSessionsFor ends every session of a provider session (sid) or, with
// only sub, of a user, for reason. With both, a session must match both.
// kind labels the logout metric.
func (s *Server) endSessionsFor(ctx context.Context, sid, sub, reason, kind string) (int, error) {
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
	s.metrics.logouts.WithLabelValues(kind).Add(float64(n))
	return n, nil
}
