package bff_test

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/bff-project/bff/e2e/devop"
	"github.com/bff-project/bff/e2e/harness"
)

// checkFuzzAnswer fails on a 5xx or on anything but 200 and 400.
func checkFuzzAnswer(t *testing.T, resp *http.Response, body string) {
	t.Helper()
	if resp.StatusCode >= 500 {
		t.Fatalf("back-channel logout = %d %s, want never 5xx", resp.StatusCode, body)
	}
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusBadRequest {
		t.Errorf("back-channel logout = %d %s, want 200 or 400", resp.StatusCode, body)
	}
}

// sameJWS reports whether two compact JWS decode to the same header,
// payload and signature. base64url decoding ignores unused trailing bits,
// so one token has several spellings; all of them are that token.
func sameJWS(a, b string) bool {
	pa, pb := strings.Split(a, "."), strings.Split(b, ".")
	if len(pa) != 3 || len(pb) != 3 {
		return a == b
	}
	for i := range pa {
		da, errA := base64.RawURLEncoding.DecodeString(pa[i])
		db, errB := base64.RawURLEncoding.DecodeString(pb[i])
		if errA != nil || errB != nil || !bytes.Equal(da, db) {
			return false
		}
	}
	return true
}

// FuzzBackchannelLogoutToken posts arbitrary logout_token values to a real
// BFF with three live sessions. Properties: never a 5xx; only the one valid
// token the test signed is accepted, and only once; a session ends only
// when that token is accepted, and then only the session it names.
func FuzzBackchannelLogoutToken(f *testing.F) {
	fx := newBackchannelFixture(f)
	target := fx.alice1 // named by valid's sid
	valid := fx.sign(f, fx.env.OP.LogoutTokenClaims(harness.ClientID, harness.UserSubject, target.sid))
	signedAt := time.Now()
	parts := strings.Split(valid, ".")
	payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
	otherKey := foreignKey(f)
	var claims map[string]any
	_ = json.Unmarshal(payload, &claims)

	// valid is added last so the mutations run while it is still unused.
	for _, s := range []string{
		"", ".", "..", "a.b.c", "not a jwt", "\x00", strings.Repeat("A", 70<<10),
		parts[0], parts[0] + "." + parts[1], parts[0] + "." + parts[1] + ".",
		valid + ".", valid + "=", " " + valid, valid + "\n", strings.ToUpper(valid),
		parts[0] + "." + parts[1] + "." + parts[2][:len(parts[2])/2] + "A" + parts[2][len(parts[2])/2+1:],
		b64(`{"alg":"none","typ":"logout+jwt"}`) + "." + parts[1] + ".",
		b64(`{"alg":"HS256","typ":"logout+jwt"}`) + "." + parts[1] + "." + parts[2],
		b64(`{"alg":"RS256","typ":"at+jwt"}`) + "." + parts[1] + "." + parts[2],
		parts[0] + "." + b64(`{"sub":"user-bob"}`) + "." + parts[2],
		signJWS(f, otherKey, jwsHeaderKid(f, valid), "logout+jwt", claims),
		`{"protected":"` + parts[0] + `","payload":"` + parts[1] + `","signature":"` + parts[2] + `"}`,
		valid,
	} {
		f.Add(s)
	}

	used := false
	f.Fuzz(func(t *testing.T, token string) {
		resp, body := postLogoutToken(t, fx.env, fx.env.Default.URL, token)
		checkFuzzAnswer(t, resp, body)
		fresh := !used && sameJWS(token, valid)
		accepted := resp.StatusCode == http.StatusOK
		switch {
		case accepted && !fresh:
			t.Errorf("accepted %.80q: not the valid token, or already used", token)
		case !accepted && fresh && time.Since(signedAt) < 4*time.Minute:
			t.Errorf("refused the valid, unused token: %d %s", resp.StatusCode, body)
		}
		if !fx.alice2.signedIn(t) || !fx.bob.signedIn(t) {
			t.Fatalf("a session the token does not name ended (input %.80q)", token)
		}
		targetAlive := target.signedIn(t)
		if !targetAlive && !(fresh && accepted) {
			t.Fatalf("session ended without the valid token (input %.80q)", token)
		}
		if fresh && accepted {
			used = true
			if targetAlive {
				t.Errorf("valid token accepted, but the session it names still works")
			}
			target = holdSession(t, fx.env, harness.UserName, harness.UserPassword, "")
		}
	})
}

func jwsHeaderKid(t testing.TB, tok string) string {
	kid, _ := jwsHeader(t, tok)["kid"].(string)
	return kid
}

