package web

import (
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
)

func TestResolvePath(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    string
		wantDir bool
		wantOK  bool
	}{
		{name: "root", in: "/", want: ".", wantDir: true, wantOK: true},
		{name: "file", in: "/app.js", want: "app.js", wantOK: true},
		{name: "nested", in: "/a/b/c.css", want: "a/b/c.css", wantOK: true},
		{name: "route", in: "/orders/42", want: "orders/42", wantOK: true},
		{name: "dir", in: "/assets/", want: "assets", wantDir: true, wantOK: true},
		{name: "dots inside name", in: "/a..b/c...js", want: "a..b/c...js", wantOK: true},
		{name: "unicode", in: "/café/ü.png", want: "café/ü.png", wantOK: true},
		{name: "empty", in: ""},
		{name: "relative", in: "app.js"},
		{name: "asterisk", in: "*"},
		{name: "dot dot", in: "/../etc/passwd"},
		{name: "dot dot end", in: "/a/.."},
		{name: "dot dot middle", in: "/a/../../x"},
		{name: "dot", in: "/./a"},
		{name: "double slash", in: "//a"},
		{name: "double slash middle", in: "/a//b"},
		{name: "trailing double slash", in: "/a//"},
		{name: "backslash", in: `/..\..\x`},
		{name: "backslash in name", in: `/a\b.js`},
		{name: "NUL", in: "/a\x00.js"},
		{name: "newline", in: "/a\nb"},
		{name: "DEL", in: "/a\x7fb"},
		{name: "invalid UTF-8", in: "/\xab"},
		{name: "dotfile", in: "/.env"},
		{name: "dot dir", in: "/.git/config"},
		{name: "nested dotfile", in: "/a/.htaccess"},
		{name: "too long", in: "/" + strings.Repeat("a", maxPathLen)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, gotDir, gotOK := resolvePath(tt.in)
			if got != tt.want || gotDir != tt.wantDir || gotOK != tt.wantOK {
				t.Errorf("resolvePath(%q) = %q, %v, %v; want %q, %v, %v", tt.in, got, gotDir, gotOK, tt.want, tt.wantDir, tt.wantOK)
			}
		})
	}
}

// FuzzResolvePath checks that every accepted path names something inside
// the served directory, and is exactly the URL path (nothing reinterpreted).
func FuzzResolvePath(f *testing.F) {
	for _, seed := range []string{
		"/", "/app.js", "/a/b/", "/../etc/passwd", "/%2e%2e/", "/..%2f..%2f", "/a/../../x",
		`/..\x`, "/a\x00b", "/.env", "/.git/config", "//x", "/./x", "/a/.", "/..", "/...", "/....//",
		"/C:/Windows", "/c:\\x", "/a/b/../../..", "/\u2025/x", "/%00", "/a/", "",
	} {
		f.Add(seed)
	}
	dir := filepath.FromSlash("/srv/site")
	f.Fuzz(func(t *testing.T, in string) {
		name, isDir, ok := resolvePath(in)
		if !ok {
			return
		}
		if !fs.ValidPath(name) {
			t.Fatalf("resolvePath(%q) = %q, not a valid fs path", in, name)
		}
		if !filepath.IsLocal(filepath.FromSlash(name)) {
			t.Fatalf("resolvePath(%q) = %q, not local", in, name)
		}
		joined := filepath.Join(dir, filepath.FromSlash(name))
		rel, err := filepath.Rel(dir, joined)
		if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
			t.Fatalf("resolvePath(%q) = %q, joins to %q outside %q", in, name, joined, dir)
		}
		if name != "." {
			for _, seg := range strings.Split(name, "/") {
				if strings.HasPrefix(seg, ".") {
					t.Fatalf("resolvePath(%q) = %q, has dot segment %q", in, name, seg)
				}
			}
		}
		if strings.ContainsAny(name, "\\\x00") {
			t.Fatalf("resolvePath(%q) = %q, has a backslash or NUL", in, name)
		}
		back := "/" + name
		if name == "." {
			back = "/"
		} else if isDir {
			back += "/"
		}
		if back != in {
			t.Fatalf("resolvePath(%q) = %q, %v; rebuilt %q, want the input unchanged", in, name, isDir, back)
		}
	})
}

