package proxy

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
)

// This file turns an upstream's step-up challenge (RFC 9470, OAuth 2.0
// Step Up Authentication Challenge Protocol) into the BFF's answer. An
// API that wants a stronger or more recent sign-in than the token shows
// answers 401 with
//
//	WWW-Authenticate: Bearer error="insufficient_user_authentication",
//	  error_description="…", acr_values="urn:example:mfa mfa", max_age=300
//
// The browser cannot act on that: it holds no token and the BFF signs in.
// So on user and user-optional routes the upstream's answer is dropped
// whole (its body and challenge never reach the browser: neither is the
// SPA's business, and an upstream might echo token material in them) and
// Config.StepUp answers with what to ask the provider for.

// StepUpChallenge is what an upstream's RFC 9470 challenge asks of the
// user's sign-in.
type StepUpChallenge struct {
	// ACRValues are the acr values the API accepts, preferred first; nil
	// when the challenge names none (or names them unusably: more than 10,
	// longer than 512 characters together, or with characters other than
	// visible ASCII without quotes and backslashes).
	ACRValues []string
	// MaxAge is the longest time in seconds since the user authenticated
	// that the API accepts; -1 when the challenge sets none (or an
	// unusable one).
	MaxAge int64
}

// Bounds on what a challenge may ask for. /bff/login accepts no more, so
// the sign-in the BFF asks for always starts.
const (
	maxChallengeACRValues = 10
	maxChallengeACRBytes  = 512
	maxChallengeMaxAge    = 1<<31 - 1
)

// stepUpError carries a challenge from the response filter, which may not
// write, to the error handler, which answers.
type stepUpError struct{ c StepUpChallenge }

func (e *stepUpError) Error() string {
	return "proxy: the upstream asks for a stronger sign-in (RFC 9470 insufficient_user_authentication)"
}

// stepUpChallenge finds an RFC 9470 challenge among an answer's
// WWW-Authenticate values: a Bearer or DPoP challenge whose error is
// insufficient_user_authentication.
func stepUpChallenge(vals []string) (StepUpChallenge, bool) {
	for _, v := range vals {
		for _, c := range parseChallenges(v) {
			if !strings.EqualFold(c.scheme, "Bearer") && !strings.EqualFold(c.scheme, "DPoP") {
				continue
			}
			if c.params["error"] != "insufficient_user_authentication" {
				continue
			}
			return StepUpChallenge{ACRValues: challengeACR(c.params["acr_values"]), MaxAge: challengeMaxAge(c.params["max_age"])}, true
		}
	}
	return StepUpChallenge{}, false
}

func challengeACR(s string) []string {
	vals := strings.Fields(s)
	if len(vals) == 0 || len(vals) > maxChallengeACRValues || len(s) > maxChallengeACRBytes {
		return nil
	}
	for _, v := range vals {
		if strings.ContainsFunc(v, func(r rune) bool { return r < 0x21 || r > 0x7e || r == '"' || r == '\\' }) {
			return nil
		}
	}
	return vals
}

func challengeMaxAge(s string) int64 {
	if s == "" || len(s) > 10 || strings.Trim(s, "0123456789") != "" {
		return -1
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n > maxChallengeMaxAge {
		return -1
	}
	return n
}

// challenge is one parsed challenge of a WWW-Authenticate value.
type challenge struct {
	scheme string
	params map[string]string // names lower-cased; values unquoted
}

// parseChallenges parses a WWW-Authenticate value (RFC 9110 section
// 11.6.1): comma-separated challenges, each a scheme followed by
// comma-separated auth-params (token=token or token="quoted"). A challenge
// with a repeated parameter, and everything from a syntax error on, are
// left out: a step-up is only taken from a challenge that says it
// plainly. No library parses this grammar (net/http does not).
func parseChallenges(v string) []challenge {
	var out []challenge
	bad := false // the current challenge is unusable
	keep := func() {
		if bad && len(out) > 0 {
			out = out[:len(out)-1]
		}
		if len(out) == 0 {
			out = nil
		}
	}
	for i := 0; ; {
		i = skipAny(v, i, " \t,")
		if i == len(v) {
			keep()
			return out
		}
		name, j := httpToken(v, i)
		if j == i {
			bad = true // a syntax error: the challenge it is in goes too
			keep()
			return out
		}
		k := skipAny(v, j, " \t")
		if k < len(v) && v[k] == '=' {
			val, next, ok := paramValue(v, skipAny(v, k+1, " \t"))
			if !ok || len(out) == 0 {
				bad = true
				keep()
				return out
			}
			name = strings.ToLower(name)
			if _, dup := out[len(out)-1].params[name]; dup {
				bad = true
			}
			out[len(out)-1].params[name] = val
			i = next
			continue
		}
		// A token not followed by "=" starts a challenge. (A token68, as
		// in "Basic dXNlcg==", then reads as another scheme, or stops the
		// parse: neither is a Bearer or DPoP challenge.)
		keep()
		out, bad = append(out, challenge{scheme: name, params: map[string]string{}}), false
		i = k
	}
}

func skipAny(s string, i int, set string) int {
	for i < len(s) && strings.IndexByte(set, s[i]) >= 0 {
		i++
	}
	return i
}

// httpToken returns the RFC 9110 token at s[i:] and where it ends.
func httpToken(s string, i int) (string, int) {
	j := i
	for j < len(s) && s[j] < 0x80 && isTokenChar(rune(s[j])) {
		j++
	}
	return s[i:j], j
}

// paramValue reads a token or a quoted-string at s[i:].
func paramValue(s string, i int) (string, int, bool) {
	if i < len(s) && s[i] == '"' {
		var b strings.Builder
		for j := i + 1; j < len(s); j++ {
			switch c := s[j]; c {
			case '"':
				return b.String(), j + 1, true
			case '\\':
				if j+1 == len(s) {
					return "", 0, false
				}
				j++
				b.WriteByte(s[j])
			default:
				b.WriteByte(c)
			}
		}
		return "", 0, false
	}
	tok, j := httpToken(s, i)
	return tok, j, j > i
}

// writeStepUp is the answer to a challenge when Config.StepUp is nil.
func writeStepUp(w http.ResponseWriter, c StepUpChallenge) {
	body := struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
		ACRValues   string `json:"acr_values,omitempty"`
		MaxAge      *int64 `json:"max_age,omitempty"`
	}{Error: "step_up_required", Description: "This API needs a stronger or more recent sign-in.", ACRValues: strings.Join(c.ACRValues, " ")}
	if c.MaxAge >= 0 {
		body.MaxAge = &c.MaxAge
	}
	b, _ := json.Marshal(body) // strings and an integer always marshal
	h := w.Header()
	h["Content-Type"] = []string{"application/json"}
	h["Cache-Control"] = []string{"no-store"}
	h["X-Content-Type-Options"] = []string{"nosniff"}
	w.WriteHeader(http.StatusUnauthorized)
	_, _ = w.Write(b)
}
