package oidcclient

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"strings"
	"testing"
)

func pemOf(t *testing.T, key any, typ string) []byte {
	t.Helper()
	var der []byte
	var err error
	switch typ {
	case "PRIVATE KEY":
		der, err = x509.MarshalPKCS8PrivateKey(key)
	case "RSA PRIVATE KEY":
		der = x509.MarshalPKCS1PrivateKey(key.(*rsa.PrivateKey))
	case "EC PRIVATE KEY":
		der, err = x509.MarshalECPrivateKey(key.(*ecdsa.PrivateKey))
	}
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

// Client keys: RSA of 2048 bits or more and EC P-256 in any of the three
// PEM forms; anything else is refused naming the block; the first key's
// kid is client_key_id when set, every other kid the RFC 7638 thumbprint;
// the published set has no private member.
func TestParseClientKeys(t *testing.T) {
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	rsa2048, _ := rsa.GenerateKey(rand.Reader, 2048)
	rsa1024, _ := rsa.GenerateKey(rand.Reader, 1024)
	_, ed, _ := ed25519.GenerateKey(rand.Reader)

	for _, tc := range []struct {
		name    string
		pem     []byte
		keyID   string
		wantErr string
	}{
		{"ec pkcs8", pemOf(t, ec, "PRIVATE KEY"), "", ""},
		{"ec sec1 then rsa pkcs1", append(pemOf(t, ec, "EC PRIVATE KEY"), pemOf(t, rsa2048, "RSA PRIVATE KEY")...), "k1", ""},
		{"rsa 1024", pemOf(t, rsa1024, "PRIVATE KEY"), "", "PEM block 1 (PRIVATE KEY): RSA key of 1024 bits, want at least 2048"},
		{"p-384", append(pemOf(t, ec, "PRIVATE KEY"), pemOf(t, p384, "EC PRIVATE KEY")...), "", "PEM block 2 (EC PRIVATE KEY): EC key on P-384, want P-256"},
		{"ed25519", pemOf(t, ed, "PRIVATE KEY"), "", "ed25519.PrivateKey keys are not supported"},
		{"certificate", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte{1}}), "", "not a private key"},
		{"empty", nil, "", "no PEM private key found"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			keys, err := parseClientKeys(tc.pem, tc.keyID)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("parseClientKeys() = %v, want error containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("parseClientKeys() = %v", err)
			}
			for i, k := range keys {
				tp, _ := thumbprint(k.priv.Public())
				want := tp
				if i == 0 && tc.keyID != "" {
					want = tc.keyID
				}
				if k.kid != want {
					t.Errorf("key %d kid = %q, want %q", i, k.kid, want)
				}
			}
			b, err := json.Marshal(publicJWKs(keys))
			if err != nil {
				t.Fatal(err)
			}
			for _, private := range []string{`"d"`, `"p"`, `"q"`, `"dp"`, `"dq"`, `"qi"`} {
				if strings.Contains(string(b), private) {
					t.Errorf("published keys hold %s: %s", private, b)
				}
			}
		})
	}
}

// A sign-in's DPoP key is made again from the same seed; another seed
// makes another key; the sealed form reads back as the same key.
func TestDPoPKeyFromSeed(t *testing.T) {
	seed := []byte(strings.Repeat("s", 32))
	a, err1 := DPoPKeyFromSeed(seed)
	b, err2 := DPoPKeyFromSeed(seed)
	c, err3 := DPoPKeyFromSeed([]byte(strings.Repeat("t", 32)))
	if err1 != nil || err2 != nil || err3 != nil {
		t.Fatal(err1, err2, err3)
	}
	if a.Thumbprint() != b.Thumbprint() || a.Thumbprint() == c.Thumbprint() {
		t.Errorf("thumbprints %s %s %s: want the first two equal, the third different", a.Thumbprint(), b.Thumbprint(), c.Thumbprint())
	}
	back, err := ParseDPoPKey(a.Bytes())
	if err != nil || back.Thumbprint() != a.Thumbprint() {
		t.Errorf("ParseDPoPKey(Bytes()) = %v, %v; want the same key", back, err)
	}
	if _, err := DPoPKeyFromSeed(seed[:16]); err == nil {
		t.Error("DPoPKeyFromSeed(16 bytes) = nil error, want one")
	}
	if s := a.String(); strings.Contains(s, string(a.Bytes())) {
		t.Errorf("String() = %q holds the key", s)
	}
}
