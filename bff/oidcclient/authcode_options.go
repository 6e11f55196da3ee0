package oidcclient

import (
	"strconv"
	"strings"
)

// The per-sign-in parameters of an authorization request (OpenID Connect
// Core 1.0 section 3.1.2.1). They only ask: the provider decides, and the
// caller checks the ID token's acr and auth_time against what it asked
// for ([Identity]).

// ACRValues asks for one of these authentication context classes,
// preferred first (acr_values).
func ACRValues(values ...string) AuthCodeOption {
	return authParam{"acr_values", strings.Join(values, " ")}
}

// MaxAge asks the provider to authenticate the user again unless they did
// so at most seconds ago (max_age); 0 asks for a fresh authentication.
func MaxAge(seconds int64) AuthCodeOption {
	return authParam{"max_age", strconv.FormatInt(seconds, 10)}
}

// Prompt asks the provider to re-authenticate (login), to ask for consent
// again (consent), to let the user pick an account (select_account), or to
// show nothing at all (none, answered with an error such as login_required
// when it would have to).
func Prompt(values ...string) AuthCodeOption {
	return authParam{"prompt", strings.Join(values, " ")}
}

// LoginHint tells the provider who is expected to sign in (login_hint),
// such as an e-mail address.
func LoginHint(hint string) AuthCodeOption { return authParam{"login_hint", hint} }
