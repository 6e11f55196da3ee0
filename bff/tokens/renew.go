package tokens

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/bff-project/bff/bff/oidcclient"
	"github.com/bff-project/bff/proxy"
	"github.com/bff-project/bff/session"
)

// renew coalesces renewals in this process (singleflight) and across
// instances (the session lock inside session.Manager.Update, which
// re-reads the record, so a token another instance just renewed is used
// rather than renewed again).
func (m *Manager) renew(ctx context.Context, key string, sp *spec) (proxy.Credential, error) {
	flight := key + "\x00" + sp.key
	m.joinSpan(ctx, flight)
	v, err, shared := m.renewals.Do(flight, func() (any, error) {
		// Detached from the first caller: its going away must not fail the
		// others waiting on the same renewal.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), m.cfg.Timeout+5*time.Second)
		defer cancel()
		ctx, end := m.startSpan(ctx, flight, sp)
		var err error
		defer func() { end(err) }()
		var cred proxy.Credential
		var issued session.Secret // a refresh token the provider rotated to
		_, err = m.cfg.Sessions.Update(ctx, key, func(rec *session.Record) (bool, error) {
			now := time.Now()
			if t, ok := freshToken(rec, sp, now); ok {
				var err error
				cred, err = m.checked(rec, sp, t)
				m.cfg.Refreshed("coalesced")
				return false, err
			}
			oldRefresh, oldAccess := rec.RefreshToken, rec.AccessToken
			err := m.obtain(ctx, rec, sp)
			if rec.RefreshToken != oldRefresh {
				issued = rec.RefreshToken
			}
			if err != nil {
				// A token exchange can fail after the sign-in token was
				// refreshed for it: keep what that refresh rotated, and a
				// refused token's mark.
				return rec.RefreshToken != oldRefresh || rec.AccessToken != oldAccess || mismatched(err), err
			}
			t, _ := freshToken(rec, sp, now)
			cred, err = m.checked(rec, sp, t)
			m.cfg.Refreshed("ok")
			return true, err
		})
		if errors.Is(err, session.ErrNotFound) && issued != "" && m.cfg.Revoke != nil {
			// The session ended (logout, on any instance) while the
			// provider answered: the token it just issued belongs to no
			// session and must not stay alive. A save that failed otherwise
			// (a store timeout) may still have landed, so that token is
			// not revoked: it could be the live session's.
			m.cfg.Revoke(ctx, string(issued))
		}
		return cred, err
	})
	if shared {
		m.cfg.Refreshed("coalesced")
	}
	if err == nil {
		return v.(proxy.Credential), nil
	}
	return proxy.Credential{}, m.failed(ctx, key, err)
}

// failed maps a failed renewal: a rejected refresh token ends the session
// (so the SPA signs in again); anything else leaves it as it was.
func (m *Manager) failed(ctx context.Context, key string, err error) error {
	switch {
	case errors.Is(err, oidcclient.ErrInvalidGrant):
		m.cfg.Refreshed("invalid_grant")
		// Its calls end even if the store cannot delete it now.
		m.cfg.Sessions.EndCalls(key)
		if rec, derr := m.cfg.Sessions.Delete(ctx, key, session.ReasonRefreshFailed); derr == nil && rec != nil {
			m.cfg.Ended(session.ReasonRefreshFailed)
		}
		return ErrSessionEnded
	case errors.Is(err, session.ErrNotFound):
		return ErrUnauthenticated
	}
	m.cfg.Refreshed("failed")
	var te *oidcclient.TokenError
	switch {
	case errors.Is(err, ErrExchangeRefused), errors.Is(err, ErrTokenRefused), errors.Is(err, oidcclient.ErrAudienceMismatch), errors.Is(err, oidcclient.ErrScopeMismatch),
		errors.As(err, &te), errors.Is(err, oidcclient.ErrUnavailable):
		return err
	case errors.Is(err, session.ErrLockNotObtained), errors.Is(err, context.DeadlineExceeded):
		// Another holder kept the session's lock past our deadline: a
		// renewal stuck at the provider.
		return fmt.Errorf("%w: %v", oidcclient.ErrUnavailable, err)
	}
	return fmt.Errorf("%w: %v", ErrStore, err)
}

