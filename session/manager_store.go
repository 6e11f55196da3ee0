package session

import (
	"context"
	"fmt"
	"time"
)

// This file holds what callers need of the store besides sessions, so that
// none of them calls the store directly.

// Ping reports whether the store answers (for /readyz): the store's
// [Pinger], or for a store without one a Find of a key no session has.
func (m *Manager) Ping(ctx context.Context) error {
	if err := m.store.ping(ctx); err != nil {
		return fmt.Errorf("session: ping: %w", err)
	}
	return nil
}

// FirstUse records a one-time identifier (a login state, a logout token's
// jti) until expiry and reports whether this is its first use; of two
// concurrent calls with one id, exactly one gets true. It uses the store's
// [ReplayCache]; without one, an in-process cache that sees this
// instance's uses only.
func (m *Manager) FirstUse(ctx context.Context, id string, expiry time.Time) (bool, error) {
	first, err := m.store.firstUse(ctx, id, expiry)
	if err != nil {
		return false, fmt.Errorf("session: replay cache: %w", err)
	}
	return first, nil
}

// Forget drops id from the replay cache, for a use that failed after
// [Manager.FirstUse] and must be retried.
func (m *Manager) Forget(ctx context.Context, id string) error {
	if err := m.store.forget(ctx, id); err != nil {
		return fmt.Errorf("session: replay cache: %w", err)
	}
	return nil
}

// Close closes the store when it is an io.Closer (a store without Close
// needs nothing). Call it once no request uses the Manager any more.
func (m *Manager) Close() error {
	return m.store.close()
}
