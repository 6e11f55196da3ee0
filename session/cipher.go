package session

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
)

// Envelope layout, version 1 (binary, so a stored session stays small):
//
//	"v1." | key ID (4 bytes) | nonce (12 bytes) | AES-256-GCM ciphertext+tag
//
// The key ID is the first 4 bytes of SHA-256(key): it picks the decrypting
// key without trying each one, and reveals nothing about the key. The store
// key is the associated data, so a blob copied under another key does not
// decrypt.
const (
	envelopeMagic = "v1."
	keyIDLen      = 4
	nonceLen      = 12
	headerLen     = len(envelopeMagic) + keyIDLen + nonceLen
)

// ErrDecrypt is returned (wrapped) when an envelope is malformed, was made
// under an unknown key, or fails authentication.
var ErrDecrypt = errors.New("session: cannot decrypt")

// Cipher seals session records with AES-256-GCM under a list of keys: the
// first encrypts, every one decrypts, so keys rotate without signing anyone
// out. It is safe for concurrent use.
type Cipher struct {
	primary keyedAEAD
	byID    map[[keyIDLen]byte]cipher.AEAD
}

type keyedAEAD struct {
	id   [keyIDLen]byte
	aead cipher.AEAD
}

// NewCipher returns a Cipher for keys, each exactly 32 bytes.
func NewCipher(keys [][]byte) (*Cipher, error) {
	if len(keys) == 0 {
		return nil, errors.New("session: no encryption key")
	}
	c := &Cipher{byID: make(map[[keyIDLen]byte]cipher.AEAD, len(keys))}
	for i, k := range keys {
		if len(k) != 32 {
			return nil, fmt.Errorf("session: encryption key %d is %d bytes, want 32", i, len(k))
		}
		block, err := aes.NewCipher(k)
		if err != nil {
			return nil, fmt.Errorf("session: encryption key %d: %w", i, err)
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, fmt.Errorf("session: encryption key %d: %w", i, err)
		}
		sum := sha256.Sum256(k)
		var id [keyIDLen]byte
		copy(id[:], sum[:keyIDLen])
		if _, dup := c.byID[id]; dup {
			return nil, fmt.Errorf("session: encryption key %d repeats an earlier key", i)
		}
		c.byID[id] = aead
		if i == 0 {
			c.primary = keyedAEAD{id: id, aead: aead}
		}
	}
	return c, nil
}

// Seal encrypts plaintext bound to aad under the first key.
func (c *Cipher) Seal(plaintext, aad []byte) []byte {
	out := make([]byte, headerLen, headerLen+len(plaintext)+c.primary.aead.Overhead())
	copy(out, envelopeMagic)
	copy(out[len(envelopeMagic):], c.primary.id[:])
	nonce := out[len(envelopeMagic)+keyIDLen : headerLen]
	if _, err := rand.Read(nonce); err != nil {
		panic("session: crypto/rand failed: " + err.Error()) // rand.Read never fails on supported platforms
	}
	return c.primary.aead.Seal(out, nonce, plaintext, aad)
}

// Open decrypts an envelope made by Seal under any configured key. Errors
// wrap [ErrDecrypt].
func (c *Cipher) Open(envelope, aad []byte) ([]byte, error) {
	if len(envelope) < headerLen || string(envelope[:len(envelopeMagic)]) != envelopeMagic {
		return nil, fmt.Errorf("%w: not a v1 envelope", ErrDecrypt)
	}
	var id [keyIDLen]byte
	copy(id[:], envelope[len(envelopeMagic):])
	aead, ok := c.byID[id]
	if !ok {
		return nil, fmt.Errorf("%w: unknown key", ErrDecrypt)
	}
	nonce := envelope[len(envelopeMagic)+keyIDLen : headerLen]
	plain, err := aead.Open(nil, nonce, envelope[headerLen:], aad)
	if err != nil {
		return nil, fmt.Errorf("%w: authentication failed", ErrDecrypt)
	}
	return plain, nil
}
