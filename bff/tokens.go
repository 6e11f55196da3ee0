package bff

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/bff-project/bff/proxy"
	"github.com/bff-project/bff/session"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// RFC 8693 token exchange identifiers.
const (
	grantTokenExchange   = "urn:ietf:params:oauth:grant-type:token-exchange"
	tokenTypeAccessToken = "urn:ietf:params:oauth:token-type:access_token"
)

var errInvalidGrant = errors.New("bff: refresh token rejected (invalid_grant)")

// Token implements [proxy.TokenSource]: the access token whose audience and
// scopes fit route, for the request's session (or, for "client" routes, the
// BFF's own). A token due for renewal is renewed once, however many
// requests (on however many instances) want it at the same moment.
func (s *Server) Token(r *http.Request, route *proxy.Route) (string, error) {
	if route.Token == "client" {
		return s.clientTokens.token(r.Context(), s, route)
	}
	key, rec, err := s.boundSession(r)
	if err != nil {
		return "", err
	}
	if rec == nil {
		if route.Token == "user-optional" {
			return "", nil
		}
		return "", errUnauthenticated
	}
	tk := s.tokenKey(route)
	if tok, ok := freshToken(rec, tk, time.Now()); ok {
		return tok, nil
	}
	return s.renewToken(r.Context(), key, route, tk)
}

// tokenKey names a route's token in the session: "" is the sign-in access
// token, anything else an audience token. It is computed once per route:
// the proxy hands out the same *Route for every request.
func (s *Server) tokenKey(route *proxy.Route) string {
	if v, ok := s.tokenKeys.Load(route); ok {
		return v.(string)
	}
	k := computeTokenKey(route)
	s.tokenKeys.Store(route, k)
	return k
}

func computeTokenKey(route *proxy.Route) string {
	if route.Audience == "" && route.Resource == "" && len(route.Scopes) == 0 {
		return ""
	}
	scopes := slices.Clone(route.Scopes)
	slices.Sort(scopes)
	return route.Exchange + "|" + route.Audience + "|" + route.Resource + "|" + strings.Join(scopes, " ")
}

func freshToken(rec *session.Record, tk string, now time.Time) (string, bool) {
	if tk == "" {
		return string(rec.AccessToken), rec.AccessToken != "" && now.Before(rec.AccessRefreshAt)
	}
	t, ok := rec.Tokens[tk]
	return string(t.AccessToken), ok && now.Before(t.RefreshAt)
}

// refreshAt is when a token is due: skew before expiry, but never later
// than half its life, so a short-lived token is not renewed on every call.
func (s *Server) refreshAt(now, expiry time.Time) time.Time {
	skew := min(s.cfg.OIDC.RefreshSkew, expiry.Sub(now)/2)
	return expiry.Add(-skew)
}

// renewToken coalesces renewals in this process (singleflight) and across
// instances (the session lock inside Update, which re-reads the record, so
// a token another instance just renewed is used rather than renewed again).
func (s *Server) renewToken(ctx context.Context, key string, route *proxy.Route, tk string) (string, error) {
	v, err, shared := s.renewals.Do(key+"\x00"+tk, func() (any, error) {
		// Detached from the first caller: its going away must not fail the
		// others waiting on the same renewal.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.OIDC.Timeout+5*time.Second)
		defer cancel()
		var tok string
		var issued session.Secret // a refresh token the provider rotated to
		_, err := s.sessions.Update(ctx, key, func(rec *session.Record) (bool, error) {
			now := time.Now()
			if t, ok := freshToken(rec, tk, now); ok {
				tok = t
				s.metrics.refreshes.WithLabelValues("coalesced").Inc()
				return false, nil
			}
			oldRefresh, oldAccess := rec.RefreshToken, rec.AccessToken
			err := s.obtainToken(ctx, rec, route, tk)
			if rec.RefreshToken != oldRefresh {
				issued = rec.RefreshToken
			}
			if err != nil {
				// A token exchange can fail after the sign-in token was
				// refreshed for it: keep what that refresh rotated.
				return rec.RefreshToken != oldRefresh || rec.AccessToken != oldAccess, err
			}
			tok, _ = freshToken(rec, tk, now)
			s.metrics.refreshes.WithLabelValues("ok").Inc()
			return true, nil
		})
		if errors.Is(err, session.ErrNotFound) && issued != "" {
			// The session ended (logout, on any instance) while the
			// provider answered: the token it just issued belongs to no
			// session and must not stay alive. A save that failed otherwise
			// (a store timeout) may still have landed, so that token is
			// not revoked: it could be the live session's.
			s.revokeAll(ctx, []*session.Record{{RefreshToken: issued}})
		}
		return tok, err
	})
	if shared {
		s.metrics.refreshes.WithLabelValues("coalesced").Inc()
	}
	if err == nil {
		return v.(string), nil
	}
	return "", s.renewalFailed(ctx, key, err)
}

// renewalFailed maps a failed renewal: a rejected refresh token ends the
// session (401, so the SPA signs in again); anything else leaves it as it
// was (503).
func (s *Server) renewalFailed(ctx context.Context, key string, err error) error {
	switch {
	case errors.Is(err, errInvalidGrant):
		s.metrics.refreshes.WithLabelValues("invalid_grant").Inc()
		s.sessions.EndCalls(key) // at once, even if the store cannot delete
		if _, derr := s.sessions.Delete(ctx, key); derr == nil {
			s.metrics.sessionsEnded.WithLabelValues("invalid_grant").Inc()
		}
		return errorf(http.StatusUnauthorized, "unauthenticated", "Your session has ended. Please sign in again.", err)
	case errors.Is(err, session.ErrNotFound):
		return errUnauthenticated
	}
	s.metrics.refreshes.WithLabelValues("failed").Inc()
	var he *HTTPError
	if errors.As(err, &he) {
		return he
	}
	if errors.Is(err, session.ErrLockNotObtained) || errors.Is(err, context.DeadlineExceeded) {
		return errProviderDown(err)
	}
	return errStoreDown(err)
}

