package bff

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/bff-project/bff/bff/oidcclient"
)

// The optional parameters of /bff/login that reach the provider (OpenID
// Connect Core 1.0 section 3.1.2.1). Only these four are passed on, each
// checked and bounded so that a sign-in always fits the login cookie;
// anything else in the query is ignored.
const (
	maxACRValues     = 10  // values in acr_values
	maxACRValuesLen  = 512 // acr_values, as sent
	maxLoginHintLen  = 256
	maxMaxAgeSeconds = 1<<31 - 1
)

var promptValues = []string{"login", "consent", "select_account", "none"}

// loginParams are the checked optional parameters of one sign-in.
type loginParams struct {
	acrValues []string
	maxAge    *int64
	prompt    []string
	loginHint string
}

func errLoginParam(name, problem string) *HTTPError {
	return errorf(http.StatusBadRequest, "invalid_request", "The sign-in parameter "+name+" "+problem+".", nil)
}

// parseLoginParams checks acr_values, max_age, prompt and login_hint.
func parseLoginParams(q url.Values) (loginParams, error) {
	var p loginParams
	for _, name := range []string{"acr_values", "max_age", "prompt", "login_hint"} {
		if len(q[name]) > 1 {
			return p, errLoginParam(name, "is given more than once")
		}
	}
	if v, ok := q["acr_values"]; ok {
		vals := strings.Fields(v[0])
		switch {
		case len(vals) == 0:
			return p, errLoginParam("acr_values", "is empty")
		case len(vals) > maxACRValues || len(v[0]) > maxACRValuesLen:
			return p, errLoginParam("acr_values", "names too many values (at most "+strconv.Itoa(maxACRValues)+", "+strconv.Itoa(maxACRValuesLen)+" characters)")
		case slices.ContainsFunc(vals, func(s string) bool { return strings.ContainsFunc(s, notNQChar) }):
			return p, errLoginParam("acr_values", "must be visible ASCII words without quotes or backslashes")
		}
		p.acrValues = vals
	}
	if v, ok := q["max_age"]; ok {
		n, err := strconv.ParseInt(v[0], 10, 64)
		if err != nil || v[0] == "" || strings.Trim(v[0], "0123456789") != "" || n > maxMaxAgeSeconds {
			return p, errLoginParam("max_age", "must be a whole number of seconds")
		}
		p.maxAge = &n
	}
	if v, ok := q["prompt"]; ok {
		vals := strings.Fields(v[0])
		for i, s := range vals {
			if !slices.Contains(promptValues, s) || slices.Contains(vals[:i], s) {
				return p, errLoginParam("prompt", "must be login, consent, select_account or none, each once")
			}
		}
		if len(vals) == 0 || (slices.Contains(vals, "none") && len(vals) > 1) {
			return p, errLoginParam("prompt", "must be login, consent, select_account, or none alone")
		}
		p.prompt = vals
	}
	if v, ok := q["login_hint"]; ok {
		if v[0] == "" || len(v[0]) > maxLoginHintLen || !utf8.ValidString(v[0]) || strings.ContainsFunc(v[0], isControlRune) {
			return p, errLoginParam("login_hint", "must be 1 to "+strconv.Itoa(maxLoginHintLen)+" printable characters")
		}
		p.loginHint = v[0]
	}
	return p, nil
}

// options are the parameters as authorization request options.
func (p loginParams) options() []oidcclient.AuthCodeOption {
	var opts []oidcclient.AuthCodeOption
	if len(p.acrValues) > 0 {
		opts = append(opts, oidcclient.ACRValues(p.acrValues...))
	}
	if p.maxAge != nil {
		opts = append(opts, oidcclient.MaxAge(*p.maxAge))
	}
	if len(p.prompt) > 0 {
		opts = append(opts, oidcclient.Prompt(p.prompt...))
	}
	if p.loginHint != "" {
		opts = append(opts, oidcclient.LoginHint(p.loginHint))
	}
	return opts
}

// notNQChar reports a rune outside RFC 6749's NQCHAR (visible ASCII but
// quote and backslash), the syntax of acr values.
func notNQChar(r rune) bool { return r < 0x21 || r > 0x7e || r == '"' || r == '\\' }

func isControlRune(r rune) bool {
	return r < 0x20 || (r >= 0x7f && r < 0xa0) || r == 0x2028 || r == 0x2029
}
