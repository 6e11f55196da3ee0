package bff

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/bff-project/bff/bff/oidcclient"
	"github.com/bff-project/bff/session"
)

// revokeWait is how long a sign-out waits for the provider to confirm its
// revocations before answering; slower ones finish in the background, so a
// hanging provider delays nobody's sign-out by more than this.
const revokeWait = time.Second

// endSession ends one session; see endSessions.
func (s *Server) endSession(ctx context.Context, key, reason string) (*session.Record, error) {
	ended, err := s.endSessions(ctx, []string{key}, reason)
	if len(ended) == 0 {
		return nil, err
	}
	return ended[0], err
}

// endSessions deletes sessions for reason (a session.Reason* constant,
// told to their event streams and counted), then revokes their refresh
// tokens at the provider, all at once. The sessions end first and whatever the provider
// does: a provider that is down must not keep anyone signed in. Revocation
// failures are logged and counted, not returned. The records of the
// sessions that existed are returned.
func (s *Server) endSessions(ctx context.Context, keys []string, reason string) ([]*session.Record, error) {
	var ended []*session.Record
	defer func() { s.revokeAll(ctx, ended) }()
	for _, key := range keys {
		rec, err := s.sessions.Delete(ctx, key, reason) // ends its calls and streams everywhere
		if err != nil {
			return ended, errStoreDown(err)
		}
		if rec != nil {
			ended = append(ended, rec)
			s.metrics.sessionsEnded.WithLabelValues(reason).Inc()
		}
	}
	return ended, nil
}

// revokeAll revokes the records' refresh tokens concurrently and waits at
// most revokeWait for them. Close waits for the rest.
func (s *Server) revokeAll(ctx context.Context, recs []*session.Record) {
	var wg sync.WaitGroup
	for _, rec := range recs {
		if rec.RefreshToken == "" {
			continue
		}
		wg.Add(1)
		s.shared.background.Add(1)
		go func() {
			defer s.shared.background.Done()
			defer wg.Done()
			s.revoke(ctx, rec)
		}()
	}
	done := make(chan struct{})
	go func() {
		wg.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(revokeWait):
	}
}

// revoke revokes rec's refresh token (RFC 7009) when the provider has a
// revocation endpoint: some providers' end_session leaves refresh tokens
// alive.
func (s *Server) revoke(ctx context.Context, rec *session.Record) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), min(s.cfg.OIDC.Timeout, 5*time.Second))
	defer cancel()
	err := s.provider.Revoke(ctx, string(rec.RefreshToken))
	switch {
	case errors.Is(err, oidcclient.ErrNoRevocation), errors.Is(err, oidcclient.ErrUnavailable) && !s.provider.Ready():
		s.metrics.revocations.WithLabelValues("skipped").Inc()
	case err != nil:
		s.metrics.revocations.WithLabelValues("failed").Inc()
		s.log.WarnContext(ctx, "refresh token revocation failed; the local session has ended anyway",
			"request_id", requestID(ctx), "session", rec.ID, "cause", err.Error())
	default:
		s.metrics.revocations.WithLabelValues("ok").Inc()
	}
}

// revokeToken revokes a refresh token that belongs to no session any more
// (issued for a session that ended while the provider answered).
func (s *Server) revokeToken(ctx context.Context, refreshToken string) {
	s.revokeAll(ctx, []*session.Record{{RefreshToken: session.Secret(refreshToken)}})
}
