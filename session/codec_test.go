package session_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/bff-project/bff/session"
)

// signedJWT returns a compact RS256 JWS of claims, as a provider issues.
func signedJWT(t testing.TB, key *rsa.PrivateKey, claims map[string]any) string {
	t.Helper()
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: key},
		(&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", "kid-3f9a0b7e2c"))
	if err != nil {
		t.Fatal(err)
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	jws, err := signer.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	s, err := jws.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// typicalRecord is a session as a sign-in and two API calls leave it: ID,
// access and refresh tokens, and two API tokens, all signed by a 2048-bit
// RSA key.
func typicalRecord(t testing.TB) *session.Record {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 12, 6, 3, 45, 12, 123456789, time.UTC)
	base := map[string]any{
		"iss": "https://idp.example.com/realms/main", "sub": "0c7d2a5e-8f3b-4a51-9e07-6b1f2d3c4e5f",
		"iat": now.Unix(), "exp": now.Add(time.Hour).Unix(), "auth_time": now.Unix(),
		"sid": "5e11a9c0-77aa-4b2c-8812-c0ffee001122", "azp": "spa-bff", "acr": "1",
	}
	with := func(extra map[string]any) map[string]any {
		m := map[string]any{}
		for k, v := range base {
			m[k] = v
		}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	idt := signedJWT(t, key, with(map[string]any{
		"aud": "spa-bff", "nonce": "n-0S6_WzA2Mj", "at_hash": "77QmUPtjPfzWtF2AnpK9RQ",
		"email": "alice@example.com", "email_verified": true, "name": "Alice Example",
		"given_name": "Alice", "family_name": "Example", "preferred_username": "alice",
	}))
	claims, _ := base64.RawURLEncoding.DecodeString(strings.Split(idt, ".")[1])
	at := func(aud, scope string) session.Secret {
		return session.Secret(signedJWT(t, key, with(map[string]any{
			"aud": aud, "scope": scope, "client_id": "spa-bff", "jti": "jti-" + aud + "-9f8e7d6c5b4a",
		})))
	}
	return &session.Record{
		ID: "Xk2p9QvT0bLr4sWz8yNc1A", Subject: "0c7d2a5e-8f3b-4a51-9e07-6b1f2d3c4e5f",
		SID: "5e11a9c0-77aa-4b2c-8812-c0ffee001122", Claims: claims,
		IDToken: session.Secret(idt), AccessToken: at("spa-bff", "openid profile email offline_access"),
		AccessExpiry: now.Add(time.Hour), AccessRefreshAt: now.Add(59 * time.Minute),
		RefreshToken: "8xLOxBtZp8vWqRzC0d9fGhJkLmNoPqRsTuVwXyZ012345678abcd",
		Tokens: map[string]session.Token{
			"aud=orders-api":  {AccessToken: at("orders-api", "orders.read"), Expiry: now.Add(time.Hour), RefreshAt: now.Add(59 * time.Minute)},
			"aud=profile-api": {AccessToken: at("profile-api", "profile.read"), Expiry: now.Add(time.Hour), RefreshAt: now.Add(59 * time.Minute)},
		},
		CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(24 * time.Hour),
		UserAgent: "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Safari/537.36",
		IP:        "203.0.113.77",
	}
}

// sameRecord compares records by their JSON form, which covers every
// field, including fields added later.
func sameRecord(t *testing.T, got, want *session.Record) {
	t.Helper()
	g, _ := json.Marshal(got)
	w, _ := json.Marshal(want)
	if !bytes.Equal(g, w) {
		t.Errorf("decoded record differs:\n got %s\nwant %s", g, w)
	}
}

func roundTrip(t *testing.T, rec *session.Record) *session.Record {
	t.Helper()
	b, err := session.MarshalRecord(rec)
	if err != nil {
		t.Fatalf("MarshalRecord() = %v", err)
	}
	got, err := session.UnmarshalRecord(b)
	if err != nil {
		t.Fatalf("UnmarshalRecord(MarshalRecord()) = %v", err)
	}
	return got
}

func TestRecordRoundTrip(t *testing.T) {
	typical := typicalRecord(t)
	refreshed := typical.Clone()
	refreshed.IDToken = typical.Tokens["aud=orders-api"].AccessToken // a new ID token; claims stay the sign-in's
	tests := []struct {
		name string
		rec  *session.Record
	}{
		{"empty", &session.Record{}},
		{"typical", typical},
		{"claims differ from the ID token's (after a refresh)", refreshed},
		{"claims without ID token", &session.Record{Claims: json.RawMessage(`{"sub":"a"}`)}},
		{"opaque tokens with non-base64url bytes", &session.Record{
			AccessToken: "at/with+std=base64==", RefreshToken: "rt with spaces\x00and\xffbytes",
			IDToken: "a.b.c.d!", Tokens: map[string]session.Token{"": {AccessToken: "x"}, "k": {}},
		}},
		{"base64url that is not canonical", &session.Record{AccessToken: "QR", RefreshToken: "QQ.QR.x"}},
		{"JWE with an empty segment", &session.Record{AccessToken: "eyJhbGciOiJkaXIifQ..aXY.Y2lwaGVy.dGFn"}},
		{"dots only", &session.Record{AccessToken: "..", RefreshToken: "."}},
		{"single base64url segment", &session.Record{RefreshToken: "8xLOxBtZp8vWqRzC0d9fGhJkLmNo"}},
		{"API token map with times only", &session.Record{Tokens: map[string]session.Token{
			"a": {Expiry: time.Unix(1, 2).UTC()}, "b": {AccessToken: "t", RefreshAt: time.Unix(3, 4).UTC()},
		}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sameRecord(t, roundTrip(t, tc.rec), tc.rec)
		})
	}
}

// TestRecordEveryField: every field of Record and Token, including those
// added after this test, survives the encoding. It fills each with a
// non-zero value by reflection.
func TestRecordEveryField(t *testing.T) {
	rec := new(session.Record)
	fill(t, reflect.ValueOf(rec).Elem(), "Record")
	sameRecord(t, roundTrip(t, rec), rec)
}

// fill sets every exported field of v to a non-zero value.
func fill(t *testing.T, v reflect.Value, path string) {
	switch v.Kind() {
	case reflect.Struct:
		if v.Type() == reflect.TypeFor[time.Time]() {
			v.Set(reflect.ValueOf(time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)))
			return
		}
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				fill(t, v.Field(i), path+"."+v.Type().Field(i).Name)
			}
		}
	case reflect.String:
		v.SetString("v-" + path)
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v.SetInt(7)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		v.SetUint(7)
	case reflect.Float32, reflect.Float64:
		v.SetFloat(1.5)
	case reflect.Slice:
		if v.Type() == reflect.TypeFor[json.RawMessage]() {
			v.SetBytes([]byte(`{"f":"` + path + `"}`))
			return
		}
		s := reflect.MakeSlice(v.Type(), 1, 1)
		fill(t, s.Index(0), path+"[0]")
		v.Set(s)
	case reflect.Map:
		m := reflect.MakeMap(v.Type())
		k, e := reflect.New(v.Type().Key()).Elem(), reflect.New(v.Type().Elem()).Elem()
		fill(t, k, path+".key")
		fill(t, e, path+"[k]")
		m.SetMapIndex(k, e)
		v.Set(m)
	case reflect.Pointer:
		p := reflect.New(v.Type().Elem())
		fill(t, p.Elem(), path)
		v.Set(p)
	default:
		t.Fatalf("%s: cannot fill a %s; teach fill this kind", path, v.Kind())
	}
}

