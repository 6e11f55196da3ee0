package redisstore

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"time"

	"github.com/redis/go-redis/v9"

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

var _ session.Notifier = (*Store)(nil)

// pingEvery is how long a quiet subscription waits before it checks its
// connection with a PING: a Redis host that vanished without closing the
// connection is noticed within two of these.
const pingEvery = 5 * time.Second

func (r *Store) channel() string { return r.prefix + "events" }

// Publish implements [session.Notifier] with PUBLISH.
func (r *Store) Publish(ctx context.Context, ev session.Event) error {
	b, err := json.Marshal(ev)
	if err != nil {
		return redisErr("publish", err)
	}
	if err := r.client.Publish(ctx, r.channel(), b).Err(); err != nil {
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
	ps, err := r.subscribe(ctx)
	if err != nil {
		return err
	}
	backoff := 50 * time.Millisecond
	for {
		fn(session.Event{Kind: session.EventResync})
		start := time.Now()
		r.listen(ctx, ps, fn)
		_ = ps.Close()
		if time.Since(start) > time.Minute {
			backoff = 50 * time.Millisecond
		}
		for {
			if ctx.Err() != nil {
				return nil
			}
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, 5*time.Second)
			if ps, err = r.subscribe(ctx); err == nil {
				break
			}
		}
	}
}

// subscribe makes a subscription and waits, bounded by the store's
// timeout, for Redis to confirm it.
func (r *Store) subscribe(ctx context.Context) (*redis.PubSub, error) {
	ps := r.client.Subscribe(ctx)
	if err := ps.Subscribe(ctx, r.channel()); err != nil {
		_ = ps.Close()
		return nil, redisErr("subscribe", err)
	}
	msg, err := ps.ReceiveTimeout(ctx, 2*r.timeout)
	if err == nil {
		if _, ok := msg.(*redis.Subscription); !ok {
			err = errors.New("no subscription confirmation")
		}
	}
	if err != nil {
		_ = ps.Close()
		return nil, redisErr("subscribe", err)
	}
	return ps, nil
}

// listen passes ps's events to fn until ctx ends or the connection breaks.
func (r *Store) listen(ctx context.Context, ps *redis.PubSub, fn func(session.Event)) {
	// The receive below does not watch ctx: closing ps ends it.
	stop := context.AfterFunc(ctx, func() { _ = ps.Close() })
	defer stop()
	pinged := false
	for {
		msg, err := ps.ReceiveTimeout(ctx, pingEvery)
		var ne net.Error
		switch {
		case err == nil:
			pinged = false
		case errors.As(err, &ne) && ne.Timeout() && !pinged:
			// Quiet: ask. A second timeout without the answer is a dead
			// connection.
			if ps.Ping(ctx) != nil {
				return
			}
			pinged = true
			continue
		default:
			return
		}
		switch m := msg.(type) {
		case *redis.Message:
			if ev, ok := decodeEvent(m.Payload); ok {
				fn(ev)
			}
		case *redis.Subscription:
			// go-redis remade the connection and subscribed again on its
			// own: events may have been missed meanwhile.
			if m.Kind == "subscribe" {
				fn(session.Event{Kind: session.EventResync})
			}
		}
	}
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
