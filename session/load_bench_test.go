package session_test

import (
	"bytes"
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"

	"github.com/bff-project/bff/session"
	"github.com/bff-project/bff/session/boltstore"
	"github.com/bff-project/bff/session/redisstore"
	"github.com/bff-project/bff/session/redistest"
)

// BenchmarkManagerLoad is the session lookup of every API call: cookie
// token to decrypted record, for a record the size of a real one (ID,
// access and refresh tokens and two audience tokens, about 2.2 KiB sealed).
// bolt-exclusive is the BFF's bolt setting (decoded records cached, the
// store read only on a miss); shared is a bolt store read on every call;
// redis-near reads Redis's copy from the near-cache, redis-no-near from
// Redis on every call.
func BenchmarkManagerLoad(b *testing.B) {
	cipher, err := session.NewCipher([][]byte{bytes.Repeat([]byte{7}, 32)})
	if err != nil {
		b.Fatal(err)
	}
	backends := []struct {
		name      string
		exclusive bool
		open      func(b *testing.B) scs.CtxStore
	}{
		{"bolt-exclusive", true, openBenchBolt},
		{"bolt-shared", false, openBenchBolt},
		{"redis-near", false, openBenchRedis},
		{"redis-no-near", false, func(b *testing.B) scs.CtxStore { return openBenchRedisWith(b, true) }},
	}
	for _, bk := range backends {
		b.Run(bk.name, func(b *testing.B) {
			m, err := session.NewManager(session.Config{Store: bk.open(b), Cipher: cipher, Exclusive: bk.exclusive})
			if err != nil {
				b.Fatal(err)
			}
			ctx := context.Background()
			token, err := m.Create(ctx, typicalRecord(b))
			if err != nil {
				b.Fatalf("Create() = %v", err)
			}
			// The store reads its own fresh writes from Redis for a
			// moment (redisstore's recentWindow); measure the steady state.
			time.Sleep(300 * time.Millisecond)
			b.ReportAllocs()
			for b.Loop() {
				_, rec, err := m.Load(ctx, string(token))
				if err != nil || rec == nil {
					b.Fatalf("Load() = %v, %v", rec, err)
				}
			}
		})
	}
}

func openBenchBolt(b *testing.B) scs.CtxStore {
	bolt, err := boltstore.Open(filepath.Join(b.TempDir(), "s.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { bolt.Close() })
	return bolt
}

// openBenchRedis opens a store under a prefix of its own, whose keys it
// deletes at the end.
func openBenchRedis(b *testing.B) scs.CtxStore {
	return openBenchRedisWith(b, false)
}

// openBenchRedisWith is openBenchRedis with the near-cache off or on.
func openBenchRedisWith(b *testing.B, noNearCache bool) scs.CtxStore {
	prefix := "bffbench:" + session.StoreKey(b.Name() + time.Now().String())[:12] + ":"
	url := redistest.Server(b)
	r, err := redisstore.Open(context.Background(), redisstore.Config{URL: url, Prefix: prefix, NoNearCache: noNearCache})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		r.Close()
		redistest.DropPrefix(b, url, prefix)
	})
	return r
}
