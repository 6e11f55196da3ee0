package bff

import (
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/bff-project/bff/session"
)

type sessionEntry = session.Entry

type sessionListItem struct {
	ID         string    `json:"id"`
	CreatedAt  time.Time `json:"created_at"`
	LastSeenAt time.Time `json:"last_seen_at"`
	ExpiresAt  time.Time `json:"expires_at"`
	UserAgent  string    `json:"user_agent"`
	Device     string    `json:"device"`
	IP         string    `json:"ip"`
	Current    bool      `json:"current"`
}

// userSessions loads the caller's session and all sessions of that user.
func (s *Server) userSessions(r *http.Request) (currentKey string, all []sessionEntry, err error) {
	key, rec, err := s.currentSession(r)
	if err != nil {
		return "", nil, err
	}
	if rec == nil {
		return "", nil, errUnauthenticated
	}
	all, err = s.sessions.BySubject(r.Context(), rec.Subject)
	if err != nil {
		return "", nil, errStoreDown(err)
	}
	return key, all, nil
}

// handleListSessions answers "where am I signed in?".
func (s *Server) handleListSessions(w http.ResponseWriter, r *http.Request) error {
	current, all, err := s.userSessions(r)
	if err != nil {
		return err
	}
	items := make([]sessionListItem, 0, len(all))
	for _, e := range all {
		rec := e.Record
		items = append(items, sessionListItem{
			ID:         rec.ID,
			CreatedAt:  rec.CreatedAt.UTC(),
			LastSeenAt: rec.LastSeenAt.UTC(),
			ExpiresAt:  rec.IdleExpiresAt(s.sessions.IdleTimeout()).UTC(),
			UserAgent:  rec.UserAgent,
			Device:     describeDevice(rec.UserAgent),
			IP:         rec.IP,
			Current:    e.Key == current,
		})
	}
	// Current first, then most recently used.
	slices.SortFunc(items, func(a, b sessionListItem) int {
		if a.Current != b.Current {
			if a.Current {
				return -1
			}
			return 1
		}
		return b.LastSeenAt.Compare(a.LastSeenAt)
	})
	writeJSON(w, http.StatusOK, map[string]any{"sessions": items})
	return nil
}

// handleDeleteSession signs out one of the user's sessions. An ID that is
// not one of this user's sessions is 404, whether or not it exists, so IDs
// of other users cannot be probed.
func (s *Server) handleDeleteSession(w http.ResponseWriter, r *http.Request) error {
	current, all, err := s.userSessions(r)
	if err != nil {
		return err
	}
	id := r.PathValue("id")
	i := slices.IndexFunc(all, func(e sessionEntry) bool { return e.Record.ID == id })
	if i < 0 {
		return errorf(http.StatusNotFound, "not_found", "No such session.", nil)
	}
	if _, err := s.endSession(r.Context(), all[i].Key, session.ReasonRevoked); err != nil {
		return err
	}
	s.metrics.logouts.WithLabelValues("session_manager").Inc()
	if all[i].Key == current {
		s.clearSessionCookie(w)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// handleDeleteOtherSessions signs out every session of the user but this
// one.
func (s *Server) handleDeleteOtherSessions(w http.ResponseWriter, r *http.Request) error {
	current, all, err := s.userSessions(r)
	if err != nil {
		return err
	}
	var others []string
	for _, e := range all {
		if e.Key != current {
			others = append(others, e.Key)
		}
	}
	ended, err := s.endSessions(r.Context(), others, session.ReasonRevoked)
	s.metrics.logouts.WithLabelValues("session_manager").Add(float64(len(ended)))
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// describeDevice turns a User-Agent into "Firefox on Windows". It is for
// people reading their session list, not for security decisions.
func describeDevice(ua string) string {
	browser := "Unknown browser"
	for _, b := range [][2]string{
		{"Edg/", "Edge"}, {"OPR/", "Opera"}, {"Firefox/", "Firefox"}, {"HeadlessChrome/", "Headless Chrome"},
		{"Chrome/", "Chrome"}, {"Chromium/", "Chromium"}, {"Safari/", "Safari"}, {"curl/", "curl"}, {"Go-http-client", "Go HTTP client"},
	} {
		if strings.Contains(ua, b[0]) {
			browser = b[1]
			break
		}
	}
	os := ""
	for _, o := range [][2]string{
		{"Android", "Android"}, {"iPhone", "iPhone"}, {"iPad", "iPad"}, {"Windows", "Windows"},
		{"Mac OS X", "macOS"}, {"CrOS", "ChromeOS"}, {"Linux", "Linux"},
	} {
		if strings.Contains(ua, o[0]) {
			os = o[1]
			break
		}
	}
	if os == "" {
		return browser
	}
	return browser + " on " + os
}
