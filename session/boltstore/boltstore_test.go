package boltstore_test

import (
	"path/filepath"
	"testing"

	"github.com/alexedwards/scs/v2"

	"github.com/bff-project/bff/session/boltstore"
	"github.com/bff-project/bff/session/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) scs.CtxStore {
		b, err := boltstore.Open(filepath.Join(t.TempDir(), "s.db"))
		if err != nil {
			t.Fatal(err)
		}
		return b
	})
}

func TestSecondOpenFailsClearly(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.db")
	b, err := boltstore.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if _, err := boltstore.Open(path); err == nil {
		t.Fatal("second Open() of a held file = nil error, want locked error")
	}
}
