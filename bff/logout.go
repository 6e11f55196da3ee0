package bff

import (
	"net/http"

	"github.com/bff-project/bff/session"
)

// handleLogout ends the browser's session (RP-initiated logout). A GET must
// carry the session's public ID as sid: a cross-site link or image cannot
// know it, which is the defence against logout CSRF. POST is guarded by
// the anti-forgery header instead.
func (s *Server) handleLogout(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	key, rec, err := s.currentSession(r)
	if err != nil {
		return err
	}
	if rec == nil {
		// Nothing to end. The cookie is left alone: a link on another
		// site arrives without the SameSite=Strict cookie, and deleting
		// the browser's cookie then would sign the user out in the browser
		// while the session and its refresh token live on at the server.
		http.Redirect(w, r, s.postLogoutURL, http.StatusFound)
		return nil
	}
	if r.Method == http.MethodGet && r.URL.Query().Get("sid") != rec.ID {
		return errorf(http.StatusBadRequest, "invalid_sid",
			"This sign-out link is not valid for your session.", nil)
	}
	if _, err := s.endSession(ctx, key, session.ReasonLogout); err != nil {
		return err
	}
	s.clearSessionCookie(w)
	s.metrics.logouts.WithLabelValues("user").Inc()
	s.log.InfoContext(ctx, "signed out", "request_id", requestID(ctx), "session", rec.ID)
	http.Redirect(w, r, s.endSessionRedirect(r, string(rec.IDToken)), http.StatusFound)
	return nil
}

// endSessionRedirect is the provider's end-session URL (RP-Initiated
// Logout 1.0), or the post-logout URL when the provider has none or is
// unreachable. The ID token in this URL has no further use: its session
// and refresh token are gone by now.
func (s *Server) endSessionRedirect(r *http.Request, idToken string) string {
	if u := s.provider.EndSessionURL(r.Context(), idToken, s.postLogoutURL); u != "" {
		return u
	}
	return s.postLogoutURL
}
