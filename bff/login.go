package bff

import (
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/bff-project/bff/bff/oidcclient"
)

// handleLogin starts the authorization code flow with PKCE (RFC 7636, S256),
// state and nonce, remembering them in the login cookie, and redirects to
// the provider, passing on the checked optional parameters (acr_values,
// max_age, prompt, login_hint: login_params.go).
func (s *Server) handleLogin(w http.ResponseWriter, r *http.Request) error {
	returnURL := r.URL.Query().Get("returnUrl")
	if returnURL == "" {
		returnURL = "/"
	}
	if !safeReturnURL(returnURL) {
		return errorf(http.StatusBadRequest, "invalid_return_url",
			"The return address must be a path on this site.", nil)
	}
	params, err := parseLoginParams(r.URL.Query())
	if err != nil {
		return err
	}
	state, nonce, verifier := oidcclient.NewState(), oidcclient.NewNonce(), oidcclient.NewVerifier()
	opts := params.options()
	var jkt string
	switch dpop, err := s.provider.DPoP(r.Context()); {
	case err != nil:
		return errProviderDown(err)
	case dpop:
		// The sign-in's DPoP key binds the code (dpop_jkt) and so every
		// token of the session (RFC 9449 section 10).
		key, err := signInDPoPKey(s.dpopSeeds[0], string(verifier))
		if err != nil {
			return errorf(http.StatusInternalServerError, "server_error", "Could not start sign-in.", err)
		}
		opts, jkt = append(opts, oidcclient.WithDPoP(key)), key.Thumbprint()
	}
	authURL, err := s.provider.AuthCodeURL(r.Context(), state, nonce, verifier, opts...)
	if err != nil {
		return errProviderDown(err)
	}
	// A same-site sign-in (a step-up, another account) brings the session
	// cookie here, not to the callback: remember which session to end.
	prev, rec, err := s.currentSession(r)
	if err != nil {
		return err
	}
	if rec == nil {
		prev = ""
	}
	sess, flows := s.login.read(r)
	flows[string(state)] = loginFlow{
		Verifier: string(verifier), Nonce: string(nonce), ReturnURL: returnURL, Created: time.Now(), Prev: prev, DPoPJKT: jkt,
		ACRValues: strings.Join(params.acrValues, " "), MaxAge: params.maxAge, Reauthenticate: slices.Contains(params.prompt, "login"),
	}
	if err := s.login.write(w, r, sess, flows); err != nil {
		return errorf(http.StatusInternalServerError, "server_error", "Could not start sign-in.", err)
	}
	s.metrics.logins.WithLabelValues("started").Inc()
	http.Redirect(w, r, authURL, http.StatusFound)
	return nil
}
