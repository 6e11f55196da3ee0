package redistest

import (
	"context"
	"testing"
	"time"

	"github.com/redis/rueidis"
)

// Client returns a plain client of the Redis at url (redis:// only), for
// tests that look at or change keys behind the store's back. It has no
// client-side cache and is closed in t.Cleanup.
func Client(t testing.TB, url string) rueidis.Client {
	t.Helper()
	opt, err := rueidis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	opt.DisableCache, opt.ForceSingleClient = true, true
	opt.Dialer.Timeout = time.Second
	c, err := rueidis.NewClient(opt)
	if err != nil {
		t.Fatalf("redistest: client: %v", err)
	}
	t.Cleanup(c.Close)
	return c
}

// DropPrefix deletes every key under prefix (SCAN and DEL), so that a
// shared Redis (BFF_TEST_REDIS_URL) does not fill up. Failures are only
// logged: the server may be a private one already stopped.
func DropPrefix(t testing.TB, url, prefix string) {
	opt, err := rueidis.ParseURL(url)
	if err != nil {
		t.Logf("redistest: cleanup: %v", err)
		return
	}
	opt.DisableCache, opt.ForceSingleClient, opt.DisableRetry = true, true, true
	opt.Dialer.Timeout = time.Second
	c, err := rueidis.NewClient(opt)
	if err != nil {
		t.Logf("redistest: cleanup: %v", err)
		return
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var cursor uint64
	for {
		e, err := c.Do(ctx, c.B().Scan().Cursor(cursor).Match(prefix+"*").Count(500).Build()).AsScanEntry()
		if err != nil {
			t.Logf("redistest: cleanup: %v", err)
			return
		}
		if len(e.Elements) > 0 {
			c.Do(ctx, c.B().Del().Key(e.Elements...).Build())
		}
		if cursor = e.Cursor; cursor == 0 {
			return
		}
	}
}
