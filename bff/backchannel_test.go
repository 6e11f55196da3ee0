package bff_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bff-project/bff/bff"
	"github.com/bff-project/bff/e2e/devop"
	"github.com/bff-project/bff/e2e/harness"
	jose "github.com/go-jose/go-jose/v4"
)

// backchannelFixture is a BFF with three live sessions: two of the user
// (from two sign-ins, so two provider sids) and one of the other user.
type backchannelFixture struct {
	env              *harness.Env
	alice1, alice2   *sessionHolder
	bob              *sessionHolder
	revocationsStart int
}

func newBackchannelFixture(t testing.TB) *backchannelFixture {
	t.Helper()
	env := harness.Start(t, harness.Options{})
	f := &backchannelFixture{
		env:    env,
		alice1: holdSession(t, env, harness.UserName, harness.UserPassword, uaFirefoxLinux),
		alice2: holdSession(t, env, harness.UserName, harness.UserPassword, uaChromeWindows),
		bob:    holdSession(t, env, harness.OtherName, harness.OtherPass, uaSafariMac),
	}
	if f.alice1.sid == f.alice2.sid {
		t.Fatalf("two sign-ins share the provider sid %q, want one per sign-in", f.alice1.sid)
	}
	f.revocationsStart = env.OP.Counts().Revocation
	return f
}

func (f *backchannelFixture) holders() map[string]*sessionHolder {
	return map[string]*sessionHolder{"alice1": f.alice1, "alice2": f.alice2, "bob": f.bob}
}

// sign signs claims with the provider's key (RS256, its kid, typ
// logout+jwt).
func (f *backchannelFixture) sign(t testing.TB, claims map[string]any) string {
	t.Helper()
	tok, err := f.env.OP.SignLogoutToken(claims)
	if err != nil {
		t.Fatalf("SignLogoutToken() = %v", err)
	}
	return tok
}

