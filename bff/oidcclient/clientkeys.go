package oidcclient

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// clientKey is one private_key_jwt key (RFC 7523): the first of a
// client's keys signs, the others are only published, so that a provider
// that fetches the client's JWKS knows the next key before it signs.
type clientKey struct {
	priv crypto.Signer
	kid  string
	alg  jose.SignatureAlgorithm
}

// minRSABits is the smallest RSA key accepted (FAPI 2.0 Security Profile
// 5.4.1 and RFC 7518 3.3).
const minRSABits = 2048

// parseClientKeys reads every private key of a PEM file: RSA of at least
// 2048 bits (signing PS256, or RS256 where the provider takes only that)
// or EC P-256 (ES256). The first key's kid is keyID when set; every other
// kid is the key's RFC 7638 thumbprint. Errors name the block, never key
// material.
func parseClientKeys(data []byte, keyID string) ([]clientKey, error) {
	var keys []clientKey
	var errs []error
	for n := 1; ; n++ {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			break
		}
		priv, alg, err := parsePrivateKey(block)
		if err != nil {
			errs = append(errs, fmt.Errorf("PEM block %d (%s): %w", n, block.Type, err))
			continue
		}
		kid, err := thumbprint(priv.Public())
		if err != nil {
			errs = append(errs, fmt.Errorf("PEM block %d: %w", n, err))
			continue
		}
		if len(keys) == 0 && keyID != "" {
			kid = keyID
		}
		keys = append(keys, clientKey{priv: priv, kid: kid, alg: alg})
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if len(keys) == 0 {
		return nil, errors.New("no PEM private key found")
	}
	return keys, nil
}

func parsePrivateKey(block *pem.Block) (crypto.Signer, jose.SignatureAlgorithm, error) {
	var key any
	var err error
	switch block.Type {
	case "PRIVATE KEY":
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	case "RSA PRIVATE KEY":
		key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(block.Bytes)
	default:
		return nil, "", errors.New("not a private key (want PRIVATE KEY, RSA PRIVATE KEY or EC PRIVATE KEY)")
	}
	if err != nil {
		return nil, "", errors.New("malformed private key")
	}
	switch k := key.(type) {
	case *rsa.PrivateKey:
		if k.N.BitLen() < minRSABits {
			return nil, "", fmt.Errorf("RSA key of %d bits, want at least %d", k.N.BitLen(), minRSABits)
		}
		return k, jose.PS256, nil
	case *ecdsa.PrivateKey:
		if k.Curve != elliptic.P256() {
			return nil, "", fmt.Errorf("EC key on %s, want P-256", k.Curve.Params().Name)
		}
		return k, jose.ES256, nil
	}
	return nil, "", fmt.Errorf("%T keys are not supported (want RSA or EC P-256)", key)
}

func thumbprint(pub crypto.PublicKey) (string, error) {
	sum, err := (&jose.JSONWebKey{Key: pub}).Thumbprint(crypto.SHA256)
	if err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(sum), nil
}

// publicJWKs are the keys as a JWK set's members: public parts only.
func publicJWKs(keys []clientKey) []jose.JSONWebKey {
	out := make([]jose.JSONWebKey, len(keys))
	for i, k := range keys {
		out[i] = jose.JSONWebKey{Key: k.priv.Public(), KeyID: k.kid, Algorithm: string(k.alg), Use: "sig"}
	}
	return out
}

// assertionLifetime is how long a client assertion is valid: long enough
// for one request, short enough that a copy is soon useless.
const assertionLifetime = 60 * time.Second

// assertion is a client assertion (RFC 7523 section 3): iss and sub the
// client ID, aud the issuer identifier (as FAPI 2.0 and RFC 7523bis ask:
// no endpoint URL, so it cannot be replayed at another provider's
// endpoint), a unique jti and an exp a minute away. alg overrides the
// key's algorithm when the provider takes only RS256 for an RSA key.
func (k clientKey) assertion(clientID, audience string, alg jose.SignatureAlgorithm) (string, error) {
	if alg == "" {
		alg = k.alg
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: k.priv},
		(&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", k.kid))
	if err != nil {
		return "", fmt.Errorf("oidcclient: client assertion: %w", err)
	}
	now := time.Now()
	return jwt.Signed(signer).Claims(jwt.Claims{
		Issuer: clientID, Subject: clientID, Audience: jwt.Audience{audience}, ID: rand.Text(),
		IssuedAt: jwt.NewNumericDate(now),
		Expiry:   jwt.NewNumericDate(now.Add(assertionLifetime)),
	}).Serialize()
}
