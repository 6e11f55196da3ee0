package redisstore

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/redis/rueidis"

	"github.com/bff-project/bff/session"
)

// This file holds the store's session.Notifier: Redis pub/sub on one
// channel per prefix, <prefix>events, carrying session.Event as JSON
// (a kind, a store key and a reason: never a record, token or claim).
//
// Pub/sub, not keyspace notifications: those need notify-keyspace-events
// set on the server (often not allowed on managed Redis), say nothing of
// why a session ended, and fire for expiries only when Redis happens to
// evict the key. On Cluster, PUBLISH reaches every node's subscribers.
//
// Each subscription has a dedicated rueidis connection, which rueidis
// PINGs when it is quiet (the store's timeout is its keep-alive gap), so a
// Redis host that vanished without closing the connection is noticed
// within about two timeouts and the subscription is made again.

var _ session.Notifier = (*Store)(nil)

func (r *Store) channel() string { return r.prefix + "events" }

// Publish implements [session.Notifier] with PUBLISH.
func (r *Store) Publish(ctx context.Context, ev session.Event) error {
	b, err := json.Marshal(ev)
	if err != nil {
		return redisErr("publish", err)
	}
	err = r.do(ctx, func(c rueidis.Builder) rueidis.Completed {
		return c.Publish().Channel(r.channel()).Message(string(b)).Build()
	}).Error()
	if err != nil {
		return redisErr("publish", err)
	}
	return nil
}

// Subscribe implements [session.Notifier]. It returns an error only when
// the first subscription cannot be made; once made, a broken one is made
// again (with backoff up to 5s) until ctx ends. fn gets an
// [session.EventResync] each time a subscription is made, the first
// included: a caller that retries after an error re-reads what it missed.
func (r *Store) Subscribe(ctx context.Context, fn func(session.Event)) error {
	sub, err := r.subscribe(ctx, fn)
	if err != nil {
		return err
	}
	backoff := 50 * time.Millisecond
	for {
		fn(session.Event{Kind: session.EventResync})
		start := time.Now()
		sub.wait(ctx)
		if time.Since(start) > time.Minute {
			backoff = 50 * time.Millisecond
		}
		for {
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, 5*time.Second)
			if sub, err = r.subscribe(ctx, fn); err == nil {
				break
			}
		}
	}
}

// subscription is one SUBSCRIBE on a dedicated connection.
type subscription struct {
	broken  <-chan error
	release func()
}

// wait holds the subscription until ctx ends or its connection breaks,
// then releases the connection.
func (s *subscription) wait(ctx context.Context) {
	select {
	case <-ctx.Done():
	case <-s.broken:
	}
	s.release()
}

// subscribe makes a subscription and waits, bounded by twice the store's
// timeout, for Redis to confirm it.
func (r *Store) subscribe(ctx context.Context, fn func(session.Event)) (*subscription, error) {
	c, err := r.conn.get()
	if err != nil {
		return nil, redisErr("subscribe", err)
	}
	dc, release := c.Dedicate()
	ch := r.channel()
	confirmed := make(chan struct{}, 1)
	broken := dc.SetPubSubHooks(rueidis.PubSubHooks{
		OnSubscription: func(s rueidis.PubSubSubscription) {
			if s.Kind == "subscribe" && s.Channel == ch {
				select {
				case confirmed <- struct{}{}:
				default:
				}
			}
		},
		OnMessage: func(m rueidis.PubSubMessage) {
			if ev, ok := decodeEvent(m.Message); ok {
				fn(ev)
			}
		},
	})
	cctx, cancel := context.WithTimeout(ctx, 2*r.timeout)
	defer cancel()
	err = dc.Do(cctx, dc.B().Subscribe().Channel(ch).Build()).Error()
	if err == nil {
		select {
		case <-confirmed:
		case <-cctx.Done():
			err = errors.New("no subscription confirmation")
		}
	}
	if err != nil {
		release()
		return nil, redisErr("subscribe", err)
	}
	return &subscription{broken: broken, release: release}, nil
}

// decodeEvent reads a published event; anything else on the channel is
// ignored.
func decodeEvent(payload string) (session.Event, bool) {
	var ev session.Event
	if json.Unmarshal([]byte(payload), &ev) != nil {
		return ev, false
	}
	switch ev.Kind {
	case session.EventEnded, session.EventChanged:
		return ev, ev.Key != ""
	case session.EventResync:
		return ev, true
	}
	return ev, false
}