// TestRecordFormat1 opens a record as the first release stored it (JSON).
func TestRecordFormat1(t *testing.T) {
	old := `{"id":"pub","sub":"alice","sid":"s1","claims":{"sub":"alice"},"idt":"i.d.t","at":"AT","ate":"2026-01-02T03:04:05Z",` +
		`"atr":"2026-01-02T03:03:05Z","rt":"RT","tok":{"aud=x":{"at":"XT","exp":"2026-01-02T03:04:05Z","ra":"2026-01-02T03:03:05Z"}},` +
		`"cat":"2026-01-01T00:00:00Z","lsa":"2026-01-02T00:00:00Z","exp":"2026-01-03T00:00:00Z","ua":"UA","ip":"192.0.2.1"}`
	rec, err := session.UnmarshalRecord([]byte(old))
	if err != nil {
		t.Fatalf("UnmarshalRecord(format 1) = %v", err)
	}
	if rec.Subject != "alice" || rec.IDToken != "i.d.t" || rec.RefreshToken != "RT" || rec.Tokens["aud=x"].AccessToken != "XT" ||
		string(rec.Claims) != `{"sub":"alice"}` || rec.UserAgent != "UA" || !rec.ExpiresAt.Equal(time.Date(2026, 1, 3, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("UnmarshalRecord(format 1) = %+v, want the stored fields", rec)
	}
	sameRecord(t, roundTrip(t, rec), rec)
}

func TestRecordBadInput(t *testing.T) {
	good, err := session.MarshalRecord(typicalRecord(t))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		in   []byte
	}{
		{"empty", nil},
		{"unknown format", []byte{0x07, 0}},
		{"bundle length past the end", []byte{0x02, 0x7f, 1}},
		{"bad varint", []byte{0x02, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}},
		{"unknown bundle method", []byte{0x02, 1, 9, '{', '}'}},
		{"truncated entry", []byte{0x02, 3, 0, 1, 5, '{', '}'}},
		{"bad deflate", []byte{0x02, 3, 1, 0xff, 0xff, '{', '}'}},
		{"JSON part not JSON", append(bytes.Clone(good[:len(good)-1]), 'x')},
		{"JSON format not JSON", []byte(`{"sub":`)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if rec, err := session.UnmarshalRecord(tc.in); err == nil {
				t.Errorf("UnmarshalRecord() = %+v, nil; want an error", rec)
			}
		})
	}
}

