package session

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/alexedwards/scs/boltstore"
	"go.etcd.io/bbolt"
)

// Bucket names. The session bucket is scs boltstore's, whose value layout
// (8-byte big-endian expiry in Unix nanoseconds, then the data) the index
// and replay buckets reuse.
var (
	sessionBucket = []byte("scs:session")
	indexBucket   = []byte("bff:index")
	replayBucket  = []byte("bff:replay")
)

// Bolt is the embedded, single-process [Backend] on a bbolt file. Sessions
// are written through scs's boltstore; the index and replay cache live in
// buckets of their own in the same file. Locks are in-process, which is
// exact because bbolt lets only one process open the file.
type Bolt struct {
	db     *bbolt.DB
	scs    *boltstore.BoltStore
	locks  keyedMutex
	stop   chan struct{}
	closed chan struct{}
}

// OpenBolt opens (creating if needed) the bolt file at path. It fails after
// a second, naming the file, when another process holds it.
func OpenBolt(path string) (*Bolt, error) {
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
	b := &Bolt{
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

// Find implements [Store]. Unlike boltstore.Find it copies the value inside
// the transaction: bbolt's slices point into the memory map and are invalid
// once the transaction ends.
func (b *Bolt) Find(_ context.Context, key string) ([]byte, bool, error) {
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

// Commit implements [Store].
func (b *Bolt) Commit(_ context.Context, key string, data []byte, expiry time.Time) error {
	return b.scs.Commit(key, data, expiry)
}

// Replace implements [Replacer] in one transaction, in boltstore's value
// layout.
func (b *Bolt) Replace(_ context.Context, key string, data []byte, expiry time.Time) (bool, error) {
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

// Delete implements [Store].
func (b *Bolt) Delete(_ context.Context, key string) error {
	return b.scs.Delete(key)
}

func indexKey(kind, value, key string) []byte {
	return []byte(kind + "\x00" + value + "\x00" + key)
}

// IndexAdd implements [Index].
func (b *Bolt) IndexAdd(_ context.Context, kind, value, key string, expiry time.Time) error {
	return b.db.Update(func(tx *bbolt.Tx) error {
		return tx.Bucket(indexBucket).Put(indexKey(kind, value, key), expiryValue(expiry, nil))
	})
}

// IndexRemove implements [Index].
func (b *Bolt) IndexRemove(_ context.Context, kind, value, key string) error {
	return b.db.Update(func(tx *bbolt.Tx) error {
		return tx.Bucket(indexBucket).Delete(indexKey(kind, value, key))
	})
}

// IndexLookup implements [Index] with a prefix scan, so its cost follows
// the number of matching entries, not the size of the store.
func (b *Bolt) IndexLookup(_ context.Context, kind, value string) ([]string, error) {
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

// FirstUse implements [ReplayCache] in one read-write transaction, which
// bbolt serialises, so it is atomic.
func (b *Bolt) FirstUse(_ context.Context, id string, expiry time.Time) (bool, error) {
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

// Forget implements [ReplayCache].
func (b *Bolt) Forget(_ context.Context, id string) error {
	return b.db.Update(func(tx *bbolt.Tx) error {
		return tx.Bucket(replayBucket).Delete([]byte(id))
	})
}

// Lock implements [Locker] in process; ttl is not needed because a holder
// cannot vanish without its whole process.
func (b *Bolt) Lock(ctx context.Context, key string, _ time.Duration) (func(), error) {
	return b.locks.lock(ctx, key)
}

// Ping implements [Backend]: it fails once the file is closed.
func (b *Bolt) Ping(context.Context) error {
	return b.db.View(func(*bbolt.Tx) error { return nil })
}

// Close stops the cleanup and closes the file.
func (b *Bolt) Close() error {
	select {
	case <-b.stop:
		return nil
	default:
	}
	close(b.stop)
	<-b.closed
	return b.db.Close()
}

func (b *Bolt) cleanup(every time.Duration) {
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
func (b *Bolt) deleteExpired(now time.Time) error {
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