// FuzzBackchannelLogoutClaims fuzzes the claims of logout tokens that the
// provider's key signs, so the checks behind the signature are reached.
// String values "$iss", "$aud", "$now", "$old", "$future", "$jti", "$sid1",
// "$sid2", "$sub1" and "$sub2" (top level, or inside aud or events arrays)
// become the live values, which keeps the seeds valid over time and
// across fuzz workers. An oracle written from Back-Channel Logout 1.0
// section 2.6 judges each claim set; the BFF must agree wherever the
// oracle is sure, never answer 5xx, and end exactly the sessions an
// accepted token names.
func FuzzBackchannelLogoutClaims(f *testing.F) {
	fx := newBackchannelFixture(f)
	const ev = `{"` + devop.BackChannelLogoutEvent + `":{}}`
	for _, s := range []string{
		`{"iss":"$iss","aud":"$aud","iat":"$now","jti":"$jti","events":` + ev + `,"sub":"$sub1","sid":"$sid1"}`,
		`{"iss":"$iss","aud":["$aud"],"iat":"$now","jti":"$jti","events":` + ev + `,"sid":"$sid2"}`,
		`{"iss":"$iss","aud":"$aud","iat":"$now","exp":"$old","jti":"$jti","events":` + ev + `,"sub":"$sub2"}`,
		`{"iss":"$iss","aud":"$aud","iat":"$old","jti":"$jti","events":` + ev + `,"sub":"$sub1"}`,
		`{"iss":"$iss","aud":"$aud","iat":"$future","jti":"$jti","events":` + ev + `,"sub":"$sub1"}`,
		`{"iss":"$iss","aud":"$aud","iat":"$now","jti":"$jti","events":` + ev + `,"sub":"$sub1","nonce":"n"}`,
		`{"iss":"$iss","aud":"$aud","iat":"$now","jti":"$jti","events":` + ev + `,"sub":"$sub1","nonce":null}`,
		`{"iss":"$iss","aud":"$aud","iat":"$now","jti":"fixed","events":` + ev + `,"sid":"$sid1"}`,
		`{"iss":"$iss","aud":"$aud","iat":"$now","jti":"$jti","events":{"` + devop.BackChannelLogoutEvent + `":[]},"sid":"$sid1"}`,
		`{"iss":"$iss","aud":"$aud","iat":1,"jti":"$jti","events":` + ev + `}`,
		`{}`, `[]`, `null`,
	} {
		f.Add(s)
	}
	oracle := &logoutOracle{issuer: fx.env.OP.Issuer(), used: map[string]bool{}}
	f.Fuzz(func(t *testing.T, raw string) {
		var claims map[string]any
		d := json.NewDecoder(strings.NewReader(raw))
		d.UseNumber()
		if d.Decode(&claims) != nil || claims == nil {
			return // SignLogoutToken takes an object
		}
		now := time.Now()
		live := map[string]any{
			"$iss": fx.env.OP.Issuer(), "$aud": harness.ClientID, "$jti": rand.Text(),
			"$now": now.Unix(), "$old": now.Add(-10 * time.Minute).Unix(), "$future": now.Add(10 * time.Minute).Unix(),
			"$sid1": fx.alice1.sid, "$sid2": fx.bob.sid, "$sub1": harness.UserSubject, "$sub2": harness.OtherSubject,
		}
		fillPlaceholders(claims, live)
		tok, err := fx.env.OP.SignLogoutToken(claims)
		if err != nil {
			return // not representable as JSON after all
		}
		verdict := oracle.judge(claims, now)
		resp, body := postLogoutToken(t, fx.env, fx.env.Default.URL, tok)
		checkFuzzAnswer(t, resp, body)
		accepted := resp.StatusCode == http.StatusOK
		if verdict != oracleEither && accepted != (verdict == oracleAccept) {
			t.Errorf("claims %s: BFF accepted = %v, oracle says %s (%s)", mustJSON(claims), accepted, verdict, oracle.reason)
		}
		if accepted {
			if jti, ok := claims["jti"].(string); ok {
				oracle.used[jti] = true
			}
		}
		fx.checkNamedSessionsEnded(t, claims, accepted)
	})
}

// checkNamedSessionsEnded fails unless exactly the sessions an accepted
// token names have ended, and signs them in again for the next input.
func (f *backchannelFixture) checkNamedSessionsEnded(t *testing.T, claims map[string]any, accepted bool) {
	t.Helper()
	sid, _ := claims["sid"].(string)
	sub, _ := claims["sub"].(string)
	for _, s := range []struct {
		h         **sessionHolder
		sub, name string
		pass      string
	}{
		{&f.alice1, harness.UserSubject, harness.UserName, harness.UserPassword},
		{&f.bob, harness.OtherSubject, harness.OtherName, harness.OtherPass},
	} {
		h := *s.h
		named := (sid != "" && sid == h.sid && (sub == "" || sub == s.sub)) || (sid == "" && sub != "" && sub == s.sub)
		want := accepted && named
		if got := !h.signedIn(t); got != want {
			t.Fatalf("claims %s (accepted %v): %s's session ended = %v, want %v", mustJSON(claims), accepted, s.name, got, want)
		}
		if want {
			*s.h = holdSession(t, f.env, s.name, s.pass, "")
		}
	}
	if sub == harness.UserSubject && sid == "" && accepted {
		f.alice2 = holdSession(t, f.env, harness.UserName, harness.UserPassword, "")
	} else if !f.alice2.signedIn(t) {
		t.Fatalf("claims %s: the user's second session ended, want it signed in", mustJSON(claims))
	}
}

