package session_test

import (
	"bytes"
	"context"
	"path/filepath"
	"testing"

	"github.com/bff-project/bff/session"
)

// An instance started with the wrong keys cannot read a session, but must
// not drop it from the index either: once the keys are right again, logout
// by user or sid has to find it.
func TestLookupKeepsUnreadableSessionsIndexed(t *testing.T) {
	ctx := context.Background()
	backend := openTestBolt(t, filepath.Join(t.TempDir(), "s.db"))
	right, err := session.NewManager(session.Config{Store: backend, Cipher: mustCipher(t, bytes.Repeat([]byte{1}, 32))})
	if err != nil {
		t.Fatal(err)
	}
	wrong, err := session.NewManager(session.Config{Store: backend, Cipher: mustCipher(t, bytes.Repeat([]byte{2}, 32))})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := right.Create(ctx, &session.Record{Subject: "alice", SID: "sid-1"}); err != nil {
		t.Fatal(err)
	}
	if got, err := wrong.BySubject(ctx, "alice"); err != nil || len(got) != 0 {
		t.Fatalf("BySubject() with the wrong key = %d entries, %v; want 0, nil", len(got), err)
	}
	if got, err := wrong.BySID(ctx, "sid-1"); err != nil || len(got) != 0 {
		t.Fatalf("BySID() with the wrong key = %d entries, %v; want 0, nil", len(got), err)
	}
	if got, _ := right.BySubject(ctx, "alice"); len(got) != 1 {
		t.Errorf("BySubject() with the right key after a wrong-key lookup = %d entries, want 1", len(got))
	}
	if got, _ := right.BySID(ctx, "sid-1"); len(got) != 1 {
		t.Errorf("BySID() with the right key after a wrong-key lookup = %d entries, want 1", len(got))
	}
}
