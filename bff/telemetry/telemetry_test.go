package telemetry

import (
	"testing"

	"go.opentelemetry.io/otel/attribute"
)

func TestEnabled(t *testing.T) {
	for _, tt := range []struct {
		env  map[string]string
		want bool
	}{
		{nil, false}, // the SDK would default to OTLP on localhost: not a request
		{map[string]string{"OTEL_TRACES_EXPORTER": "none"}, false},
		{map[string]string{"OTEL_TRACES_EXPORTER": "otlp"}, true},
		{map[string]string{"OTEL_TRACES_EXPORTER": "console"}, true},
		{map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, true},
		{map[string]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://collector:4318/v1/traces"}, true},
		{map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_SDK_DISABLED": "true"}, false},
		{map[string]string{"OTEL_METRICS_EXPORTER": "otlp"}, false},
	} {
		if got := Enabled(func(k string) string { return tt.env[k] }); got != tt.want {
			t.Errorf("Enabled(%v) = %v, want %v", tt.env, got, tt.want)
		}
	}
}

// The exporter keeps no query, fragment or user info of a URL: an API
// call's query can hold a user's data, a URL credentials.
func TestScrub(t *testing.T) {
	in := []attribute.KeyValue{
		attribute.String("url.full", "https://user:pw@api.internal/orders?email=alice%40example.test#frag"),
		attribute.String("url.query", "email=alice%40example.test"),
		attribute.String("http.target", "/orders?token=abc"),
		attribute.Int("http.response.status_code", 200),
	}
	got := map[attribute.Key]string{}
	for _, a := range scrub(in) {
		got[a.Key] = a.Value.Emit()
	}
	want := map[attribute.Key]string{"url.full": "https://api.internal/orders", "http.target": "/orders", "http.response.status_code": "200"}
	if len(got) != len(want) {
		t.Fatalf("scrub() = %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("scrub() %s = %q, want %q", k, got[k], v)
		}
	}
}
