package bff

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/bff-project/bff/session"
	"golang.org/x/oauth2"
)

// endSession deletes one session and revokes its refresh token at the
// provider. The session ends first and whatever the provider does: a
// provider that is down must not keep anyone signed in. Revocation failures
// are logged and counted, not returned.
func (s *Server) endSession(ctx context.Context, key, reason string) (*session.Record, error) {
	rec, err := s.sessions.Delete(ctx, key)
	if err != nil {
		return nil, errStoreDown(err)
	}
	if rec == nil {
		return nil, nil
	}
	s.metrics.sessionsEnded.WithLabelValues(reason).Inc()
	s.revoke(ctx, rec)
	return rec, nil
}

// revoke revokes rec's refresh token (RFC 7009) when the provider has a
// revocation endpoint: some providers' end_session leaves refresh tokens
// alive. x/oauth2 has no revocation call, so this is the one request to the
// provider written by hand.
func (s *Server) revoke(ctx context.Context, rec *session.Record) {
	if rec.RefreshToken == "" {
		return
	}
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
