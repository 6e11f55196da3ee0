package bff

import (
	"crypto/rand"
	"encoding/base64"
	"net/http"
	"time"

	"golang.org/x/oauth2"
)

// reservedAuthParams are set by the protocol; auth_params cannot change them.
var reservedAuthParams = map[string]bool{
	"state": true, "nonce": true, "code_challenge": true, "code_challenge_method": true,
	"redirect_uri": true, "client_id": true, "response_type": true, "scope": true,
}

func randomToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// handleLogin starts the authorization code flow with PKCE (RFC 7636, S256),
// state and nonce, remembering them in the login cookie, and redirects to
// the provider.
func (s *Server) handleLogin(w http.ResponseWriter, r *http.Request) {
	returnURL := r.URL.Query().Get("returnUrl")
	if returnURL == "" {
		returnURL = "/"
	}
	if !safeReturnURL(returnURL) {
		s.writeError(w, r, errorf(http.StatusBadRequest, "invalid_return_url",
			"The return address must be a path on this site.", nil))
		return
	}
	info, err := s.provider.get(r.Context())
	if err != nil {
		s.writeError(w, r, errProviderDown(err))
		return
	}
	state, nonce, verifier := randomToken(), randomToken(), oauth2.GenerateVerifier()
	sess, flows := s.login.read(r)
	flows[state] = loginFlow{Verifier: verifier, Nonce: nonce, ReturnURL: returnURL, Created: time.Now()}
	if err := s.login.write(w, r, sess, flows); err != nil {
		s.writeError(w, r, errorf(http.StatusInternalServerError, "server_error", "Could not start sign-in.", err))
		return
	}
	opts := []oauth2.AuthCodeOption{oauth2.S256ChallengeOption(verifier), oauth2.SetAuthURLParam("nonce", nonce)}
	for k, v := range s.cfg.OIDC.AuthParams {
		if !reservedAuthParams[k] {
			opts = append(opts, oauth2.SetAuthURLParam(k, v))
		}
	}
	s.metrics.logins.WithLabelValues("started").Inc()
	http.Redirect(w, r, info.oauth2.AuthCodeURL(state, opts...), http.StatusFound)
}
