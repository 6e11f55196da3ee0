package oidcclient

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"golang.org/x/sync/singleflight"
)

// keyRefetchInterval is how often at most an unknown key ID may make the
// BFF fetch the provider's JWKS again; keyRetryAfterFailure is the shorter
// wait after a fetch that failed (the provider was down), and
// keyFetchTimeout bounds one fetch.
const (
	keyRefetchInterval   = 10 * time.Second
	keyRetryAfterFailure = time.Second
	keyFetchTimeout      = 10 * time.Second
)

// logoutKeys is the key set logout tokens are verified with (an
// oidc.KeySet). go-oidc's RemoteKeySet fetches the provider's JWKS again
// after every failed verification, and the back-channel endpoint is open to
// anyone: each forged token would cost a request to the provider. Here a
// token whose key ID is already known is checked against the cached keys
// only, and an unknown key ID (the provider rotated its keys) fetches the
// JWKS at most once per keyRefetchInterval. go-oidc has no such option, so
// this small cache is written here, on go-jose as go-oidc's own.
//
// A fetch runs on its own context (not the caller's, which a client that
// hangs up would cancel, spending the interval on nothing), once for all
// callers at a time, and outside the lock, so verifications with known
// keys never wait for it.
type logoutKeys struct {
	jwksURL  string
	client   *http.Client
	algs     []jose.SignatureAlgorithm
	interval time.Duration
	fetches  singleflight.Group

	mu      sync.Mutex
	keys    []jose.JSONWebKey
	fetched time.Time // last attempt
	failed  bool      // whether the last attempt failed
}

// VerifySignature implements oidc.KeySet.
func (k *logoutKeys) VerifySignature(ctx context.Context, raw string) ([]byte, error) {
	jws, err := jose.ParseSigned(raw, k.algs)
	if err != nil {
		return nil, fmt.Errorf("malformed jwt: %w", err)
	}
	kid := jws.Signatures[0].Header.KeyID
	keys, err := k.keysFor(ctx, kid)
	if err != nil {
		return nil, err
	}
	for i := range keys {
		if kid != "" && keys[i].KeyID != kid {
			continue
		}
		if payload, err := jws.Verify(&keys[i]); err == nil {
			return payload, nil
		}
	}
	return nil, errors.New("failed to verify signature")
}

// keysFor returns the cached keys, fetching them first when there are none
// yet or kid is not among them, unless the last attempt was too recent.
func (k *logoutKeys) keysFor(ctx context.Context, kid string) ([]jose.JSONWebKey, error) {
	k.mu.Lock()
	keys := k.keys
	known := kid != "" && slices.ContainsFunc(keys, func(key jose.JSONWebKey) bool { return key.KeyID == kid })
	due := k.fetched.IsZero() || time.Since(k.fetched) >= k.wait()
	k.mu.Unlock()
	if known || !due {
		return keys, nil
	}
	ch := k.fetches.DoChan("", func() (any, error) { return k.refresh(context.WithoutCancel(ctx)) })
	select {
	case res := <-ch:
		if res.Err != nil {
			return nil, res.Err
		}
		return res.Val.([]jose.JSONWebKey), nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// wait is how long after the last attempt the next may start; k.mu held.
func (k *logoutKeys) wait() time.Duration {
	if k.failed {
		return min(k.interval, keyRetryAfterFailure)
	}
	return k.interval
}

// refresh fetches the key set and caches it; after a failure it keeps the
// keys it had, if any.
func (k *logoutKeys) refresh(ctx context.Context) ([]jose.JSONWebKey, error) {
	ctx, cancel := context.WithTimeout(ctx, keyFetchTimeout)
	defer cancel()
	keys, err := k.fetch(ctx)
	k.mu.Lock()
	defer k.mu.Unlock()
	k.fetched, k.failed = time.Now(), err != nil
	if err != nil {
		if len(k.keys) == 0 {
			return nil, err
		}
		return k.keys, nil
	}
	k.keys = keys
	return keys, nil
}

func (k *logoutKeys) fetch(ctx context.Context) ([]jose.JSONWebKey, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, k.jwksURL, nil)
	if err != nil {
		return nil, err
	}
	resp, err := k.client.Do(req)
	if err != nil {
		return nil, errors.New("fetching keys: provider unreachable")
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("fetching keys: provider answered %d", resp.StatusCode)
	}
	var set jose.JSONWebKeySet
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&set); err != nil {
		return nil, fmt.Errorf("fetching keys: %w", err)
	}
	return set.Keys, nil
}

// asymmetricAlgs are the signature algorithms a provider's keys may use;
// "none" and the HMAC family (keyed with the client secret) never verify a
// logout token.
var asymmetricAlgs = []jose.SignatureAlgorithm{
	jose.RS256, jose.RS384, jose.RS512, jose.PS256, jose.PS384, jose.PS512,
	jose.ES256, jose.ES384, jose.ES512, jose.EdDSA,
}

// signingAlgs is what discovery advertises, restricted to asymmetricAlgs;
// RS256, which OpenID Connect requires, when it advertises none of them.
func signingAlgs(advertised []string) []jose.SignatureAlgorithm {
	var out []jose.SignatureAlgorithm
	for _, a := range asymmetricAlgs {
		if slices.Contains(advertised, string(a)) {
			out = append(out, a)
		}
	}
	if len(out) == 0 {
		return []jose.SignatureAlgorithm{jose.RS256}
	}
	return out
}