// postLogoutToken POSTs a logout token to the instance at base as the
// provider does and returns the answer.
func postLogoutToken(t testing.TB, env *harness.Env, base, token string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, base+"/bff/backchannel-logout",
		strings.NewReader(url.Values{"logout_token": {token}}.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return oneShot(t, env, req)
}

// checkSessions fails unless exactly the holders named in ended have lost
// their session and their refresh token, and the provider saw one
// revocation per ended session.
func (f *backchannelFixture) checkSessions(t *testing.T, ended ...string) {
	t.Helper()
	want := map[string]bool{}
	for _, name := range ended {
		want[name] = true
	}
	for name, h := range f.holders() {
		if got := !h.signedIn(t); got != want[name] {
			t.Errorf("%s signed out = %v, want %v", name, got, want[name])
		}
		if got := !h.refreshActive(); got != want[name] {
			t.Errorf("%s refresh token dead at the provider = %v, want %v", name, got, want[name])
		}
		if want[name] {
			if got := h.replayCookie(t); got != http.StatusUnauthorized {
				t.Errorf("%s: GET /bff/user with the old cookie value = %d, want 401", name, got)
			}
		}
	}
	if got, want := f.env.OP.Counts().Revocation-f.revocationsStart, len(ended); got != want {
		t.Errorf("revocations at the provider = %d, want %d", got, want)
	}
}

func TestBackchannelLogout(t *testing.T) {
	tests := []struct {
		name string
		// send delivers the logout; it returns the BFF's status.
		send  func(t *testing.T, f *backchannelFixture) int
		ended []string
	}{
		{
			name: "sid only ends that sign-in's session",
			send: func(t *testing.T, f *backchannelFixture) int {
				return f.post(t, f.env.OP.LogoutTokenClaims(harness.ClientID, "", f.alice1.sid))
			},
			ended: []string{"alice1"},
		},
		{
			name: "sid and sub end that sign-in's session",
			send: func(t *testing.T, f *backchannelFixture) int {
				return f.post(t, f.env.OP.LogoutTokenClaims(harness.ClientID, harness.UserSubject, f.alice2.sid))
			},
			ended: []string{"alice2"},
		},
		{
			name: "sub only ends all the user's sessions",
			send: func(t *testing.T, f *backchannelFixture) int {
				return f.post(t, f.env.OP.LogoutTokenClaims(harness.ClientID, harness.UserSubject, ""))
			},
			ended: []string{"alice1", "alice2"},
		},
		{
			name: "other user's sub only ends that user's sessions",
			send: func(t *testing.T, f *backchannelFixture) int {
				return f.post(t, f.env.OP.LogoutTokenClaims(harness.ClientID, harness.OtherSubject, ""))
			},
			ended: []string{"bob"},
		},
		{
			name: "sid with another user's sub ends nothing",
			send: func(t *testing.T, f *backchannelFixture) int {
				return f.post(t, f.env.OP.LogoutTokenClaims(harness.ClientID, harness.OtherSubject, f.alice1.sid))
			},
		},
		{
			name: "unknown sid ends nothing",
			send: func(t *testing.T, f *backchannelFixture) int {
				return f.post(t, f.env.OP.LogoutTokenClaims(harness.ClientID, "", "no-such-sid"))
			},
		},
		{
			name: "unknown sub ends nothing",
			send: func(t *testing.T, f *backchannelFixture) int {
				return f.post(t, f.env.OP.LogoutTokenClaims(harness.ClientID, "user-nobody", ""))
			},
		},
		{
			name: "token without exp is accepted",
			send: func(t *testing.T, f *backchannelFixture) int {
				c := f.env.OP.LogoutTokenClaims(harness.ClientID, harness.UserSubject, f.alice1.sid)
				delete(c, "exp")
				return f.post(t, c)
			},
			ended: []string{"alice1"},
		},
		{
			name: "aud as an array with the client ID is accepted",
			send: func(t *testing.T, f *backchannelFixture) int {
				c := f.env.OP.LogoutTokenClaims(harness.ClientID, harness.UserSubject, f.alice1.sid)
				c["aud"] = []string{harness.ClientID}
				return f.post(t, c)
			},
			ended: []string{"alice1"},
		},
		{
			name: "iat 4 minutes old is accepted",
			send: func(t *testing.T, f *backchannelFixture) int {
				c := f.env.OP.LogoutTokenClaims(harness.ClientID, harness.UserSubject, f.alice1.sid)
				c["iat"] = time.Now().Add(-4 * time.Minute).Unix()
				return f.post(t, c)
			},
			ended: []string{"alice1"},
		},
		{
			name: "provider delivery with sub and sid",
			send: func(t *testing.T, f *backchannelFixture) int {
				return f.deliver(t, harness.UserSubject, f.alice2.sid)
			},
			ended: []string{"alice2"},
		},
		{
			name: "provider delivery with sub only",
			send: func(t *testing.T, f *backchannelFixture) int {
				return f.deliver(t, harness.UserSubject, "")
			},
			ended: []string{"alice1", "alice2"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newBackchannelFixture(t)
			if got := tt.send(t, f); got != http.StatusOK {
				t.Fatalf("back-channel logout = %d, want 200", got)
			}
			f.checkSessions(t, tt.ended...)
			if got := metricSample(t, f.env, `bff_backchannel_logouts_total{result="ok"}`); got != 1 {
				t.Errorf(`bff_backchannel_logouts_total{result="ok"} = %v, want 1`, got)
			}
		})
	}
}

// post signs claims with the provider's key and POSTs them.
func (f *backchannelFixture) post(t *testing.T, claims map[string]any) int {
	t.Helper()
	resp, body := postLogoutToken(t, f.env, f.env.Default.URL, f.sign(t, claims))
	if resp.StatusCode != http.StatusOK {
		t.Logf("back-channel logout answer: %s", body)
	}
	return resp.StatusCode
}

// deliver has the provider send its own logout token to the back-channel
// URI it has registered for the client.
func (f *backchannelFixture) deliver(t *testing.T, sub, sid string) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := f.env.OP.BackChannelLogout(ctx, sub, sid); err != nil {
		t.Errorf("provider BackChannelLogout() = %v", err)
		return 0
	}
	return http.StatusOK
}

