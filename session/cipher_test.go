package session_test

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/sha256"
	"errors"
	"strings"
	"testing"

	"github.com/bff-project/bff/session"
)

// testKey returns a 32-byte key filled with b: distinct b, distinct keys.
func testKey(b byte) []byte { return bytes.Repeat([]byte{b}, 32) }

func mustCipher(t testing.TB, keys ...[]byte) *session.Cipher {
	t.Helper()
	c, err := session.NewCipher(keys)
	if err != nil {
		t.Fatalf("NewCipher() = %v", err)
	}
	return c
}

// handSeal builds a v1 envelope from its documented layout with the
// standard library alone:
//
//	"v1." | SHA-256(key)[:4] | nonce (12 bytes) | AES-256-GCM(plaintext, aad)
//
// Envelopes already in a store must stay readable after an upgrade, so the
// layout is pinned independently of Seal.
func handSeal(t testing.TB, key, nonce, plaintext, aad []byte) []byte {
	t.Helper()
	block, err := aes.NewCipher(key)
	if err != nil {
		t.Fatal(err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(key)
	env := append([]byte("v1."), sum[:4]...)
	env = append(env, nonce...)
	return aead.Seal(env, nonce, plaintext, aad)
}

const envelopeHeaderLen = len("v1.") + 4 + 12

func TestNewCipherRejectsBadKeys(t *testing.T) {
	tests := []struct {
		name string
		keys [][]byte
	}{
		{"nil list", nil},
		{"empty list", [][]byte{}},
		{"nil key", [][]byte{nil}},
		{"16-byte key (AES-128)", [][]byte{make([]byte, 16)}},
		{"24-byte key (AES-192)", [][]byte{make([]byte, 24)}},
		{"31-byte key", [][]byte{make([]byte, 31)}},
		{"33-byte key", [][]byte{make([]byte, 33)}},
		{"64-byte key", [][]byte{make([]byte, 64)}},
		{"good then short", [][]byte{testKey(1), make([]byte, 16)}},
		{"duplicate keys", [][]byte{testKey(1), testKey(1)}},
		{"duplicate not adjacent", [][]byte{testKey(1), testKey(2), testKey(1)}},
		{"duplicate of second", [][]byte{testKey(1), testKey(2), testKey(3), testKey(2)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := session.NewCipher(tc.keys)
			if err == nil {
				t.Fatalf("NewCipher() = %v, nil; want an error", c)
			}
			if c != nil {
				t.Errorf("NewCipher() returned a non-nil Cipher with error %v", err)
			}
			if !strings.HasPrefix(err.Error(), "session: ") {
				t.Errorf("NewCipher() error %q does not start with \"session: \"", err)
			}
		})
	}
}

func TestNewCipherAcceptsKeys(t *testing.T) {
	tests := []struct {
		name string
		keys [][]byte
	}{
		{"one key", [][]byte{testKey(1)}},
		{"three keys", [][]byte{testKey(1), testKey(2), testKey(3)}},
		{"all-zero key", [][]byte{make([]byte, 32)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := mustCipher(t, tc.keys...)
			env := c.Seal([]byte("x"), nil)
			if got, err := c.Open(env, nil); err != nil || string(got) != "x" {
				t.Errorf("Open(Seal(x)) = %q, %v; want x, nil", got, err)
			}
		})
	}
}

func TestCipherRoundTrip(t *testing.T) {
	c := mustCipher(t, testKey(1), testKey(2))
	big := bytes.Repeat([]byte("0123456789abcdef"), 1<<16)
	tests := []struct {
		name      string
		plaintext []byte
		aad       []byte
	}{
		{"empty plaintext", nil, []byte("key")},
		{"empty aad", []byte("hello"), nil},
		{"json record", []byte(`{"sub":"alice","at":"secret"}`), []byte("store-key")},
		{"binary", []byte{0, 1, 2, 0xff, 0xfe, 0}, []byte{0, 0xff}},
		{"one MiB", big, []byte("k")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			orig := bytes.Clone(tc.plaintext)
			env := c.Seal(tc.plaintext, tc.aad)
			if !bytes.Equal(tc.plaintext, orig) {
				t.Fatal("Seal() modified its plaintext argument")
			}
			if got, want := len(env), envelopeHeaderLen+len(tc.plaintext)+16; got != want {
				t.Errorf("len(Seal()) = %d, want %d (header + plaintext + GCM tag)", got, want)
			}
			if !bytes.HasPrefix(env, []byte("v1.")) {
				t.Errorf("Seal() = %q..., want prefix v1.", env[:min(len(env), 8)])
			}
			if len(tc.plaintext) >= 8 && bytes.Contains(env, tc.plaintext) {
				t.Error("Seal() output contains the plaintext")
			}
			got, err := c.Open(env, tc.aad)
			if err != nil {
				t.Fatalf("Open(Seal()) = %v", err)
			}
			if !bytes.Equal(got, tc.plaintext) {
				t.Errorf("Open(Seal(p)) = %d bytes, want the %d bytes of p", len(got), len(tc.plaintext))
			}
			// The result must not alias the envelope.
			for i := range env {
				env[i] = 0
			}
			if !bytes.Equal(got, tc.plaintext) {
				t.Error("plaintext from Open() changed when the envelope was overwritten")
			}
		})
	}
}

func TestCipherSealUsesFreshNonce(t *testing.T) {
	c := mustCipher(t, testKey(1))
	p, aad := []byte("same plaintext"), []byte("same key")
	seen := map[string]bool{}
	nonces := map[string]bool{}
	for range 100 {
		env := c.Seal(p, aad)
		if seen[string(env)] {
			t.Fatalf("Seal() returned the same envelope twice: nonces are not random")
		}
		seen[string(env)] = true
		nonce := string(env[len("v1.")+4 : envelopeHeaderLen])
		if nonces[nonce] {
			t.Fatalf("Seal() reused nonce %x", nonce)
		}
		nonces[nonce] = true
	}
}

// TestCipherEnvelopeLayout pins the documented binary layout both ways: Seal
// writes the first key's ID, and Open reads envelopes built by hand.
func TestCipherEnvelopeLayout(t *testing.T) {
	k1, k2 := testKey(1), testKey(2)
	c := mustCipher(t, k1, k2)

	env := c.Seal([]byte("p"), []byte("a"))
	sum := sha256.Sum256(k1)
	if got, want := env[len("v1."):len("v1.")+4], sum[:4]; !bytes.Equal(got, want) {
		t.Errorf("Seal() key ID = %x, want SHA-256(first key)[:4] = %x", got, want)
	}

	nonce := bytes.Repeat([]byte{9}, 12)
	for _, k := range [][]byte{k1, k2} {
		hand := handSeal(t, k, nonce, []byte("hand-made"), []byte("aad"))
		got, err := c.Open(hand, []byte("aad"))
		if err != nil || string(got) != "hand-made" {
			t.Errorf("Open(hand-made envelope under key %d) = %q, %v; want hand-made, nil", k[0], got, err)
		}
	}
}

func TestCipherRotation(t *testing.T) {
	oldKey, newKey, otherKey := testKey(1), testKey(2), testKey(3)
	aad := []byte("store-key")
	tests := []struct {
		name     string
		sealWith [][]byte
		openWith [][]byte
		wantOK   bool
	}{
		{"old sealed, opened by [new old]", [][]byte{oldKey}, [][]byte{newKey, oldKey}, true},
		{"old sealed, opened by [old new]", [][]byte{oldKey}, [][]byte{oldKey, newKey}, true},
		{"new sealed, opened by [new old]", [][]byte{newKey, oldKey}, [][]byte{newKey, oldKey}, true},
		{"new sealed, opened by [old new]", [][]byte{newKey, oldKey}, [][]byte{oldKey, newKey}, true},
		{"new sealed, opened by [new]", [][]byte{newKey, oldKey}, [][]byte{newKey}, true},
		{"new sealed, not opened by [old]", [][]byte{newKey, oldKey}, [][]byte{oldKey}, false},
		{"old sealed, not opened by [new]", [][]byte{oldKey}, [][]byte{newKey}, false},
		{"not opened by an unrelated key", [][]byte{oldKey}, [][]byte{otherKey}, false},
		{"new sealed, opened after the next rotation [other new]", [][]byte{newKey, oldKey}, [][]byte{otherKey, newKey}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			env := mustCipher(t, tc.sealWith...).Seal([]byte("payload"), aad)
			got, err := mustCipher(t, tc.openWith...).Open(env, aad)
			if tc.wantOK {
				if err != nil || string(got) != "payload" {
					t.Errorf("Open() = %q, %v; want payload, nil", got, err)
				}
				return
			}
			if !errors.Is(err, session.ErrDecrypt) {
				t.Errorf("Open() error = %v, want ErrDecrypt", err)
			}
			if got != nil {
				t.Errorf("Open() = %q with an error, want nil plaintext", got)
			}
		})
	}
}

