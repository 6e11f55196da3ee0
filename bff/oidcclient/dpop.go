package oidcclient

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// DPoPKey is one session's DPoP key pair (RFC 9449): an ECDSA P-256 key
// whose proofs are signed with ES256. Tokens issued with its proofs are
// bound to it (cnf.jkt), so whoever holds only the token cannot use it.
// The private key never leaves the BFF: [DPoPKey.Bytes] is for sealing it
// into the encrypted session record. It is safe for concurrent use.
//
// A proof is a small ES256 JWS, made on every proxied call of a DPoP
// route, so it is assembled here: the protected header (typ, alg and the
// public JWK, the same for every proof of the key) is encoded once per
// key, where go-jose would marshal the JWK again for each signature (most
// of a proof's cost). go-jose reads and checks such proofs in the tests
// and in e2e/sampleapi; oidc-provider checks them end to end.
type DPoPKey struct {
	priv   *ecdsa.PrivateKey
	header string // base64url of the protected header, with its "."
	jkt    string
}

// NewDPoPKey returns a new random key.
func NewDPoPKey() (*DPoPKey, error) {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("oidcclient: dpop key: %w", err)
	}
	return newDPoPKey(priv)
}

// DPoPKeyFromSeed derives a key from seed (at least 32 secret bytes): the
// same seed gives the same key. It lets a sign-in bind its authorization
// request to a key the callback can make again without the key being kept
// anywhere in between.
func DPoPKeyFromSeed(seed []byte) (*DPoPKey, error) {
	if len(seed) < 32 {
		return nil, errors.New("oidcclient: dpop key seed shorter than 32 bytes")
	}
	// A SHA-256 output is a valid P-256 scalar but for about 2^-32 of
	// values (zero or not below the order); count on until one is.
	for i := uint32(0); i < 16; i++ {
		h := sha256.New()
		h.Write(seed)
		_ = binary.Write(h, binary.BigEndian, i)
		if priv, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), h.Sum(nil)); err == nil {
			return newDPoPKey(priv)
		}
	}
	return nil, errors.New("oidcclient: dpop key seed gives no key")
}

// ParseDPoPKey reads a key written by [DPoPKey.Bytes].
func ParseDPoPKey(b []byte) (*DPoPKey, error) {
	priv, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), b)
	if err != nil {
		return nil, errors.New("oidcclient: malformed dpop key")
	}
	return newDPoPKey(priv)
}

func newDPoPKey(priv *ecdsa.PrivateKey) (*DPoPKey, error) {
	jwk := jose.JSONWebKey{Key: &priv.PublicKey}
	sum, err := jwk.Thumbprint(crypto.SHA256)
	if err != nil {
		return nil, fmt.Errorf("oidcclient: dpop key: %w", err)
	}
	pub, err := jwk.MarshalJSON()
	if err != nil {
		return nil, fmt.Errorf("oidcclient: dpop key: %w", err)
	}
	header, err := json.Marshal(struct {
		Alg string          `json:"alg"`
		Typ string          `json:"typ"`
		JWK json.RawMessage `json:"jwk"`
	}{"ES256", "dpop+jwt", pub})
	if err != nil {
		return nil, fmt.Errorf("oidcclient: dpop key: %w", err)
	}
	return &DPoPKey{priv: priv, header: base64.RawURLEncoding.EncodeToString(header) + ".",
		jkt: base64.RawURLEncoding.EncodeToString(sum)}, nil
}

// Bytes is the private key (32 bytes), to be kept encrypted only.
func (k *DPoPKey) Bytes() []byte {
	b, _ := k.priv.Bytes() // never fails for a P-256 key
	return b
}

// Thumbprint is the RFC 7638 SHA-256 thumbprint of the public key,
// base64url: the dpop_jkt of an authorization request and the cnf.jkt of
// tokens bound to this key.
func (k *DPoPKey) Thumbprint() string { return k.jkt }

// String and LogValue keep the key out of logs.
func (k *DPoPKey) String() string { return "dpop-key(" + k.jkt + ")" }

// LogValue implements slog.LogValuer: the public thumbprint only.
func (k *DPoPKey) LogValue() slog.Value { return slog.StringValue(k.String()) }

// proofClaims are a DPoP proof's claims (RFC 9449 section 4.2).
type proofClaims struct {
	JTI   string `json:"jti"`
	HTM   string `json:"htm"`
	HTU   string `json:"htu"`
	IAT   int64  `json:"iat"`
	Nonce string `json:"nonce,omitempty"`
	ATH   string `json:"ath,omitempty"`
}

// Proof is a fresh DPoP proof for one request: method, target URI htu
// (without query and fragment), the server's nonce when it gave one, and
// the hash of accessToken (ath) when the request carries one.
func (k *DPoPKey) Proof(method, htu, nonce, accessToken string) (string, error) {
	c := proofClaims{JTI: rand.Text(), HTM: method, HTU: htu, IAT: time.Now().Unix(), Nonce: nonce}
	if accessToken != "" {
		sum := sha256.Sum256([]byte(accessToken))
		c.ATH = base64.RawURLEncoding.EncodeToString(sum[:])
	}
	payload, err := json.Marshal(c)
	if err != nil {
		return "", err
	}
	enc := base64.RawURLEncoding
	buf := make([]byte, 0, len(k.header)+enc.EncodedLen(len(payload))+1+enc.EncodedLen(64))
	buf = append(buf, k.header...)
	buf = enc.AppendEncode(buf, payload)
	digest := sha256.Sum256(buf)
	r, s, err := ecdsa.Sign(rand.Reader, k.priv, digest[:])
	if err != nil {
		return "", fmt.Errorf("oidcclient: dpop proof: %w", err)
	}
	// RFC 7518 3.4: R and S as 32-byte big-endian integers.
	var sig [64]byte
	r.FillBytes(sig[:32])
	s.FillBytes(sig[32:])
	buf = append(buf, '.')
	return string(enc.AppendEncode(buf, sig[:])), nil
}
