package telemetry

import (
	"context"
	"net/url"

	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// scrubbingExporter removes from every span what may carry a secret or a
// user's data before it leaves the process: the query, fragment and user
// info of URLs (an API call's query may hold an e-mail address; a URL may
// hold credentials), and the query attributes. The BFF's own spans never
// set such values; this catches the instrumentation libraries' (otelhttp
// records url.full).
type scrubbingExporter struct {
	sdktrace.SpanExporter
}

func (e scrubbingExporter) ExportSpans(ctx context.Context, spans []sdktrace.ReadOnlySpan) error {
	out := make([]sdktrace.ReadOnlySpan, len(spans))
	for i, s := range spans {
		out[i] = scrubbedSpan{ReadOnlySpan: s, attrs: scrub(s.Attributes())}
	}
	return e.SpanExporter.ExportSpans(ctx, out)
}

// scrubbedSpan is a span with its attributes replaced.
type scrubbedSpan struct {
	sdktrace.ReadOnlySpan
	attrs []attribute.KeyValue
}

func (s scrubbedSpan) Attributes() []attribute.KeyValue { return s.attrs }

// urlKeys hold a whole URL; queryKeys only a query.
var (
	urlKeys   = map[attribute.Key]bool{"url.full": true, "http.url": true, "http.target": true, "url.original": true}
	queryKeys = map[attribute.Key]bool{"url.query": true, "http.query": true}
)

func scrub(attrs []attribute.KeyValue) []attribute.KeyValue {
	out := make([]attribute.KeyValue, 0, len(attrs))
	for _, a := range attrs {
		switch {
		case queryKeys[a.Key]:
			continue
		case urlKeys[a.Key]:
			a = attribute.String(string(a.Key), scrubURL(a.Value.Emit()))
		}
		out = append(out, a)
	}
	return out
}

// scrubURL keeps a URL's scheme, host and path.
func scrubURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "[unparsable]"
	}
	u.User, u.RawQuery, u.ForceQuery, u.Fragment, u.RawFragment = nil, "", false, "", ""
	return u.String()
}
