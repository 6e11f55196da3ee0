package session

import (
	"bytes"
	"compress/flate"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"io"
	"strings"
	"sync"
)

// The bundle holds a record's secrets in binary (see codec.go):
//
//	method (1 byte) | body
//	method 0: body is the entries; 1: body is the entries compressed with
//	DEFLATE (RFC 1951) and the preset dictionary bundleDict1
//	entry:  slot (1 byte) | uvarint len | key | kind (1 byte) | value
//	kind 0: no value (claims derived from the ID token)
//	kind 1: uvarint len | bytes
//	kind 2: uvarint n | n × (uvarint len | bytes): the base64url segments
//	        of a token (a JWS, a JWE, an opaque base64url string), decoded;
//	        joined again with '.' and encoded they give the token back.
//
// Tokens are mostly base64url JSON: decoded, their headers and claims
// compress well, and repeat across the tokens of one session. Compression
// is used only where it pays. An entry with an unknown slot is skipped,
// so a later slot is no format change.
const (
	slotIDToken  = 1
	slotAccess   = 2
	slotRefresh  = 3
	slotClaims   = 4
	slotAPIToken = 5 // key: the Tokens map key

	kindDerived  = 0
	kindRaw      = 1
	kindSegments = 2

	methodPlain   = 0
	methodDeflate = 1

	// maxBundle bounds an inflated bundle, so that a corrupt record (it
	// could only come from someone with the key) cannot exhaust memory.
	maxBundle = 1 << 20
)

var strictB64 = base64.RawURLEncoding.Strict()

type bundleWriter struct{ buf []byte }

func newBundleWriter() *bundleWriter { return &bundleWriter{buf: make([]byte, 0, 2048)} }

func (w *bundleWriter) head(slot byte, key string, kind byte) {
	w.buf = append(w.buf, slot)
	w.buf = binary.AppendUvarint(w.buf, uint64(len(key)))
	w.buf = append(w.buf, key...)
	w.buf = append(w.buf, kind)
}

func (w *bundleWriter) derived(slot byte) { w.head(slot, "", kindDerived) }

func (w *bundleWriter) raw(slot byte, key string, v []byte) {
	w.head(slot, key, kindRaw)
	w.buf = binary.AppendUvarint(w.buf, uint64(len(v)))
	w.buf = append(w.buf, v...)
}

// token adds a token, as decoded segments when it is made of canonical
// base64url segments, else as it is. An empty token is left out.
func (w *bundleWriter) token(slot byte, key, tok string) {
	if tok == "" {
		return
	}
	segs := strings.Split(tok, ".")
	decoded := make([][]byte, len(segs))
	for i, s := range segs {
		b, err := strictB64.DecodeString(s)
		if err != nil {
			w.raw(slot, key, []byte(tok))
			return
		}
		decoded[i] = b
	}
	w.head(slot, key, kindSegments)
	w.buf = binary.AppendUvarint(w.buf, uint64(len(decoded)))
	for _, b := range decoded {
		w.buf = binary.AppendUvarint(w.buf, uint64(len(b)))
		w.buf = append(w.buf, b...)
	}
}

// finish returns the bundle, compressed when that makes it smaller.
func (w *bundleWriter) finish() []byte {
	if len(w.buf) == 0 {
		return nil
	}
	var out bytes.Buffer
	out.Grow(len(w.buf))
	out.WriteByte(methodDeflate)
	fw := deflaters.Get().(*flate.Writer)
	fw.Reset(&out)
	_, _ = fw.Write(w.buf) // a bytes.Buffer does not fail
	_ = fw.Close()
	deflaters.Put(fw)
	if out.Len() < 1+len(w.buf) {
		return out.Bytes()
	}
	return append([]byte{methodPlain}, w.buf...)
}

// A flate.Writer holds about 600 KB of state: reuse them.
var deflaters = sync.Pool{New: func() any {
	fw, err := flate.NewWriterDict(io.Discard, flate.BestCompression, bundleDict1)
	if err != nil {
		panic("session: flate: " + err.Error()) // only for a bad level
	}
	return fw
}}

