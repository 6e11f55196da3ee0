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
// access and refresh tokens and two audience tokens, about 4 KiB sealed).
// bolt-exclusive is the BFF's bolt setting (decoded records cached, the
// store read only on a miss); shared is a Redis or bolt store that other
// instances may write, read on every call.
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
		{"redis", false, openBenchRedis},
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
	prefix := "bffbench:" + session.StoreKey(b.Name() + time.Now().String())[:12] + ":"
	r, err := redisstore.Open(context.Background(), redisstore.Config{URL: redistest.Server(b), Prefix: prefix})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		c := r.Client()
		ctx := context.Background()
		if keys, err := c.Keys(ctx, prefix+"*").Result(); err == nil && len(keys) > 0 {
			c.Del(ctx, keys...)
		}
		r.Close()
	})
	return r
}
