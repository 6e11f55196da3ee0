package bff

import (
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/bff-project/bff/session"
)

// defaultStreamCheckInterval bounds how long an API call (a WebSocket, an
// event stream) outlives its session when the session ends on another
// instance.
const defaultStreamCheckInterval = 10 * time.Second

// streams are this instance's API calls on user routes under way, by
// session store key. Ending a session must end them too: a WebSocket, an
// event stream or any other long answer was authorised once, when it
// began, and the upstream would go on serving the signed-out user. A
// session ended here closes its calls at once; one ended on another
// instance, or expired, within the check interval.
type streams struct {
	mu    sync.Mutex
	byKey map[string]*boundCall // each key's calls, a doubly linked list
}

// boundCall is an API call's context, cancelled when the call's session
// ends. [Server.boundSession] binds it to its session when the route uses
// the user's token.
type boundCall struct {
	context.Context
	cancel context.CancelFunc
	token  string // the session cookie's value, read once per call
	// Guarded by streams.mu: the session the call is bound to, and its
	// neighbours in that session's list (a list, not a set, so binding
	// and finishing a call allocate nothing).
	key        string
	prev, next *boundCall
}

type boundCallKey struct{}

func (c *boundCall) Value(key any) any {
	if key == (boundCallKey{}) {
		return c
	}
	return c.Context.Value(key)
}

// begin returns a context for an API call, to be passed to finish when
// the call is over.
func (st *streams) begin(parent context.Context, token string) *boundCall {
	ctx, cancel := context.WithCancel(parent)
	return &boundCall{Context: ctx, cancel: cancel, token: token}
}

// callFrom returns the call begun by begin that ctx belongs to, if any.
func callFrom(ctx context.Context) (*boundCall, bool) {
	call, ok := ctx.Value(boundCallKey{}).(*boundCall)
	return call, ok
}

// bind ties call to the session under key.
func (st *streams) bind(call *boundCall, key string) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if call.key != "" {
		return
	}
	if st.byKey == nil {
		st.byKey = map[string]*boundCall{}
	}
	call.key = key
	call.next = st.byKey[key]
	if call.next != nil {
		call.next.prev = call
	}
	st.byKey[key] = call
}

// unbind undoes bind: the call turned out to have no live session.
func (st *streams) unbind(call *boundCall) {
	st.mu.Lock()
	if call.key != "" {
		st.unlink(call)
	}
	st.mu.Unlock()
}

func (st *streams) finish(call *boundCall) {
	st.unbind(call)
	call.cancel()
}

// unlink takes call out of its session's list; st.mu held.
func (st *streams) unlink(call *boundCall) {
	switch {
	case call.prev != nil:
		call.prev.next = call.next
	case call.next != nil:
		st.byKey[call.key] = call.next
	default:
		delete(st.byKey, call.key)
	}
	if call.next != nil {
		call.next.prev = call.prev
	}
	call.key, call.prev, call.next = "", nil, nil
}

// end cancels every call of the session under key.
func (st *streams) end(key string) {
	st.mu.Lock()
	defer st.mu.Unlock()
	for call := st.byKey[key]; call != nil; {
		next := call.next
		call.cancel()
		call.key, call.prev, call.next = "", nil, nil
		call = next
	}
	delete(st.byKey, key)
}

func (st *streams) keys() []string {
	st.mu.Lock()
	defer st.mu.Unlock()
	out := make([]string, 0, len(st.byKey))
	for k := range st.byKey {
		out = append(out, k)
	}
	return out
}

// boundSession loads the session of an API call on a user route, binding
// the call to it first: a logout that lands during the load then still
// ends the call. A call without a live session (anonymous on a
// user-optional route) is unbound again, so that it is not ended with a
// session it never had.
func (s *Server) boundSession(r *http.Request) (string, *session.Record, error) {
	call, ok := callFrom(r.Context())
	if !ok {
		return s.currentSession(r)
	}
	if call.token == "" {
		return "", nil, nil
	}
	key := session.StoreKey(call.token)
	s.streams.bind(call, key)
	rec, err := s.sessions.LoadKey(r.Context(), key)
	if err != nil || rec == nil {
		s.streams.unbind(call)
	}
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
		call := s.streams.begin(r.Context(), token)
		defer s.streams.finish(call)
		next.ServeHTTP(w, r.WithContext(call))
	})
}

// checkStreams closes, every interval, the streams whose session is gone
// from the store (ended on another instance, or expired). A store that
// does not answer closes nothing: the next round tries again.
func (s *Server) checkStreams(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		for _, key := range s.streams.keys() {
			cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			live, err := s.sessions.Live(cctx, key)
			cancel()
			if err == nil && !live {
				s.streams.end(key)
			}
		}
	}
}