var inflaters = sync.Pool{New: func() any {
	return flate.NewReaderDict(bytes.NewReader(nil), bundleDict1)
}}

// readBundle puts the bundle's secrets into rec.
func readBundle(b []byte, rec *Record) error {
	if len(b) == 0 {
		return nil
	}
	body := b[1:]
	switch b[0] {
	case methodPlain:
	case methodDeflate:
		fr := inflaters.Get().(io.ReadCloser)
		defer inflaters.Put(fr)
		if err := fr.(flate.Resetter).Reset(bytes.NewReader(body), bundleDict1); err != nil {
			return fmt.Errorf("%w: inflate: %v", errRecordFormat, err)
		}
		var err error
		if body, err = io.ReadAll(io.LimitReader(fr, maxBundle+1)); err != nil || len(body) > maxBundle {
			return fmt.Errorf("%w: inflate: %v", errRecordFormat, err)
		}
	default:
		return fmt.Errorf("%w: unknown bundle method %d", errRecordFormat, b[0])
	}
	r := bundleReader{b: body}
	for len(r.b) > 0 && r.err == nil {
		r.entry(rec)
	}
	if r.err != nil {
		return fmt.Errorf("%w: bundle: %v", errRecordFormat, r.err)
	}
	return nil
}

type bundleReader struct {
	b   []byte
	err error
}

func (r *bundleReader) fail(what string) {
	if r.err == nil {
		r.err = fmt.Errorf("truncated or malformed %s", what)
	}
	r.b = nil
}

func (r *bundleReader) uvarint(what string) int {
	n, w := binary.Uvarint(r.b)
	if w <= 0 || n > uint64(len(r.b)-w) {
		r.fail(what)
		return 0
	}
	r.b = r.b[w:]
	return int(n)
}

func (r *bundleReader) bytes(what string) []byte {
	n := r.uvarint(what)
	if r.err != nil || n > len(r.b) {
		r.fail(what)
		return nil
	}
	v := r.b[:n:n]
	r.b = r.b[n:]
	return v
}

func (r *bundleReader) byte1(what string) byte {
	if len(r.b) == 0 {
		r.fail(what)
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

// value reads an entry's value as the token string it stands for.
func (r *bundleReader) value(kind byte) (string, bool) {
	switch kind {
	case kindDerived:
		return "", true
	case kindRaw:
		return string(r.bytes("value")), r.err == nil
	case kindSegments:
		n := r.uvarint("segment count")
		var sb strings.Builder
		for i := 0; i < n && r.err == nil; i++ {
			if i > 0 {
				sb.WriteByte('.')
			}
			seg := r.bytes("segment")
			sb.Grow(base64.RawURLEncoding.EncodedLen(len(seg)))
			enc := base64.NewEncoder(base64.RawURLEncoding, &sb)
			_, _ = enc.Write(seg)
			_ = enc.Close()
		}
		return sb.String(), r.err == nil
	}
	r.fail("value kind")
	return "", false
}

func (r *bundleReader) entry(rec *Record) {
	slot := r.byte1("slot")
	key := string(r.bytes("key"))
	kind := r.byte1("kind")
	v, ok := r.value(kind)
	if !ok {
		return
	}
	switch slot {
	case slotIDToken:
		rec.IDToken = Secret(v)
	case slotAccess:
		rec.AccessToken = Secret(v)
	case slotRefresh:
		rec.RefreshToken = Secret(v)
	case slotClaims:
		if kind == kindDerived {
			rec.Claims, _ = jwtPayload(string(rec.IDToken))
		} else {
			rec.Claims = []byte(v)
		}
	case slotAPIToken:
		t := rec.Tokens[key] // the JSON part has its times
		t.AccessToken = Secret(v)
		if rec.Tokens == nil {
			rec.Tokens = make(map[string]Token)
		}
		rec.Tokens[key] = t
	}
}