func fillPlaceholders(claims map[string]any, live map[string]any) {
	sub := func(v any) any {
		if s, ok := v.(string); ok {
			if r, ok := live[s]; ok {
				return r
			}
		}
		return v
	}
	for k, v := range claims {
		if arr, ok := v.([]any); ok {
			for i := range arr {
				arr[i] = sub(arr[i])
			}
			continue
		}
		claims[k] = sub(v)
	}
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

type oracleVerdict int

const (
	oracleAccept oracleVerdict = iota
	oracleReject
	oracleEither // the specification or the BFF's documented leniency allows both
)

func (v oracleVerdict) String() string {
	return [...]string{"accept", "reject", "either"}[v]
}

// logoutOracle judges logout-token claims by Back-Channel Logout 1.0
// section 2.6 plus the BFF's stated policy: iat within 5 minutes in the
// past and 1 minute in the future, exp optional with 1 minute of skew. Near
// those bounds (3 s) and for odd encodings that JSON decoders treat
// differently (numbers in strings, null) it answers oracleEither.
type logoutOracle struct {
	issuer string
	used   map[string]bool
	reason string
}

func (o *logoutOracle) judge(c map[string]any, now time.Time) oracleVerdict {
	v, reason := o.check(c, now)
	o.reason = reason
	return v
}

func (o *logoutOracle) check(c map[string]any, now time.Time) (oracleVerdict, string) {
	verdict := oracleAccept
	either := func(why string) { verdict = oracleEither; _ = why }
	if iss, ok := c["iss"].(string); !ok || iss != o.issuer {
		return oracleReject, "iss"
	}
	switch aud := c["aud"].(type) {
	case string:
		if aud != harness.ClientID {
			return oracleReject, "aud"
		}
	case []any:
		found := false
		for _, a := range aud {
			s, ok := a.(string)
			if !ok {
				return oracleReject, "aud element not a string"
			}
			found = found || s == harness.ClientID
		}
		if !found {
			return oracleReject, "aud lacks the client"
		}
	default:
		return oracleReject, "aud missing or not a string"
	}
	for _, k := range []string{"nbf", "at_hash", "_claim_names", "_claim_sources", "azp"} {
		if _, ok := c[k]; ok {
			either(k + " present: go-oidc parses it")
		}
	}
	// iat: required, a NumericDate inside the window.
	switch r := o.timeClaim(c, "iat", now, -5*time.Minute, time.Minute); r {
	case oracleReject:
		return oracleReject, "iat"
	case oracleEither:
		either("iat")
	}
	if _, ok := c["exp"]; ok {
		switch r := o.timeClaim(c, "exp", now, -time.Minute, 1e6*time.Hour); r {
		case oracleReject:
			return oracleReject, "exp"
		case oracleEither:
			either("exp")
		}
	}
	switch jti := c["jti"].(type) {
	case string:
		if jti == "" || o.used[jti] {
			return oracleReject, "jti empty or used"
		}
	case nil:
		return oracleReject, "jti missing or null"
	default:
		return oracleReject, "jti not a string"
	}
	events, ok := c["events"].(map[string]any)
	if !ok {
		return oracleReject, "events not an object"
	}
	if e, ok := events[devop.BackChannelLogoutEvent].(map[string]any); !ok || e == nil {
		return oracleReject, "no back-channel event object"
	}
	if _, ok := c["nonce"]; ok {
		return oracleReject, "nonce present" // even as null
	}
	sid, sidOK := stringClaim(c, "sid")
	sub, subOK := stringClaim(c, "sub")
	if !sidOK || !subOK {
		return oracleReject, "sid or sub not a string"
	}
	if sid == "" && sub == "" {
		if c["sid"] == nil && c["sub"] == nil {
			return oracleReject, "neither sid nor sub"
		}
		return oracleReject, "sid and sub empty"
	}
	return verdict, ""
}

// stringClaim returns a string claim; ok is false when it is present with
// another type than string or null.
func stringClaim(c map[string]any, k string) (string, bool) {
	switch v := c[k].(type) {
	case nil:
		return "", true
	case string:
		return v, true
	}
	return "", false
}

// timeClaim judges a NumericDate claim that must lie in [now+lo, now+hi].
func (o *logoutOracle) timeClaim(c map[string]any, k string, now time.Time, lo, hi time.Duration) oracleVerdict {
	const margin = 3 * time.Second
	var at time.Time
	switch v := c[k].(type) {
	case int64: // a placeholder
		at = time.Unix(v, 0)
	case json.Number:
		fv, err := v.Float64()
		if err != nil || fv > 1e15 || fv < -1e15 {
			return oracleEither
		}
		at = time.Unix(int64(fv), 0)
	case nil:
		if k == "iat" {
			return oracleReject // missing or null: the BFF requires it
		}
		return oracleEither
	case string:
		return oracleEither // a quoted number: decoders differ
	default:
		return oracleReject
	}
	switch {
	case at.Before(now.Add(lo-margin)) || at.After(now.Add(hi+margin)):
		return oracleReject
	case at.After(now.Add(lo+margin)) && at.Before(now.Add(hi-margin)):
		return oracleAccept
	}
	return oracleEither
}
