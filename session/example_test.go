package session_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/bff-project/bff/session"
	"github.com/bff-project/bff/session/boltstore"
)

// Example wires the session package the way the BFF does: a cipher from
// the configured keys, the embedded bolt store, and a Manager that turns
// cookie values into records.
func Example() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "session-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	// In production the keys come from session.encryption_keys (see
	// "bff keygen"); the first encrypts, all decrypt.
	key := make([]byte, 32)
	rand.Read(key)
	c, err := session.NewCipher([][]byte{key})
	if err != nil {
		log.Fatal(err)
	}

	store, err := boltstore.Open(filepath.Join(dir, "sessions.db"))
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close() // or m.Close(), which closes the store

	m, err := session.NewManager(session.Config{Store: store, Cipher: c})
	if err != nil {
		log.Fatal(err)
	}

	// After the OpenID Connect callback: store the tokens, send the token
	// back as the session cookie's value.
	token, err := m.Create(ctx, &session.Record{
		Subject:      "alice",
		AccessToken:  "eyJhbGciOi...",
		RefreshToken: "8xLOxBtZp8",
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("cookie value:", token) // a Secret prints redacted

	// On each request: the cookie value finds the session.
	_, rec, err := m.Load(ctx, string(token))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("signed in:", rec.Subject)
	fmt.Println("refresh token:", rec.RefreshToken)

	// An unknown cookie is no error, just no session.
	_, rec, err = m.Load(ctx, "forged")
	fmt.Println("forged cookie:", rec, err)

	// Output:
	// cookie value: [redacted]
	// signed in: alice
	// refresh token: [redacted]
	// forged cookie: <nil> <nil>
}