// foreignKey is an RSA key the provider does not publish.
func foreignKey(t testing.TB) *rsa.PrivateKey {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// signJWS signs claims with key as a compact JWS with the given headers
// (typ is left out when empty).
func signJWS(t testing.TB, key *rsa.PrivateKey, kid, typ string, claims map[string]any) string {
	t.Helper()
	payload, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	opts := &jose.SignerOptions{}
	if kid != "" {
		opts = opts.WithHeader(jose.HeaderKey("kid"), kid)
	}
	if typ != "" {
		opts = opts.WithType(jose.ContentType(typ))
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: key}, opts)
	if err != nil {
		t.Fatal(err)
	}
	jws, err := signer.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := jws.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// jwsHeader decodes a compact JWS's protected header.
func jwsHeader(t testing.TB, tok string) map[string]any {
	t.Helper()
	h, _, _ := strings.Cut(tok, ".")
	b, err := base64.RawURLEncoding.DecodeString(h)
	if err != nil {
		t.Fatalf("JWS header: %v", err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("JWS header: %v", err)
	}
	return m
}

// providerPublicKeyDER fetches the provider's published key kid, DER
// encoded: the secret of an RS256-to-HS256 key-confusion attack.
func providerPublicKeyDER(t testing.TB, env *harness.Env, kid string) []byte {
	t.Helper()
	resp, err := http.Get(env.OPURL + "/keys")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var set jose.JSONWebKeySet
	if err := json.NewDecoder(resp.Body).Decode(&set); err != nil {
		t.Fatalf("provider JWKS: %v", err)
	}
	keys := set.Key(kid)
	if len(keys) == 0 {
		t.Fatalf("provider JWKS has no key %q", kid)
	}
	der, err := x509.MarshalPKIXPublicKey(keys[0].Key)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func b64(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

// rejectCase is one logout token (or request) the BFF must refuse without
// ending any session. Unless a case says otherwise, the token is otherwise
// valid and names the user's sub and alice1's sid, so accepting it would
// end sessions.
type rejectCase struct {
	name string
	// claims changes a valid claim set before the provider's key signs it.
	claims func(c map[string]any, f *backchannelFixture)
	// token builds the whole logout_token from a valid one signed by the
	// provider and its claims.
	token func(t *testing.T, f *backchannelFixture, valid string, claims map[string]any) string
	// request builds the whole request from a valid token.
	request    func(t *testing.T, f *backchannelFixture, valid string) *http.Request
	wantStatus int // default 400 with {"error":"invalid_request"}
}

func (rc rejectCase) run(t *testing.T, f *backchannelFixture) {
	t.Helper()
	claims := f.env.OP.LogoutTokenClaims(harness.ClientID, harness.UserSubject, f.alice1.sid)
	if rc.claims != nil {
		rc.claims(claims, f)
	}
	tok := f.sign(t, claims)
	if rc.token != nil {
		tok = rc.token(t, f, tok, claims)
	}
	var req *http.Request
	if rc.request != nil {
		req = rc.request(t, f, tok)
	} else {
		var err error
		req, err = http.NewRequest(http.MethodPost, f.env.Default.URL+"/bff/backchannel-logout",
			strings.NewReader(url.Values{"logout_token": {tok}}.Encode()))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, body := oneShot(t, f.env, req)
	want := rc.wantStatus
	if want == 0 {
		want = http.StatusBadRequest
	}
	if resp.StatusCode != want {
		t.Errorf("back-channel logout = %d %s, want %d", resp.StatusCode, body, want)
	}
	if want == http.StatusBadRequest {
		var e struct {
			Error string `json:"error"`
		}
		if err := json.Unmarshal([]byte(body), &e); err != nil || e.Error != "invalid_request" {
			t.Errorf("back-channel logout body = %q, want {\"error\":\"invalid_request\"}", body)
		}
		if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
			t.Errorf("Content-Type = %q, want application/json", ct)
		}
	}
	f.checkSessions(t)
}

// formRequest is a well-formed back-channel logout POST with body.
func formRequest(t *testing.T, f *backchannelFixture, body string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, f.env.Default.URL+"/bff/backchannel-logout", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return req
}

func TestBackchannelLogoutRejects(t *testing.T) {
	f := newBackchannelFixture(t)
	otherKey := foreignKey(t)
	tests := []rejectCase{
		{
			name: "bad signature",
			token: func(t *testing.T, _ *backchannelFixture, valid string, _ map[string]any) string {
				// Flip a character in the middle of the signature: the
				// last one may only carry padding bits.
				i := strings.LastIndex(valid, ".") + (len(valid)-strings.LastIndex(valid, "."))/2
				c := byte('A')
				if valid[i] == 'A' {
					c = 'B'
				}
				return valid[:i] + string(c) + valid[i+1:]
			},
		},
		{
			name: "payload changed after signing",
			token: func(t *testing.T, _ *backchannelFixture, valid string, claims map[string]any) string {
				parts := strings.Split(valid, ".")
				claims["sub"] = harness.OtherSubject
				delete(claims, "sid")
				p, _ := json.Marshal(claims)
				return parts[0] + "." + b64(string(p)) + "." + parts[2]
			},
		},
		{
			name: "foreign key with the provider's kid",
			token: func(t *testing.T, _ *backchannelFixture, valid string, claims map[string]any) string {
				kid, _ := jwsHeader(t, valid)["kid"].(string)
				if kid == "" {
					t.Fatal("provider token has no kid")
				}
				return signJWS(t, otherKey, kid, "logout+jwt", claims)
			},
		},
		{
			name: "foreign key with another kid",
			token: func(t *testing.T, _ *backchannelFixture, _ string, claims map[string]any) string {
				return signJWS(t, otherKey, "attacker-key", "logout+jwt", claims)
			},
		},
		{
			name: "foreign key without kid",
			token: func(t *testing.T, _ *backchannelFixture, _ string, claims map[string]any) string {
				return signJWS(t, otherKey, "", "logout+jwt", claims)
			},
		},
		{
			name:   "wrong iss",
			claims: func(c map[string]any, _ *backchannelFixture) { c["iss"] = "https://idp.attacker.example" },
		},
		{
			name:   "missing iss",
			claims: func(c map[string]any, _ *backchannelFixture) { delete(c, "iss") },
		},
		{
			name:   "wrong aud",
			claims: func(c map[string]any, _ *backchannelFixture) { c["aud"] = "another-client" },
		},
		{
			name:   "missing aud",
			claims: func(c map[string]any, _ *backchannelFixture) { delete(c, "aud") },
		},
		{
			name:   "missing events",
			claims: func(c map[string]any, _ *backchannelFixture) { delete(c, "events") },
		},
		{
			name: "wrong event URI",
			claims: func(c map[string]any, _ *backchannelFixture) {
				c["events"] = map[string]any{"http://schemas.openid.net/event/backchannel-logout/x": map[string]any{}}
			},
		},
		{
			name: "events value not an object (string)",
			claims: func(c map[string]any, _ *backchannelFixture) {
				c["events"] = map[string]any{devop.BackChannelLogoutEvent: "yes"}
			},
		},
		{
			name: "events value not an object (array)",
			claims: func(c map[string]any, _ *backchannelFixture) {
				c["events"] = map[string]any{devop.BackChannelLogoutEvent: []any{}}
			},
		},
		{
			name: "events value not an object (null)",
			claims: func(c map[string]any, _ *backchannelFixture) {
				c["events"] = map[string]any{devop.BackChannelLogoutEvent: nil}
			},
		},
		{
			name:   "events not an object",
			claims: func(c map[string]any, _ *backchannelFixture) { c["events"] = []string{devop.BackChannelLogoutEvent} },
		},
		{
			name:   "nonce present",
			claims: func(c map[string]any, _ *backchannelFixture) { c["nonce"] = "n-0S6_WzA2Mj" },
		},
		{
			name:   "nonce present but empty",
			claims: func(c map[string]any, _ *backchannelFixture) { c["nonce"] = "" },
		},
		{
			name:   "nonce present as null",
			claims: func(c map[string]any, _ *backchannelFixture) { c["nonce"] = nil },
		},
		{
			name:   "neither sid nor sub",
			claims: func(c map[string]any, _ *backchannelFixture) { delete(c, "sid"); delete(c, "sub") },
		},
		{
			name:   "empty sid and sub",
			claims: func(c map[string]any, _ *backchannelFixture) { c["sid"] = ""; c["sub"] = "" },
		},
		{
			name:   "iat 10 minutes in the past",
			claims: func(c map[string]any, _ *backchannelFixture) { c["iat"] = time.Now().Add(-10 * time.Minute).Unix() },
		},
		{
			name: "iat 10 minutes in the future",
			claims: func(c map[string]any, _ *backchannelFixture) {
				c["iat"] = time.Now().Add(10 * time.Minute).Unix()
				c["exp"] = time.Now().Add(12 * time.Minute).Unix()
			},
		},
		{
			name:   "missing iat",
			claims: func(c map[string]any, _ *backchannelFixture) { delete(c, "iat") },
		},
		{
			name:   "iat not a number",
			claims: func(c map[string]any, _ *backchannelFixture) { c["iat"] = "yesterday" },
		},
		{
			name: "expired exp",
			claims: func(c map[string]any, _ *backchannelFixture) {
				c["iat"] = time.Now().Add(-4 * time.Minute).Unix()
				c["exp"] = time.Now().Add(-2 * time.Minute).Unix()
			},
		},
		{
			name:   "missing jti",
			claims: func(c map[string]any, _ *backchannelFixture) { delete(c, "jti") },
		},
		{
			name:   "empty jti",
			claims: func(c map[string]any, _ *backchannelFixture) { c["jti"] = "" },
		},
		{
			name: "replayed jti",
			token: func(t *testing.T, f *backchannelFixture, _ string, claims map[string]any) string {
				// First use: a valid token for a sid nobody has, accepted.
				claims["sub"], claims["sid"] = "user-nobody", "sid-nobody"
				first := f.sign(t, claims)
				if resp, body := postLogoutToken(t, f.env, f.env.Default.URL, first); resp.StatusCode != http.StatusOK {
					t.Fatalf("first use of the token = %d %s, want 200", resp.StatusCode, body)
				}
				return first
			},
		},
		{
			name: "replayed jti in a new token",
			token: func(t *testing.T, f *backchannelFixture, valid string, claims map[string]any) string {
				c := f.env.OP.LogoutTokenClaims(harness.ClientID, "user-nobody", "")
				c["jti"] = claims["jti"]
				if resp, body := postLogoutToken(t, f.env, f.env.Default.URL, f.sign(t, c)); resp.StatusCode != http.StatusOK {
					t.Fatalf("first use of the jti = %d %s, want 200", resp.StatusCode, body)
				}
				return valid
			},
		},
		{
			name:  "garbage",
			token: func(*testing.T, *backchannelFixture, string, map[string]any) string { return "this is not a JWT" },
		},
		{
			name: "two segments",
			token: func(_ *testing.T, _ *backchannelFixture, valid string, _ map[string]any) string {
				return valid[:strings.LastIndex(valid, ".")]
			},
		},
		{
			name: "empty signature",
			token: func(_ *testing.T, _ *backchannelFixture, valid string, _ map[string]any) string {
				return valid[:strings.LastIndex(valid, ".")+1]
			},
		},
		{
			name: "alg none unsigned",
			token: func(_ *testing.T, _ *backchannelFixture, _ string, claims map[string]any) string {
				p, _ := json.Marshal(claims)
				return b64(`{"alg":"none","typ":"logout+jwt"}`) + "." + b64(string(p)) + "."
			},
		},
		{
			name: "alg HS256 keyed with the provider's public key",
			token: func(t *testing.T, f *backchannelFixture, valid string, claims map[string]any) string {
				kid, _ := jwsHeader(t, valid)["kid"].(string)
				secret := providerPublicKeyDER(t, f.env, kid)
				p, _ := json.Marshal(claims)
				signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.HS256, Key: secret},
					(&jose.SignerOptions{}).WithHeader(jose.HeaderKey("kid"), kid).WithType("logout+jwt"))
				if err != nil {
					t.Fatal(err)
				}
				jws, err := signer.Sign(p)
				if err != nil {
					t.Fatal(err)
				}
				s, err := jws.CompactSerialize()
				if err != nil {
					t.Fatal(err)
				}
				return s
			},
		},
		{
			name: "JWS JSON serialization",
			token: func(_ *testing.T, _ *backchannelFixture, valid string, _ map[string]any) string {
				parts := strings.Split(valid, ".")
				j, _ := json.Marshal(map[string]string{"protected": parts[0], "payload": parts[1], "signature": parts[2]})
				return string(j)
			},
		},
		{
			name: "ID token of the session",
			token: func(*testing.T, *backchannelFixture, string, map[string]any) string {
				return f.alice1.idToken
			},
		},
		{
			name: "access token of the session",
			token: func(t *testing.T, f *backchannelFixture, _ string, _ map[string]any) string {
				for _, tok := range f.env.OP.IssuedTokens() {
					if strings.Count(tok, ".") == 2 && tok != f.alice1.idToken {
						return tok
					}
				}
				t.Fatal("no access token issued")
				return ""
			},
		},
		{
			name: "oversized body",
			request: func(t *testing.T, f *backchannelFixture, valid string) *http.Request {
				body := url.Values{"logout_token": {valid}, "padding": {strings.Repeat("x", 64<<10)}}.Encode()
				return formRequest(t, f, body)
			},
		},
		{
			name: "missing logout_token field",
			request: func(t *testing.T, f *backchannelFixture, valid string) *http.Request {
				return formRequest(t, f, url.Values{"token": {valid}}.Encode())
			},
		},
		{
			name: "empty logout_token field",
			request: func(t *testing.T, f *backchannelFixture, valid string) *http.Request {
				return formRequest(t, f, "logout_token=")
			},
		},
		{
			name: "logout_token in the query string only",
			request: func(t *testing.T, f *backchannelFixture, valid string) *http.Request {
				req := formRequest(t, f, "")
				req.URL.RawQuery = url.Values{"logout_token": {valid}}.Encode()
				return req
			},
		},
		{
			name: "Content-Type application/json",
			request: func(t *testing.T, f *backchannelFixture, valid string) *http.Request {
				b, _ := json.Marshal(map[string]string{"logout_token": valid})
				req := formRequest(t, f, string(b))
				req.Header.Set("Content-Type", "application/json")
				return req
			},
		},
		{
			name: "Content-Type text/plain with a form body",
			request: func(t *testing.T, f *backchannelFixture, valid string) *http.Request {
				req := formRequest(t, f, url.Values{"logout_token": {valid}}.Encode())
				req.Header.Set("Content-Type", "text/plain")
				return req
			},
		},
		{
			name: "GET method",
			request: func(t *testing.T, f *backchannelFixture, valid string) *http.Request {
				req, err := http.NewRequest(http.MethodGet, f.env.Default.URL+"/bff/backchannel-logout?"+
					url.Values{"logout_token": {valid}}.Encode(), nil)
				if err != nil {
					t.Fatal(err)
				}
				return req
			},
			wantStatus: http.StatusMethodNotAllowed,
		},
		{
			name: "PUT method",
			request: func(t *testing.T, f *backchannelFixture, valid string) *http.Request {
				req := formRequest(t, f, url.Values{"logout_token": {valid}}.Encode())
				req.Method = http.MethodPut
				return req
			},
			wantStatus: http.StatusMethodNotAllowed,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.run(t, f) })
	}
	// The control: the same fixture accepts a valid token, so every case
	// above was refused for its flaw, not for the set-up.
	t.Run("control: valid token ends the session", func(t *testing.T) {
		resp, body := postLogoutToken(t, f.env, f.env.Default.URL,
			f.sign(t, f.env.OP.LogoutTokenClaims(harness.ClientID, harness.UserSubject, f.alice1.sid)))
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("valid logout token = %d %s, want 200", resp.StatusCode, body)
		}
		f.checkSessions(t, "alice1")
	})
}

