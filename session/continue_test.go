package session_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/bff-project/bff/session"
)

// TestManagerContinue: a step-up sign-in continues the session it
// upgrades: new ID and cookie token, the old start and absolute end, the
// new strength; one past its end is not continued.
func TestManagerContinue(t *testing.T) {
	e := newTestEnv(t, session.Config{Lifetime: time.Hour, TouchInterval: time.Minute})
	start := e.clock.Now()
	oldTok, _ := e.create(t, &session.Record{Subject: "alice", ACR: "pwd", AMR: []string{"pwd"}, AuthTime: start})
	prev := load(t, e.m, oldTok)

	tests := []struct {
		name        string
		advance     time.Duration
		prev        *session.Record
		wantCreated func(now time.Time) time.Time
		wantExpires func(now time.Time) time.Time
	}{
		{"continued", 20 * time.Minute, prev,
			func(time.Time) time.Time { return start }, func(time.Time) time.Time { return start.Add(time.Hour) }},
		{"no previous session", 0, nil,
			func(now time.Time) time.Time { return now }, func(now time.Time) time.Time { return now.Add(time.Hour) }},
		{"previous past its end", time.Hour, prev,
			func(now time.Time) time.Time { return now }, func(now time.Time) time.Time { return now.Add(time.Hour) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e.clock.Advance(tt.advance)
			now := e.clock.Now()
			rec := &session.Record{Subject: "alice", ACR: "mfa", AMR: []string{"pwd", "otp"}, AuthTime: now}
			tok, err := e.m.Continue(context.Background(), rec, tt.prev)
			if err != nil {
				t.Fatalf("Continue() = %v", err)
			}
			if string(tok) == oldTok || rec.ID == prev.ID {
				t.Errorf("Continue() kept the old cookie token or ID; want new ones")
			}
			got := load(t, e.m, string(tok))
			if got == nil {
				t.Fatal("Load(new token) = nil")
			}
			if !got.CreatedAt.Equal(tt.wantCreated(now)) || !got.ExpiresAt.Equal(tt.wantExpires(now)) || !got.LastSeenAt.Equal(now) {
				t.Errorf("CreatedAt, ExpiresAt, LastSeenAt = %v, %v, %v; want %v, %v, %v",
					got.CreatedAt, got.ExpiresAt, got.LastSeenAt, tt.wantCreated(now), tt.wantExpires(now), now)
			}
			if got.ACR != "mfa" || !slices.Equal(got.AMR, []string{"pwd", "otp"}) || !got.AuthTime.Equal(now) {
				t.Errorf("stored strength = %q %q %v, want mfa [pwd otp] %v", got.ACR, got.AMR, got.AuthTime, now)
			}
		})
	}
}

// TestRecordCloneAMR: Clone copies AMR, so changing a clone cannot
// change a record other requests share.
func TestRecordCloneAMR(t *testing.T) {
	r := &session.Record{AMR: []string{"pwd"}}
	c := r.Clone()
	c.AMR[0] = "otp"
	if r.AMR[0] != "pwd" {
		t.Errorf("changing a clone's AMR changed the original: %q", r.AMR)
	}
}
