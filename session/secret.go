package session

import (
	"fmt"
	"log/slog"
)

// Secret holds a token, code or key. It prints as "[redacted]" with every
// fmt verb and in slog, so it cannot reach a log line by accident; convert it
// with string(s) only where the value is used (an Authorization header, a
// token request). It still marshals to JSON as its value, because records are
// JSON inside the encrypted envelope; response types never embed a Secret.
type Secret string

const redacted = "[redacted]"

// String implements fmt.Stringer.
func (Secret) String() string { return redacted }

// GoString implements fmt.GoStringer, for %#v.
func (Secret) GoString() string { return redacted }

// Format implements fmt.Formatter so that %x, %q and %d are redacted too.
func (Secret) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(redacted)) }

// LogValue implements slog.LogValuer.
func (Secret) LogValue() slog.Value { return slog.StringValue(redacted) }
