package harness

import (
	"bufio"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TickUpstream streams a server-sent event every 50ms until the request
// ends: an upstream for tests of long-lived API calls.
func TickUpstream() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		for i := 0; ; i++ {
			fmt.Fprintf(w, "data: %d\n\n", i)
			_ = http.NewResponseController(w).Flush()
			select {
			case <-r.Context().Done():
				return
			case <-time.After(50 * time.Millisecond):
			}
		}
	}
}

// Stream is a streamed answer being read as it comes.
type Stream struct {
	events chan string
	ended  chan struct{} // closed when the answer stops
}

// OpenStream GETs u on client with hdr (and X-CSRF), wants 200 and waits
// for the first event. client should have no overall timeout.
func OpenStream(t testing.TB, client *http.Client, u string, hdr http.Header) *Stream {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header = hdr.Clone()
	req.Header.Set("X-CSRF", "1")
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s = %d, want 200", u, resp.StatusCode)
	}
	s := &Stream{events: make(chan string, 1000), ended: make(chan struct{})}
	go func() {
		defer close(s.ended)
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			if data, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
				s.events <- data
			}
		}
	}()
	s.Next(t)
	return s
}

// Next waits for the next event, failing if the stream ends first.
func (s *Stream) Next(t testing.TB) {
	t.Helper()
	select {
	case <-s.events:
	case <-s.ended:
		t.Fatal("the stream ended, want an event")
	case <-time.After(5 * time.Second):
		t.Fatal("no event within 5s")
	}
}

// WantEnded fails unless the stream ends within the given time.
func (s *Stream) WantEnded(t testing.TB, within time.Duration) {
	t.Helper()
	select {
	case <-s.ended:
	case <-time.After(within):
		t.Fatalf("the stream was still open %v after its session ended", within)
	}
}
