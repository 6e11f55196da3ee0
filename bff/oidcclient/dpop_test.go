package oidcclient

import (
	"crypto"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"testing"

	jose "github.com/go-jose/go-jose/v4"
)

// A proof is an ES256 JWS that go-jose verifies with the JWK in its own
// header: typ dpop+jwt, the key's thumbprint, and the claims RFC 9449
// section 4.2 asks for (a new jti each time).
func TestDPoPProofVerifies(t *testing.T) {
	k, err := NewDPoPKey()
	if err != nil {
		t.Fatal(err)
	}
	jtis := map[string]bool{}
	for range 3 {
		proof, err := k.Proof("POST", "https://api.example/orders", "n-1", "at-1")
		if err != nil {
			t.Fatal(err)
		}
		jws, err := jose.ParseSigned(proof, []jose.SignatureAlgorithm{jose.ES256})
		if err != nil {
			t.Fatalf("ParseSigned() = %v", err)
		}
		h := jws.Signatures[0].Header
		if h.ExtraHeaders[jose.HeaderType] != "dpop+jwt" || h.JSONWebKey == nil || !h.JSONWebKey.IsPublic() {
			t.Fatalf("header = %+v, want typ dpop+jwt and a public jwk", h)
		}
		tp, _ := h.JSONWebKey.Thumbprint(crypto.SHA256)
		if base64.RawURLEncoding.EncodeToString(tp) != k.Thumbprint() {
			t.Errorf("jwk thumbprint differs from Thumbprint()")
		}
		payload, err := jws.Verify(h.JSONWebKey)
		if err != nil {
			t.Fatalf("Verify() = %v", err)
		}
		var c proofClaims
		if err := json.Unmarshal(payload, &c); err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256([]byte("at-1"))
		if c.HTM != "POST" || c.HTU != "https://api.example/orders" || c.Nonce != "n-1" || c.IAT == 0 ||
			c.ATH != base64.RawURLEncoding.EncodeToString(sum[:]) || c.JTI == "" || jtis[c.JTI] {
			t.Errorf("claims = %+v", c)
		}
		jtis[c.JTI] = true
	}
}
