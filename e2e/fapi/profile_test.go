package fapi_test

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/go-jose/go-jose/v4"

	"github.com/bff-project/bff/bff"
	"github.com/bff-project/bff/bff/config"
	"github.com/bff-project/bff/e2e/fapiop"
)

// profile fapi2 (and PAR or DPoP "require") stop start-up, naming the
// key, against a provider that cannot meet them (issue 15); bff check
// names the same key, and also a PAR "off" that the provider refuses
// (which does not stop start-up: nothing required the provider then).
func TestFAPI2RefusesProvider(t *testing.T) {
	t.Parallel()
	key := newClientKey(t)
	for _, tc := range []struct {
		name         string
		op           fapiop.Config
		edit         func(*bff.Config)
		wantKey      string
		startsAnyway bool
	}{
		{"fapi2 without PAR", fapiop.Config{DPoP: true}, nil, "oidc.par", false},
		{"fapi2 without DPoP", fapiop.Config{PAR: fapiop.PAROptional}, nil, "oidc.dpop", false},
		{"par require without PAR", fapiop.Config{}, func(c *bff.Config) { c.OIDC.Profile, c.OIDC.PAR, c.OIDC.DPoP = "", "require", "off" }, "oidc.par", false},
		{"par off with a provider that requires it", fapiop.Config{PAR: fapiop.PARRequired}, func(c *bff.Config) {
			c.OIDC.Profile, c.OIDC.PAR, c.OIDC.DPoP = "", "off", "off"
		}, "oidc.par", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, tc.op, func(c *fapiop.Client, _ string) {
				c.AuthMethod, c.Keys = fapiop.AuthPrivateKeyJWT, []jose.JSONWebKey{key.public()}
			}, false)
			cfg := e.config()
			cfg.OIDC.Profile, cfg.OIDC.ClientAuth, cfg.OIDC.ClientKeyFile = "fapi2", "private_key_jwt", e.keyFile(key)
			if tc.edit != nil {
				tc.edit(&cfg)
			}
			srv, err := bff.New(t.Context(), cfg)
			var ce *config.Error
			switch {
			case tc.startsAnyway && err != nil:
				t.Fatalf("bff.New() = %v, want it to start", err)
			case tc.startsAnyway:
				srv.Close()
			case !errors.As(err, &ce) || ce.Key != tc.wantKey:
				t.Fatalf("bff.New() = %v, want a config error naming %s", err, tc.wantKey)
			}
			problems, _ := bff.Check(t.Context(), cfg)
			if !slices.ContainsFunc(problems, func(p error) bool { return strings.HasPrefix(p.Error(), "config: "+tc.wantKey+":") }) {
				t.Errorf("bff.Check() problems = %v, want one naming %s", problems, tc.wantKey)
			}
		})
	}
}

// Mutual-TLS client authentication (RFC 8705, issue 15): with
// tls_client_auth (a certificate from a CA the provider trusts) and
// self_signed_tls_client_auth (one registered with the client), the BFF
// presents its certificate to the provider's mtls_endpoint_aliases for
// the code exchange and the route's refresh, and needs no secret.
func TestMTLSClientAuth(t *testing.T) {
	t.Parallel()
	ca, err := fapiop.NewCA("bff client CA")
	if err != nil {
		t.Fatal(err)
	}
	pki, err := ca.ClientCertificate("fapi-bff")
	if err != nil {
		t.Fatal(err)
	}
	self, err := fapiop.SelfSignedCertificate("fapi-bff-self")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		method string
		cert   tls.Certificate
		client func(c *fapiop.Client)
	}{
		{"tls_client_auth", fapiop.AuthTLS, pki, func(c *fapiop.Client) { c.TLSSubjectDN = "CN=fapi-bff" }},
		{"self_signed_tls_client_auth", fapiop.AuthSelfSignedTLS, self, func(c *fapiop.Client) {
			c.Keys = []jose.JSONWebKey{{Key: self.Leaf.PublicKey, Certificates: []*x509.Certificate{self.Leaf}, KeyID: "self"}}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, fapiop.Config{TLS: true, PAR: fapiop.PAROptional,
				MTLS: &fapiop.MTLS{TLSClientAuth: true, SelfSignedTLSClientAuth: true, ClientCAs: []*x509.Certificate{ca.Certificate}}},
				func(c *fapiop.Client, _ string) { c.AuthMethod = tc.method; tc.client(c) }, false)
			cfg := e.config()
			cfg.OIDC.ClientAuth = tc.method
			cfg.OIDC.TLSClientCertFile, cfg.OIDC.TLSClientKeyFile = writePair(t, tc.cert)
			e.start(cfg)
			b := e.browser()
			b.signIn(t)
			if status, a := b.call(t, http.MethodGet, "/api/orders/x", nil); status != http.StatusOK || !slices.Equal(a.Audience, []string{ordersAPI}) {
				t.Errorf("GET /api/orders/x = %d %+v, want 200 for %s", status, a, ordersAPI)
			}
			if logs := e.logs.String(); !strings.Contains(logs, `"client_auth":"`+tc.method+`"`) || !strings.Contains(logs, `"mtls_endpoint_aliases":true`) {
				t.Errorf("start-up log does not name %s with the mTLS aliases:\n%s", tc.method, logs)
			}
		})
	}
}

// writePair writes cert and its key as PEM files.
func writePair(t *testing.T, cert tls.Certificate) (certFile, keyFile string) {
	t.Helper()
	dir := t.TempDir()
	der, err := x509.MarshalPKCS8PrivateKey(cert.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "client.crt"), filepath.Join(dir, "client.key")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Certificate[0]}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}
