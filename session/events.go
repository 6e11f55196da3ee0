package session

import (
	"context"
	"sync"
	"time"
)

// This file holds the session events: why a session ends, how the Manager
// publishes its ends and changes through the store's [Notifier] (or, for a
// store without one, in this process), and how it acts on the events it
// hears: an ended session's API calls end and its watchers are told
// (watch.go).

// Reasons a session ends, carried by [EventEnded] and [NoticeEnded].
const (
	// ReasonLogout: the user signed out (RP-initiated logout).
	ReasonLogout = "logout"
	// ReasonRevoked: signed out from the session manager ("sign out that
	// device", "everywhere else").
	ReasonRevoked = "revoked"
	// ReasonBackchannel: the provider ended it (Back-Channel Logout).
	ReasonBackchannel = "backchannel"
	// ReasonFrontchannel: the provider ended it (Front-Channel Logout).
	ReasonFrontchannel = "frontchannel"
	// ReasonExpired: its idle timeout or lifetime passed.
	ReasonExpired = "expired"
	// ReasonRefreshFailed: the provider rejected its refresh token.
	ReasonRefreshFailed = "refresh_failed"
	// ReasonReplaced: the browser signed in again, as another user, which
	// ends its previous session.
	ReasonReplaced = "replaced"
	// ReasonStepUp: the same user signed in again (a step-up): the session
	// goes on under a new cookie and ID, with the new sign-in's strength
	// (see Manager.Continue); what watched the old one should follow the
	// browser's new cookie.
	ReasonStepUp = "step_up"
	// ReasonUnknown: the session is gone, but the event that said why was
	// missed (this instance's subscription was down); found on a re-read.
	ReasonUnknown = "unknown"
)

// publish sends ev to every instance. A store without a [Notifier] has an
// in-process one. A failed publish is reported to Observe and delivered
// here at least: other instances then learn of it at their next sweep.
func (m *Manager) publish(ctx context.Context, ev Event) {
	t := m.store.start()
	err := m.store.notifier.Publish(ctx, ev)
	m.store.done(ctx, "publish", t, err)
	if err != nil {
		m.dispatch(ev)
	}
}

// dispatch acts on an event from any instance. It never blocks: what
// needs the store (re-reading a changed session) is left to Run's worker.
func (m *Manager) dispatch(ev Event) {
	switch ev.Kind {
	case EventEnded:
		m.calls.end(ev.Key)
		m.watch.ended(ev.Key, ev.Reason)
	case EventChanged:
		m.watch.changed(ev.Key)
	case EventResync:
		m.watch.rereadAll()
		for _, key := range m.calls.keys() {
			m.watch.reread(key)
		}
	}
}

// Run carries this Manager's part of the session events until ctx ends: it
// subscribes to the store's events (again after a failure, with backoff,
// re-reading every watched session when the subscription is back), fires
// the watchers' expiry warnings and ends at their time, and sweeps: every
// Config.SweepInterval it re-reads each session that has API calls in
// flight or watchers here, the safety net for an event no instance heard
// (a publish that failed) and for API calls of a session that expired.
// Without Run, [Manager.Watch] hears nothing and calls of sessions ended
// on other instances run on; [Manager.Delete] still ends this instance's
// calls at once.
func (m *Manager) Run(ctx context.Context) {
	var wg sync.WaitGroup
	wg.Go(func() { m.subscribe(ctx) })
	m.work(ctx)
	wg.Wait()
}

// subscribe keeps a subscription to the store's events until ctx ends.
func (m *Manager) subscribe(ctx context.Context) {
	backoff := 100 * time.Millisecond
	for {
		start := time.Now()
		err := m.store.notifier.Subscribe(ctx, m.dispatch)
		if ctx.Err() != nil {
			return
		}
		m.store.done(ctx, "subscribe", start, err)
		// Whatever happened while it was down is re-read now and again
		// once the new subscription is made (stores send EventResync then).
		m.dispatch(Event{Kind: EventResync})
		if time.Since(start) > time.Minute {
			backoff = 100 * time.Millisecond
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 5*time.Second)
	}
}

// work runs the watchers' timers, their re-reads and the sweep.
func (m *Manager) work(ctx context.Context) {
	sweep := time.NewTicker(m.cfg.SweepInterval)
	defer sweep.Stop()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		next, ok := m.watch.nextDue()
		if !ok {
			next = m.cfg.Now().Add(time.Hour)
		}
		timer.Reset(max(next.Sub(m.cfg.Now()), 0))
		select {
		case <-ctx.Done():
			return
		case <-m.watch.wake:
		case <-timer.C:
		case <-sweep.C:
			m.dispatch(Event{Kind: EventResync})
		}
		m.runDue(ctx)
		m.rereadPending(ctx)
	}
}

// rereadTimeout bounds one re-read of a watched session in the worker.
const rereadTimeout = 2 * time.Second

// rereadPending re-reads the sessions events named as changed, or all of
// them after a resync.
func (m *Manager) rereadPending(ctx context.Context) {
	for _, key := range m.watch.takePending() {
		if ctx.Err() != nil {
			return
		}
		m.refresh(ctx, key)
	}
}

// runDue handles the watchers whose warning or end is due.
func (m *Manager) runDue(ctx context.Context) {
	for _, key := range m.watch.takeDue(m.cfg.Now()) {
		if ctx.Err() != nil {
			return
		}
		m.refresh(ctx, key)
	}
}

// refresh re-reads the session under key and tells its watchers and calls
// what became of it. A store that does not answer changes nothing: the
// next sweep tries again.
func (m *Manager) refresh(ctx context.Context, key string) {
	rctx, cancel := context.WithTimeout(ctx, rereadTimeout)
	defer cancel()
	// Past any near-cache: the event that asked for this re-read may have
	// overtaken the invalidation of the cached copy.
	rec, stored, err := m.findStored(rctx, key, true)
	if err != nil {
		return
	}
	now := m.cfg.Now()
	switch {
	case rec != nil && m.live(rec, now):
		m.watch.update(key, rec, now)
	case rec != nil:
		m.forget(rctx, key, rec) // publishes the end as expired
	case stored:
		// Stored but unreadable here (wrong keys): signed out for this
		// instance, left alone in the store.
		m.calls.end(key)
		m.watch.ended(key, ReasonUnknown)
	default:
		m.calls.end(key)
		if reason, now := m.watch.gone(key, now); now {
			m.watch.ended(key, reason)
		}
	}
}

// localNotifier is the [Notifier] of a store without one: events reach
// this process's subscribers only, which is exact for a store that one
// process opens (bolt).
type localNotifier struct {
	mu   sync.Mutex
	subs map[*func(Event)]struct{}
}

func (n *localNotifier) Publish(_ context.Context, ev Event) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	for fn := range n.subs {
		(*fn)(ev)
	}
	return nil
}

func (n *localNotifier) Subscribe(ctx context.Context, fn func(Event)) error {
	n.mu.Lock()
	if n.subs == nil {
		n.subs = map[*func(Event)]struct{}{}
	}
	n.subs[&fn] = struct{}{}
	n.mu.Unlock()
	<-ctx.Done()
	n.mu.Lock()
	delete(n.subs, &fn)
	n.mu.Unlock()
	return nil
}
