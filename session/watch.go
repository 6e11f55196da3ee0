package session

import (
	"container/heap"
	"hash/maphash"
	"sync"
	"time"
)

// This file holds the watchers: code that wants to hear what happens to a
// session (the BFF's event streams) registers a func with
// [Manager.Watch]. Watchers cost no goroutine and no timer of their own:
// every watched session is one entry in a map and in one heap ordered by
// its next due time (its expiry warning, then its end), which
// [Manager.Run]'s single worker serves.

// NoticeKind is what a watcher is told.
type NoticeKind string

// Notice kinds.
const (
	// NoticeChanged: the session's times or claims changed (a keepalive,
	// an API call, a renewal that brought new claims); Record holds it.
	NoticeChanged NoticeKind = "changed"
	// NoticeExpiring: the session ends at At unless it is used
	// (Reason "idle") or at the end of its lifetime (Reason "lifetime"),
	// within Config.ExpiryWarning. Told once per end time.
	NoticeExpiring NoticeKind = "expiring"
	// NoticeEnded: the session is gone, for Reason (one of the Reason*
	// constants). The watcher is stopped. A step-up ends the session for
	// ReasonStepUp: it goes on under a new key (Manager.Continue), which
	// the watcher follows by watching the browser's new cookie.
	NoticeEnded NoticeKind = "ended"
)

// Expiry reasons of [NoticeExpiring].
const (
	ExpiringIdle     = "idle"
	ExpiringLifetime = "lifetime"
)

// Notice is what a watcher is told about its session.
type Notice struct {
	Kind NoticeKind
	// Record is the session as stored now (NoticeChanged). It is shared:
	// do not modify it.
	Record *Record
	// At is when the session ends (NoticeExpiring).
	At time.Time
	// Reason says why it ends (NoticeExpiring: ExpiringIdle or
	// ExpiringLifetime; NoticeEnded: one of the Reason* constants).
	Reason string
}

// Watch is one watcher of a session, returned by [Manager.Watch].
type Watch struct {
	fn         func(Notice)
	ws         *watchers
	e          *watched // nil once stopped or ended; guarded by ws.mu
	prev, next *Watch
}

// Watch registers fn to be told what happens to the session under key, on
// any instance, until [Watch.Stop] or its end: [NoticeChanged],
// [NoticeExpiring] and [NoticeEnded]. rec is the session as the caller
// just loaded it. fn is called from the Manager's own goroutines, with a
// lock held: it must not block or call back into the Manager; hand the
// notice to your own goroutine. The session is re-read once soon after,
// so an end that raced with the caller's load is not missed. It needs
// [Manager.Run].
func (m *Manager) Watch(key string, rec *Record, fn func(Notice)) *Watch {
	return m.watch.add(key, rec, fn, m.cfg.Now())
}

// Stop ends the watch; the func is not called after Stop returns. Calling
// it again, or after the session ended, does nothing.
func (w *Watch) Stop() { w.ws.stop(w) }

// ExpiryWarning is how long before its end a watched session is told
// [NoticeExpiring].
func (m *Manager) ExpiryWarning() time.Duration { return m.cfg.ExpiryWarning }

// watchers are a Manager's watched sessions.
type watchers struct {
	idle, warning time.Duration
	seed          maphash.Seed

	mu      sync.Mutex
	byKey   map[string]*watched
	due     dueHeap
	pending map[string]struct{} // keys to re-read
	wake    chan struct{}       // capacity 1: pending or the heap's head changed
}

// watched is one watched session: its watchers and what was last read.
type watched struct {
	key     string
	head    *Watch
	end     time.Time // when it ends unless used, as last read
	why     string    // ExpiringIdle or ExpiringLifetime
	warned  bool      // NoticeExpiring told for end
	seen    time.Time // LastSeenAt, ExpiresAt and a hash of the claims
	expires time.Time // as last told, for telling changes only
	claims  uint64
	at      time.Time // next due: the warning, then the end
	idx     int       // in due; -1 when not scheduled
	missing time.Time // when a re-read first found it gone, before its end
}

func newWatchers(idle, warning time.Duration) watchers {
	return watchers{idle: idle, warning: warning, seed: maphash.MakeSeed(), wake: make(chan struct{}, 1)}
}

func (ws *watchers) kick() {
	select {
	case ws.wake <- struct{}{}:
	default:
	}
}

func (ws *watchers) add(key string, rec *Record, fn func(Notice), now time.Time) *Watch {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	e := ws.byKey[key]
	if e == nil {
		if ws.byKey == nil {
			ws.byKey, ws.pending = map[string]*watched{}, map[string]struct{}{}
		}
		e = &watched{key: key, idx: -1}
		e.remember(rec, ws)
		ws.byKey[key] = e
	}
	w := &Watch{fn: fn, ws: ws, e: e, next: e.head}
	if e.head != nil {
		e.head.prev = w
	}
	e.head = w
	ws.pending[key] = struct{}{}
	ws.kick()
	return w
}

func (ws *watchers) stop(w *Watch) {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	e := w.e
	if e == nil {
		return
	}
	switch {
	case w.prev != nil:
		w.prev.next = w.next
	default:
		e.head = w.next
	}
	if w.next != nil {
		w.next.prev = w.prev
	}
	w.e, w.prev, w.next = nil, nil, nil
	if e.head == nil {
		ws.drop(e)
	}
}

// drop forgets e; ws.mu held.
func (ws *watchers) drop(e *watched) {
	delete(ws.byKey, e.key)
	delete(ws.pending, e.key)
	if e.idx >= 0 {
		heap.Remove(&ws.due, e.idx)
	}
}

