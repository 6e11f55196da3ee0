package bff_test

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bff-project/bff/bff"
	"github.com/bff-project/bff/bff/config"
	"github.com/bff-project/bff/bff/telemetry"
	"github.com/bff-project/bff/e2e/harness"
	coltrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

// collector is an in-process OTLP/HTTP trace receiver: what the BFF's
// exporter sends, as a real collector would receive it.
type collector struct {
	srv   *httptest.Server
	mu    sync.Mutex
	spans []*tracepb.Span
	raw   []string // every export, as JSON, for scanning
}

func newCollector(t *testing.T) *collector {
	c := &collector{}
	c.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var req coltrace.ExportTraceServiceRequest
		if err := proto.Unmarshal(body, &req); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		js, _ := protojson.Marshal(&req)
		c.mu.Lock()
		c.raw = append(c.raw, string(js))
		for _, rs := range req.ResourceSpans {
			for _, ss := range rs.ScopeSpans {
				c.spans = append(c.spans, ss.Spans...)
			}
		}
		c.mu.Unlock()
		w.Header().Set("Content-Type", "application/x-protobuf")
		out, _ := proto.Marshal(&coltrace.ExportTraceServiceResponse{})
		w.Write(out)
	}))
	t.Cleanup(c.srv.Close)
	return c
}

func (c *collector) all() ([]*tracepb.Span, string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.spans), strings.Join(c.raw, "\n")
}

// startTracing points the OTEL_* environment at c and sets tracing up as
// cmd/bff does.
func startTracing(t *testing.T, c *collector) *telemetry.Tracing {
	t.Setenv("OTEL_TRACES_EXPORTER", "otlp")
	t.Setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")
	t.Setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", c.srv.URL+"/v1/traces")
	t.Setenv("OTEL_BSP_SCHEDULE_DELAY", "50")
	tr, err := telemetry.Setup(context.Background(), "test")
	if err != nil || tr == nil {
		t.Fatalf("telemetry.Setup() = %v, %v", tr, err)
	}
	return tr
}

