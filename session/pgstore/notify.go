package pgstore

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgxlisten"

	"github.com/bff-project/bff/session"
)

// Publish implements [session.Notifier] with NOTIFY on the schema's
// channel. The payload is the event as JSON: a store key and a reason,
// never a record or token.
func (s *Store) Publish(ctx context.Context, ev session.Event) error {
	payload, err := json.Marshal(ev)
	if err != nil {
		return fmt.Errorf("postgres notify: %w", err)
	}
	ctx, cancel := s.call(ctx)
	defer cancel()
	if _, err := s.pool.Exec(ctx, `SELECT pg_notify($1, $2)`, s.channel, string(payload)); err != nil {
		return pgErr("notify", err)
	}
	return nil
}

// Subscribe implements [session.Notifier] with LISTEN on a connection of
// its own (pgxlisten), made again (after a second) when it breaks. fn gets
// an [session.EventResync] each time the LISTEN is in place, the first
// included, as redisstore does. It returns an error only when the first
// connection cannot be made; otherwise when ctx ends.
func (s *Store) Subscribe(ctx context.Context, fn func(session.Event)) error {
	probe, err := pgx.ConnectConfig(ctx, s.connCfg)
	if err != nil {
		return pgErr("listen", err)
	}
	_ = probe.Close(ctx)
	l := &pgxlisten.Listener{
		Connect: func(ctx context.Context) (*pgx.Conn, error) {
			return pgx.ConnectConfig(ctx, s.connCfg)
		},
		ReconnectDelay: time.Second,
	}
	l.Handle(s.channel, eventHandler{fn: fn})
	_ = l.Listen(ctx) // returns when ctx ends
	return nil
}

type eventHandler struct{ fn func(session.Event) }

// HandleBacklog runs after each LISTEN: events before it may have been
// missed.
func (h eventHandler) HandleBacklog(context.Context, string, *pgx.Conn) error {
	h.fn(session.Event{Kind: session.EventResync})
	return nil
}

func (h eventHandler) HandleNotification(_ context.Context, n *pgconn.Notification, _ *pgx.Conn) error {
	var ev session.Event
	if err := json.Unmarshal([]byte(n.Payload), &ev); err != nil {
		return fmt.Errorf("postgres event: %w", err)
	}
	switch ev.Kind {
	case session.EventEnded, session.EventChanged:
		if ev.Key == "" {
			return nil
		}
	case session.EventResync:
	default:
		return nil
	}
	h.fn(ev)
	return nil
}
