package bff

import (
	"net/url"
	"strings"
	"testing"
)

// FuzzSafeReturnURL checks the property that matters: whatever
// safeReturnURL accepts stays on our origin, both as net/url resolves it
// and after the rewrites browsers apply before parsing (removing ASCII tab,
// LF and CR anywhere; reading "\" as "/"), and after one more
// percent-decoding by a hop in front of the BFF.
func FuzzSafeReturnURL(f *testing.F) {
	for _, s := range readOpenRedirects(f) {
		f.Add(s)
	}
	for _, s := range acceptedReturnURLs {
		f.Add(s)
	}
	base, err := url.Parse("https://app.example/some/page")
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !safeReturnURL(s) {
			return
		}
		browserStripped := strings.NewReplacer("\t", "", "\n", "", "\r", "").Replace(s)
		variants := map[string]string{
			"as is":                  s,
			"tab/CR/LF removed":      browserStripped,
			`"\" read as "/"`:        strings.ReplaceAll(browserStripped, `\`, "/"),
			"leading spaces trimmed": strings.TrimLeft(browserStripped, " \x00\x01\x1f"),
		}
		if dec, err := url.PathUnescape(s); err == nil {
			variants["decoded once"] = strings.ReplaceAll(dec, `\`, "/")
		}
		for name, v := range variants {
			ref, err := url.Parse(v)
			if err != nil {
				// Unparseable by net/url; a browser may still parse it,
				// so the literal form must not start like another origin.
				if strings.HasPrefix(v, "//") || !strings.HasPrefix(v, "/") {
					t.Errorf("safeReturnURL(%q) = true, but %s (%q) is not a rooted path", s, name, v)
				}
				continue
			}
			got := base.ResolveReference(ref)
			if got.Scheme != "https" || got.Host != "app.example" || got.User != nil {
				t.Errorf("safeReturnURL(%q) = true, but %s (%q) resolves to %s://%s (user %v), want https://app.example",
					s, name, v, got.Scheme, got.Host, got.User)
			}
		}
	})
}
