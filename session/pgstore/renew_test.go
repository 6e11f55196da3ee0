package pgstore_test

import (
	"bytes"
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bff-project/bff/session"
	"github.com/bff-project/bff/session/pgstore"
	"github.com/bff-project/bff/session/pgtest"
)

// TestRenewOnceAcrossInstances: concurrent Updates on two instances that
// each "renew" a token unless the record already has it do so once: the
// lock excludes across instances and the re-read under it sees the other
// instance's save.
func TestRenewOnceAcrossInstances(t *testing.T) {
	ctx := context.Background()
	url := pgtest.Schema(t)
	c, _ := session.NewCipher([][]byte{bytes.Repeat([]byte{7}, 32)})
	var ms []*session.Manager
	for range 2 {
		m, err := session.NewManager(session.Config{Store: open(t, pgstore.Config{URL: url}), Cipher: c})
		if err != nil {
			t.Fatal(err)
		}
		ms = append(ms, m)
	}
	tok, err := ms[0].Create(ctx, &session.Record{Subject: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	key := session.StoreKey(string(tok))
	var renewals atomic.Int32
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			_, err := ms[i%2].Update(ctx, key, func(r *session.Record) (bool, error) {
				if r.AccessToken != "" {
					return false, nil
				}
				renewals.Add(1)
				time.Sleep(50 * time.Millisecond)
				r.AccessToken = "renewed"
				return true, nil
			})
			if err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if got := renewals.Load(); got != 1 {
		t.Errorf("renewals = %d, want 1", got)
	}
}
