package fapiop_test

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"net/http"
	"net/url"
	"testing"

	"github.com/go-jose/go-jose/v4"
	"golang.org/x/oauth2"

	"github.com/bff-project/bff/e2e/fapiop"
)

// Mutual TLS (RFC 8705) at the token endpoint's mTLS alias:
// tls_client_auth accepts a certificate from the trusted CA with the
// registered subject, self_signed_tls_client_auth one registered in the
// client's jwks, and certificate-bound access tokens carry cnf.x5t#S256 of
// the certificate used.
func TestMTLS(t *testing.T) {
	t.Parallel()
	ca, err := fapiop.NewCA("bff test client CA")
	if err != nil {
		t.Fatal(err)
	}
	otherCA, err := fapiop.NewCA("some other CA")
	if err != nil {
		t.Fatal(err)
	}
	good, err1 := ca.ClientCertificate("bff-mtls")
	wrongName, err2 := ca.ClientCertificate("someone-else")
	wrongCA, err3 := otherCA.ClientCertificate("bff-mtls")
	self, err4 := fapiop.SelfSignedCertificate("bff-self-signed")
	otherSelf, err5 := fapiop.SelfSignedCertificate("bff-self-signed")
	for _, err := range []error{err1, err2, err3, err4, err5} {
		if err != nil {
			t.Fatal(err)
		}
	}
	sameName, err := ca.ClientCertificate("bff-mtls") // another key, same subject
	if err != nil {
		t.Fatal(err)
	}
	p := fapiop.Start(t, fapiop.Config{
		TLS:       true,
		Users:     []fapiop.User{alice()},
		Resources: resources(),
		MTLS: &fapiop.MTLS{CertificateBoundAccessTokens: true, TLSClientAuth: true, SelfSignedTLSClientAuth: true,
			ClientCAs: []*x509.Certificate{ca.Certificate}},
		Clients: []fapiop.Client{
			{ID: "pki", AuthMethod: fapiop.AuthTLS, TLSSubjectDN: "CN=bff-mtls", CertificateBound: true, RedirectURIs: []string{redirectURI}},
			{ID: "self", AuthMethod: fapiop.AuthSelfSignedTLS, RedirectURIs: []string{redirectURI},
				Keys: []jose.JSONWebKey{{Key: self.Leaf.PublicKey, Certificates: []*x509.Certificate{self.Leaf}, KeyID: "self"}}},
		},
	})
	token := p.Metadata().MTLSEndpointAliases["token_endpoint"]
	withCert := func(cert *tls.Certificate) *http.Client {
		// GetClientCertificate, not Certificates: Go would send nothing
		// when the certificate's issuer is not among the CAs the server
		// names, and the untrusted and self-signed cases need it sent.
		return &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: p.RootCAs(),
			GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
				if cert == nil {
					return &tls.Certificate{}, nil
				}
				return cert, nil
			}}}}
	}
	grant := func(clientID string, cert *tls.Certificate) (int, map[string]any) {
		return post(t, withCert(cert), token, url.Values{"grant_type": {"client_credentials"},
			"client_id": {clientID}, "resource": {ordersAPI}, "scope": {"orders.read"}}, nil)
	}
	boundTo := func(t *testing.T, access string, cert *tls.Certificate) bool {
		t.Helper()
		cnf, _ := verifyJWT(t, p, access)["cnf"].(map[string]any)
		sum := sha256.Sum256(cert.Leaf.Raw)
		return cnf["x5t#S256"] == base64.RawURLEncoding.EncodeToString(sum[:])
	}

	for _, tc := range []struct {
		name     string
		client   string
		cert     *tls.Certificate
		wantCode int
	}{
		{"tls_client_auth", "pki", &good, http.StatusOK},
		{"tls_client_auth without certificate", "pki", nil, http.StatusUnauthorized},
		{"tls_client_auth wrong subject", "pki", &wrongName, http.StatusUnauthorized},
		{"tls_client_auth untrusted CA", "pki", &wrongCA, http.StatusUnauthorized},
		{"self_signed_tls_client_auth", "self", &self, http.StatusOK},
		{"self_signed_tls_client_auth unregistered", "self", &otherSelf, http.StatusUnauthorized},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body := grant(tc.client, tc.cert)
			if tc.wantCode != http.StatusOK {
				wantError(t, "client_credentials", status, body, tc.wantCode, "invalid_client")
				return
			}
			if status != http.StatusOK {
				t.Fatalf("client_credentials = %d %v, want 200", status, body)
			}
			access, _ := body["access_token"].(string)
			claims := verifyJWT(t, p, access)
			if claims["aud"] != ordersAPI || claims["client_id"] != tc.client {
				t.Errorf("aud, client_id = %v, %v; want %s, %s", claims["aud"], claims["client_id"], ordersAPI, tc.client)
			}
			// Only "pki" asked for certificate-bound tokens.
			if bound := boundTo(t, access, tc.cert); bound != (tc.client == "pki") {
				t.Errorf("cnf = %v; bound to the certificate = %v, want %v", claims["cnf"], bound, tc.client == "pki")
			}
		})
	}

	// Sign-in over the https issuer; each token request binds its access
	// token to the certificate it presents (a confidential client's
	// refresh token itself is not bound).
	t.Run("code flow", func(t *testing.T) {
		verifier := oauth2.GenerateVerifier()
		code := signIn(t, p, authURL(p, "pki", verifier, url.Values{"resource": {ordersAPI}, "scope": {"openid orders.read"}}))
		status, body := post(t, withCert(&good), token, url.Values{"grant_type": {"authorization_code"}, "code": {code},
			"redirect_uri": {redirectURI}, "code_verifier": {verifier}, "client_id": {"pki"}, "resource": {ordersAPI}}, nil)
		access, _ := body["access_token"].(string)
		refresh, _ := body["refresh_token"].(string)
		if status != http.StatusOK || !boundTo(t, access, &good) {
			t.Fatalf("code exchange with a certificate = %d %v, want 200 and a token bound to it", status, body)
		}
		status, body = post(t, withCert(&sameName), token, url.Values{"grant_type": {"refresh_token"},
			"refresh_token": {refresh}, "client_id": {"pki"}, "resource": {ordersAPI}}, nil)
		access, _ = body["access_token"].(string)
		if status != http.StatusOK || !boundTo(t, access, &sameName) {
			t.Errorf("refresh with another certificate of the client = %d %v, want 200 and a token bound to it", status, body)
		}
	})

	t.Run("issuer endpoints take no certificate", func(t *testing.T) {
		status, body := post(t, withCert(&good), p.Metadata().TokenEndpoint, url.Values{
			"grant_type": {"client_credentials"}, "client_id": {"pki"}}, nil)
		wantError(t, "client_credentials at the non-mTLS endpoint", status, body, http.StatusUnauthorized, "invalid_client")
	})
}
