package boltstore

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/alexedwards/scs/boltstore"
	"github.com/alexedwards/scs/v2"
	"go.etcd.io/bbolt"

	"github.com/bff-project/bff/session"
)

// Store has every extension of package session: a Manager on it needs no
// stand-in.
var _ interface {
	scs.CtxStore
	session.Replacer
	session.Index
	session.IndexedDeleter
	session.Locker
	session.ReplayCache
	session.Pinger
	io.Closer
} = (*Store)(nil)

// Bucket names. The session bucket is scs boltstore's, whose value layout
// (8-byte big-endian expiry in Unix nanoseconds, then the data) the index
// and replay buckets reuse.
var (
	sessionBucket = []byte("scs:session")
	indexBucket   = []byte("bff:index")
	replayBucket  = []byte("bff:replay")
)

// Store is the embedded, single-process session store on a bbolt file.
// Sessions are written through scs's boltstore; the index and replay cache
// live in buckets of their own in the same file. Locks are in-process,
// which is exact because bbolt lets only one process open the file. It is
// safe for concurrent use.
type Store struct {
	db     *bbolt.DB
	scs    *boltstore.BoltStore
	locks  session.LocalLocker
	stop   chan struct{}
	closed chan struct{}
}

// Open opens (creating if needed) the bolt file at path. It fails after a
// second, naming the file, when another process holds it.
func Open(path string) (*Store, error) {
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: time.Second})
	if err != nil {
		if errors.Is(err, bbolt.ErrTimeout) {
			return nil, fmt.Errorf("session: bolt file %s is locked by another process", path)
		}
		return nil, fmt.Errorf("session: open bolt file %s: %w", path, err)
	}
	// Create every bucket here, checking the error that boltstore's own
	// constructor would drop.
	err = db.Update(func(tx *bbolt.Tx) error {
		for _, name := range [][]byte{sessionBucket, indexBucket, replayBucket} {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("session: bolt buckets: %w", err)
	}
	b := &Store{
		db:     db,
		scs:    boltstore.NewWithCleanupInterval(db, 0),
		stop:   make(chan struct{}),
		closed: make(chan struct{}),
	}
	go b.cleanup(time.Minute)
	return b, nil
}

func expiryValue(expiry time.Time, data []byte) []byte {
	v := make([]byte, 8+len(data))
	binary.BigEndian.PutUint64(v, uint64(expiry.UnixNano()))
	copy(v[8:], data)
	return v
}

func expired(v []byte, now time.Time) bool {
	return len(v) < 8 || int64(binary.BigEndian.Uint64(v[:8])) <= now.UnixNano()
}

// FindCtx implements scs.CtxStore. Unlike boltstore.Find it copies the
// value inside the transaction: bbolt's slices point into the memory map
// and are invalid once the transaction ends.
func (b *Store) FindCtx(_ context.Context, key string) ([]byte, bool, error) {
	var out []byte
	err := b.db.View(func(tx *bbolt.Tx) error {
		v := tx.Bucket(sessionBucket).Get([]byte(key))
		if v == nil || expired(v, time.Now()) {
			return nil
		}
		out = bytes.Clone(v[8:])
		return nil
	})
	if err != nil {
		return nil, false, err
	}
	return out, out != nil, nil
}

// CommitCtx implements scs.CtxStore.
func (b *Store) CommitCtx(_ context.Context, key string, data []byte, expiry time.Time) error {
	return b.scs.Commit(key, data, expiry)
}

// Find, Commit and Delete are scs.Store's methods without a context, which
// scs.CtxStore still requires; bolt ignores the context anyway.

// Find implements scs.Store.
func (b *Store) Find(key string) ([]byte, bool, error) {
	return b.FindCtx(context.Background(), key)
}

// Commit implements scs.Store.
func (b *Store) Commit(key string, data []byte, expiry time.Time) error {
	return b.CommitCtx(context.Background(), key, data, expiry)
}

// Delete implements scs.Store.
func (b *Store) Delete(key string) error {
	return b.DeleteCtx(context.Background(), key)
}

// Replace implements [session.Replacer] in one transaction, in boltstore's
// value layout.
func (b *Store) Replace(_ context.Context, key string, data []byte, expiry time.Time) (bool, error) {
	replaced := false
	err := b.db.Update(func(tx *bbolt.Tx) error {
		bucket := tx.Bucket(sessionBucket)
		if v := bucket.Get([]byte(key)); v == nil || expired(v, time.Now()) {
			return nil
		}
		replaced = true
		return bucket.Put([]byte(key), expiryValue(expiry, data))
	})
	if err != nil {
		return false, err
	}
	return replaced, nil
}

// DeleteCtx implements scs.CtxStore.
func (b *Store) DeleteCtx(_ context.Context, key string) error {
	return b.scs.Delete(key)
}

// DeleteIndexed implements [session.IndexedDeleter] in one transaction:
// one sync of the file instead of three.
func (b *Store) DeleteIndexed(_ context.Context, key string, entries []session.IndexEntry) error {
	return b.db.Update(func(tx *bbolt.Tx) error {
		if err := tx.Bucket(sessionBucket).Delete([]byte(key)); err != nil {
			return err
		}
		idx := tx.Bucket(indexBucket)
		for _, e := range entries {
			if err := idx.Delete(indexKey(e.Kind, e.Value, key)); err != nil {
				return err
			}
		}
		return nil
	})
}

func indexKey(kind, value, key string) []byte {
	return []byte(kind + "\x00" + value + "\x00" + key)
}

// IndexAdd implements [session.Index].
func (b *Store) IndexAdd(_ context.Context, kind, value, key string, expiry time.Time) error {
	return b.db.Update(func(tx *bbolt.Tx) error {
		return tx.Bucket(indexBucket).Put(indexKey(kind, value, key), expiryValue(expiry, nil))
	})
}

// IndexRemove implements [session.Index].
func (b *Store) IndexRemove(_ context.Context, kind, value, key string) error {
	return b.db.Update(func(tx *bbolt.Tx) error {
		return tx.Bucket(indexBucket).Delete(indexKey(kind, value, key))
	})
}

// IndexLookup implements [session.Index] with a prefix scan, so its cost follows
// the number of matching entries, not the size of the store.
func (b *Store) IndexLookup(_ context.Context, kind, value string) ([]string, error) {
	prefix := []byte(kind + "\x00" + value + "\x00")
	var keys []string
	now := time.Now()
	err := b.db.View(func(tx *bbolt.Tx) error {
		c := tx.Bucket(indexBucket).Cursor()
		for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			if !expired(v, now) {
				keys = append(keys, string(k[len(prefix):]))
			}
		}
		return nil
	})
	return keys, err
}