// keyIssuer is a minimal OpenID provider that only publishes discovery and
// one RSA key, so tests can sign logout tokens with any header.
type keyIssuer struct {
	URL string
	key *rsa.PrivateKey
	kid string
}

func startKeyIssuer(t *testing.T) *keyIssuer {
	t.Helper()
	ki := &keyIssuer{key: foreignKey(t), kid: "test-key-1"}
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	ki.URL = srv.URL
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{
			"issuer":                                ki.URL,
			"authorization_endpoint":                ki.URL + "/authorize",
			"token_endpoint":                        ki.URL + "/token",
			"jwks_uri":                              ki.URL + "/keys",
			"response_types_supported":              []string{"code"},
			"subject_types_supported":               []string{"public"},
			"id_token_signing_alg_values_supported": []string{"RS256"},
		})
	})
	mux.HandleFunc("GET /keys", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{
			{Key: &ki.key.PublicKey, KeyID: ki.kid, Algorithm: string(jose.RS256), Use: "sig"},
		}})
	})
	return ki
}

func (ki *keyIssuer) claims() map[string]any {
	return map[string]any{
		"iss":    ki.URL,
		"aud":    harness.ClientID,
		"iat":    time.Now().Unix(),
		"jti":    rand.Text(),
		"sub":    "user-nobody",
		"events": map[string]any{devop.BackChannelLogoutEvent: map[string]any{}},
	}
}

