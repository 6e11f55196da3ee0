package boltstore_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"go.etcd.io/bbolt"

	"github.com/bff-project/bff/session"
	"github.com/bff-project/bff/session/boltstore"
)

// BenchmarkBySubject lists one user's three sessions from a bolt store that
// also holds n sessions of other users. The index is a prefix scan, so the
// cost must not grow with n.
//
// The other users' sessions are written straight into the bolt file in one
// transaction before the backend opens it (bulkLoadOthers): through
// Commit and IndexAdd every session costs two fsynced transactions, which
// bolt runs one at a time even from 32 goroutines (about 3 s per 1000
// sessions here, so minutes for 100000). The loader checks through the
// backend's API that it wrote what the backend reads.
func BenchmarkBySubject(b *testing.B) {
	for _, n := range []int{0, 1000, 100000} {
		b.Run(fmt.Sprintf("others=%d", n), func(b *testing.B) {
			ctx := context.Background()
			path := filepath.Join(b.TempDir(), "s.db")
			cipher, err := session.NewCipher([][]byte{bytes.Repeat([]byte{7}, 32)})
			if err != nil {
				b.Fatal(err)
			}
			start := time.Now()
			bulkLoadOthers(b, path, cipher, n)
			backend, err := boltstore.Open(path)
			if err != nil {
				b.Fatalf("Open() = %v", err)
			}
			b.Cleanup(func() { backend.Close() })
			checkOthersLoaded(b, backend, n)
			m, err := session.NewManager(session.Config{Store: backend, Cipher: cipher})
			if err != nil {
				b.Fatal(err)
			}
			for i := range 3 {
				rec := &session.Record{Subject: "measured-user", SID: fmt.Sprintf("sid-%d", i), RefreshToken: "rt"}
				if _, err := m.Create(ctx, rec); err != nil {
					b.Fatalf("Create() = %v", err)
				}
			}
			b.Logf("set-up with %d other sessions took %v", n, time.Since(start).Round(time.Millisecond))

			for b.Loop() {
				entries, err := m.BySubject(ctx, "measured-user")
				if err != nil || len(entries) != 3 {
					b.Fatalf("BySubject() = %d entries, %v; want 3", len(entries), err)
				}
			}
		})
	}
}

// hashedIndexValue spells an index value as the manager does (a SHA-256
// prefix), so the other users' entries sort around the measured user's.
func hashedIndexValue(v string) string {
	sum := sha256.Sum256([]byte(v))
	return base64.RawURLEncoding.EncodeToString(sum[:18])
}

func otherKey(i int) (key, indexValue string) {
	return session.StoreKey(fmt.Sprintf("other-token-%d", i)), hashedIndexValue(fmt.Sprintf("other-%d", i))
}

// bulkLoadOthers writes n sessions of n other users, with their subject
// index entries, into a new bolt file at path in the layout of boltstore.go:
// scs boltstore's "scs:session" bucket and the "bff:index" bucket, values
// prefixed with the 8-byte big-endian expiry in Unix nanoseconds.
func bulkLoadOthers(b *testing.B, path string, cipher *session.Cipher, n int) {
	b.Helper()
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{NoSync: true})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	exp := make([]byte, 8)
	binary.BigEndian.PutUint64(exp, uint64(time.Now().Add(time.Hour).UnixNano()))
	// bolt writes sorted keys far faster than random ones.
	type kv struct{ k, v []byte }
	var sessions, index []kv
	for i := range n {
		key, iv := otherKey(i)
		blob := cipher.Seal([]byte(fmt.Sprintf(`{"id":"o%d","sub":"other-%d"}`, i, i)), []byte(key))
		sessions = append(sessions, kv{[]byte(key), append(bytes.Clone(exp), blob...)})
		index = append(index, kv{[]byte(session.BySubject + "\x00" + iv + "\x00" + key), exp})
	}
	byKey := func(a, b kv) int { return bytes.Compare(a.k, b.k) }
	slices.SortFunc(sessions, byKey)
	slices.SortFunc(index, byKey)
	err = db.Update(func(tx *bbolt.Tx) error {
		for name, entries := range map[string][]kv{"scs:session": sessions, "bff:index": index} {
			bk, err := tx.CreateBucketIfNotExists([]byte(name))
			if err != nil {
				return err
			}
			bk.FillPercent = 1 // append-only load
			for _, e := range entries {
				if err := bk.Put(e.k, e.v); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		b.Fatalf("bulk load: %v", err)
	}
	if err := db.Sync(); err != nil {
		b.Fatal(err)
	}
}

// checkOthersLoaded fails unless the backend finds the bulk-loaded
// sessions and index entries, so a change of boltstore.go's layout cannot turn
// the benchmark into one over an empty store.
func checkOthersLoaded(b *testing.B, backend *boltstore.Store, n int) {
	b.Helper()
	ctx := context.Background()
	for _, i := range []int{0, n / 2, n - 1} {
		if n == 0 {
			return
		}
		key, iv := otherKey(i)
		if _, found, err := backend.FindCtx(ctx, key); err != nil || !found {
			b.Fatalf("FindCtx(other %d) = found %v, %v; want the bulk-loaded session", i, found, err)
		}
		keys, err := backend.IndexLookup(ctx, session.BySubject, iv)
		if err != nil || len(keys) != 1 || keys[0] != key {
			b.Fatalf("IndexLookup(other %d) = %v, %v; want its key", i, keys, err)
		}
	}
}
