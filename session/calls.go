package session

import (
	"context"
	"sync"
)

// This file holds the registry of API calls under way. Ending a session
// must end its calls too: a WebSocket, an event stream or any other long
// answer was authorised once, when it began, and the upstream would go on
// serving the signed-out user. A session deleted through this Manager ends
// its calls at once ([Manager.Delete]); one ended on another instance as
// soon as its event arrives ([Manager.Run]); one that expired, or whose
// event no instance heard, at Run's next sweep.

// calls are a Manager's calls bound to a session, by store key.
type calls struct {
	mu    sync.Mutex
	byKey map[string]*Call // each key's calls, a doubly linked list
}

// Call is an API call under way: a context cancelled when the call
// finishes or when the session it is bound to ends. Begin one with
// [Manager.BeginCall], bind and load it with [Manager.LoadCall], and
// finish it with [Manager.FinishCall].
type Call struct {
	context.Context
	cancel context.CancelFunc
	cookie string // the session cookie's value, read once per call
	// Guarded by calls.mu: the session the call is bound to, and its
	// neighbours in that session's list (a list, not a set, so binding
	// and finishing a call allocate nothing).
	key        string
	prev, next *Call
}

type callKey struct{}

// Value implements context.Context: a Call's context finds the Call
// itself ([CallFrom]).
func (c *Call) Value(key any) any {
	if key == (callKey{}) {
		return c
	}
	return c.Context.Value(key)
}

// CookieValue is the session cookie's value given to [Manager.BeginCall]:
// "" for a call without one.
func (c *Call) CookieValue() string { return c.cookie }

// CallFrom returns the [Call] that ctx belongs to, if any.
func CallFrom(ctx context.Context) (*Call, bool) {
	c, ok := ctx.Value(callKey{}).(*Call)
	return c, ok
}

// BeginCall returns the context of an API call made with the session
// cookie value cookieValue ("" for none). It is bound to no session until
// [Manager.LoadCall]; pass it to [Manager.FinishCall] when the call is
// over.
func (m *Manager) BeginCall(parent context.Context, cookieValue string) *Call {
	ctx, cancel := context.WithCancel(parent)
	return &Call{Context: ctx, cancel: cancel, cookie: cookieValue}
}

// LoadCall loads the session of call, binding call to it first: a
// [Manager.Delete] that lands during the load still ends the call. A call
// without a live session (no cookie, or a stale one) is unbound again, so
// that it is not ended with a session it never had; its key is then
// returned with a nil record, and "" without a cookie. err is for store
// failures only. An API call is activity: it extends the session's idle
// timeout, writing LastSeenAt at most once per Config.TouchInterval.
func (m *Manager) LoadCall(ctx context.Context, call *Call) (key string, rec *Record, err error) {
	if call.cookie == "" {
		return "", nil, nil
	}
	key = StoreKey(call.cookie)
	m.calls.bind(call, key)
	rec, err = m.LoadKey(ctx, key)
	if err != nil || rec == nil {
		m.calls.unbind(call)
	}
	if err != nil {
		return "", nil, err
	}
	if rec != nil {
		m.touchIfDue(ctx, key, rec)
	}
	return key, rec, nil
}

// FinishCall unbinds call and cancels its context.
func (m *Manager) FinishCall(call *Call) {
	m.calls.unbind(call)
	call.cancel()
}

// EndCalls cancels every call of this instance bound to the session under
// key. [Manager.Delete] does it; call it directly to end the calls of a
// session that is about to end anyway.
func (m *Manager) EndCalls(key string) { m.calls.end(key) }

// bind ties call to the session under key; a bound call stays bound.
func (cs *calls) bind(call *Call, key string) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if call.key != "" {
		return
	}
	if cs.byKey == nil {
		cs.byKey = map[string]*Call{}
	}
	call.key = key
	call.next = cs.byKey[key]
	if call.next != nil {
		call.next.prev = call
	}
	cs.byKey[key] = call
}

// unbind undoes bind.
func (cs *calls) unbind(call *Call) {
	cs.mu.Lock()
	if call.key != "" {
		cs.unlink(call)
	}
	cs.mu.Unlock()
}

// unlink takes call out of its session's list; cs.mu held.
func (cs *calls) unlink(call *Call) {
	switch {
	case call.prev != nil:
		call.prev.next = call.next
	case call.next != nil:
		cs.byKey[call.key] = call.next
	default:
		delete(cs.byKey, call.key)
	}
	if call.next != nil {
		call.next.prev = call.prev
	}
	call.key, call.prev, call.next = "", nil, nil
}

// end cancels every call of the session under key.
func (cs *calls) end(key string) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	for call := cs.byKey[key]; call != nil; {
		next := call.next
		call.cancel()
		call.key, call.prev, call.next = "", nil, nil
		call = next
	}
	delete(cs.byKey, key)
}

func (cs *calls) keys() []string {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	out := make([]string, 0, len(cs.byKey))
	for k := range cs.byKey {
		out = append(out, k)
	}
	return out
}