// The dev provider always signs with typ logout+jwt, so the typ rules are
// checked against a BFF instance that trusts a key of the test's own.
func TestBackchannelLogoutTyp(t *testing.T) {
	env := harness.Start(t, harness.Options{})
	ki := startKeyIssuer(t)
	inst := env.StartInstance(filepath.Join(t.TempDir(), "typ.db"), func(c *bff.Config) { c.OIDC.Issuer = ki.URL })
	tests := []struct {
		typ  string
		want int
	}{
		{"logout+jwt", http.StatusOK},
		{"application/logout+jwt", http.StatusOK},
		{"Logout+JWT", http.StatusOK},
		{"JWT", http.StatusOK},
		{"", http.StatusOK},
		{"at+jwt", http.StatusBadRequest},
		{"application/at+jwt", http.StatusBadRequest},
		{"secevent+jwt", http.StatusBadRequest},
		{"JOSE", http.StatusBadRequest},
	}
	for _, tt := range tests {
		name := "typ " + tt.typ
		if tt.typ == "" {
			name = "typ absent"
		}
		t.Run(name, func(t *testing.T) {
			resp, body := postLogoutToken(t, env, inst.URL, signJWS(t, ki.key, ki.kid, tt.typ, ki.claims()))
			if resp.StatusCode != tt.want {
				t.Errorf("back-channel logout = %d %s, want %d", resp.StatusCode, body, tt.want)
			}
		})
	}
}