// TestRecordSize: a session with two API tokens fits the 4 KiB in
// Redis with room for Redis's own overhead (about 100 bytes beside the
// value, in a 4 KiB allocation class).
func TestRecordSize(t *testing.T) {
	rec := typicalRecord(t)
	old, _ := json.Marshal(rec)
	b, err := session.MarshalRecord(rec)
	if err != nil {
		t.Fatal(err)
	}
	sealed := mustCipher(t, testKey(1)).Seal(b, []byte("store-key"))
	t.Logf("typical record: format 1 (JSON) %d B, format 2 %d B, sealed %d B", len(old), len(b), len(sealed))
	if len(sealed) > 3584 {
		t.Errorf("sealed typical record = %d B, want at most 3584", len(sealed))
	}
	if len(b) >= len(old)*2/3 {
		t.Errorf("format 2 = %d B, want under two thirds of the JSON's %d B", len(b), len(old))
	}
}

// TestManagerOpensFormat1AndRotates: a record stored as JSON under the old
// key (before this release) opens with [new, old], and its next write is
// format 2 under the new key.
func TestManagerOpensFormat1AndRotates(t *testing.T) {
	ctx := context.Background()
	store := session.ContextStore(newMemstore())
	oldC, newC := mustCipher(t, testKey(1)), mustCipher(t, testKey(2))
	tok := "cookie-value-of-an-old-session"
	key := session.StoreKey(tok)
	now := time.Now()
	old, _ := json.Marshal(&session.Record{ID: "pub", Subject: "alice", RefreshToken: "RT", CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(time.Hour)})
	if err := store.CommitCtx(ctx, key, oldC.Seal(old, []byte(key)), now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	m, err := session.NewManager(session.Config{Store: store, Cipher: mustCipher(t, testKey(2), testKey(1))})
	if err != nil {
		t.Fatal(err)
	}
	_, rec, err := m.Load(ctx, tok)
	if err != nil || rec == nil || rec.RefreshToken != "RT" {
		t.Fatalf("Load(format 1 under the old key) = %+v, %v; want the session", rec, err)
	}
	if _, err := m.Update(ctx, key, func(r *session.Record) (bool, error) { r.AccessToken = "AT"; return true, nil }); err != nil {
		t.Fatal(err)
	}
	b, _, _ := store.FindCtx(ctx, key)
	plain, err := newC.Open(b, []byte(key))
	if err != nil {
		t.Fatalf("after a write, the new key alone cannot open the record: %v", err)
	}
	if plain[0] != 0x02 {
		t.Errorf("format after a write = %#x, want 0x02", plain[0])
	}
}

// FuzzUnmarshalRecord: no input panics, and whatever decodes encodes and
// decodes again to the same record.
func FuzzUnmarshalRecord(f *testing.F) {
	good, _ := session.MarshalRecord(typicalRecord(f))
	f.Add(good)
	f.Add([]byte(`{"sub":"a","tok":{"x":{"at":"b"}}}`))
	f.Add([]byte{0x02, 3, 0, 1, 0, 0, '{', '}'})
	f.Add([]byte{0x02, 0, '{', '}'})
	f.Fuzz(func(t *testing.T, in []byte) {
		rec, err := session.UnmarshalRecord(in)
		if err != nil {
			return
		}
		again := roundTrip(t, rec)
		sameRecord(t, again, rec)
	})
}