// tell calls every watcher of e; ws.mu held.
func (e *watched) tell(n Notice) {
	for w := e.head; w != nil; w = w.next {
		w.fn(n)
	}
}

// ended tells key's watchers that it ended, and forgets them.
func (ws *watchers) ended(key, reason string) {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	e := ws.byKey[key]
	if e == nil {
		return
	}
	e.tell(Notice{Kind: NoticeEnded, Reason: reason})
	for w := e.head; w != nil; {
		next := w.next
		w.e, w.prev, w.next = nil, nil, nil
		w = next
	}
	e.head = nil
	ws.drop(e)
}

// changed asks for a re-read of key if it is watched.
func (ws *watchers) changed(key string) {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	if ws.byKey[key] != nil {
		ws.pending[key] = struct{}{}
		ws.kick()
	}
}

// reread asks for a re-read of key, watched or not (a session with API
// calls in flight).
func (ws *watchers) reread(key string) {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	if ws.pending == nil {
		ws.byKey, ws.pending = map[string]*watched{}, map[string]struct{}{}
	}
	ws.pending[key] = struct{}{}
	ws.kick()
}

// rereadAll asks for a re-read of every watched session.
func (ws *watchers) rereadAll() {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	for key := range ws.byKey {
		ws.pending[key] = struct{}{}
	}
	ws.kick()
}

func (ws *watchers) takePending() []string {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	keys := make([]string, 0, len(ws.pending))
	for key := range ws.pending {
		keys = append(keys, key)
		delete(ws.pending, key)
	}
	return keys
}

// retryDue is when a due session whose re-read failed is tried again.
const retryDue = time.Second

// takeDue returns the keys due by now. Each stays scheduled a second
// later, in case its re-read fails; a successful one reschedules it.
func (ws *watchers) takeDue(now time.Time) []string {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	var keys []string
	for len(ws.due) > 0 && !ws.due[0].at.After(now) {
		e := ws.due[0]
		keys = append(keys, e.key)
		e.at = now.Add(retryDue)
		heap.Fix(&ws.due, 0)
	}
	return keys
}

func (ws *watchers) nextDue() (time.Time, bool) {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	if len(ws.due) == 0 {
		return time.Time{}, false
	}
	return ws.due[0].at, true
}

// goneGrace is how long a watched session found missing before its end
// waits for the event that says why: a re-read can land between an end's
// delete in the store and its event.
const goneGrace = 2 * time.Second

// gone takes in that key was found missing from the store, and says
// whether to tell its watchers now, and why: expired if its end has come;
// else unknown (its event was missed), once goneGrace has passed without
// the event.
func (ws *watchers) gone(key string, now time.Time) (reason string, tell bool) {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	e := ws.byKey[key]
	switch {
	case e == nil || !now.Before(e.end):
		return ReasonExpired, true
	case e.missing.IsZero():
		e.missing = now
	case now.Sub(e.missing) >= goneGrace:
		return ReasonUnknown, true
	}
	e.at = e.missing.Add(goneGrace)
	if e.idx < 0 {
		heap.Push(&ws.due, e)
	} else {
		heap.Fix(&ws.due, e.idx)
	}
	ws.kick()
	return "", false
}

// update takes in rec, just read live under key: tells the watchers of a
// change, warns them when the end is near, and schedules what is due next.
func (ws *watchers) update(key string, rec *Record, now time.Time) {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	e := ws.byKey[key]
	if e == nil {
		return // API calls only: they need no news of a live session
	}
	e.missing = time.Time{}
	if e.remember(rec, ws) {
		e.tell(Notice{Kind: NoticeChanged, Record: rec})
	}
	ws.schedule(e, now)
}

// remember takes in rec's times and claims and reports whether they
// changed; a new end time may be warned of again.
func (e *watched) remember(rec *Record, ws *watchers) bool {
	claims := maphash.Bytes(ws.seed, rec.Claims)
	if rec.LastSeenAt.Equal(e.seen) && rec.ExpiresAt.Equal(e.expires) && claims == e.claims {
		return false
	}
	e.seen, e.expires, e.claims = rec.LastSeenAt, rec.ExpiresAt, claims
	end := rec.IdleExpiresAt(ws.idle)
	if !end.Equal(e.end) {
		e.end, e.warned = end, false
	}
	e.why = ExpiringIdle
	if end.Equal(rec.ExpiresAt) {
		e.why = ExpiringLifetime
	}
	return true
}

// schedule warns e's watchers when its warning time has come and puts e
// in the heap at its next due time; ws.mu held.
func (ws *watchers) schedule(e *watched, now time.Time) {
	warnAt := e.end.Add(-ws.warning)
	if ws.warning > 0 && !e.warned && !now.Before(warnAt) {
		e.warned = true
		e.tell(Notice{Kind: NoticeExpiring, At: e.end, Reason: e.why})
	}
	e.at = e.end
	if ws.warning > 0 && !e.warned {
		e.at = warnAt
	}
	if e.idx < 0 {
		heap.Push(&ws.due, e)
	} else {
		heap.Fix(&ws.due, e.idx)
	}
	if ws.due[0] == e {
		ws.kick()
	}
}

// dueHeap orders watched sessions by their next due time.
type dueHeap []*watched

func (h dueHeap) Len() int           { return len(h) }
func (h dueHeap) Less(i, j int) bool { return h[i].at.Before(h[j].at) }
func (h dueHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].idx, h[j].idx = i, j
}
func (h *dueHeap) Push(x any) {
	e := x.(*watched)
	e.idx = len(*h)
	*h = append(*h, e)
}
func (h *dueHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	e.idx = -1
	return e
}
