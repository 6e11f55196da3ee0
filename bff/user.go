package bff

import (
	"encoding/json"
	"net/http"
	"net/url"
	"time"

	"github.com/bff-project/bff/session"
)

// currentSession loads the request's session: a nil record means signed
// out; an error means the store is down (503, the session is not lost).
func (s *Server) currentSession(r *http.Request) (key string, rec *session.Record, err error) {
	key, rec, err = s.sessions.Load(r.Context(), sessionToken(r))
	if err != nil {
		return "", nil, errStoreDown(err)
	}
	return key, rec, nil
}

type userResponse struct {
	Sub     string          `json:"sub"`
	Claims  json.RawMessage `json:"claims"`
	Session sessionInfo     `json:"session"`
}

type sessionInfo struct {
	ID            string    `json:"id"`
	CreatedAt     time.Time `json:"created_at"`
	ExpiresAt     time.Time `json:"expires_at"`
	IdleExpiresAt time.Time `json:"idle_expires_at"`
	LogoutURL     string    `json:"logout_url"`
	// The sign-in's strength, from the ID token: acr ("" when the
	// provider sent none), amr ([] when none), auth_time (null when none).
	ACR      string     `json:"acr"`
	AMR      []string   `json:"amr"`
	AuthTime *time.Time `json:"auth_time"`
}

// handleUser answers who is signed in. The claims are the ID token's, which
// the SPA may show; the ID token itself never leaves the server.
func (s *Server) handleUser(w http.ResponseWriter, r *http.Request) error {
	_, rec, err := s.currentSession(r)
	if err != nil {
		return err
	}
	if rec == nil {
		return errUnauthenticated
	}
	claims := rec.Claims
	if len(claims) == 0 {
		claims = json.RawMessage("{}")
	}
	writeJSON(w, http.StatusOK, userResponse{
		Sub:    rec.Subject,
		Claims: claims,
		Session: sessionInfo{
			ID:            rec.ID,
			CreatedAt:     rec.CreatedAt.UTC(),
			ExpiresAt:     rec.ExpiresAt.UTC(),
			IdleExpiresAt: rec.IdleExpiresAt(s.sessions.IdleTimeout()).UTC(),
			LogoutURL:     "/bff/logout?sid=" + url.QueryEscape(rec.ID),
			ACR:           rec.ACR,
			AMR:           nonNil(rec.AMR),
			AuthTime:      timeOrNil(rec.AuthTime),
		},
	})
	return nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func timeOrNil(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}