func TestCipherWrongAAD(t *testing.T) {
	c := mustCipher(t, testKey(1))
	env := c.Seal([]byte("payload"), []byte("key-A"))
	tests := []struct {
		name string
		aad  []byte
	}{
		{"other key", []byte("key-B")},
		{"empty", nil},
		{"prefix", []byte("key-")},
		{"extended", []byte("key-AA")},
		{"case", []byte("KEY-A")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := c.Open(env, tc.aad)
			if !errors.Is(err, session.ErrDecrypt) {
				t.Errorf("Open(aad %q) = %q, %v; want ErrDecrypt", tc.aad, got, err)
			}
		})
	}
}

// TestCipherEveryByteFlipFails flips every bit pattern of every byte of an
// envelope: magic, key ID, nonce, ciphertext and tag are all authenticated
// or checked.
func TestCipherEveryByteFlipFails(t *testing.T) {
	c := mustCipher(t, testKey(1), testKey(2))
	aad := []byte("store-key")
	env := c.Seal([]byte(`{"sub":"alice"}`), aad)
	for i := range env {
		for mask := 1; mask < 256; mask++ {
			mut := bytes.Clone(env)
			mut[i] ^= byte(mask)
			got, err := c.Open(mut, aad)
			if !errors.Is(err, session.ErrDecrypt) {
				t.Fatalf("Open(envelope with byte %d ^= %#02x) = %q, %v; want ErrDecrypt", i, mask, got, err)
			}
		}
	}
	// The untouched envelope still opens: the loop above did not pass
	// because every Open fails.
	if _, err := c.Open(env, aad); err != nil {
		t.Fatalf("Open(original) = %v", err)
	}
}

