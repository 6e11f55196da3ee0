package bff

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/bff-project/bff/proxy"
	"github.com/bff-project/bff/session"
)

// defaultStreamCheckInterval bounds how long a WebSocket or event stream
// outlives its session when the session ends on another instance.
const defaultStreamCheckInterval = 10 * time.Second

// streams are this instance's long-lived API calls (WebSockets and
// server-sent event streams) on user routes, by session store key. Ending a
// session must end them too: the upstream was authorised once, at the
// handshake, and would go on serving the signed-out user. A session ended
// here closes its streams at once; one ended on another instance, or
// expired, within the check interval.
type streams struct {
	mu    sync.Mutex
	byKey map[string]map[*context.CancelFunc]struct{}
}

// track returns ctx bound to the session under key, and a release func to
// call when the call is over.
func (st *streams) track(ctx context.Context, key string) (context.Context, func()) {
	ctx, cancel := context.WithCancel(ctx)
	st.mu.Lock()
	if st.byKey == nil {
		st.byKey = map[string]map[*context.CancelFunc]struct{}{}
	}
	if st.byKey[key] == nil {
		st.byKey[key] = map[*context.CancelFunc]struct{}{}
	}
	st.byKey[key][&cancel] = struct{}{}
	st.mu.Unlock()
	return ctx, func() {
		st.mu.Lock()
		delete(st.byKey[key], &cancel)
		if len(st.byKey[key]) == 0 {
			delete(st.byKey, key)
		}
		st.mu.Unlock()
		cancel()
	}
}

// end closes every stream of the session under key.
func (st *streams) end(key string) {
	st.mu.Lock()
	defer st.mu.Unlock()
	for cancel := range st.byKey[key] {
		(*cancel)()
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

// trackStreams binds WebSocket handshakes and event-stream requests on
// user routes to their session. Every other call passes untouched, so the
// hot path pays nothing.
func (s *Server) trackStreams(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !isWebSocketUpgrade(r) && !acceptsEventStream(r) {
			next.ServeHTTP(w, r)
			return
		}
		token := sessionToken(r)
		rt, ok := s.proxy.Match(r.URL.Path)
		if token == "" || !ok || (rt.Token != proxy.TokenUser && rt.Token != proxy.TokenUserOptional) {
			next.ServeHTTP(w, r)
			return
		}
		ctx, release := s.streams.track(r.Context(), session.StoreKey(token))
		defer release()
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

func acceptsEventStream(r *http.Request) bool {
	for _, v := range r.Header["Accept"] {
		if strings.Contains(v, "text/event-stream") {
			return true
		}
	}
	return false
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
