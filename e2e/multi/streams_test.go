package multi

import (
	"bufio"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/bff-project/bff/bff"
	"github.com/bff-project/bff/e2e/harness"
	"github.com/bff-project/bff/session/redistest"
)

// TestStreamEndsWhenSessionEndsElsewhere: an event stream open on B ends
// when its session is signed out on A, within the stream check interval.
func TestStreamEndsWhenSessionEndsElsewhere(t *testing.T) {
	ticks := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		for i := 0; ; i++ {
			fmt.Fprintf(w, "data: %d\n\n", i)
			http.NewResponseController(w).Flush()
			select {
			case <-r.Context().Done():
				return
			case <-time.After(50 * time.Millisecond):
			}
		}
	}))
	t.Cleanup(ticks.Close)
	const interval = 200 * time.Millisecond
	c := startCluster(t, clusterOptions{redisURL: redistest.Server(t), config: func(cfg *bff.Config) {
		cfg.APIs = append(cfg.APIs, bff.APIConfig{Prefix: "/api/ticks/", Upstream: ticks.URL})
		cfg.StreamCheckInterval = interval
	}})
	a, b := c.inst[0], c.inst[1]
	_, cookie := c.login(t, a.URL, harness.UserName, harness.UserPassword)

	req, err := http.NewRequest(http.MethodGet, b.URL+"/api/ticks/", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-CSRF", "1")
	req.Header.Set("Accept", "text/event-stream")
	req.AddCookie(&http.Cookie{Name: sessionCookie, Value: cookie})
	streamClient := &http.Client{Transport: c.client.Transport} // no overall timeout: the stream is long
	resp, err := streamClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("event stream on B = %d, want 200", resp.StatusCode)
	}
	events := make(chan struct{}, 1000)
	ended := make(chan struct{})
	go func() {
		defer close(ended)
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), "data: ") {
				events <- struct{}{}
			}
		}
	}()
	for range 3 {
		select {
		case <-events:
		case <-time.After(5 * time.Second):
			t.Fatal("no event on B's stream")
		}
	}

	c.wantStatus(t, http.MethodPost, a.URL+"/bff/logout", cookie, http.StatusFound, "")
	start := time.Now()
	select {
	case <-ended:
		t.Logf("B's stream ended %v after the logout on A (check interval %v)", time.Since(start).Round(time.Millisecond), interval)
	case <-time.After(10 * interval):
		t.Fatalf("B's stream still open %v after the logout on A", 10*interval)
	}
}
