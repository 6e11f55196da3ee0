package session_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/bff-project/bff/session"
)

// knownEnvelope is a valid envelope built by hand (see handSeal) with a
// fixed nonce, so the seed corpus and any corpus the fuzzer caches from
// earlier runs stay valid across runs.
type knownEnvelope struct {
	env, aad, plain []byte
}

func knownEnvelopes(t testing.TB) []knownEnvelope {
	primary, secondary := testKey(1), testKey(2)
	mk := func(key []byte, nonceByte byte, plain, aad string) knownEnvelope {
		nonce := bytes.Repeat([]byte{nonceByte}, 12)
		return knownEnvelope{
			env:   handSeal(t, key, nonce, []byte(plain), []byte(aad)),
			aad:   []byte(aad),
			plain: []byte(plain),
		}
	}
	return []knownEnvelope{
		mk(primary, 1, `{"sub":"alice","at":"access-token"}`, "store-key-1"),
		mk(secondary, 2, `{"sub":"bob"}`, "store-key-2"),
		mk(primary, 3, "", "store-key-3"),
		mk(primary, 4, "x", ""),
	}
}

// FuzzOpen feeds arbitrary bytes to the envelope decoder. Besides never
// panicking, Open may only succeed on a genuine envelope: a fuzzer cannot
// forge AES-GCM, so any success must be one of the known envelopes, with
// its own associated data, yielding its own plaintext. Every failure wraps
// ErrDecrypt.
func FuzzOpen(f *testing.F) {
	c := mustCipher(f, testKey(1), testKey(2))
	known := knownEnvelopes(f)
	for _, k := range known {
		f.Add(k.env, k.aad)
		f.Add(k.env[:len(k.env)-1], k.aad)
		f.Add(k.env[:envelopeHeaderLen], k.aad)
		f.Add(k.env[:envelopeHeaderLen+1], k.aad)
		f.Add(k.env, append(bytes.Clone(k.aad), 0))
	}
	f.Add([]byte{}, []byte{})
	f.Add([]byte("v1."), []byte("k"))
	f.Add([]byte("v1"), []byte("k"))
	f.Add([]byte("v2.xxxxnnnnnnnnnnnnccccccccccccccccc"), []byte("k"))
	f.Add(bytes.Repeat([]byte{0}, 64), []byte(nil))
	f.Add(append([]byte("v1."), make([]byte, 40)...), []byte(nil))

	f.Fuzz(func(t *testing.T, data, aad []byte) {
		orig := bytes.Clone(data)
		plain, err := c.Open(data, aad)
		if !bytes.Equal(data, orig) {
			t.Fatal("Open() modified its input")
		}
		if err != nil {
			if !errors.Is(err, session.ErrDecrypt) {
				t.Fatalf("Open() error = %v, want it to wrap ErrDecrypt", err)
			}
			if plain != nil {
				t.Fatalf("Open() = %q with error %v, want nil plaintext", plain, err)
			}
			return
		}
		for _, k := range known {
			if bytes.Equal(data, k.env) && bytes.Equal(aad, k.aad) {
				if !bytes.Equal(plain, k.plain) {
					t.Fatalf("Open(known envelope) = %q, want %q", plain, k.plain)
				}
				return
			}
		}
		t.Fatalf("Open(%x, aad %q) = %q, nil: accepted bytes that are not a sealed envelope", data, aad, plain)
	})
}

// FuzzSealOpen checks the round trip for arbitrary plaintext and associated
// data, and that the envelope is bound to both the key and the aad.
func FuzzSealOpen(f *testing.F) {
	c := mustCipher(f, testKey(1), testKey(2))
	rotated := mustCipher(f, testKey(3), testKey(1)) // still knows key 1
	stranger := mustCipher(f, testKey(2))            // knows only c's second key
	f.Add([]byte(""), []byte(""))
	f.Add([]byte(`{"sub":"alice","rt":"refresh"}`), []byte("store-key"))
	f.Add([]byte{0, 0xff, 0}, []byte{0})
	f.Add([]byte("v1.xxxx"), []byte("v1."))

	f.Fuzz(func(t *testing.T, p, aad []byte) {
		env := c.Seal(p, aad)
		if got, want := len(env), envelopeHeaderLen+len(p)+16; got != want {
			t.Fatalf("len(Seal()) = %d, want %d", got, want)
		}
		got, err := c.Open(env, aad)
		if err != nil {
			t.Fatalf("Open(Seal(p, aad), aad) = %v", err)
		}
		if !bytes.Equal(got, p) {
			t.Fatalf("Open(Seal(p, aad), aad) = %q, want %q", got, p)
		}
		if got, err := rotated.Open(env, aad); err != nil || !bytes.Equal(got, p) {
			t.Fatalf("rotated cipher Open() = %q, %v; want p, nil", got, err)
		}
		if _, err := stranger.Open(env, aad); !errors.Is(err, session.ErrDecrypt) {
			t.Fatalf("Open() with only a non-primary key = %v, want ErrDecrypt", err)
		}
		if _, err := c.Open(env, append(bytes.Clone(aad), 'x')); !errors.Is(err, session.ErrDecrypt) {
			t.Fatalf("Open() with other aad = %v, want ErrDecrypt", err)
		}
		if _, err := c.Open(env[:len(env)-1], aad); !errors.Is(err, session.ErrDecrypt) {
			t.Fatalf("Open(truncated) = %v, want ErrDecrypt", err)
		}
	})
}