func TestCipherTruncatedAndExtended(t *testing.T) {
	c := mustCipher(t, testKey(1))
	aad := []byte("k")
	env := c.Seal([]byte("some plaintext"), aad)
	for n := range len(env) {
		if got, err := c.Open(env[:n], aad); !errors.Is(err, session.ErrDecrypt) {
			t.Errorf("Open(first %d of %d bytes) = %q, %v; want ErrDecrypt", n, len(env), got, err)
		}
	}
	tests := []struct {
		name string
		env  []byte
	}{
		{"trailing byte", append(bytes.Clone(env), 0)},
		{"doubled", append(bytes.Clone(env), env...)},
		{"leading byte", append([]byte{0}, env...)},
		{"header only", env[:envelopeHeaderLen]},
		{"tag missing one byte", env[:len(env)-1]},
		{"v2 magic", append([]byte("v2."), env[3:]...)},
		{"magic without dot", append([]byte("v1"), env[3:]...)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got, err := c.Open(tc.env, aad); !errors.Is(err, session.ErrDecrypt) {
				t.Errorf("Open() = %q, %v; want ErrDecrypt", got, err)
			}
		})
	}
}

func TestCipherConcurrentUse(t *testing.T) {
	c := mustCipher(t, testKey(1), testKey(2))
	done := make(chan error)
	for g := range 8 {
		go func() {
			p := []byte{byte(g)}
			for range 200 {
				got, err := c.Open(c.Seal(p, p), p)
				if err != nil || !bytes.Equal(got, p) {
					done <- errors.New("concurrent Open(Seal(p)) != p")
					return
				}
			}
			done <- nil
		}()
	}
	for range 8 {
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
}
