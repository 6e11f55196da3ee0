package web

import (
	"encoding/json"
	"net/http"
	"testing"
)

// Issue 13: a script's call to a path no route or file serves got the
// SPA's index.html with 200, which the script would take for the API's
// answer. Calls for data get 404 JSON; navigations still get the SPA.
func TestDataCallsToUnknownPathsAre404(t *testing.T) {
	fx := newFixture(t)
	ts := server(t, Config{Dir: fx.dir})
	tests := []struct {
		name, path string
		hdr        map[string]string
		wantJSON   bool
	}{
		{"X-CSRF call", "/api/unknown/orders", map[string]string{"X-CSRF": "1"}, true},
		{"JSON call", "/v2/orders", map[string]string{"Accept": "application/json"}, true},
		{"problem+json call", "/v2/orders", map[string]string{"Accept": "application/problem+json, */*;q=0.1"}, true},
		{"JSON call with a slash", "/api/nowhere/", map[string]string{"Accept": "application/json"}, true},
		{"navigation", "/orders/42", map[string]string{"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}, false},
		{"navigation also taking JSON", "/orders/42", map[string]string{"Accept": "text/html, application/json"}, false},
		{"plain fetch", "/orders/42", map[string]string{"Accept": "*/*"}, false},
		{"root with X-CSRF", "/", map[string]string{"X-CSRF": "1"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, body := do(t, ts, "GET", tt.path, tt.hdr)
			if !tt.wantJSON {
				if res.StatusCode != http.StatusOK || body != indexBody {
					t.Errorf("GET %s = %d %q, want 200 index.html", tt.path, res.StatusCode, body)
				}
				return
			}
			var e struct{ Error string }
			if res.StatusCode != http.StatusNotFound || res.Header.Get("Content-Type") != "application/json" ||
				json.Unmarshal([]byte(body), &e) != nil || e.Error != "not_found" {
				t.Errorf("GET %s = %d %s %q, want 404 application/json not_found", tt.path, res.StatusCode, res.Header.Get("Content-Type"), body)
			}
		})
	}
	// Files are served whatever the caller accepts.
	if res, body := do(t, ts, "GET", "/assets/data.json", map[string]string{"X-CSRF": "1", "Accept": "application/json"}); res.StatusCode != 200 || body != `{"a":1}` {
		t.Errorf("GET /assets/data.json as a data call = %d %q, want the file", res.StatusCode, body)
	}
}
