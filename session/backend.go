package session

import (
	"context"
	"io"
	"time"

	"github.com/alexedwards/scs/v2"
)

// backend is a [Manager]'s store with the extensions it has, found once by
// type assertion, and the stand-ins for those it lacks (see the package
// doc). Every call that reaches the store is reported to observe.
type backend struct {
	store    scs.CtxStore
	replacer Replacer       // nil: find, then commit
	fresh    FreshFinder    // nil: FindCtx is always fresh
	index    Index          // nil: scan the store, or ErrNotSupported
	deleter  IndexedDeleter // nil: delete, then remove index entries
	locker   Locker         // never nil: the store's, or an in-process one
	replay   ReplayCache    // never nil: the store's, or an in-process one
	pinger   Pinger         // nil: Ping is a Find
	notifier Notifier       // never nil: the store's, or an in-process one
	observe  func(ctx context.Context, op string, d time.Duration, err error)

	// writes serialises find-then-commit with this process's deletes of the
	// same key, for a store without a Replacer.
	writes LocalLocker
}

func newBackend(store scs.CtxStore, observe func(context.Context, string, time.Duration, error)) *backend {
	b := &backend{store: store, observe: observe}
	b.replacer, _ = store.(Replacer)
	b.fresh, _ = store.(FreshFinder)
	b.index, _ = store.(Index)
	if b.index != nil {
		b.deleter, _ = store.(IndexedDeleter)
	}
	b.pinger, _ = store.(Pinger)
	if b.locker, _ = store.(Locker); b.locker == nil {
		b.locker = new(LocalLocker)
	}
	if b.replay, _ = store.(ReplayCache); b.replay == nil {
		b.replay = new(localReplay)
	}
	if b.notifier, _ = store.(Notifier); b.notifier == nil {
		b.notifier = new(localNotifier)
	}
	return b
}

// start and done time a store call for observe; without one they cost
// nothing, so the hot path does not read the clock for nobody.
func (b *backend) start() time.Time {
	if b.observe == nil {
		return time.Time{}
	}
	return time.Now()
}

func (b *backend) done(ctx context.Context, op string, start time.Time, err error) {
	if b.observe != nil {
		b.report(ctx, op, start, err)
	}
}

// report is done's slow path, apart so that done inlines.
func (b *backend) report(ctx context.Context, op string, start time.Time, err error) {
	b.observe(ctx, op, time.Since(start), err)
}

func (b *backend) find(ctx context.Context, key string) ([]byte, bool, error) {
	t := b.start()
	v, found, err := b.store.FindCtx(ctx, key)
	b.done(ctx, "find", t, err)
	return v, found, err
}

// findFresh is find past any near-cache of the store's.
func (b *backend) findFresh(ctx context.Context, key string) ([]byte, bool, error) {
	if b.fresh == nil {
		return b.find(ctx, key)
	}
	t := b.start()
	v, found, err := b.fresh.FindFresh(ctx, key)
	b.done(ctx, "find", t, err)
	return v, found, err
}

func (b *backend) commit(ctx context.Context, key string, v []byte, expiry time.Time) error {
	t := b.start()
	err := b.store.CommitCtx(ctx, key, v, expiry)
	b.done(ctx, "commit", t, err)
	return err
}

// replace is [Replacer.Replace], or for a store without one a find and a
// commit, serialised with this process's deletes of key (see delete). A
// delete on another instance between the two is undone.
func (b *backend) replace(ctx context.Context, key string, v []byte, expiry time.Time) (bool, error) {
	if b.replacer == nil {
		unlock, err := b.writes.Lock(ctx, key, 0)
		if err != nil {
			return false, err
		}
		defer unlock()
		if _, found, err := b.find(ctx, key); err != nil || !found {
			return false, err
		}
		return true, b.commit(ctx, key, v, expiry)
	}
	t := b.start()
	ok, err := b.replacer.Replace(ctx, key, v, expiry)
	b.done(ctx, "replace", t, err)
	return ok, err
}

func (b *backend) delete(ctx context.Context, key string) error {
	if b.replacer == nil {
		unlock, err := b.writes.Lock(ctx, key, 0)
		if err != nil {
			return err
		}
		defer unlock()
	}
	t := b.start()
	err := b.store.DeleteCtx(ctx, key)
	b.done(ctx, "delete", t, err)
	return err
}

// deleteIndexed deletes key and its index entries in one step; ok is false
// for a store without an [IndexedDeleter], which the caller then does in
// steps.
func (b *backend) deleteIndexed(ctx context.Context, key string, entries []IndexEntry) (ok bool, err error) {
	if b.deleter == nil {
		return false, nil
	}
	t := b.start()
	err = b.deleter.DeleteIndexed(ctx, key, entries)
	b.done(ctx, "delete", t, err)
	return true, err
}

// indexAdd and indexRemove do nothing without an Index: lookups then scan.
func (b *backend) indexAdd(ctx context.Context, kind, value, key string, expiry time.Time) error {
	if b.index == nil {
		return nil
	}
	t := b.start()
	err := b.index.IndexAdd(ctx, kind, value, key, expiry)
	b.done(ctx, "index_add", t, err)
	return err
}

func (b *backend) indexRemove(ctx context.Context, kind, value, key string) error {
	if b.index == nil {
		return nil
	}
	t := b.start()
	err := b.index.IndexRemove(ctx, kind, value, key)
	b.done(ctx, "index_remove", t, err)
	return err
}

func (b *backend) indexLookup(ctx context.Context, kind, value string) ([]string, error) {
	t := b.start()
	keys, err := b.index.IndexLookup(ctx, kind, value)
	b.done(ctx, "index_lookup", t, err)
	return keys, err
}

// all lists every live session of an iterable store, for lookups without
// an Index; [ErrNotSupported] otherwise.
func (b *backend) all(ctx context.Context) (map[string][]byte, error) {
	t := b.start()
	var m map[string][]byte
	var err error
	switch s := b.store.(type) {
	case scs.IterableCtxStore:
		m, err = s.AllCtx(ctx)
	case scs.IterableStore:
		m, err = s.All()
	default:
		return nil, ErrNotSupported
	}
	b.done(ctx, "all", t, err)
	return m, err
}

// lock reports the wait for the lock too: that is where its time goes.
func (b *backend) lock(ctx context.Context, key string, ttl time.Duration) (func(), error) {
	t := b.start()
	unlock, err := b.locker.Lock(ctx, key, ttl)
	b.done(ctx, "lock", t, err)
	return unlock, err
}

func (b *backend) firstUse(ctx context.Context, id string, expiry time.Time) (bool, error) {
	t := b.start()
	first, err := b.replay.FirstUse(ctx, id, expiry)
	b.done(ctx, "first_use", t, err)
	return first, err
}

func (b *backend) forget(ctx context.Context, id string) error {
	t := b.start()
	err := b.replay.Forget(ctx, id)
	b.done(ctx, "forget", t, err)
	return err
}

// pingKey is no store key (those are 43 base64url characters): a Find of
// it asks a store without Ping whether it answers at all.
const pingKey = "session:ping"

func (b *backend) ping(ctx context.Context) error {
	if b.pinger == nil {
		_, _, err := b.find(ctx, pingKey)
		return err
	}
	t := b.start()
	err := b.pinger.Ping(ctx)
	b.done(ctx, "ping", t, err)
	return err
}

func (b *backend) close() error {
	if c, ok := b.store.(io.Closer); ok {
		return c.Close()
	}
	return nil
}
