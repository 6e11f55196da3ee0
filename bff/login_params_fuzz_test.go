package bff

import (
	"net/url"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzLoginParams: whatever parseLoginParams accepts is within the limits
// the login cookie is sized for and the syntax each parameter has; the
// provider gets at most the four parameters (TestLoginParameters checks
// their values in the authorization URL).
func FuzzLoginParams(f *testing.F) {
	for _, s := range []string{
		"acr_values=urn%3Aexample%3Amfa+mfa&max_age=900&prompt=login+consent&login_hint=alice%40example.test",
		"max_age=0", "prompt=none", "acr_values=a&acr_values=b", "login_hint=%E2%80%A8", "max_age=%2B1",
		"acr_values=%09mfa%0A", "prompt=none+none", "state=x&acr_values=a",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		p, err := parseLoginParams(q)
		if err != nil {
			return
		}
		if joined := strings.Join(p.acrValues, " "); len(joined) > maxACRValuesLen || len(p.acrValues) > maxACRValues ||
			strings.ContainsFunc(joined, func(r rune) bool { return r != ' ' && notNQChar(r) }) {
			t.Fatalf("accepted acr_values %q", p.acrValues)
		}
		if p.maxAge != nil && (*p.maxAge < 0 || *p.maxAge > maxMaxAgeSeconds) {
			t.Fatalf("accepted max_age %d", *p.maxAge)
		}
		if len(p.loginHint) > maxLoginHintLen || !utf8.ValidString(p.loginHint) || strings.ContainsFunc(p.loginHint, isControlRune) {
			t.Fatalf("accepted login_hint %q", p.loginHint)
		}
		if len(p.options()) > 4 {
			t.Fatalf("%d authorization request options, want at most the four parameters", len(p.options()))
		}
	})
}
