package bff

import (
	"bufio"
	"os"
	"strconv"
	"strings"
	"testing"
)

// acceptedReturnURLs are return URLs the SPA sends (location.pathname +
// search + hash, which browsers keep in percent-encoded ASCII) that must
// stay usable.
var acceptedReturnURLs = []string{
	"/",
	"/a/b?c=d#e",
	"/deep/path?x=1#frag",
	"/orders/42",
	"/index.html",
	"/path%20with%20space",
	"/search?q=hello%20world&page=2",
	"/search?q=a+b",
	"/caf%C3%A9",
	"/a%2Fb",
	"/a:b",
	"/a@b",
	"/~user/",
	"/a/./b",
	"/?next=//evil.com",
	"/#//evil.com",
	"/#/route/inside/hash",
}

// readOpenRedirects reads testdata/openredirects.txt: one Go string literal
// per line, # comments.
func readOpenRedirects(t testing.TB) []string {
	t.Helper()
	f, err := os.Open("testdata/openredirects.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		s, err := strconv.Unquote(line)
		if err != nil {
			t.Fatalf("testdata/openredirects.txt:%d: %q is not a Go string literal: %v", n, line, err)
		}
		out = append(out, s)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(out) < 60 {
		t.Fatalf("testdata/openredirects.txt has %d payloads, want at least 60", len(out))
	}
	return out
}

func TestSafeReturnURL(t *testing.T) {
	type test struct {
		name string
		raw  string
		want bool
	}
	var tests []test
	for _, s := range readOpenRedirects(t) {
		tests = append(tests, test{name: "refuse " + strconv.Quote(s), raw: s, want: false})
	}
	tests = append(tests,
		test{name: "refuse empty", raw: "", want: false},
		test{name: "refuse over 1024 bytes", raw: "/" + strings.Repeat("a", 1024), want: false},
		test{name: "accept 1024 bytes", raw: "/" + strings.Repeat("a", 1023), want: true},
	)
	for _, s := range acceptedReturnURLs {
		tests = append(tests, test{name: "accept " + strconv.Quote(s), raw: s, want: true})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := safeReturnURL(tt.raw); got != tt.want {
				t.Errorf("safeReturnURL(%q) = %v, want %v", tt.raw, got, tt.want)
			}
		})
	}
}
