package bff

import (
	"net/http"
	"net/url"

	"github.com/bff-project/bff/session"
)

// This file holds GET /bff/frontchannel-logout: OpenID Connect
// Front-Channel Logout 1.0, for providers that have no back-channel
// logout (Microsoft Entra ID, some Okta setups). The provider's logout
// page loads this URL in a hidden iframe with iss and sid; the BFF ends
// every session made in that provider session, found through the sid
// index (the iframe is cross-site, so no SameSite cookie comes with it).
//
// It is a GET from another site by design, so anyone can send it. What it
// can do is bounded by what it needs: the provider's sid, a random value
// only the provider and the ID token hold (the BFF keeps the ID token on
// the server; the user's own SPA sees the claims). With it, a request ends
// the sessions of that one provider session, which its user could do
// anyway; without it, nothing. It sets no cookie, redirects nowhere and
// echoes nothing, and the page may be framed by the issuer's origin only.

var errFrontchannelOff = errorf(http.StatusNotFound, "not_found", "No such endpoint.", nil)

// frontchannelPage is the whole answer: the provider's page frames it and
// nobody reads it.
const frontchannelPage = `<!doctype html><meta charset="utf-8"><title>Signed out</title><p>Signed out.</p>`

func (s *Server) handleFrontchannelLogout(w http.ResponseWriter, r *http.Request) error {
	if !s.cfg.OIDC.Frontchannel() {
		return errFrontchannelOff
	}
	q := r.URL.Query()
	iss, sid := q.Get("iss"), q.Get("sid")
	if iss == "" || sid == "" {
		// Registered with frontchannel_logout_session_required: a request
		// without both is not from the provider.
		return errorf(http.StatusBadRequest, "invalid_request", "The sign-out request names no issuer and session.", nil)
	}
	if iss != s.cfg.OIDC.Issuer {
		return errorf(http.StatusBadRequest, "invalid_issuer", "The sign-out request came from an unexpected identity provider.", nil)
	}
	n, err := s.endSessionsFor(r.Context(), sid, "", session.ReasonFrontchannel, "frontchannel")
	if err != nil {
		return err
	}
	s.log.InfoContext(r.Context(), "front-channel logout", "request_id", requestID(r.Context()), "sessions_ended", n)
	h := w.Header()
	// Framed by the provider's logout page, and by nothing else.
	h.Del("X-Frame-Options")
	h.Set("Content-Security-Policy", "default-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors "+s.issuerOrigin)
	h.Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write([]byte(frontchannelPage))
	return nil
}

// originOf is the scheme://host[:port] of an absolute URL.
func originOf(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return ""
	}
	return u.Scheme + "://" + u.Host
}
