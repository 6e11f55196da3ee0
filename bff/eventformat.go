package bff

import (
	"encoding/json"
	"hash/fnv"
	"strconv"
	"time"

	"github.com/bff-project/bff/session"
)

// This file holds the wire format of /bff/events (the HTML Standard's
// server-sent events): event names and their JSON data. Data never holds
// a token, a cookie or the provider's sid: times, acr and reasons only.

// sessionEventData is the "session" event: the session's times and acr,
// sent on connect and whenever they change (a keepalive or an API call
// here or on another instance, a step-up).
type sessionEventData struct {
	ExpiresAt     time.Time `json:"expires_at"`
	IdleExpiresAt time.Time `json:"idle_expires_at"`
	ACR           string    `json:"acr,omitempty"`
}

// expiringEventData is the "expiring" event: the session ends at At unless
// it is used (reason "idle": POST /bff/keepalive helps) or for good
// (reason "lifetime": only signing in again does). SecondsLeft is the
// server's count, for a browser whose clock is off.
type expiringEventData struct {
	Reason      string    `json:"reason"`
	At          time.Time `json:"at"`
	SecondsLeft int64     `json:"seconds_left"`
}

// endedEventData is the "ended" event: the session is gone, for reason
// (session.Reason*: logout, revoked, backchannel, frontchannel, expired,
// refresh_failed, replaced, unknown). The stream ends after it.
type endedEventData struct {
	Reason string `json:"reason"`
}

// stepUpEventData is the "step_up" event: the same user signed in again,
// more strongly (session.ReasonStepUp). The session goes on under a new
// cookie, which the browser already holds: the stream ends after the
// event and EventSource reconnects by itself with that cookie; the new
// stream's session event has the new acr. It says nothing else: the old
// stream cannot tell the new session's state.
type stepUpEventData struct{}

// sessionEnd is when rec ends unless used again, and whether that is its
// idle timeout or its lifetime.
func sessionEnd(rec *session.Record, idle time.Duration) (time.Time, string) {
	end := rec.IdleExpiresAt(idle)
	if end.Equal(rec.ExpiresAt) {
		return end, session.ExpiringLifetime
	}
	return end, session.ExpiringIdle
}

// acrOf is the acr of rec's sign-in: the record's, or for a session
// made before records had one, its ID token's claim.
func acrOf(rec *session.Record) string {
	if rec.ACR != "" {
		return rec.ACR
	}
	var c struct {
		ACR string `json:"acr"`
	}
	_ = json.Unmarshal(rec.Claims, &c) // claims were verified JSON at sign-in
	return c.ACR
}

// stateID is the id of a session event: what it said, in short. A browser
// that reconnects sends it back as Last-Event-ID, and is not sent the
// session event again when nothing changed.
func stateID(rec *session.Record, idle time.Duration) string {
	h := fnv.New32a()
	h.Write([]byte(acrOf(rec)))
	return "s" + strconv.FormatInt(rec.IdleExpiresAt(idle).UnixMilli(), 36) +
		"." + strconv.FormatInt(rec.ExpiresAt.UnixMilli(), 36) +
		"." + strconv.FormatUint(uint64(h.Sum32()), 36)
}

func (o *eventWriter) event(name, id string, data any) {
	b, _ := json.Marshal(data) // plain structs: cannot fail
	o.buf.WriteString("event: ")
	o.buf.WriteString(name)
	if id != "" {
		o.buf.WriteString("\nid: ")
		o.buf.WriteString(id)
	}
	o.buf.WriteString("\ndata: ")
	o.buf.Write(b)
	o.buf.WriteString("\n\n")
}

// session writes a session event unless it would say what the last one
// said.
func (o *eventWriter) session(rec *session.Record) {
	id := stateID(rec, o.idle)
	if id == o.sent {
		return
	}
	o.sent = id
	o.event("session", id, sessionEventData{
		ExpiresAt:     rec.ExpiresAt.UTC(),
		IdleExpiresAt: rec.IdleExpiresAt(o.idle).UTC(),
		ACR:           acrOf(rec),
	})
}

// expiring writes an expiring event, once per end time.
func (o *eventWriter) expiring(at time.Time, why string) {
	if at.Equal(o.warn) {
		return
	}
	o.warn = at
	left := max(int64(time.Until(at).Round(time.Second)/time.Second), 0)
	o.event("expiring", "", expiringEventData{Reason: why, At: at.UTC(), SecondsLeft: left})
}

func (o *eventWriter) ended(reason string) {
	o.event("ended", "", endedEventData{Reason: reason})
}

func (o *eventWriter) stepUp() {
	o.event("step_up", "", stepUpEventData{})
}

func (o *eventWriter) retry(ms string) {
	o.buf.WriteString("retry: " + ms + "\n\n")
}

// comment writes a comment line, which EventSource ignores: a heartbeat.
func (o *eventWriter) comment(text string) {
	o.buf.WriteString(":" + text + "\n\n")
}
