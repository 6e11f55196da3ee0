package bff

import (
	"bytes"
	"errors"
	"net/http"
	"sync"
	"time"

	"github.com/bff-project/bff/session"
)

// This file holds GET /bff/events: a server-sent event stream of the
// current session (session, expiring, ended) and POST /bff/keepalive.
// Reading the stream never extends the idle timeout; keepalive does.

// eventWriteTimeout bounds each write to a stream: a browser that stops
// reading (its connection stuck) loses its stream instead of holding a
// goroutine and buffers for good. Set per write, it also outlives any
// WriteTimeout of the HTTP server.
const eventWriteTimeout = 10 * time.Second

// eventStream is one open stream: what its session's watcher and the
// heartbeat wheel have for it, and the channel that wakes its handler.
type eventStream struct {
	key     string
	subject string
	slot    int
	kick    chan struct{} // capacity 1

	mu sync.Mutex
	p  pending
}

// pending is what a stream has yet to send; only the latest of each kind
// matters, and an end ends it.
type pending struct {
	changed   *session.Record
	expiring  *session.Notice
	ended     string
	heartbeat bool
}

// poke changes st's pending state and wakes its handler; it never blocks.
func (st *eventStream) poke(fn func(*pending)) {
	st.mu.Lock()
	fn(&st.p)
	st.mu.Unlock()
	select {
	case st.kick <- struct{}{}:
	default:
	}
}

// notify is st's session watcher.
func (st *eventStream) notify(n session.Notice) {
	st.poke(func(p *pending) {
		switch n.Kind {
		case session.NoticeChanged:
			p.changed = n.Record
		case session.NoticeExpiring:
			p.expiring = &n
		case session.NoticeEnded:
			// session.ReasonStepUp among them: the stream says step_up
			// instead of ended (pump).
			p.ended = n.Reason
		}
	})
}

func (st *eventStream) take() pending {
	st.mu.Lock()
	defer st.mu.Unlock()
	p := st.p
	st.p = pending{}
	return p
}

// sameOriginStream admits EventSource requests of the application's own
// pages. EventSource cannot send X-CSRF, so Fetch Metadata stands in:
// Sec-Fetch-Site must say same-origin (same-site is refused too: a sibling
// subdomain gets SameSite cookies), and an Origin, when sent, must be
// ours. A request with neither comes from no current browser; it changes
// nothing and, without CORS, no other site could read the answer.
func (s *Server) sameOriginStream(r *http.Request) bool {
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" && site != "same-origin" {
		return false
	}
	if o := r.Header.Get("Origin"); o != "" && !s.isPublicOrigin(o) {
		return false
	}
	return true
}

// handleEvents serves the current session's event stream until the client
// goes, the session ends or the server drains.
func (s *Server) handleEvents(w http.ResponseWriter, r *http.Request) error {
	if !s.sameOriginStream(r) {
		return errCSRF
	}
	key, rec, err := s.currentSession(r)
	if err != nil {
		return err
	}
	if rec == nil {
		return errUnauthenticated
	}
	st, err := s.events.open(key, rec.Subject)
	if err != nil {
		if errors.Is(err, errTooManyStreams) || errors.Is(err, errShuttingDown) {
			w.Header().Set("Retry-After", "5")
		} else {
			w.Header().Set("Retry-After", "30")
		}
		return err
	}
	defer s.events.close(st)
	watch := s.sessions.Watch(key, rec, st.notify)
	defer watch.Stop()

	out := newEventWriter(w, s.sessions.IdleTimeout())
	defer out.close()
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("X-Accel-Buffering", "no") // nginx: do not buffer the stream
	w.WriteHeader(http.StatusOK)
	out.retry(retryHint())
	if r.Header.Get("Last-Event-ID") != stateID(rec, out.idle) {
		out.session(rec)
	} else {
		out.sent = stateID(rec, out.idle)
	}
	if warn := s.sessions.ExpiryWarning(); warn > 0 {
		end, why := sessionEnd(rec, out.idle)
		if !time.Now().Before(end.Add(-warn)) {
			out.expiring(end, why)
		}
	}
	if out.flush() != nil {
		return nil
	}
	return s.pump(r, st, out)
}

// pump sends what st's watcher and heartbeat leave for it until the stream
// ends. It returns nil: the answer has begun, so nothing is left to say.
func (s *Server) pump(r *http.Request, st *eventStream, out *eventWriter) error {
	for {
		select {
		case <-r.Context().Done():
			return nil
		case <-s.events.draining:
			out.comment("server shutting down; reconnect")
			_ = out.flush()
			return nil
		case <-st.kick:
		}
		p := st.take()
		if p.ended == session.ReasonStepUp {
			// The session goes on under the cookie the step-up set: the
			// browser reconnects by itself, with that cookie, and the new
			// stream's session event has the new strength.
			out.stepUp()
			_ = out.flush()
			return nil
		}
		if p.ended != "" {
			out.ended(p.ended)
			_ = out.flush()
			return nil
		}
		if p.changed != nil {
			out.session(p.changed)
		}
		if p.expiring != nil {
			out.expiring(p.expiring.At, p.expiring.Reason)
		}
		if p.heartbeat && out.buf.Len() == 0 {
			out.comment("")
		}
		if out.flush() != nil {
			return nil
		}
	}
}

// handleKeepalive marks the session as in use, extending its idle timeout;
// every stream of the session, on every instance, gets the new times.
func (s *Server) handleKeepalive(w http.ResponseWriter, r *http.Request) error {
	key, rec, err := s.currentSession(r)
	if err != nil {
		return err
	}
	if rec == nil {
		return errUnauthenticated
	}
	if _, err := s.sessions.Touch(r.Context(), key); err != nil {
		if errors.Is(err, session.ErrNotFound) {
			return errUnauthenticated
		}
		return errStoreDown(err)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// eventWriter buffers events and writes them out in one flush.
type eventWriter struct {
	w    http.ResponseWriter
	rc   *http.ResponseController
	idle time.Duration
	buf  bytes.Buffer
	sent string    // the state ID of the last session event
	warn time.Time // the end of the last expiring event
}

func newEventWriter(w http.ResponseWriter, idle time.Duration) *eventWriter {
	rc := http.NewResponseController(w)
	// A stream outlives any read timeout of the server: the request body
	// is done.
	_ = rc.SetReadDeadline(time.Time{})
	return &eventWriter{w: w, rc: rc, idle: idle}
}

// close leaves the connection without a deadline of ours: the next request
// on it (HTTP/1.1 keep-alive) must not inherit one.
func (o *eventWriter) close() { _ = o.rc.SetWriteDeadline(time.Time{}) }

func (o *eventWriter) flush() error {
	if o.buf.Len() == 0 {
		return nil
	}
	_ = o.rc.SetWriteDeadline(time.Now().Add(eventWriteTimeout))
	_, err := o.w.Write(o.buf.Bytes())
	o.buf.Reset()
	if err == nil {
		err = o.rc.Flush()
	}
	return err
}
