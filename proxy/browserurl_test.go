package proxy

import (
	"testing"
)

func TestCanonicalHost(t *testing.T) {
	for in, want := range map[string]string{
		"127.0.0.1": "127.0.0.1", "127.1": "127.0.0.1", "0x7f000001": "127.0.0.1", "2130706433": "127.0.0.1",
		"0177.0.0.01": "127.0.0.1", "127.0.0.1.": "127.0.0.1", "0x7f.1": "127.0.0.1", "API.Internal.": "api.internal",
		"256.0.0.1": "256.0.0.1", "1.2.3.4.5": "1.2.3.4.5", "example.com": "example.com", "08.1": "08.1",
	} {
		if got := canonicalHost(in); got != want {
			t.Errorf("canonicalHost(%q) = %q, want %q", in, got, want)
		}
	}
}

// FuzzMapURL: whatever an upstream puts in a Location, what reaches the
// browser never leads it to the upstream's own address, however the
// browser reads it.
func FuzzMapURL(f *testing.F) {
	for _, s := range []string{"http://127.0.0.1:9001/v1/x", `/\127.0.0.1:9001/x`, "http:127.1:9001/x", "//0x7f000001:9001/",
		"HTTP://127.0.0.1.:09001/v1/a?b#c", "https://example.com/", "/relative", "http://[::1]:9001/"} {
		f.Add(s)
	}
	rt, problems := compileRoute(Route{Prefix: "/api/x/", Upstream: "http://127.0.0.1:9001/v1", StripPrefix: true})
	if len(problems) > 0 {
		f.Fatal(problems)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		out, ok := rt.mapURL(raw)
		if !ok {
			return
		}
		u, ok := browserURL(out)
		if ok && u.Host != "" && sameOrigin(u, rt.origin) {
			t.Fatalf("mapURL(%q) = %q, which a browser reads as the upstream", raw, out)
		}
	})
}