// obtainToken renews rec's token tk at the provider and writes the result
// (and any rotated refresh token) into rec.
func (s *Server) obtainToken(ctx context.Context, rec *session.Record, route *proxy.Route, tk string) error {
	info, err := s.provider.get(ctx)
	if err != nil {
		return errProviderDown(err)
	}
	if tk == "" || route.Exchange != "token-exchange" {
		params := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {string(rec.RefreshToken)}}
		if rec.RefreshToken == "" {
			return errInvalidGrant
		}
		if tk != "" {
			setAudienceParams(params, route)
		}
		t, err := s.grant(ctx, info, params, scopesFor(tk, route))
		if err != nil {
			return err
		}
		s.applyRefresh(ctx, info, rec, t, tk)
		return nil
	}
	// Token exchange needs a live subject token: renew the sign-in access
	// token first if it is due.
	if _, ok := freshToken(rec, "", time.Now()); !ok {
		if err := s.obtainToken(ctx, rec, &proxy.Route{}, ""); err != nil {
			return err
		}
	}
	params := url.Values{
		"grant_type":           {grantTokenExchange},
		"subject_token":        {string(rec.AccessToken)},
		"subject_token_type":   {tokenTypeAccessToken},
		"requested_token_type": {tokenTypeAccessToken},
	}
	setAudienceParams(params, route)
	t, err := s.grant(ctx, info, params, route.Scopes)
	if errors.Is(err, errInvalidGrant) {
		// The provider refused this exchange (its policy for the audience,
		// or the subject token): the refresh token may be fine, so the
		// session stays, and the SPA must not be sent to sign in again.
		return errorf(http.StatusForbidden, "token_exchange_refused",
			"The identity provider refused an access token for this API.", errors.New("token exchange: invalid_grant"))
	}
	if err != nil {
		return err
	}
	s.storeAudienceToken(rec, t, tk)
	return nil
}

func scopesFor(tk string, route *proxy.Route) []string {
	if tk == "" {
		return nil
	}
	return route.Scopes
}

func setAudienceParams(params url.Values, route *proxy.Route) {
	if route.Audience != "" {
		params.Set("audience", route.Audience)
	}
	if route.Resource != "" {
		params.Set("resource", route.Resource)
	}
}

func (s *Server) applyRefresh(ctx context.Context, info *providerInfo, rec *session.Record, t *oauth2.Token, tk string) {
	if t.RefreshToken != "" {
		rec.RefreshToken = session.Secret(t.RefreshToken)
	}
	if tk != "" {
		s.storeAudienceToken(rec, t, tk)
		return
	}
	now := time.Now()
	rec.AccessToken = session.Secret(t.AccessToken)
	rec.AccessExpiry = tokenExpiry(t)
	rec.AccessRefreshAt = s.refreshAt(now, rec.AccessExpiry)
	// A refreshed ID token replaces the old one only when it verifies and
	// names the same user (OpenID Connect Core 12.2).
	if raw, _ := t.Extra("id_token").(string); raw != "" {
		if idt, err := info.verifier.Verify(s.provider.clientContext(ctx), raw); err == nil && idt.Subject == rec.Subject {
			rec.IDToken = session.Secret(raw)
		}
	}
}

func (s *Server) storeAudienceToken(rec *session.Record, t *oauth2.Token, tk string) {
	if rec.Tokens == nil {
		rec.Tokens = map[string]session.Token{}
	}
	exp := tokenExpiry(t)
	rec.Tokens[tk] = session.Token{AccessToken: session.Secret(t.AccessToken), Expiry: exp, RefreshAt: s.refreshAt(time.Now(), exp)}
}

// grant calls the token endpoint. It rides on x/oauth2's client-credentials
// request, which lets grant_type be overridden, so client authentication,
// error parsing (RetrieveError) and expiry handling are x/oauth2's, while
// the refresh-token grant can carry audience/resource/scope and RFC 8693
// works at all: x/oauth2's own refresh accepts no extra parameters
// (golang/oauth2#84, #388).
func (s *Server) grant(ctx context.Context, info *providerInfo, params url.Values, scopes []string) (*oauth2.Token, error) {
	cc := clientcredentials.Config{
		ClientID:       s.cfg.OIDC.ClientID,
		ClientSecret:   s.cfg.OIDC.ClientSecret,
		TokenURL:       info.oauth2.Endpoint.TokenURL,
		AuthStyle:      info.oauth2.Endpoint.AuthStyle,
		Scopes:         scopes,
		EndpointParams: params,
	}
	ctx, cancel := context.WithTimeout(s.provider.clientContext(ctx), s.cfg.OIDC.Timeout)
	defer cancel()
	t, err := cc.Token(ctx)
	if err == nil {
		return t, nil
	}
	var re *oauth2.RetrieveError
	if errors.As(err, &re) && re.Response != nil && re.Response.StatusCode < 500 {
		if re.ErrorCode == "invalid_grant" {
			return nil, errInvalidGrant
		}
		// Only the error code is kept: RetrieveError's text holds the
		// provider's raw response body.
		return nil, errorf(http.StatusBadGateway, "token_unavailable",
			"An access token for this API could not be obtained.", errors.New("token endpoint: "+re.ErrorCode))
	}
	return nil, errProviderDown(errors.New("token endpoint unreachable or failing"))
}
