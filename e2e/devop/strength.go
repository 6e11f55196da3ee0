package devop

import (
	"crypto/rand"
	"net/http"
	"net/url"
	"slices"
	"time"
)

// This file holds how strongly users sign in: the acr levels devop issues,
// the remembered sign-ins (single sign-on) that max_age, prompt and
// acr_values decide on, and the switches that make devop a provider that
// ignores them.

// The acr values devop issues.
const (
	// ACRPassword is a sign-in with a password.
	ACRPassword = "pwd"
	// ACRMFA is a sign-in with a password and a second factor, which only
	// users with User.MFA have, and only when an authorization request
	// asks for it in acr_values. amr is then ["pwd", "otp"].
	ACRMFA = "mfa"
)

// ssoCookie names the browser's remembered sign-in at the provider.
const ssoCookie = "devop_sso"

// signInState is one remembered sign-in (Config.SingleSignOn): who, when
// and how strongly. Reusing it gives an ID token with its auth_time, acr
// and amr: what the provider knows, not when the code was issued.
type signInState struct {
	subject  string
	username string
	sid      string
	authTime time.Time
	acr      string
	amr      []string
}

// strength is the acr and amr a password sign-in by u gets for a request
// with acrValues: ACRMFA when asked for (in preference order) and u has a
// second factor, else ACRPassword. ignore: acr_values are disregarded.
func strength(u User, acrValues []string, ignore bool) (string, []string) {
	if !ignore {
		for _, v := range acrValues {
			if v == ACRMFA && u.MFA {
				return ACRMFA, []string{"pwd", "otp"}
			}
			if v == ACRPassword {
				break
			}
		}
	}
	return ACRPassword, []string{"pwd"}
}

// SetIgnoreACRValues(true) makes devop disregard acr_values, as a provider
// without step-up support does: every sign-in is ACRPassword, and a
// remembered sign-in is reused whatever level is asked for.
func (p *Provider) SetIgnoreACRValues(ignore bool) {
	p.store.mu.Lock()
	defer p.store.mu.Unlock()
	p.store.ignoreACR = ignore
}

// SetIgnoreMaxAge(true) makes devop reuse a remembered sign-in whatever
// max_age (or prompt=login) asks, as a provider that never
// re-authenticates does; the ID token still tells the sign-in's true
// auth_time.
func (p *Provider) SetIgnoreMaxAge(ignore bool) {
	p.store.mu.Lock()
	defer p.store.mu.Unlock()
	p.store.ignoreMaxAge = ignore
}

// AgeSignIns moves the authentication time of every remembered sign-in d
// into the past, as if the users had signed in that much earlier: tests
// of max_age need old sign-ins without waiting.
func (p *Provider) AgeSignIns(d time.Duration) {
	p.store.mu.Lock()
	defer p.store.mu.Unlock()
	for _, s := range p.store.signIns {
		s.authTime = s.authTime.Add(-d)
	}
}

// rememberedSignIn returns the browser's remembered sign-in, if single
// sign-on is on and the cookie names one.
func (p *Provider) rememberedSignIn(r *http.Request) (signInState, bool) {
	c, err := r.Cookie(ssoCookie)
	if err != nil || !p.sso {
		return signInState{}, false
	}
	p.store.mu.Lock()
	defer p.store.mu.Unlock()
	s, ok := p.store.signIns[c.Value]
	if !ok {
		return signInState{}, false
	}
	cp := *s
	cp.amr = slices.Clone(s.amr)
	return cp, true
}

// remember keeps a completed form sign-in for the browser under a new
// cookie value, forgetting the one it replaces.
func (p *Provider) remember(w http.ResponseWriter, r *http.Request, authRequestID string) {
	if !p.sso {
		return
	}
	key := rand.Text()
	p.store.mu.Lock()
	a, ok := p.store.authRequests[authRequestID]
	if ok {
		if c, err := r.Cookie(ssoCookie); err == nil {
			delete(p.store.signIns, c.Value)
		}
		p.store.signIns[key] = &signInState{subject: a.subject, username: p.store.subjects[a.subject].Username,
			sid: a.sid, authTime: a.authTime, acr: a.acr, amr: slices.Clone(a.amr)}
	}
	p.store.mu.Unlock()
	if ok {
		http.SetCookie(w, &http.Cookie{Name: ssoCookie, Value: key, Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode})
	}
}

// reusable reports whether a remembered sign-in answers the auth request
// without the form: the same user as login_hint names, recent enough for
// max_age (prompt=login is max_age 0), and at the level acr_values asks
// for, if the user can reach it.
func (s *storage) reusable(id string, si signInState) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.authRequests[id]
	if !ok || slices.Contains(a.req.Prompt, "select_account") {
		return false
	}
	if a.req.LoginHint != "" && a.req.LoginHint != si.username {
		return false
	}
	if a.req.MaxAge != nil && !s.ignoreMaxAge && time.Since(si.authTime) > time.Duration(*a.req.MaxAge)*time.Second {
		return false
	}
	if want, _ := strength(s.subjects[si.subject], a.req.ACRValues, s.ignoreACR); want == ACRMFA && si.acr != ACRMFA {
		return false
	}
	return true
}

// completeFromSignIn completes the auth request with a remembered sign-in.
func (s *storage) completeFromSignIn(id string, si signInState) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.authRequests[id]
	if !ok {
		return false
	}
	a.subject, a.sid, a.authTime, a.acr, a.amr, a.done = si.subject, si.sid, si.authTime, si.acr, slices.Clone(si.amr), true
	return true
}

// promptNone reports whether the auth request asks for no interaction.
func (s *storage) promptNone(id string) (redirectURI, state string, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, found := s.authRequests[id]
	if !found || !slices.Contains(a.req.Prompt, "none") {
		return "", "", false
	}
	return a.req.RedirectURI, a.req.State, true
}

// loginRequired answers prompt=none when no remembered sign-in will do:
// error=login_required to the client (OpenID Connect Core 1.0 section
// 3.1.2.6), and the auth request is spent.
func (p *Provider) loginRequired(w http.ResponseWriter, r *http.Request, id, redirectURI, state string) {
	_ = p.store.DeleteAuthRequest(r.Context(), id)
	u, err := url.Parse(redirectURI)
	if err != nil {
		http.Error(w, "bad redirect_uri", http.StatusBadRequest)
		return
	}
	q := u.Query()
	q.Set("error", "login_required")
	q.Set("error_description", "the user must sign in")
	if state != "" {
		q.Set("state", state)
	}
	u.RawQuery = q.Encode()
	http.Redirect(w, r, u.String(), http.StatusFound)
}

// wantsSecondFactor reports whether the form's sign-in will be ACRMFA for
// some user who has a second factor: the form says so.
func (s *storage) wantsSecondFactor(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.authRequests[id]
	if !ok || s.ignoreACR {
		return false
	}
	acr, _ := strength(User{MFA: true}, a.req.ACRValues, false)
	return acr == ACRMFA
}
