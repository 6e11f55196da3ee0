package bff

import (
	"net/http"
	"time"

	"github.com/bff-project/bff/session"
)

// defaultStreamCheckInterval bounds how long an API call (a WebSocket, an
// event stream) outlives its session when the session ends on another
// instance (see [session.Manager.CheckCalls]).
const defaultStreamCheckInterval = 10 * time.Second

// boundSession loads the session of an API call on a user route through
// [session.Manager.LoadCall], which binds the call to it first, so that a
// logout landing during the load still ends the call.
func (s *Server) boundSession(r *http.Request) (string, *session.Record, error) {
	call, ok := session.CallFrom(r.Context())
	if !ok {
		return s.currentSession(r)
	}
	key, rec, err := s.sessions.LoadCall(r.Context(), call)
	if err != nil {
		return "", nil, errStoreDown(err)
	}
	return key, rec, nil
}

// trackStreams lets every API call that carries a session cookie be ended
// with its session ([Server.Token] binds it). Which calls turn out long
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
