package web

import (
	"strconv"
	"strings"
)

// encoding is a precompressed variant of a file: a sibling named
// name+suffix served with Content-Encoding token.
type encoding struct {
	token  string // Content-Encoding value
	suffix string // file name suffix
}

// encodings lists the variants looked for, most preferred first: on equal
// q-values Brotli wins, being the smaller.
var encodings = []encoding{
	{token: "br", suffix: ".br"},
	{token: "gzip", suffix: ".gz"},
}

// acceptQ returns the q-value the Accept-Encoding header gives coding (RFC
// 9110, section 12.5.3): its own entry if listed, else the "*" entry, else 0.
// "x-gzip" counts as "gzip". A malformed q-value counts as 0, so an unclear
// header never gets a compressed answer.
func acceptQ(header, coding string) float64 {
	q, star := -1.0, -1.0
	for part := range strings.SplitSeq(header, ",") {
		tok, params, _ := strings.Cut(part, ";")
		tok = strings.ToLower(strings.TrimSpace(tok))
		if tok == "x-gzip" {
			tok = "gzip"
		}
		if tok != coding && tok != "*" {
			continue
		}
		v := parseQ(params)
		if tok == "*" {
			star = max(star, v)
		} else {
			q = max(q, v)
		}
	}
	switch {
	case q >= 0:
		return q
	case star >= 0:
		return star
	}
	return 0
}

// parseQ reads the q parameter from ";q=0.5"-style parameters; no q means 1.
func parseQ(params string) float64 {
	for p := range strings.SplitSeq(params, ";") {
		k, v, ok := strings.Cut(strings.TrimSpace(p), "=")
		if !ok || !strings.EqualFold(strings.TrimSpace(k), "q") {
			continue
		}
		f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil || f < 0 || f > 1 {
			return 0
		}
		return f
	}
	return 1
}

// chooseEncoding picks, among the available variants, the one the client
// accepts with the highest q-value (ties go to the earlier entry in
// [encodings]). It returns nil when the client accepts none of them.
func chooseEncoding(acceptEncoding string, available []encoding) *encoding {
	if acceptEncoding == "" {
		return nil
	}
	var best *encoding
	bestQ := 0.0
	for i := range available {
		if q := acceptQ(acceptEncoding, available[i].token); q > bestQ {
			best, bestQ = &available[i], q
		}
	}
	return best
}
