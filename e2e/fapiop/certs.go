package fapiop

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"time"
)

// CA issues certificates for tests: the provider's own server certificate
// and, for tls_client_auth, client certificates. Keys are ECDSA P-256,
// certificates last a day.
type CA struct {
	// Certificate is the CA's self-signed certificate.
	Certificate *x509.Certificate
	key         *ecdsa.PrivateKey
}

// NewCA makes a CA whose subject is CN=commonName.
func NewCA(commonName string) (*CA, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("fapiop: CA key: %w", err)
	}
	tmpl := template(commonName)
	tmpl.IsCA, tmpl.BasicConstraintsValid = true, true
	tmpl.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, fmt.Errorf("fapiop: CA certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("fapiop: CA certificate: %w", err)
	}
	return &CA{Certificate: cert, key: key}, nil
}

// ClientCertificate issues a TLS client certificate with subject
// CN=commonName.
func (ca *CA) ClientCertificate(commonName string) (tls.Certificate, error) {
	return ca.issue(commonName, x509.ExtKeyUsageClientAuth, nil)
}

// serverCertificate issues a certificate for 127.0.0.1 and localhost.
func (ca *CA) serverCertificate() (tls.Certificate, error) {
	return ca.issue("127.0.0.1", x509.ExtKeyUsageServerAuth, func(t *x509.Certificate) {
		t.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1)}
		t.DNSNames = []string{"localhost"}
	})
}

func (ca *CA) issue(commonName string, usage x509.ExtKeyUsage, edit func(*x509.Certificate)) (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("fapiop: key: %w", err)
	}
	tmpl := template(commonName)
	tmpl.KeyUsage = x509.KeyUsageDigitalSignature
	tmpl.ExtKeyUsage = []x509.ExtKeyUsage{usage}
	if edit != nil {
		edit(tmpl)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Certificate, key.Public(), ca.key)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("fapiop: certificate: %w", err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("fapiop: certificate: %w", err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, nil
}

// SelfSignedCertificate makes a self-signed TLS client certificate with
// subject CN=commonName, for self_signed_tls_client_auth: register its
// Leaf in the client's Keys.
func SelfSignedCertificate(commonName string) (tls.Certificate, error) {
	ca, err := NewCA(commonName)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{ca.Certificate.Raw}, PrivateKey: ca.key, Leaf: ca.Certificate}, nil
}

func template(commonName string) *x509.Certificate {
	b := make([]byte, 15)
	rand.Read(b) // never fails since Go 1.24 (crypto/rand.Read docs)
	now := time.Now()
	return &x509.Certificate{
		SerialNumber: new(big.Int).SetBytes(b),
		Subject:      pkix.Name{CommonName: commonName},
		NotBefore:    now.Add(-time.Minute),
		NotAfter:     now.Add(24 * time.Hour),
	}
}

// pemPair is cert and its key in PEM, as node's TLS options take them.
func pemPair(cert tls.Certificate) (certPEM, keyPEM string, err error) {
	der, err := x509.MarshalPKCS8PrivateKey(cert.PrivateKey)
	if err != nil {
		return "", "", fmt.Errorf("fapiop: key: %w", err)
	}
	return pemCerts(cert.Certificate), string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})), nil
}