// obtain renews rec's token for sp at the provider and writes the result
// (and any rotated refresh token) into rec.
func (m *Manager) obtain(ctx context.Context, rec *session.Record, sp *spec) error {
	p := m.cfg.Provider
	req := sp.req
	if rec.DPoPKey != "" {
		k, err := m.keys.get(rec.DPoPKey)
		if err != nil {
			return err
		}
		req.DPoP = k
	}
	if sp.signIn || sp.exchange != proxy.ExchangeTokenExchange {
		if err := outsideGrant(rec, sp); err != nil {
			return err
		}
		sent := rec.RefreshToken
		t, err := p.Refresh(ctx, string(sent), req, rec.Subject)
		if err != nil {
			return m.refused(ctx, rec, sp, sent, err)
		}
		if t.RefreshToken != "" {
			rec.RefreshToken = session.Secret(t.RefreshToken)
		}
		return m.applyRefresh(rec, t, sp)
	}
	// Token exchange needs a live subject token: renew the sign-in access
	// token first if it is due.
	if _, ok := freshToken(rec, signInSpec, time.Now()); !ok {
		if err := m.obtain(ctx, rec, signInSpec); err != nil {
			return err
		}
	}
	t, err := p.TokenExchange(ctx, string(rec.AccessToken), req)
	var te *oidcclient.TokenError
	switch {
	case errors.Is(err, oidcclient.ErrInvalidGrant):
		// The provider refused this exchange (its policy for the audience,
		// or the subject token): the refresh token may be fine, so the
		// session stays, and the SPA must not be sent to sign in again.
		return ErrExchangeRefused
	case errors.As(err, &te) && refusedTarget(te):
		return fmt.Errorf("%w: %w", ErrTokenRefused, err)
	case err != nil:
		return err
	}
	if err := m.checkToken(rec, t, sp); err != nil {
		return err
	}
	m.storeAudienceToken(rec, t, sp.key)
	return nil
}

// applyRefresh keeps a refreshed token in rec (the rotated refresh token
// is already there), unless it is an API's token that names another
// audience.
func (m *Manager) applyRefresh(rec *session.Record, t *oidcclient.Token, sp *spec) error {
	if !sp.signIn {
		if err := m.checkToken(rec, t, sp); err != nil {
			return err
		}
		m.storeAudienceToken(rec, t, sp.key)
		return nil
	}
	rec.AccessToken = session.Secret(t.AccessToken)
	rec.AccessTokenType = t.TokenType
	rec.AccessRefused = m.SignInRefusal(t.AccessToken)
	rec.AccessExpiry = t.Expiry
	rec.AccessRefreshAt = m.RefreshAt(time.Now(), t.Expiry)
	if t.IDToken != "" {
		rec.IDToken = session.Secret(t.IDToken)
	}
	return nil
}

// checkToken refuses an API token whose aud does not name the route's
// resource or audience (RFC 8707: a strict provider's token for a
// resource has exactly that aud), or that lacks a scope the route asked
// for. The token is dropped, but the refusal is kept in rec until the
// token would have been due, so that calls meanwhile are refused without
// asking the provider again (each ask would rotate the refresh token for
// nothing).
func (m *Manager) checkToken(rec *session.Record, t *oidcclient.Token, sp *spec) error {
	err := m.cfg.Provider.CheckToken(t.AccessToken, sp.want)
	if err == nil {
		return nil
	}
	m.cfg.Logger.Warn("tokens: the provider's access token for this API does not carry what the route asked for; not sent",
		"route", sp.prefix, "cause", err.Error())
	why := refusedScope
	if errors.Is(err, oidcclient.ErrAudienceMismatch) {
		why = refusedAudience
	}
	if rec.Tokens == nil {
		rec.Tokens = map[string]session.Token{}
	}
	rec.Tokens[sp.key] = session.Token{Refused: why, Expiry: t.Expiry, RefreshAt: m.RefreshAt(time.Now(), t.Expiry)}
	return err
}

