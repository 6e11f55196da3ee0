package proxy

import (
	"context"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// deadAddr returns a loopback address nothing listens on.
func deadAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

func TestUpstreamDownIs502(t *testing.T) {
	var logs logBuffer
	obs := newObservations()
	dead := deadAddr(t)
	_, fe := newFrontend(t, Config{
		Routes:  []Route{{Prefix: "/api/x/", Upstream: "http://" + dead + "/internal-base"}},
		Tokens:  staticTokens("secret-access-token"),
		Logger:  newLogger(&logs),
		Observe: obs.observe,
	})
	res, body := rawGet(t, fe.Listener.Addr().String(), "/api/x/1")
	checkJSONError(t, res, body, http.StatusBadGateway, "bad_gateway")
	if strings.Contains(body, dead) || strings.Contains(body, "internal-base") || strings.Contains(body, "refused") {
		t.Errorf("body %s reveals the upstream or the cause", body)
	}
	if got, want := obs.next(t), (observation{"/api/x/", 502}); got != want {
		t.Errorf("Observe = %+v, want %+v", got, want)
	}
	log := logs.String()
	if !strings.Contains(log, "level=ERROR") || !strings.Contains(log, "proxy: upstream failed") {
		t.Errorf("log = %q, want an error line with the cause", log)
	}
	if strings.Contains(log, "secret-access-token") {
		t.Errorf("log contains the access token: %q", log)
	}
}

// slowBackend answers after d, or when the test ends.
func slowBackend(t *testing.T, d time.Duration) string {
	t.Helper()
	done := make(chan struct{})
	be := newBackend(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(d):
		case <-done:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(func() { close(done) }) // runs before be.Close
	return be.URL
}

type roundTripperFunc func(*http.Request) (*http.Response, error)

func (f roundTripperFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestSlowUpstreamIs504(t *testing.T) {
	tests := []struct {
		name      string
		transport http.RoundTripper
	}{
		{name: "default transport"},
		{name: "custom *http.Transport", transport: &http.Transport{}},
		{name: "custom RoundTripper", transport: roundTripperFunc(http.DefaultTransport.RoundTrip)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			obs := newObservations()
			up := slowBackend(t, 10*time.Second)
			_, fe := newFrontend(t, Config{
				Routes:    []Route{{Prefix: "/api/slow/", Upstream: up, Token: TokenNone, Timeout: 100 * time.Millisecond}},
				Transport: tt.transport,
				Observe:   obs.observe,
			})
			start := time.Now()
			res, body := rawGet(t, fe.Listener.Addr().String(), "/api/slow/")
			checkJSONError(t, res, body, http.StatusGatewayTimeout, "gateway_timeout")
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("answered after %v, want about 100ms", d)
			}
			if got, want := obs.next(t), (observation{"/api/slow/", 504}); got != want {
				t.Errorf("Observe = %+v, want %+v", got, want)
			}
		})
	}
}

// The timeout bounds the response headers only: a slow body is not cut.
func TestTimeoutDoesNotCutBody(t *testing.T) {
	be := newBackend(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusOK)
		http.NewResponseController(w).Flush()
		time.Sleep(300 * time.Millisecond)
		w.Write([]byte("late"))
	}))
	for _, tr := range []http.RoundTripper{nil, roundTripperFunc(http.DefaultTransport.RoundTrip)} {
		_, fe := newFrontend(t, Config{
			Routes:    []Route{{Prefix: "/api/x/", Upstream: be.URL, Token: TokenNone, Timeout: 100 * time.Millisecond}},
			Transport: tr,
		})
		res, body := rawGet(t, fe.Listener.Addr().String(), "/api/x/")
		if res.StatusCode != 200 || body != "late" {
			t.Errorf("transport %T: got %d %q, want 200 \"late\"", tr, res.StatusCode, body)
		}
	}
}

func TestClientGoneIs499(t *testing.T) {
	var logs logBuffer
	obs := newObservations()
	up := slowBackend(t, 10*time.Second)
	_, fe := newFrontend(t, Config{
		Routes:  []Route{{Prefix: "/api/slow/", Upstream: up, Token: TokenNone}},
		Logger:  newLogger(&logs),
		Observe: obs.observe,
	})
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", fe.URL+"/api/slow/", nil)
	if res, err := fe.Client().Do(req); err == nil {
		res.Body.Close()
		t.Fatalf("request succeeded with status %d, want the client to give up", res.StatusCode)
	}
	if got, want := obs.next(t), (observation{"/api/slow/", StatusClientClosedRequest}); got != want {
		t.Errorf("Observe = %+v, want %+v", got, want)
	}
	log := logs.String()
	if !strings.Contains(log, "level=DEBUG") || !strings.Contains(log, "client went away") {
		t.Errorf("log = %q, want a debug line", log)
	}
	if strings.Contains(log, "level=ERROR") {
		t.Errorf("log = %q, want no error line for a client that went away", log)
	}
}