// A whole session's life, traced: the spans the operators need are there,
// upstreams join the trace, a browser's trace context is believed only
// from the app's own pages, log lines carry the trace ID, and no span holds
// a token, cookie, code, state, secret or claim value.
func TestTracing(t *testing.T) {
	col := newCollector(t)
	tr := startTracing(t, col)
	up := newRecUpstream(t, "echo")
	logs := &harness.SyncBuffer{}
	r := newRig(t, harness.Options{Config: withConfig(
		addRoute(config.APIConfig{Prefix: "/api/echo/", Upstream: up.srv.URL, StripPrefix: true, Audience: "orders-api", Scopes: []string{"orders.read"}}),
		func(c *bff.Config) {
			c.Tracing = tr
			c.Logger, _ = bff.NewLogger(config.LogConfig{Format: "json", Level: "debug"}, logs)
		},
	)})
	h := holdSession(t, r.env, harness.OtherName, harness.OtherPass, "") // a second session, for back-channel logout
	cookie := r.sessionCookie(t)

	// The app's own page calls an API with its trace context.
	const browserTrace = "4bf92f3577b34da6a3ce929d0e0e4736"
	hdr := http.Header{"Traceparent": {"00-" + browserTrace + "-00f067aa0ba902b7-01"}, "Sec-Fetch-Site": {"same-origin"}}
	if resp, body := r.call(t, http.MethodGet, "/api/echo/a?email=alice%40example.test", hdr, nil); resp.StatusCode != 200 {
		t.Fatalf("API call = %d %s", resp.StatusCode, body)
	}
	if got := up.last(t).Header.Get("Traceparent"); !strings.Contains(got, browserTrace) {
		t.Errorf("upstream traceparent = %q, want the page's trace %s", got, browserTrace)
	}
	// Token exchange route (harness /api/profile/) and the sign-in route.
	r.mustAPI(t, "/api/profile/whoami")
	// Another site's page: its trace context is not believed.
	const foreignTrace = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	req, _ := http.NewRequest(http.MethodGet, r.url+"/app/page", nil)
	req.Header.Set("Traceparent", "00-"+foreignTrace+"-00f067aa0ba902b7-01")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	r.b.Do(t, req)
	// Back-channel logout of the second session, then a logout.
	tok, err := r.env.OP.SignLogoutToken(r.env.OP.LogoutTokenClaims(harness.ClientID, harness.OtherSubject, h.sid))
	if err != nil {
		t.Fatal(err)
	}
	if resp, body := postLogoutToken(t, r.env, r.url, tok); resp.StatusCode != 200 {
		t.Fatalf("back-channel logout = %d %s", resp.StatusCode, body)
	}
	r.b.Call(t, http.MethodPost, r.url+"/bff/logout", nil)

	// Exemplars: the proxy's latency histogram points at a trace.
	mreq, _ := http.NewRequest(http.MethodGet, r.url+"/metrics", nil)
	mreq.Header.Set("Accept", "application/openmetrics-text")
	if _, metrics := r.b.Do(t, mreq); !strings.Contains(metrics, `bff_proxy_request_duration_seconds_bucket{route="/api/echo/"`) ||
		!strings.Contains(metrics, `# {trace_id="`) {
		t.Error("/metrics (OpenMetrics) has no exemplar with a trace_id on the proxy histogram")
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := tr.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown() = %v", err)
	}
	spans, raw := col.all()
	names := map[string]int{}
	traces := map[string]bool{}
	for _, s := range spans {
		names[s.Name]++
		traces[string(s.TraceId)] = true
	}
	for _, want := range []string{"GET /bff/login", "GET /bff/callback", "oidc.exchange", "oidc.verify_id_token",
		"tokens.renew", "oidc.refresh", "oidc.token_exchange", "session.replace", "session.commit", "proxy /api/echo/",
		"POST /bff/backchannel-logout", "oidc.verify_logout_token", "oidc.revoke", "POST /bff/logout"} {
		if names[want] == 0 {
			t.Errorf("no %q span; spans: %v", want, names)
		}
	}
	if !strings.Contains(raw, hexToBase64(t, browserTrace)) {
		t.Error("the same-origin page's trace ID is not in any exported span")
	}
	if strings.Contains(raw, hexToBase64(t, foreignTrace)) {
		t.Error("a cross-site page's trace ID was adopted")
	}

	secrets := secretSet{}
	for i, tok := range r.env.OP.IssuedTokens() {
		secrets.addToken("token "+strconv.Itoa(i), tok)
	}
	secrets.add("client secret", harness.ClientSecret)
	secrets.add("cookie", cookie)
	secrets.add("other cookie", h.cookie)
	for _, seen := range r.b.Seen() {
		if u, err := url.Parse(seen.URL); err == nil {
			secrets.add("code", u.Query().Get("code"))
			secrets.add("state", u.Query().Get("state"))
		}
	}
	for _, claim := range []string{"alice@example.test", "alice%40example.test", "Alice Example", harness.UserSubject, harness.OtherSubject, "bob@example.test"} {
		secrets.add("claim "+claim, claim)
	}
	if found := secrets.findIn(raw); len(found) > 0 {
		t.Errorf("exported spans contain %v", found)
	}
	if !strings.Contains(logs.String(), `"trace_id":"`+browserTrace+`"`) {
		t.Error("no log line of the traced API call carries its trace_id")
	}
}

// hexToBase64 is a trace ID as protojson writes it (bytes in base64).
func hexToBase64(t *testing.T, h string) string {
	b, err := hex.DecodeString(h)
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(b)
}

// BenchmarkProxiedCallTraced is BenchmarkProxiedCall with tracing on (every
// request sampled, spans exported over OTLP/HTTP to a sink that reads and
// drops them): run both in one command to read tracing's cost, e.g.
// go test -run '^$' -bench 'ProxiedCall' -count 6 ./bff/
func BenchmarkProxiedCallTraced(b *testing.B) {
	sink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
	}))
	b.Cleanup(sink.Close)
	b.Setenv("OTEL_TRACES_EXPORTER", "otlp")
	b.Setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")
	b.Setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", sink.URL+"/v1/traces")
	tr, err := telemetry.Setup(context.Background(), "bench")
	if err != nil || tr == nil {
		b.Fatalf("telemetry.Setup() = %v, %v", tr, err)
	}
	b.Cleanup(func() { tr.Shutdown(context.Background()) })
	benchmarkProxiedCall(b, func(c *bff.Config) { c.Tracing = tr })
}
