package bff

import (
	"net/url"
	"strings"
)

// maxReturnURL bounds a return URL so that a sign-in flow always fits in
// the login cookie (4 KiB, shared by the flows of several tabs).
const maxReturnURL = 1024

// maxDecodes is how many layers of percent-encoding a return URL may have.
const maxDecodes = 8

// safeReturnURL reports whether raw is a same-origin relative path the
// browser can be sent back to after sign-in. It accepts only "/" followed by
// a path (and optional query and fragment) that every browser resolves
// against our own origin. It refuses what browsers treat as another origin
// or scheme: "//host", "/\host" (browsers read "\" as "/"), "https://…",
// "javascript:…", and any control character or whitespace, which browsers
// strip before parsing ("/\t/evil.com" is "//evil.com"). Percent-encoded
// forms are checked after every round of decoding until none changes
// anything, because servers in the chain may decode once more, or again.
func safeReturnURL(raw string) bool {
	if raw == "" || len(raw) > maxReturnURL {
		return false
	}
	// What the SPA sends (location pathname, search and hash) is ASCII:
	// browsers percent-encode the rest. A raw non-ASCII character is a
	// lookalike ("/\u2215\u2215evil.com", fullwidth solidus) that a
	// Unicode-normalising hop could turn into "/".
	for i := 0; i < len(raw); i++ {
		if raw[i] >= 0x7f {
			return false
		}
	}
	// Decoded until nothing changes, however many layers: each hop that
	// decodes once more must still find a path on our origin. Every round
	// shortens the string, so this ends; maxDecodes only bounds the work
	// for a hostile input, which is then refused.
	for cand, i := raw, 0; ; i++ {
		if !safeLiteralPath(cand) || i == maxDecodes {
			return false
		}
		dec, err := url.PathUnescape(cand)
		if err != nil {
			return false
		}
		// A decoded space cannot move the target off-origin (browsers
		// strip spaces only at the ends, and the first byte is "/"), and
		// encoded spaces are common in deep links ("?q=a%20b").
		dec = strings.ReplaceAll(dec, " ", "%20")
		if dec == cand {
			break
		}
		cand = dec
	}
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" {
		return false
	}
	return strings.HasPrefix(u.Path, "/")
}

func safeLiteralPath(s string) bool {
	if len(s) == 0 || s[0] != '/' {
		return false
	}
	if len(s) > 1 && (s[1] == '/' || s[1] == '\\') {
		return false
	}
	for _, c := range s {
		if c < 0x21 || c == 0x7f || c == '\\' || c == 0x2028 || c == 0x2029 || c == 0xfeff || c == 0x85 || c == 0xa0 {
			return false
		}
	}
	return true
}
