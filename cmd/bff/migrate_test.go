package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/bff-project/bff/session/pgtest"
)

// TestMigrateCommand: with session.postgres_migrate off the server refuses
// a database whose schema is not current, naming `bff migrate`; `bff
// migrate` makes it; then the server starts. For the other stores there
// is nothing to migrate.
func TestMigrateCommand(t *testing.T) {
	idp := discovery(t)
	path := writeConfig(t, idp.URL)
	pg := []string{"BFF_SESSION_STORE=postgres", "BFF_SESSION_POSTGRES_URL=" + pgtest.Schema(t), "BFF_SESSION_POSTGRES_MIGRATE=off"}
	tests := []struct {
		name     string
		args     []string
		env      []string
		wantCode int
		wantOut  string // in stdout
		wantErr  string // in stderr
	}{
		{"bolt", []string{"migrate", "-config", path}, nil, 0, "session.store is bolt: nothing to migrate", ""},
		{"bad config", []string{"migrate", "-config", path}, []string{"BFF_SESSION_STORE=postgres"}, 2, "", "session.postgres_url: required"},
		{"server refuses an old schema", []string{"-config", path}, pg, 1, "", "bff migrate"},
		{"migrate", []string{"migrate", "-config", path}, pg, 0, "migrated from version 0 to 1", ""},
		{"migrate again", []string{"migrate", "-config", path}, pg, 0, "version 1: nothing to do", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
			defer cancel()
			code := run(ctx, tc.args, tc.env, &out, &errb)
			if code != tc.wantCode || !strings.Contains(out.String(), tc.wantOut) || !strings.Contains(errb.String(), tc.wantErr) {
				t.Errorf("bff %s = exit %d, stdout %q, stderr %q; want exit %d, stdout with %q, stderr with %q",
					strings.Join(tc.args, " "), code, out.String(), errb.String(), tc.wantCode, tc.wantOut, tc.wantErr)
			}
		})
	}

	// Migrated: the server starts with migration off.
	ctx, stop := context.WithCancel(t.Context())
	defer stop()
	var out, errb syncBuffer
	done := make(chan int, 1)
	go func() { done <- run(ctx, []string{"-config", path}, pg, &out, &errb) }()
	waitForListen(t, &errb, done)
	stop()
	if code := <-done; code != 0 {
		t.Errorf("exit after shutdown = %d, want 0; stderr:\n%s", code, errb.String())
	}
}
