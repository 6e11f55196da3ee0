package session_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/bff-project/bff/session"
)

const secretValue = "eyJhbGciOiJSUzI1NiJ9.top-secret-token"

// leaks reports whether out shows the secret or any recognisable part of
// it, including its hex encoding (for %x).
func leaks(out string) bool {
	for _, s := range []string{secretValue, "top-secret", fmt.Sprintf("%x", []byte("top-secret"))} {
		if strings.Contains(strings.ToLower(out), strings.ToLower(s)) {
			return true
		}
	}
	return false
}

func TestSecretFmt(t *testing.T) {
	s := session.Secret(secretValue)
	tests := []struct {
		name   string
		format string
		arg    any
	}{
		{"s", "%s", s},
		{"v", "%v", s},
		{"+v", "%+v", s},
		{"#v", "%#v", s},
		{"q", "%q", s},
		{"x", "%x", s},
		{"X", "%X", s},
		{"d", "%d", s},
		{"width", "%40s", s},
		{"precision", "%.5s", s},
		{"T", "%T", s},
		{"pointer %v", "%v", &s},
		{"pointer %+v", "%+v", &s},
		{"slice", "%v", []session.Secret{s, s}},
		{"slice %#v", "%#v", []session.Secret{s}},
		{"map value", "%v", map[string]session.Secret{"at": s}},
		{"struct %v", "%v", struct{ Token session.Secret }{s}},
		{"struct %+v", "%+v", struct{ Token session.Secret }{s}},
		{"struct %#v", "%#v", struct{ Token session.Secret }{s}},
		{"any field", "%+v", struct{ V any }{s}},
		{"token struct", "%+v", session.Token{AccessToken: s, Expiry: time.Unix(0, 0)}},
		{"record %+v", "%+v", sampleRecord()},
		{"record %#v", "%#v", sampleRecord()},
		{"record %v", "%v", *sampleRecord()},
		{"record %s", "%s", sampleRecord()},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := fmt.Sprintf(tc.format, tc.arg)
			if leaks(got) {
				t.Errorf("Sprintf(%q) = %q, leaks the secret", tc.format, got)
			}
		})
	}
	t.Run("Sprint and Sprintln", func(t *testing.T) {
		for _, got := range []string{fmt.Sprint(s), fmt.Sprintln(s, s), fmt.Sprint("a", s, 1)} {
			if leaks(got) {
				t.Errorf("Sprint = %q, leaks the secret", got)
			}
		}
	})
	t.Run("redacted marker", func(t *testing.T) {
		if got, want := fmt.Sprint(s), "[redacted]"; got != want {
			t.Errorf("Sprint(secret) = %q, want %q", got, want)
		}
		if got, want := s.String(), "[redacted]"; got != want {
			t.Errorf("String() = %q, want %q", got, want)
		}
		if got, want := s.GoString(), "[redacted]"; got != want {
			t.Errorf("GoString() = %q, want %q", got, want)
		}
	})
}

func sampleRecord() *session.Record {
	s := session.Secret(secretValue)
	return &session.Record{
		ID:           "public-id",
		Subject:      "alice",
		IDToken:      s,
		AccessToken:  s,
		RefreshToken: s,
		Tokens:       map[string]session.Token{"orders-api": {AccessToken: s}},
	}
}

func TestSecretErrors(t *testing.T) {
	s := session.Secret(secretValue)
	base := errors.New("refresh failed")
	tests := []struct {
		name string
		err  error
	}{
		{"Errorf %v", fmt.Errorf("token %v rejected", s)},
		{"Errorf %s", fmt.Errorf("token %s rejected", s)},
		{"Errorf %q", fmt.Errorf("token %q rejected", s)},
		{"Errorf %w and %v", fmt.Errorf("refresh with %v: %w", s, base)},
		{"wrapped twice", fmt.Errorf("outer: %w", fmt.Errorf("token %v: %w", s, base))},
		{"record in error", fmt.Errorf("session %+v", sampleRecord())},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.err.Error(); leaks(got) {
				t.Errorf("Error() = %q, leaks the secret", got)
			}
			if got := fmt.Sprintf("%+v", tc.err); leaks(got) {
				t.Errorf("Sprintf(%%+v, err) = %q, leaks the secret", got)
			}
		})
	}
}

