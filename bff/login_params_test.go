package bff_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestLoginParameters: acr_values, max_age, prompt and login_hint reach
// the provider when they are well-formed, anything else is never passed
// on, and a bad one is refused 400 invalid_request before any sign-in
// starts.
func TestLoginParameters(t *testing.T) {
	env, _ := start(t, nil)
	bffURL := env.Default.URL
	tests := []struct {
		name  string
		query string
		want  map[string]string // authorize parameters; nil: refused
	}{
		{"all four", "acr_values=urn%3Aexample%3Amfa+mfa&max_age=900&prompt=login+consent&login_hint=alice%40example.test",
			map[string]string{"acr_values": "urn:example:mfa mfa", "max_age": "900", "prompt": "login consent", "login_hint": "alice@example.test"}},
		{"max_age 0", "max_age=0", map[string]string{"max_age": "0", "acr_values": "", "prompt": ""}},
		{"prompt none", "prompt=none", map[string]string{"prompt": "none"}},
		{"select_account", "prompt=select_account", map[string]string{"prompt": "select_account"}},
		{"others not passed on", "acr_values=mfa&claims=%7B%7D&request_uri=urn%3Ax&foo=bar&state=evil",
			map[string]string{"acr_values": "mfa", "claims": "", "request_uri": "", "foo": ""}},
		{"acr_values twice", "acr_values=a&acr_values=b", nil},
		{"acr_values empty", "acr_values=", nil},
		{"acr_values with a quote", "acr_values=a%22b", nil},
		{"acr_values non-ASCII", "acr_values=m%C3%BCller", nil},
		{"acr_values too many", "acr_values=" + strings.Repeat("a+", 11), nil},
		{"acr_values too long", "acr_values=" + strings.Repeat("a", 513), nil},
		{"max_age negative", "max_age=-1", nil},
		{"max_age signed", "max_age=%2B5", nil},
		{"max_age not a number", "max_age=15m", nil},
		{"max_age huge", "max_age=99999999999", nil},
		{"prompt unknown", "prompt=always", nil},
		{"prompt none with login", "prompt=none+login", nil},
		{"prompt twice over", "prompt=login+login", nil},
		{"login_hint with a newline", "login_hint=a%0Ab", nil},
		{"login_hint too long", "login_hint=" + strings.Repeat("a", 257), nil},
		{"login_hint not UTF-8", "login_hint=%FF", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := env.NewBrowser()
			resp, body := b.Get(t, bffURL+"/bff/login?returnUrl=%2F&"+tt.query)
			if tt.want == nil {
				checkErrorAnswer(t, resp, body, http.StatusBadRequest, "invalid_request")
				if c := responseCookie(resp, loginCookie); c != nil {
					t.Error("a refused sign-in set the login cookie")
				}
				return
			}
			if resp.StatusCode != http.StatusFound {
				t.Fatalf("GET /bff/login?%s = %d %s, want 302", tt.query, resp.StatusCode, body)
			}
			loc, _ := url.Parse(resp.Header.Get("Location"))
			q := loc.Query()
			for k, v := range tt.want {
				if got := q.Get(k); got != v {
					t.Errorf("authorize %s = %q, want %q", k, got, v)
				}
			}
			if q.Get("state") == "evil" {
				t.Error("a state parameter of the caller's reached the provider")
			}
		})
	}
}

// TestPromptNoneWithoutSession: prompt=none at a provider with no
// sign-in to reuse comes back login_required, shown as such.
func TestPromptNoneWithoutSession(t *testing.T) {
	env, _ := start(t, nil)
	b := env.NewBrowser()
	resp, body := b.SignInAt(t, env.Default.URL, "/bff/login?prompt=none", "", "")
	checkErrorAnswer(t, resp, body, http.StatusBadRequest, "login_required")
	b.User(t, env.Default.URL, http.StatusUnauthorized)
}

// TestLoginParametersInCookieBudget: a sign-in with every parameter at its
// longest and the longest return URL still fits the login cookie, so a
// step-up always starts.
func TestLoginParametersInCookieBudget(t *testing.T) {
	env, _ := start(t, nil)
	b := env.NewBrowser()
	acr := strings.TrimSuffix(strings.Repeat(strings.Repeat("a", 50)+" ", 10), " ")
	q := url.Values{"returnUrl": {"/" + strings.Repeat("r", 1023)}, "acr_values": {acr}, "max_age": {"2147483647"},
		"prompt": {"login consent select_account"}, "login_hint": {strings.Repeat("h", 256)}}
	resp, body := b.Get(t, env.Default.URL+"/bff/login?"+q.Encode())
	if resp.StatusCode != http.StatusFound || responseCookie(resp, loginCookie) == nil {
		t.Fatalf("GET /bff/login at every limit = %d %s, cookie set %v; want 302 and the login cookie", resp.StatusCode, body, responseCookie(resp, loginCookie) != nil)
	}
}
