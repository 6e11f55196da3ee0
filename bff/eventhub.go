package bff

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// This file holds what the /bff/events streams of one instance share: the
// caps, the heartbeat wheel and the drain on shutdown. A stream costs its
// connection's goroutine and nothing more: no timer or goroutine of its
// own (its session's warnings and end come from session.Manager.Watch,
// whose one heap serves every watched session).

const (
	// defaultEventHeartbeat keeps an idle stream open through proxies that
	// cut connections silent for 30-60s (nginx, cloud load balancers).
	defaultEventHeartbeat = 15 * time.Second
	// heartbeatSlots spreads the heartbeats over the interval: one tick
	// pokes one slot's streams, not every stream at once.
	heartbeatSlots = 15
)

var (
	errTooManyStreams = errorf(http.StatusServiceUnavailable, "too_many_streams",
		"This server has as many open event streams as it allows; try again shortly.", nil)
	errTooManySessionStreams = errorf(http.StatusTooManyRequests, "too_many_streams",
		"This session has as many open event streams as it allows (one per tab); close a tab or share one stream between tabs.", nil)
	errTooManyUserStreams = errorf(http.StatusTooManyRequests, "too_many_streams",
		"Your sessions have as many open event streams as this server allows; close some tabs or sign out elsewhere.", nil)
	errShuttingDown = errorf(http.StatusServiceUnavailable, "shutting_down",
		"This server is shutting down; reconnect.", nil)
)

// eventHub counts and pokes the open streams.
type eventHub struct {
	maxTotal, maxPerSession, maxPerUser int
	heartbeat                           time.Duration
	log                                 *slog.Logger

	mu        sync.Mutex
	total     int
	bySession map[string]int
	byUser    map[string]int // by subject: one account's many sessions
	slots     [heartbeatSlots]map[*eventStream]struct{}
	next      int // slot of the next stream

	draining  chan struct{} // closed on drain
	drainOnce sync.Once
}

func newEventHub(cfg Config, log *slog.Logger) *eventHub {
	h := &eventHub{
		maxTotal:      cfg.Server.MaxEventStreams,
		maxPerSession: cfg.Server.MaxEventStreamsPerSession,
		maxPerUser:    cfg.Server.MaxEventStreamsPerUser,
		byUser:        map[string]int{},
		heartbeat:     cfg.EventHeartbeat,
		log:           log,
		bySession:     map[string]int{},
		draining:      make(chan struct{}),
	}
	if h.heartbeat <= 0 {
		h.heartbeat = defaultEventHeartbeat
	}
	for i := range h.slots {
		h.slots[i] = map[*eventStream]struct{}{}
	}
	return h
}

// open admits a stream for the session under key of user subject, or
// refuses it: 503 when the instance is full or draining, 429 when the
// session or the user is.
func (h *eventHub) open(key, subject string) (*eventStream, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	select {
	case <-h.draining:
		return nil, errShuttingDown
	default:
	}
	if h.total >= h.maxTotal {
		return nil, errTooManyStreams
	}
	if h.bySession[key] >= h.maxPerSession {
		return nil, errTooManySessionStreams
	}
	if h.maxPerUser > 0 && h.byUser[subject] >= h.maxPerUser {
		return nil, errTooManyUserStreams
	}
	st := &eventStream{key: key, subject: subject, slot: h.next, kick: make(chan struct{}, 1)}
	h.next = (h.next + 1) % heartbeatSlots
	h.slots[st.slot][st] = struct{}{}
	h.total++
	h.bySession[key]++
	h.byUser[subject]++
	return st, nil
}

func (h *eventHub) close(st *eventStream) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.slots[st.slot], st)
	h.total--
	if h.bySession[st.key]--; h.bySession[st.key] <= 0 {
		delete(h.bySession, st.key)
	}
	if h.byUser[st.subject]--; h.byUser[st.subject] <= 0 {
		delete(h.byUser, st.subject)
	}
}

// beat pokes one slot's streams per tick until ctx ends, so that each
// stream gets a heartbeat every h.heartbeat.
func (h *eventHub) beat(ctx context.Context) {
	t := time.NewTicker(h.heartbeat / heartbeatSlots)
	defer t.Stop()
	for slot := 0; ; slot = (slot + 1) % heartbeatSlots {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		h.mu.Lock()
		for st := range h.slots[slot] {
			st.poke(func(p *pending) { p.heartbeat = true })
		}
		h.mu.Unlock()
	}
}

// drain ends every stream (the browser reconnects, to another instance
// while this one shuts down) and refuses new ones. For SIGTERM: a stream
// would otherwise hold its connection until the shutdown timeout.
func (h *eventHub) drain() {
	h.drainOnce.Do(func() { close(h.draining) })
}

// retryHint is the reconnection delay sent to a stream, in ms: 1-4 s,
// spread so that the streams of a draining instance do not all come back
// at once.
func retryHint() string {
	return strconv.Itoa(1000 + rand.IntN(3000))
}
