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
	p := fapiop.Start(t, fapiop.Config{
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
	grant := func(clientID string, cert *tls.Certificate) (int, map[string]any) {
		// GetClientCertificate, not Certificates: Go would send nothing
		// when the certificate's issuer is not among the CAs the server
		// names, and the untrusted and self-signed cases need it sent.
		tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: p.RootCAs(),
			GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
				if cert == nil {
					return &tls.Certificate{}, nil
				}
				return cert, nil
			}}}
		return post(t, &http.Client{Transport: tr}, token, url.Values{"grant_type": {"client_credentials"},
			"client_id": {clientID}, "resource": {ordersAPI}, "scope": {"orders.read"}}, nil)
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
			cnf, _ := claims["cnf"].(map[string]any)
			sum := sha256.Sum256(tc.cert.Leaf.Raw)
			want := base64.RawURLEncoding.EncodeToString(sum[:])
			// Only "pki" asked for certificate-bound tokens.
			if bound := cnf["x5t#S256"] == want; bound != (tc.client == "pki") {
				t.Errorf("cnf = %v; bound to the certificate = %v, want %v", cnf, bound, tc.client == "pki")
			}
		})
	}

	t.Run("plain token endpoint has no certificate", func(t *testing.T) {
		tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: p.RootCAs(), Certificates: []tls.Certificate{good}}}
		status, body := post(t, &http.Client{Transport: tr}, p.Metadata().TokenEndpoint, url.Values{
			"grant_type": {"client_credentials"}, "client_id": {"pki"}}, nil)
		wantError(t, "client_credentials at the non-mTLS endpoint", status, body, http.StatusUnauthorized, "invalid_client")
	})
}
