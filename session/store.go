package session

import (
	"context"
	"errors"
	"time"
)

// The store contract is scs's: a [Manager] keeps sessions in any
// [github.com/alexedwards/scs/v2.CtxStore]. A store key is a hash of the
// cookie value, never the cookie value itself, and the value is an
// already encrypted blob. FindCtx returns found=false and a nil error when
// the key is unknown or expired; err is for system failures only.
//
// What the BFF needs beyond scs is in the optional interfaces below, each
// found by a type assertion on the store. The package doc says what the
// Manager does for a store without one.

// Replacer changes a stored blob only while it exists, so a session that
// was deleted while a request held its lock (a logout during a token
// renewal, on any instance) stays deleted instead of being written back.
type Replacer interface {
	// Replace stores b under key until expiry if key holds a live blob, and
	// reports whether it did; it never creates one.
	Replace(ctx context.Context, key string, b []byte, expiry time.Time) (replaced bool, err error)
}

// FreshFinder is a store whose FindCtx may answer from a near-cache kept
// current by the server's invalidations (Redis client tracking), which
// can arrive a moment after another instance's write. FindFresh asks the
// server itself. The Manager uses it where a read decides a write: the
// re-read under the session lock in [Manager.Update] (another instance
// may have just renewed the tokens and released the lock) and the read
// in [Manager.Delete] (whose refresh token gets revoked).
type FreshFinder interface {
	FindFresh(ctx context.Context, key string) (b []byte, found bool, err error)
}

// Index finds sessions by an attribute (the user's subject or the provider's
// sid) without scanning the store: a lookup costs in proportion to the
// sessions that match. Entries may outlive their session; [Manager] checks
// each key it gets back and removes stale ones.
type Index interface {
	// IndexAdd records key under (kind, value) until expiry.
	IndexAdd(ctx context.Context, kind, value, key string, expiry time.Time) error
	// IndexRemove forgets key under (kind, value). Removing a missing entry
	// is not an error.
	IndexRemove(ctx context.Context, kind, value, key string) error
	// IndexLookup returns the keys recorded under (kind, value) that have not
	// expired.
	IndexLookup(ctx context.Context, kind, value string) ([]string, error)
}

// IndexEntry names one index entry of a session: (kind, value).
type IndexEntry struct{ Kind, Value string }

// IndexedDeleter deletes a session and its index entries in one step: one
// transaction (one disk sync) or one round trip instead of three. A
// back-channel logout that ends a user's sessions feels it, above all on
// stores that sync each write. Removing entries that are gone is not an
// error.
type IndexedDeleter interface {
	DeleteIndexed(ctx context.Context, key string, entries []IndexEntry) error
}

// Locker serialises work on one session across goroutines and, for shared
// stores, across instances.
type Locker interface {
	// Lock blocks until it holds the lock named key, ctx is done, or the lock
	// cannot be had; the lock lapses by itself after ttl so a crashed holder
	// cannot block others forever. The returned func releases it and is safe
	// to call once.
	Lock(ctx context.Context, key string, ttl time.Duration) (unlock func(), err error)
}

// ReplayCache remembers one-time identifiers, such as a logout token's jti.
type ReplayCache interface {
	// FirstUse records id until expiry and reports whether this is the first
	// time it was seen. It is atomic: of two concurrent calls with one id,
	// exactly one gets true.
	FirstUse(ctx context.Context, id string, expiry time.Time) (first bool, err error)
	// Forget drops id, for a use that failed after FirstUse and must be
	// retried (a back-channel logout the store could not carry out).
	Forget(ctx context.Context, id string) error
}

// Pinger reports whether a store is reachable (for /readyz).
type Pinger interface {
	Ping(ctx context.Context) error
}

// Notifier carries session events between the instances that share a
// store, so that a session ended or changed on one is seen on all at once:
// the streams and API calls of an ended session end everywhere, and every
// instance can tell the SPA. Delivery is best effort (a subscriber that was
// away misses events): whoever acts on an event re-reads the record, and a
// missed one is caught by the next read.
type Notifier interface {
	// Publish sends ev to every subscriber on every instance, this one's
	// included.
	Publish(ctx context.Context, ev Event) error
	// Subscribe calls fn with every event published from now on, on any
	// instance, until ctx ends; it returns only when ctx ends or the
	// subscription cannot be made. fn must not block. A subscription that
	// breaks (the store went away) is remade by the store, and fn is then
	// called once with an Event of kind [EventResync]: events may have been
	// missed.
	Subscribe(ctx context.Context, fn func(Event)) error
}

// Event is a session event. It names the session by its store key (a
// hash of the cookie value) and carries no record, token or claim.
type Event struct {
	Kind EventKind `json:"k"`
	// Key is the session's store key; "" for EventResync.
	Key string `json:"s,omitempty"`
	// Reason says why a session ended: logout, revoked, backchannel,
	// frontchannel, expired, refresh_failed, replaced, step_up (the
	// Reason* constants).
	Reason string `json:"r,omitempty"`
}

// EventKind is what happened to a session.
type EventKind string

// Event kinds.
const (
	// EventEnded: the session is gone.
	EventEnded EventKind = "ended"
	// EventChanged: the record changed (renewed tokens, a keepalive);
	// read it again. A step-up is not a change: it ends the session for
	// ReasonStepUp and continues it under a new key.
	EventChanged EventKind = "changed"
	// EventResync: events may have been missed; re-read every session of
	// interest.
	EventResync EventKind = "resync"
)

// ErrLockNotObtained is returned by [Locker.Lock] when the context ends
// before the lock is free. errors.Is finds it in wrapped errors.
var ErrLockNotObtained = errors.New("session: lock not obtained")

// ErrNotSupported is returned by [Manager.BySubject] and [Manager.BySID]
// when the store has neither an [Index] nor a way to list its sessions
// (scs.IterableCtxStore or scs.IterableStore). errors.Is finds it.
var ErrNotSupported = errors.New("session: not supported by the store")

// Index kinds.
const (
	BySubject = "sub"
	BySID     = "sid"
)
