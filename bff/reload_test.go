package bff_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bff-project/bff/bff"
	"github.com/bff-project/bff/bff/config"
	"github.com/bff-project/bff/e2e/harness"
)

// Reload under load: API calls go on without a single failure while the
// configuration is reloaded again and again (a route added, an upstream
// changed, limits changed, a new encryption key put first); each change
// holds for the calls after it; the session, sealed under the old key,
// stays signed in; and a bad configuration is refused whole.
func TestReloadUnderLoad(t *testing.T) {
	r := newRig(t, harness.Options{})
	srv := r.env.Default.Server
	base := r.env.Default.Config
	echo := newRecUpstream(t, "echo")
	echo2 := newRecUpstream(t, "echo2")

	var ok, failed atomic.Int64
	var firstFailure atomic.Value
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				req, _ := http.NewRequest(http.MethodGet, r.url+"/api/orders/whoami", nil)
				req.Header.Set("X-CSRF", "1")
				resp, err := r.b.Client.Do(req)
				if err == nil {
					resp.Body.Close()
				}
				if err != nil || resp.StatusCode != http.StatusOK {
					failed.Add(1)
					firstFailure.CompareAndSwap(nil, fmtResult(resp, err))
					continue
				}
				ok.Add(1)
			}
		}()
	}

	reload := func(mutate func(*bff.Config)) []string {
		t.Helper()
		next := base
		next.APIs = slices.Clone(base.APIs)
		next.Session.EncryptionKeys = slices.Clone(base.Session.EncryptionKeys)
		mutate(&next)
		restart, err := srv.Reload(context.Background(), next)
		if err != nil {
			t.Fatalf("Reload() = %v", err)
		}
		base = next
		time.Sleep(150 * time.Millisecond) // calls under way on the new configuration
		return restart
	}
	// A route added.
	reload(func(c *bff.Config) {
		c.APIs = append(c.APIs, config.APIConfig{Prefix: "/api/echo/", Upstream: echo.srv.URL, Token: "none"})
	})
	if resp, body := r.call(t, http.MethodGet, "/api/echo/x", nil, nil); resp.StatusCode != http.StatusOK || !strings.Contains(body, `"echo"`) {
		t.Errorf("new route after reload = %d %s, want 200 from echo", resp.StatusCode, body)
	}
	// Its upstream changed, the limits changed.
	reload(func(c *bff.Config) {
		c.APIs[len(c.APIs)-1].Upstream = echo2.srv.URL
		c.RateLimit = config.RateLimitConfig{LoginPerMinute: 120, Burst: 50}
	})
	if resp, body := r.call(t, http.MethodGet, "/api/echo/x", nil, nil); resp.StatusCode != http.StatusOK || !strings.Contains(body, `"echo2"`) {
		t.Errorf("changed upstream after reload = %d %s, want 200 from echo2", resp.StatusCode, body)
	}
	// A new key put first: the session sealed under the old one stays.
	newKey := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{0x43}, 32))
	reload(func(c *bff.Config) { c.Session.EncryptionKeys = append([]string{newKey}, c.Session.EncryptionKeys...) })
	r.b.User(t, r.url, http.StatusOK)
	// Settings only a restart changes keep their values and are named.
	if restart := reload(func(c *bff.Config) { c.Session.IdleTimeout = time.Minute; c.Listen = "127.0.0.1:1" }); !slices.Contains(restart, "listen") ||
		!slices.ContainsFunc(restart, func(k string) bool { return strings.HasPrefix(k, "session") }) {
		t.Errorf("restart-only settings reported = %q, want listen and session", restart)
	}
	// A configuration with problems is refused whole.
	bad := base
	bad.APIs = append(slices.Clone(base.APIs), config.APIConfig{Prefix: "no-slash", Upstream: "ftp://x"})
	bad.OIDC.Issuer = ""
	_, err := srv.Reload(context.Background(), bad)
	var ce *config.Error
	if !errors.As(err, &ce) || len(config.Problems(err)) < 3 {
		t.Errorf("Reload(bad) = %v, want every problem (at least 3 config errors)", err)
	}
	if resp, _ := r.call(t, http.MethodGet, "/api/echo/x", nil, nil); resp.StatusCode != http.StatusOK {
		t.Errorf("after a refused reload the route = %d, want it still served", resp.StatusCode)
	}

	close(stop)
	wg.Wait()
	if failed.Load() != 0 {
		t.Errorf("%d of %d calls failed during reloads; first: %v", failed.Load(), ok.Load()+failed.Load(), firstFailure.Load())
	}
	if ok.Load() < 20 {
		t.Errorf("only %d calls made during the reloads, want a load", ok.Load())
	}
	// Sessions signed in after the rotation are sealed with the new key:
	// dropping the old key keeps them.
	b2 := r.env.NewBrowser()
	b2.Login(t, r.url, harness.OtherName, harness.OtherPass)
	reload(func(c *bff.Config) { c.Session.EncryptionKeys = []string{newKey} })
	b2.User(t, r.url, http.StatusOK)
}

func fmtResult(resp *http.Response, err error) string {
	if err != nil {
		return err.Error()
	}
	return resp.Status
}
