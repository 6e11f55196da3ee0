package bff

import (
	"net/http"
)

// trackStreams lets every API call that carries a session cookie be ended
// with its session (tokens.Manager binds it when it loads the session). Which calls turn out long
// cannot be told from the request: an event stream, a streamed download or
// a long poll look like any other GET, whatever the client's Accept.
func (s *Server) trackStreams(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token := sessionToken(r)
		if token == "" {
			next.ServeHTTP(w, r)
			return
		}
		call := s.sessions.BeginCall(r.Context(), token)
		defer s.sessions.FinishCall(call)
		next.ServeHTTP(w, r.WithContext(call))
	})
}
