package bff

import (
	"net/http"
	"time"

	"github.com/bff-project/bff/session"
)

const sessionCookieName = "__Host-bff"

// setSessionCookie sets the one cookie the browser holds: an opaque random
// token. __Host- makes browsers insist on Secure, Path=/ and no Domain.
func (s *Server) setSessionCookie(w http.ResponseWriter, token string, expires time.Time) {
	http.SetCookie(w, &http.Cookie{
		Name:     sessionCookieName,
		Value:    token,
		Path:     "/",
		Expires:  expires,
		MaxAge:   int(time.Until(expires) / time.Second),
		Secure:   true,
		HttpOnly: true,
		SameSite: s.sameSite,
	})
}

func (s *Server) clearSessionCookie(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{
		Name:     sessionCookieName,
		Value:    "",
		Path:     "/",
		MaxAge:   -1,
		Secure:   true,
		HttpOnly: true,
		SameSite: s.sameSite,
	})
}

// sessionToken returns the session cookie's value, or "".
func sessionToken(r *http.Request) string {
	if call, ok := session.CallFrom(r.Context()); ok {
		return call.CookieValue() // an API call: already read by trackStreams
	}
	c, err := r.Cookie(sessionCookieName)
	if err != nil {
		return ""
	}
	return c.Value
}