func TestSecretSlog(t *testing.T) {
	s := session.Secret(secretValue)
	tests := []struct {
		name string
		log  func(l *slog.Logger)
	}{
		{"key-value", func(l *slog.Logger) { l.Info("login", "access_token", s) }},
		{"slog.Any", func(l *slog.Logger) { l.Info("login", slog.Any("access_token", s)) }},
		{"pointer", func(l *slog.Logger) { l.Info("login", slog.Any("access_token", &s)) }},
		{"group", func(l *slog.Logger) { l.Info("login", slog.Group("tokens", "id", s, "refresh", s)) }},
		{"With", func(l *slog.Logger) { l.With("refresh_token", s).Warn("refresh failed") }},
		{"WithGroup", func(l *slog.Logger) { l.WithGroup("g").Error("x", "tok", s) }},
		{"in message via Sprint", func(l *slog.Logger) { l.Info(fmt.Sprint("token ", s)) }},
		{"error value", func(l *slog.Logger) { l.Error("refresh", "err", fmt.Errorf("rt %v: bad", s)) }},
	}
	handlers := []struct {
		name string
		new  func(*bytes.Buffer) slog.Handler
	}{
		{"json", func(b *bytes.Buffer) slog.Handler { return slog.NewJSONHandler(b, nil) }},
		{"text", func(b *bytes.Buffer) slog.Handler { return slog.NewTextHandler(b, nil) }},
	}
	for _, h := range handlers {
		for _, tc := range tests {
			t.Run(h.name+"/"+tc.name, func(t *testing.T) {
				var buf bytes.Buffer
				tc.log(slog.New(h.new(&buf)))
				if buf.Len() == 0 {
					t.Fatal("handler wrote nothing")
				}
				if leaks(buf.String()) {
					t.Errorf("log output %q leaks the secret", buf.String())
				}
			})
		}
	}
	// A record logged whole through the text handler is formatted with fmt,
	// field by field, so its Secrets are redacted.
	t.Run("text/record", func(t *testing.T) {
		var buf bytes.Buffer
		slog.New(slog.NewTextHandler(&buf, nil)).Info("session", "rec", sampleRecord())
		if leaks(buf.String()) {
			t.Errorf("log output %q leaks the secret", buf.String())
		}
	})
}

// TestSecretSlogJSONComposite: the JSON handler resolves LogValuer only on
// an attribute's own value; anything else (a slice, a struct, a *Record) it
// passes to json.Marshal, which writes a Secret's value, because records
// need it inside the envelope. bff/logging.go uses the JSON handler, so
// Record and Token implement slog.LogValuer. A bare []Secret would still be
// marshalled; no code logs one.
func TestSecretSlogJSONComposite(t *testing.T) {
	s := session.Secret(secretValue)
	tests := []struct {
		name string
		val  any
	}{
		{"token", session.Token{AccessToken: s}},
		{"record", sampleRecord()},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			slog.New(slog.NewJSONHandler(&buf, nil)).Info("x", "v", tc.val)
			if leaks(buf.String()) {
				t.Errorf("log output %q leaks the secret", buf.String())
			}
		})
	}
}

// TestSecretJSON: records are JSON inside the encrypted envelope, so a
// Secret must marshal to its value and come back intact.
func TestSecretJSON(t *testing.T) {
	s := session.Secret(secretValue)
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(b), `"`+secretValue+`"`; got != want {
		t.Errorf("json.Marshal(secret) = %s, want %s", got, want)
	}
	var back session.Secret
	if err := json.Unmarshal(b, &back); err != nil || back != s {
		t.Errorf("json.Unmarshal() = %q, %v; want the value back", string(back), err)
	}

	rec := sampleRecord()
	rb, err := json.Marshal(rec)
	if err != nil {
		t.Fatal(err)
	}
	var got session.Record
	if err := json.Unmarshal(rb, &got); err != nil {
		t.Fatal(err)
	}
	if got.IDToken != s || got.AccessToken != s || got.RefreshToken != s || got.Tokens["orders-api"].AccessToken != s {
		t.Errorf("record JSON round trip lost a token: %s", rb)
	}
}
