package bff

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/bff-project/bff/session"
	"golang.org/x/oauth2"
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

// endSessions deletes sessions, then revokes their refresh tokens at the
// provider, all at once. The sessions end first and whatever the provider
// does: a provider that is down must not keep anyone signed in. Revocation
// failures are logged and counted, not returned. The records of the
// sessions that existed are returned.
func (s *Server) endSessions(ctx context.Context, keys []string, reason string) ([]*session.Record, error) {
	var ended []*session.Record
	defer func() { s.revokeAll(ctx, ended) }()
	for _, key := range keys {
		rec, err := s.sessions.Delete(ctx, key) // also ends its API calls here
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
		s.background.Add(1)
		go func() {
			defer s.background.Done()
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
// alive. x/oauth2 has no revocation call, so this is the one request to the
// provider written by hand.
func (s *Server) revoke(ctx context.Context, rec *session.Record) {
	info, err := s.provider.get(ctx)
	if err != nil || info.revocationURL == "" {
		s.metrics.revocations.WithLabelValues("skipped").Inc()
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), min(s.cfg.OIDC.Timeout, 5*time.Second))
	defer cancel()
	if err := s.postRevocation(ctx, info, string(rec.RefreshToken)); err != nil {
		s.metrics.revocations.WithLabelValues("failed").Inc()
		s.log.WarnContext(ctx, "refresh token revocation failed; the local session has ended anyway",
			"request_id", requestID(ctx), "session", rec.ID, "cause", err.Error())
		return
	}
	s.metrics.revocations.WithLabelValues("ok").Inc()
}

func (s *Server) postRevocation(ctx context.Context, info *providerInfo, token string) error {
	form := url.Values{"token": {token}, "token_type_hint": {"refresh_token"}}
	if info.oauth2.Endpoint.AuthStyle == oauth2.AuthStyleInParams {
		form.Set("client_id", s.cfg.OIDC.ClientID)
		form.Set("client_secret", s.cfg.OIDC.ClientSecret)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, info.revocationURL, strings.NewReader(form.Encode()))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if info.oauth2.Endpoint.AuthStyle != oauth2.AuthStyleInParams {
		// RFC 6749 2.3.1: form-encode the credentials before Basic.
		req.SetBasicAuth(url.QueryEscape(s.cfg.OIDC.ClientID), url.QueryEscape(s.cfg.OIDC.ClientSecret))
	}
	resp, err := s.provider.client.Do(req)
	if err != nil {
		return errors.New("revocation endpoint unreachable")
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("revocation endpoint answered %d", resp.StatusCode)
	}
	return nil
}
