package fapiop_test

import (
	"net/http"
	"net/url"
	"testing"

	"golang.org/x/oauth2"

	"github.com/bff-project/bff/e2e/fapiop"
)

// DPoP (RFC 9449): with a proof the access token is DPoP-bound (token_type
// DPoP, cnf.jkt = the proof key's thumbprint), a DPoP-bound client gets
// nothing without a proof, and with DPoPNonce the first proof is answered
// use_dpop_nonce and the retry with the nonce succeeds.
func TestDPoP(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name       string
		nonce      bool
		wantNonces int // challenges answered by dpopTransport
	}{
		{name: "without nonce", nonce: false, wantNonces: 0},
		{name: "with nonce", nonce: true, wantNonces: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			const id, secret = "dpop-client", "dpop-secret-1"
			p := fapiop.Start(t, fapiop.Config{
				DPoP: true, DPoPNonce: tc.nonce, Resources: resources(), Users: []fapiop.User{alice()},
				Clients: []fapiop.Client{{ID: id, Secret: secret, AuthMethod: fapiop.AuthSecretPost,
					RedirectURIs: []string{redirectURI}, DPoPBound: true}},
			})
			key := newKey(t, "dpop")
			verifier := oauth2.GenerateVerifier()
			code := signIn(t, p, authURL(p, id, verifier, url.Values{
				"resource": {ordersAPI}, "scope": {"openid orders.read"}}))
			conf := oauthConfig(p, id, secret)

			t.Run("no proof refused", func(t *testing.T) {
				v := oauth2.GenerateVerifier()
				code := signIn(t, p, authURL(p, id, v, nil))
				form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {redirectURI},
					"code_verifier": {v}, "client_id": {id}, "client_secret": {secret}}
				status, body := post(t, nil, p.Metadata().TokenEndpoint, form, nil)
				wantError(t, "token request without DPoP proof", status, body, http.StatusBadRequest, "invalid_grant")
				// The same request with a proof succeeds: the proof was
				// what was missing.
				status, body = post(t, &http.Client{Transport: &dpopTransport{t: t, key: key}}, p.Metadata().TokenEndpoint, form, nil)
				if status != http.StatusOK || body["token_type"] != "DPoP" {
					t.Errorf("same request with a DPoP proof = %d %v, want 200 and token_type DPoP", status, body)
				}
			})

			tr := &dpopTransport{t: t, key: key}
			ctx := withClient(t.Context(), &http.Client{Transport: tr})
			tok, err := conf.Exchange(ctx, code, oauth2.VerifierOption(verifier), oauth2.SetAuthURLParam("resource", ordersAPI))
			if err != nil {
				t.Fatalf("code exchange with DPoP: %v", err)
			}
			if tr.Nonces != tc.wantNonces {
				t.Errorf("use_dpop_nonce challenges = %d, want %d", tr.Nonces, tc.wantNonces)
			}
			checkBound(t, p, tok, key)

			// The refresh also needs a proof; the nonce from before is reused.
			// It names the resource again: strict RFC 8707 (see
			// Config.UseGrantedResource).
			status, body := post(t, &http.Client{Transport: tr}, p.Metadata().TokenEndpoint, url.Values{
				"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}, "resource": {ordersAPI},
				"client_id": {id}, "client_secret": {secret}}, nil)
			if status != http.StatusOK {
				t.Fatalf("refresh with DPoP = %d %v, want 200", status, body)
			}
			access, _ := body["access_token"].(string)
			tokenType, _ := body["token_type"].(string)
			checkBound(t, p, &oauth2.Token{AccessToken: access, TokenType: tokenType}, key)
			if tr.Nonces != tc.wantNonces {
				t.Errorf("challenges after refresh = %d, want still %d", tr.Nonces, tc.wantNonces)
			}
		})
	}
}

func checkBound(t *testing.T, p *fapiop.Provider, tok *oauth2.Token, key signingKey) {
	t.Helper()
	if tok.TokenType != "DPoP" {
		t.Errorf("token_type = %q, want DPoP", tok.TokenType)
	}
	claims := verifyJWT(t, p, tok.AccessToken)
	cnf, _ := claims["cnf"].(map[string]any)
	if cnf["jkt"] != key.thumbprint(t) || claims["aud"] != ordersAPI {
		t.Errorf("access token cnf, aud = %v %v, want jkt %s and %s", cnf, claims["aud"], key.thumbprint(t), ordersAPI)
	}
}
