package web

import (
	"path"
	"strings"
	"unicode/utf8"
)

// maxPathLen bounds the URL paths the handler looks up; longer ones are 404.
const maxPathLen = 2048

// resolvePath turns a decoded URL path (r.URL.Path) into a name for an
// [io/fs.FS] rooted at the served directory. It accepts only paths that
// start with "/" and whose segments are plain names: no "." or ".." segment
// (so "%2e%2e" and "..%2f" are refused too, since the path is already
// decoded), no empty segment ("//"), no dotfile or dot-directory (".env",
// ".git/config"), no backslash, NUL or other control character, no invalid
// UTF-8. It does not
// clean the path: anything that would need cleaning is refused rather than
// reinterpreted.
//
// The root "/" resolves to ".". dir reports a trailing slash: the request
// names a directory, which the handler answers with the SPA's index.html.
//
// Every accepted name satisfies [io/fs.ValidPath] and [path/filepath.IsLocal],
// so it cannot name anything outside the root; the fuzz test checks this.
func resolvePath(urlPath string) (name string, dir, ok bool) {
	if len(urlPath) == 0 || urlPath[0] != '/' || len(urlPath) > maxPathLen || !utf8.ValidString(urlPath) {
		return "", false, false
	}
	for i := 0; i < len(urlPath); i++ {
		if c := urlPath[i]; c < 0x20 || c == 0x7f || c == '\\' {
			return "", false, false
		}
	}
	name = urlPath[1:]
	if name == "" {
		return ".", true, true
	}
	if strings.HasSuffix(name, "/") {
		name, dir = name[:len(name)-1], true
	}
	for seg := range strings.SplitSeq(name, "/") {
		// An empty segment is "//"; a leading dot covers ".", ".." and dotfiles.
		if seg == "" || seg[0] == '.' {
			return "", false, false
		}
	}
	return name, dir, true
}

// hasExt reports whether the last segment of name has a file extension, so
// that a missing file is a missing asset (404) rather than a client-side route.
func hasExt(name string) bool {
	return len(path.Ext(name)) > 1
}

// isFingerprinted reports whether name looks like "name.<hash>.ext" with a
// hash of at least 8 hex digits, as bundlers emit for content-addressed
// assets that can be cached forever. The hash may be any inner dot-separated
// part, so "app.3f2a9c1b.min.js" counts too.
func isFingerprinted(name string) bool {
	parts := strings.Split(path.Base(name), ".")
	if len(parts) < 3 {
		return false
	}
	for _, p := range parts[1 : len(parts)-1] {
		if len(p) >= 8 && isHex(p) {
			return true
		}
	}
	return false
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

const (
	cacheRevalidate = "no-cache"
	cacheImmutable  = "public, max-age=31536000, immutable"
)

// cacheControl is the Cache-Control for a file served under name: forever
// for fingerprinted assets, revalidate-by-ETag for everything else
// (index.html included, so a deploy is picked up on the next load).
func cacheControl(name string) string {
	if name != indexName && isFingerprinted(name) {
		return cacheImmutable
	}
	return cacheRevalidate
}