// FirstUse implements [session.ReplayCache] in one read-write transaction, which
// bbolt serialises, so it is atomic.
func (b *Store) FirstUse(_ context.Context, id string, expiry time.Time) (bool, error) {
	first := false
	err := b.db.Update(func(tx *bbolt.Tx) error {
		bk := tx.Bucket(replayBucket)
		if v := bk.Get([]byte(id)); v != nil && !expired(v, time.Now()) {
			return nil
		}
		first = true
		return bk.Put([]byte(id), expiryValue(expiry, nil))
	})
	return first, err
}

// Forget implements [session.ReplayCache].
func (b *Store) Forget(_ context.Context, id string) error {
	return b.db.Update(func(tx *bbolt.Tx) error {
		return tx.Bucket(replayBucket).Delete([]byte(id))
	})
}

// Lock implements [session.Locker] in process; ttl is not needed because a
// holder cannot vanish without its whole process.
func (b *Store) Lock(ctx context.Context, key string, ttl time.Duration) (func(), error) {
	return b.locks.Lock(ctx, key, ttl)
}

// Ping implements [session.Pinger]: it fails once the file is closed.
func (b *Store) Ping(context.Context) error {
	return b.db.View(func(*bbolt.Tx) error { return nil })
}

// Close stops the cleanup and closes the file. Closing twice is not an
// error.
func (b *Store) Close() error {
	select {
	case <-b.stop:
		return nil
	default:
	}
	close(b.stop)
	<-b.closed
	return b.db.Close()
}

func (b *Store) cleanup(every time.Duration) {
	defer close(b.closed)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-b.stop:
			return
		case <-t.C:
			_ = b.deleteExpired(time.Now())
		}
	}
}

// deleteExpired removes expired sessions, index entries and replay ids.
// Keys are collected first: deleting under a moving cursor skips entries.
func (b *Store) deleteExpired(now time.Time) error {
	return b.db.Update(func(tx *bbolt.Tx) error {
		for _, name := range [][]byte{sessionBucket, indexBucket, replayBucket} {
			bk := tx.Bucket(name)
			var dead [][]byte
			_ = bk.ForEach(func(k, v []byte) error {
				if expired(v, now) {
					dead = append(dead, bytes.Clone(k))
				}
				return nil
			})
			for _, k := range dead {
				if err := bk.Delete(k); err != nil {
					return err
				}
			}
		}
		return nil
	})
}
