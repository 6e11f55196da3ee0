package session_test

import (
	"path/filepath"
	"testing"

	"github.com/bff-project/bff/session"
	"github.com/bff-project/bff/session/storetest"
)

func newBolt(t *testing.T) session.Backend {
	b, err := session.OpenBolt(filepath.Join(t.TempDir(), "s.db"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestBoltConformance(t *testing.T) {
	storetest.Run(t, newBolt)
}

func TestBoltSecondOpenFailsClearly(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.db")
	b, err := session.OpenBolt(path)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if _, err := session.OpenBolt(path); err == nil {
		t.Fatal("second OpenBolt() of a held file = nil error, want locked error")
	}
}
