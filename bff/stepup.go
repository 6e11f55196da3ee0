package bff

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/bff-project/bff/bff/authz"
	"github.com/bff-project/bff/proxy"
	"github.com/bff-project/bff/session"
)

// Step-up: a call that needs a stronger or more recent sign-in (a route's
// acr/amr/max_age rule, or an upstream's RFC 9470 challenge) is answered
//
//	401 {"error":"step_up_required", "acr_values":"…", "max_age":N,
//	     "login_url":"/bff/login?acr_values=…&max_age=N&returnUrl=…"}
//
// The SPA sends the user to login_url; the callback checks that the new
// sign-in reached what was asked (checkStrength) and continues the session
// (same user: session.Manager.Continue); the SPA then retries the call.

// authTimeLeeway is how far the provider's clock may be behind the BFF's
// when the callback checks auth_time against max_age (or prompt=login).
const authTimeLeeway = 30 * time.Second

// errStepUp is the answer to a call the route's rules, or its upstream,
// find too weakly signed in.
func errStepUp(su *authz.StepUp, cause error) *HTTPError {
	he := errorf(http.StatusUnauthorized, "step_up_required", "This action needs a stronger or more recent sign-in.", cause)
	he.StepUp = su
	return he
}

// stepUpFromUpstream is proxy.Config.StepUp: an upstream's RFC 9470
// challenge is answered like a rule's step-up.
func (s *Server) stepUpFromUpstream(w http.ResponseWriter, r *http.Request, c proxy.StepUpChallenge) {
	su := &authz.StepUp{ACRValues: c.ACRValues, MaxAge: authz.NoMaxAge}
	if c.MaxAge >= 0 {
		su.MaxAge = time.Duration(c.MaxAge) * time.Second
	}
	s.writeError(w, r, errStepUp(su, errUpstreamStepUp))
}

var errUpstreamStepUp = errors.New("the API asked for a stronger sign-in (RFC 9470 insufficient_user_authentication)")

// addStepUp fills the step_up_required fields of body.
func (s *Server) addStepUp(body *errorBody, r *http.Request, su *authz.StepUp) {
	q := url.Values{}
	if len(su.ACRValues) > 0 {
		body.ACRValues = strings.Join(su.ACRValues, " ")
		q.Set("acr_values", body.ACRValues)
	}
	if su.MaxAge >= 0 {
		secs := int64(su.MaxAge / time.Second)
		body.MaxAge = &secs
		q.Set("max_age", strconv.FormatInt(secs, 10))
	}
	if su.Reauthenticate {
		q.Set("prompt", "login")
	}
	q.Set("returnUrl", s.stepUpReturnURL(r))
	body.LoginURL = "/bff/login?" + q.Encode()
}

// stepUpReturnURL is where the browser goes back to after a step-up: the
// SPA page that made the call, as its Referer names it (path and query),
// when that is a page of this origin that /bff/login would accept; else
// "/". An API call carries a Referer only if the SPA's fetch sets a
// referrerPolicy that sends one (the BFF's pages say no-referrer): the
// demo SPA sends "same-origin". Never another origin: no open redirect.
func (s *Server) stepUpReturnURL(r *http.Request) string {
	ref, err := url.Parse(r.Header.Get("Referer"))
	if err != nil || !strings.EqualFold(ref.Scheme, s.publicURL.Scheme) || !strings.EqualFold(ref.Host, s.publicURL.Host) || ref.User != nil {
		return "/"
	}
	ret := ref.EscapedPath()
	if ref.RawQuery != "" {
		ret += "?" + ref.RawQuery
	}
	if !safeReturnURL(ret) || strings.HasPrefix(ret, "/bff/") {
		return "/"
	}
	return ret
}

// errUnmet is the callback's answer to a sign-in that did not reach what
// it asked for: the session, if any, is left as it was.
func errUnmet(cause error) *HTTPError {
	return errorf(http.StatusForbidden, "unmet_authentication_requirements",
		"The sign-in did not reach the strength this action needs (for example a second factor, or a fresh login), so nothing was changed. Try again, or ask for help if your account cannot do it.", cause)
}

// checkStrength checks a sign-in's ID token against what its
// authorization request asked for: acr one of acr_values, auth_time
// within max_age (then required, OpenID Connect Core 1.0 section 2), and
// after prompt=login no older than the sign-in. A provider may ignore
// what it was asked; the session must not take a weaker sign-in for the
// one asked for.
func checkStrength(flow loginFlow, rec *session.Record, now time.Time) error {
	if flow.ACRValues != "" && !slices.Contains(strings.Fields(flow.ACRValues), rec.ACR) {
		return errUnmet(fmt.Errorf("acr_values were requested, the ID token's acr is none of them"))
	}
	if flow.MaxAge != nil {
		maxAge := time.Duration(*flow.MaxAge) * time.Second
		switch {
		case rec.AuthTime.IsZero():
			return errUnmet(fmt.Errorf("max_age was requested, the ID token has no auth_time"))
		case now.Sub(rec.AuthTime) > maxAge+authTimeLeeway:
			return errUnmet(fmt.Errorf("max_age %ds was requested, the ID token's auth_time is %s old", *flow.MaxAge, now.Sub(rec.AuthTime).Round(time.Second)))
		}
	}
	if flow.Reauthenticate && !rec.AuthTime.IsZero() && rec.AuthTime.Before(flow.Created.Add(-authTimeLeeway)) {
		return errUnmet(fmt.Errorf("prompt=login was requested, the ID token's auth_time is before the sign-in started"))
	}
	return nil
}
