package oidcclient

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// jwksServer serves a JWKS that the test can change, and counts fetches.
type jwksServer struct {
	mu      sync.Mutex
	keys    []jose.JSONWebKey
	fetches atomic.Int32
}

func (s *jwksServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.fetches.Add(1)
	s.mu.Lock()
	defer s.mu.Unlock()
	_ = json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: s.keys})
}

func (s *jwksServer) publish(keys ...*rsa.PrivateKey) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.keys = nil
	for i, k := range keys {
		s.keys = append(s.keys, jose.JSONWebKey{Key: &k.PublicKey, KeyID: string(rune('a' + i)), Algorithm: "RS256", Use: "sig"})
	}
}

func signWith(t *testing.T, key *rsa.PrivateKey, kid string) string {
	t.Helper()
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: key},
		(&jose.SignerOptions{}).WithHeader("kid", kid))
	if err != nil {
		t.Fatal(err)
	}
	jws, err := signer.Sign([]byte(`{"ok":true}`))
	if err != nil {
		t.Fatal(err)
	}
	out, err := jws.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestLogoutKeysRotation: a token signed with a key the provider has just
// published (unknown key ID) fetches the keys again, once per interval.
func TestLogoutKeysRotation(t *testing.T) {
	gen := func() *rsa.PrivateKey {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	oldKey, newKey := gen(), gen()
	srv := &jwksServer{}
	srv.publish(oldKey) // kid "a"
	ts := httptest.NewServer(srv)
	defer ts.Close()
	keys := &logoutKeys{jwksURL: ts.URL, client: ts.Client(), algs: []jose.SignatureAlgorithm{jose.RS256}, interval: time.Hour}
	ctx := context.Background()

	if _, err := keys.VerifySignature(ctx, signWith(t, oldKey, "a")); err != nil {
		t.Fatalf("token with the published key: %v", err)
	}
	if _, err := keys.VerifySignature(ctx, signWith(t, oldKey, "a")); err != nil || srv.fetches.Load() != 1 {
		t.Fatalf("second token: err %v after %d fetches, want nil after 1", err, srv.fetches.Load())
	}

	srv.publish(oldKey, newKey) // the provider rotates: kid "b" appears
	if _, err := keys.VerifySignature(ctx, signWith(t, newKey, "b")); err == nil {
		t.Error("new key accepted within the interval without fetching")
	}
	if got := srv.fetches.Load(); got != 1 {
		t.Errorf("fetches within the interval = %d, want 1", got)
	}

	keys.interval = 0 // the interval has passed
	if _, err := keys.VerifySignature(ctx, signWith(t, newKey, "b")); err != nil {
		t.Errorf("token with the newly published key: %v", err)
	}
	if got := srv.fetches.Load(); got != 2 {
		t.Errorf("fetches after the rotation = %d, want 2", got)
	}
	// A known key ID with a bad signature never fetches.
	if _, err := keys.VerifySignature(ctx, signWith(t, gen(), "b")); err == nil {
		t.Error("forged token with a known key ID accepted")
	}
	if got := srv.fetches.Load(); got != 2 {
		t.Errorf("fetches after a forged known-kid token = %d, want still 2", got)
	}
}

// TestLogoutKeysFetchNotSpentByCallers: a caller that hangs up does not
// cancel the fetch it started (a forged token from a client that drops its
// connection must not use up the refetch interval and lock out the
// provider's genuine tokens), a failed fetch is retried after a short wait,
// not the whole interval, and many unknown key IDs at once fetch once.
func TestLogoutKeysFetchNotSpentByCallers(t *testing.T) {
	key, forger := newRSAKey(t), newRSAKey(t)
	srv := &jwksServer{}
	srv.publish(key) // kid "a"
	var failing atomic.Bool
	release := make(chan struct{})
	var gate atomic.Pointer[chan struct{}]
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if g := gate.Load(); g != nil {
			<-*g
		}
		if failing.Load() {
			srv.fetches.Add(1)
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		srv.ServeHTTP(w, r)
	}))
	defer ts.Close()
	newKeys := func() *logoutKeys {
		return &logoutKeys{jwksURL: ts.URL, client: ts.Client(), algs: []jose.SignatureAlgorithm{jose.RS256}, interval: time.Hour}
	}

	t.Run("caller hangs up", func(t *testing.T) {
		keys := newKeys()
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if _, err := keys.VerifySignature(ctx, signWith(t, forger, "zzz")); err == nil {
			t.Fatal("forged token accepted")
		}
		if _, err := keys.VerifySignature(context.Background(), signWith(t, key, "a")); err != nil {
			t.Errorf("genuine token after a forged one whose client hung up: %v", err)
		}
	})

	t.Run("failed fetch retried soon", func(t *testing.T) {
		keys := newKeys()
		failing.Store(true)
		if _, err := keys.VerifySignature(context.Background(), signWith(t, key, "a")); err == nil {
			t.Fatal("token accepted while the provider's keys were unavailable")
		}
		failing.Store(false)
		time.Sleep(keyRetryAfterFailure + 100*time.Millisecond)
		if _, err := keys.VerifySignature(context.Background(), signWith(t, key, "a")); err != nil {
			t.Errorf("genuine token %v after the failed fetch: %v", keyRetryAfterFailure, err)
		}
	})

	t.Run("one fetch for many callers, known keys do not wait", func(t *testing.T) {
		keys := newKeys()
		if _, err := keys.VerifySignature(context.Background(), signWith(t, key, "a")); err != nil {
			t.Fatal(err)
		}
		keys.interval = 0 // unknown key IDs may fetch again
		before := srv.fetches.Load()
		gate.Store(&release)
		var wg sync.WaitGroup
		for range 20 {
			wg.Go(func() { _, _ = keys.VerifySignature(context.Background(), signWith(t, forger, "unknown")) })
		}
		time.Sleep(100 * time.Millisecond) // the fetch is now held by the gate
		done := make(chan error, 1)
		go func() { _, err := keys.VerifySignature(context.Background(), signWith(t, key, "a")); done <- err }()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("known key while a fetch hangs: %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Error("a token with a known key waited for a hanging fetch")
		}
		gate.Store(nil)
		close(release)
		wg.Wait()
		if got := srv.fetches.Load() - before; got != 1 {
			t.Errorf("fetches for 20 concurrent unknown key IDs = %d, want 1", got)
		}
	})
}

func newRSAKey(t *testing.T) *rsa.PrivateKey {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return k
}
