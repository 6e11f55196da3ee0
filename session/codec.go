package session

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// Record encoding (the plaintext inside the envelope, see cipher.go).
//
// Format 1 (the first release) is the record as JSON; it starts with '{'
// and still opens. Format 2, written since, starts with the byte 0x02:
//
//	0x02 | uvarint(len(bundle)) | bundle | JSON of the record without its secrets
//
// The JSON part is the record as before, minus the token values, so a
// field added to [Record] (or [Token]) with a json tag is stored with no
// change to this file or the format. The bundle carries the bulky
// secrets: the ID, access and refresh tokens, each API token (by its map
// key) and the claims; see bundle.go for its layout. Claims equal to the
// ID token's payload, which is what a sign-in stores, are not stored at
// all but re-derived from the ID token.
//
// Attacker-influenced fields (user agent, IP) stay in the JSON part and
// are never compressed together with the tokens, so the stored size says
// nothing about token bytes (CRIME-style length oracles).
const (
	formatJSON   = '{'
	formatBundle = 0x02
)

// errRecordFormat wraps every decoding failure of a record.
var errRecordFormat = errors.New("session: record format")

// MarshalRecord encodes rec in the current format (2). It is what a
// [Manager] seals; tools use it to measure a record's size.
func MarshalRecord(rec *Record) ([]byte, error) {
	rest := *rec
	b := newBundleWriter()
	b.token(slotIDToken, "", string(rec.IDToken))
	b.token(slotAccess, "", string(rec.AccessToken))
	b.token(slotRefresh, "", string(rec.RefreshToken))
	rest.IDToken, rest.AccessToken, rest.RefreshToken = "", "", ""
	if len(rec.Claims) > 0 {
		if payload, ok := jwtPayload(string(rec.IDToken)); ok && bytes.Equal(payload, rec.Claims) {
			b.derived(slotClaims)
		} else {
			b.raw(slotClaims, "", rec.Claims)
		}
		rest.Claims = nil
	}
	if len(rec.Tokens) > 0 {
		rest.Tokens = make(map[string]Token, len(rec.Tokens))
		for k, t := range rec.Tokens {
			b.token(slotAPIToken, k, string(t.AccessToken))
			t.AccessToken = ""
			rest.Tokens[k] = t
		}
	}
	js, err := json.Marshal(&rest)
	if err != nil {
		return nil, fmt.Errorf("session: encode: %w", err)
	}
	bundle := b.finish()
	out := make([]byte, 0, 1+binary.MaxVarintLen32+len(bundle)+len(js))
	out = append(out, formatBundle)
	out = binary.AppendUvarint(out, uint64(len(bundle)))
	out = append(out, bundle...)
	return append(out, js...), nil
}

// UnmarshalRecord decodes a record of any format MarshalRecord ever
// wrote. Errors wrap a format error; they never quote the input.
func UnmarshalRecord(plain []byte) (*Record, error) {
	rec := new(Record)
	if len(plain) == 0 {
		return nil, fmt.Errorf("%w: empty", errRecordFormat)
	}
	switch plain[0] {
	case formatJSON:
		if err := json.Unmarshal(plain, rec); err != nil {
			return nil, fmt.Errorf("%w: json: %v", errRecordFormat, jsonErr(err))
		}
		return rec, nil
	case formatBundle:
	default:
		return nil, fmt.Errorf("%w: unknown format %#x", errRecordFormat, plain[0])
	}
	n, w := binary.Uvarint(plain[1:])
	if w <= 0 || n > uint64(len(plain)-1-w) {
		return nil, fmt.Errorf("%w: bad bundle length", errRecordFormat)
	}
	bundle, js := plain[1+w:1+w+int(n)], plain[1+w+int(n):]
	if err := json.Unmarshal(js, rec); err != nil {
		return nil, fmt.Errorf("%w: json: %v", errRecordFormat, jsonErr(err))
	}
	if err := readBundle(bundle, rec); err != nil {
		return nil, err
	}
	return rec, nil
}

// jsonErr keeps a JSON error's kind but not its quote of the input, which
// could hold a token.
func jsonErr(err error) error {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Errorf("syntax error at offset %d", se.Offset)
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return fmt.Errorf("wrong type for field %q", te.Field)
	}
	return errors.New("invalid")
}

// jwtPayload returns the decoded payload (second segment) of a compact
// JWS, or false when s is not one.
func jwtPayload(s string) ([]byte, bool) {
	_, rest, ok := strings.Cut(s, ".")
	if !ok {
		return nil, false
	}
	payload, _, ok := strings.Cut(rest, ".")
	if !ok {
		return nil, false
	}
	b, err := base64.RawURLEncoding.Strict().DecodeString(payload)
	return b, err == nil
}