// mismatched: err is checkToken's, which marked the record.
func mismatched(err error) bool {
	return errors.Is(err, oidcclient.ErrAudienceMismatch) || errors.Is(err, oidcclient.ErrScopeMismatch)
}

// refusedTarget: the provider refused the token for its resource or
// scopes, which says nothing about the session.
func refusedTarget(te *oidcclient.TokenError) bool {
	return te.Code == "invalid_target" || te.Code == "invalid_scope"
}

// outsideGrant refuses, without asking the provider, a route's refresh for
// a resource that the session's sign-in did not ask for, when the provider
// is known (or expected) to refuse it: the route's resource is meant to be
// asked for at sign-in (a route added since this session signed in), or a
// refusal of this route already used up a refresh token. Sessions made
// before sign-ins were recorded (nil Resources) are not judged.
func outsideGrant(rec *session.Record, sp *spec) error {
	r := sp.req.Resource
	if r == "" || rec.Resources == nil || slices.Contains(rec.Resources, r) || !(sp.atSignIn || sp.usedUp.Load()) {
		return nil
	}
	return fmt.Errorf("%w: the session's sign-in did not ask for resource %s (sign in again)", ErrTokenRefused, r)
}

// refused handles a refresh the provider refused for the route's resource
// or scopes (invalid_target, invalid_scope): the session stays, but some
// providers (oidc-provider among them) rotate the refresh token before
// they check the resource, so the refused request used up the token the
// session holds, and the one it was rotated to was never sent. The
// provider's introspection endpoint tells (it changes nothing): a refresh
// token no longer active is dropped from the session, so that it is never
// sent again (a used-up token sent again makes such a provider revoke the
// whole grant, with every token of the session), and the route is refused
// from then on without asking. The other routes keep their tokens until
// they expire.
func (m *Manager) refused(ctx context.Context, rec *session.Record, sp *spec, sent session.Secret, err error) error {
	var te *oidcclient.TokenError
	if !errors.As(err, &te) || !refusedTarget(te) {
		return err
	}
	log := m.cfg.Logger.With("route", sp.prefix, "resource", sp.req.Resource, "scopes", sp.req.Scopes, "error", te.Code)
	active, ierr := m.cfg.Provider.RefreshTokenActive(ctx, string(sent))
	switch {
	case ierr != nil:
		log.WarnContext(ctx, "tokens: the provider refused this API's token; whether it used up the refresh token could not be checked", "cause", ierr.Error())
	case active:
		log.InfoContext(ctx, "tokens: the provider refused this API's token; the session's refresh token is still current")
	default:
		sp.usedUp.Store(true)
		if rec.RefreshToken == sent {
			rec.RefreshToken = ""
		}
		log.ErrorContext(ctx, "tokens: the provider refused this API's token and used up the session's refresh token doing so; "+
			"the session keeps its current tokens until they expire. Ask for this route's resource and scopes at sign-in (apis[].at_sign_in: true)")
	}
	return fmt.Errorf("%w: %w", ErrTokenRefused, err)
}

func (m *Manager) storeAudienceToken(rec *session.Record, t *oidcclient.Token, key string) {
	if rec.Tokens == nil {
		rec.Tokens = map[string]session.Token{}
	}
	rec.Tokens[key] = session.Token{AccessToken: session.Secret(t.AccessToken), Type: t.TokenType, Expiry: t.Expiry, RefreshAt: m.RefreshAt(time.Now(), t.Expiry)}
}
