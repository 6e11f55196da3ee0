package bff_test

import (
	"net/http"
	"testing"

	"github.com/bff-project/bff/e2e/harness"
)

// /bff/jwks is 404 with a JSON error when the client authenticates with a
// secret: there is no key to publish (issue 15). With private_key_jwt it
// is tested against a real provider in e2e/fapi.
func TestJWKSWithoutKeys(t *testing.T) {
	env := harness.Start(t, harness.Options{})
	resp, body := env.NewBrowser().Get(t, env.Default.URL+"/bff/jwks")
	if resp.StatusCode != http.StatusNotFound || resp.Header.Get("Content-Type") != "application/json" {
		t.Errorf("GET /bff/jwks = %d %s %q, want 404 JSON", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
}