func TestIsFingerprinted(t *testing.T) {
	tests := []struct {
		name string
		want bool
	}{
		{"app.0123abcd.js", true},
		{"assets/app.DEADBEEF.css", true},
		{"app.0123abcdef0123456789.min.js", true},
		{"vendor.min.3f2a9c1b.js", true},
		{"app.0123abc.js", false},
		{"app.0123abcg.js", false},
		{"app.js", false},
		{"0123abcd.js", false},
		{"app.0123abcd", false},
		{"0123abcd/app.js", false},
		{"index.html", false},
	}
	for _, tt := range tests {
		if got := isFingerprinted(tt.name); got != tt.want {
			t.Errorf("isFingerprinted(%q) = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestHasExt(t *testing.T) {
	tests := []struct {
		name string
		want bool
	}{
		{"app.js", true},
		{"a/b.min.css", true},
		{"orders/42", false},
		{"v1.2/x", false},
		{"trailing.", false},
		{"a.b/c", false},
	}
	for _, tt := range tests {
		if got := hasExt(tt.name); got != tt.want {
			t.Errorf("hasExt(%q) = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestTraversal(t *testing.T) {
	fx := newFixture(t)
	ts := server(t, Config{Dir: fx.dir})
	tests := []struct {
		name       string
		path       string
		wantStatus int
	}{
		{name: "dot dot", path: "/../outside/secret.txt", wantStatus: 404},
		{name: "etc passwd", path: "/../etc/passwd", wantStatus: 404},
		{name: "deep dot dot", path: "/../../../../../../etc/passwd", wantStatus: 404},
		{name: "encoded dot dot", path: "/%2e%2e/outside/secret.txt", wantStatus: 404},
		{name: "encoded dot dot upper", path: "/%2E%2E/outside/passwd", wantStatus: 404},
		{name: "encoded dot dot dir", path: "/%2e%2e/", wantStatus: 404},
		{name: "encoded slash", path: "/..%2f..%2foutside%2fsecret.txt", wantStatus: 404},
		{name: "encoded slash route", path: "/..%2f..%2f", wantStatus: 404},
		{name: "dot dot inside then out", path: "/a/../../outside/secret.txt", wantStatus: 404},
		{name: "dot dot back inside", path: "/assets/../app.js", wantStatus: 404},
		{name: "single dot", path: "/./app.js", wantStatus: 404},
		{name: "double slash", path: "//app.js", wantStatus: 404},
		{name: "encoded backslash", path: "/..%5coutside%5csecret.txt", wantStatus: 404},
		{name: "raw backslash", path: `/..\outside\secret.txt`, wantStatus: 404},
		{name: "NUL", path: "/app.js%00.png", wantStatus: 404},
		{name: "NUL route", path: "/route%00", wantStatus: 404},
		{name: "symlink file outside", path: "/link.txt", wantStatus: 404},
		{name: "relative symlink outside", path: "/relout.txt", wantStatus: 404},
		{name: "symlink dir outside", path: "/linkdir/secret.txt", wantStatus: 404},
		{name: "symlink dir outside no ext", path: "/linkdir/passwd", wantStatus: 200}, // SPA fallback, not the file
		{name: "dotfile", path: "/.env", wantStatus: 404},
		{name: "dot dir", path: "/.git/config", wantStatus: 404},
		{name: "dot dir slash", path: "/.git/", wantStatus: 404},
		{name: "nested dotfile", path: "/assets/.hidden.js", wantStatus: 404},
		{name: "well-known", path: "/.well-known/security.txt", wantStatus: 404},
		{name: "encoded dotfile", path: "/%2eenv", wantStatus: 404},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, body := do(t, ts, "GET", tt.path, nil)
			if res.StatusCode != tt.wantStatus {
				t.Errorf("GET %s status = %d, want %d", tt.path, res.StatusCode, tt.wantStatus)
			}
			for _, leak := range []string{secretBody, "SECRET=1", "[core]", "hidden"} {
				if strings.Contains(body, leak) {
					t.Errorf("GET %s body = %q, leaks %q", tt.path, body, leak)
				}
			}
			if res.StatusCode == 200 && body != indexBody {
				t.Errorf("GET %s body = %q, want index.html", tt.path, body)
			}
			checkSecurityHeaders(t, res.Header, DefaultCSP)
		})
	}
}
