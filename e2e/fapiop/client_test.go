package fapiop_test

// A small OAuth client written for these tests on x/oauth2 and go-jose:
// client assertions (RFC 7523), DPoP proofs (RFC 9449), form posts and
// JWT checks against the provider's keys. It is the independent side of
// every test: nothing here comes from the provider.

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"golang.org/x/oauth2"

	"github.com/bff-project/bff/e2e/fapiop"
)

const (
	redirectURI = "https://bff.test/bff/callback"
	userName    = "alice"
	userPass    = "alice-password-1"
	userSub     = "user-alice"
	ordersAPI   = "https://orders.example.test/"
	profileAPI  = "https://profile.example.test/"
	assertType  = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
)

func alice() fapiop.User {
	return fapiop.User{Subject: userSub, Username: userName, Password: userPass, ACR: "urn:pwd", AMR: []string{"pwd"},
		Claims: map[string]any{"email": "alice@example.test", "groups": []string{"admins"}}}
}

func resources() []fapiop.Resource {
	return []fapiop.Resource{
		{Indicator: ordersAPI, Scopes: []string{"orders.read", "orders.write"}},
		{Indicator: profileAPI, Scopes: []string{"profile.read"}},
	}
}

// signingKey is a client's private key and its public JWK.
type signingKey struct {
	priv   *ecdsa.PrivateKey
	public jose.JSONWebKey
}

func newKey(t *testing.T, kid string) signingKey {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return signingKey{priv: priv, public: jose.JSONWebKey{Key: &priv.PublicKey, KeyID: kid, Algorithm: "ES256", Use: "sig"}}
}

// assertion is a private_key_jwt client assertion for aud, with a new jti.
func (k signingKey) assertion(t *testing.T, clientID, aud string) string {
	t.Helper()
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: k.priv},
		(&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", k.public.KeyID))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	s, err := jwt.Signed(signer).Claims(jwt.Claims{
		Issuer: clientID, Subject: clientID, Audience: jwt.Audience{aud}, ID: rand.Text(),
		IssuedAt: jwt.NewNumericDate(now), Expiry: jwt.NewNumericDate(now.Add(time.Minute)),
	}).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// authParams are a client assertion as token request parameters.
func (k signingKey) authParams(t *testing.T, clientID, aud string) url.Values {
	return url.Values{"client_id": {clientID}, "client_assertion_type": {assertType},
		"client_assertion": {k.assertion(t, clientID, aud)}}
}

// thumbprint is the RFC 7638 thumbprint of the public key, base64url.
func (k signingKey) thumbprint(t *testing.T) string {
	t.Helper()
	b, err := k.public.Thumbprint(crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// dpopProof is a DPoP proof (RFC 9449, section 4.2) by k for method and
// target, with nonce and the access token's hash when not empty.
func (k signingKey) dpopProof(t *testing.T, method, target, nonce, accessToken string) string {
	t.Helper()
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: k.priv},
		(&jose.SignerOptions{EmbedJWK: true}).WithType("dpop+jwt"))
	if err != nil {
		t.Fatal(err)
	}
	claims := map[string]any{"jti": rand.Text(), "htm": method, "htu": target, "iat": time.Now().Unix()}
	if nonce != "" {
		claims["nonce"] = nonce
	}
	if accessToken != "" {
		sum := sha256.Sum256([]byte(accessToken))
		claims["ath"] = base64.RawURLEncoding.EncodeToString(sum[:])
	}
	s, err := jwt.Signed(signer).Claims(claims).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// dpopTransport adds a DPoP proof to every POST and answers one
// use_dpop_nonce challenge per request by retrying with the nonce, as
// RFC 9449 section 8 describes; Nonces counts the challenges.
type dpopTransport struct {
	t      *testing.T
	key    signingKey
	nonce  string
	Nonces int
}

func (d *dpopTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	body, err := io.ReadAll(req.Body)
	if err != nil {
		return nil, err
	}
	for try := 0; ; try++ {
		r := req.Clone(req.Context())
		r.Body = io.NopCloser(strings.NewReader(string(body)))
		r.Header.Set("DPoP", d.key.dpopProof(d.t, r.Method, r.URL.String(), d.nonce, ""))
		resp, err := http.DefaultTransport.RoundTrip(r)
		if err != nil {
			return nil, err
		}
		if n := resp.Header.Get("DPoP-Nonce"); n != "" {
			d.nonce = n
		}
		if try > 0 || resp.StatusCode != http.StatusBadRequest || oauthError(resp) != "use_dpop_nonce" {
			return resp, nil
		}
		d.Nonces++
	}
}

// oauthError peeks at an error response's code, leaving the body readable.
func oauthError(resp *http.Response) string {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	resp.Body.Close()
	resp.Body = io.NopCloser(strings.NewReader(string(b)))
	var e struct{ Error string }
	_ = json.Unmarshal(b, &e)
	return e.Error
}

// post sends form to endpoint and decodes the JSON answer.
func post(t *testing.T, c *http.Client, endpoint string, form url.Values, header http.Header) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for k, v := range header {
		req.Header[k] = v
	}
	if c == nil {
		c = http.DefaultClient
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	if b, _ := io.ReadAll(resp.Body); len(b) > 0 {
		if err := json.Unmarshal(b, &out); err != nil {
			t.Fatalf("POST %s: %s: not JSON: %q", endpoint, resp.Status, b)
		}
	}
	return resp.StatusCode, out
}

// wantError checks an OAuth error answer.
func wantError(t *testing.T, what string, status int, body map[string]any, wantStatus int, wantCode string) {
	t.Helper()
	if status != wantStatus || body["error"] != wantCode {
		t.Errorf("%s = %d %v, want %d error %q", what, status, body, wantStatus, wantCode)
	}
}

// verifyJWT checks token's signature with the provider's JWKS and its
// issuer and expiry, and returns its claims.
func verifyJWT(t *testing.T, p *fapiop.Provider, token string) map[string]any {
	t.Helper()
	parsed, err := jwt.ParseSigned(token, []jose.SignatureAlgorithm{jose.RS256})
	if err != nil {
		t.Fatalf("parse JWT: %v", err)
	}
	var keys jose.JSONWebKeySet
	resp, err := p.HTTPClient().Get(p.Metadata().JWKSURI)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(&keys); err != nil {
		t.Fatal(err)
	}
	var std jwt.Claims
	var all map[string]any
	if len(parsed.Headers) != 1 || len(keys.Key(parsed.Headers[0].KeyID)) != 1 {
		t.Fatalf("JWT kid %v not in the provider's JWKS", parsed.Headers)
	}
	if err := parsed.Claims(keys.Key(parsed.Headers[0].KeyID)[0].Key, &std, &all); err != nil {
		t.Fatalf("JWT signature: %v", err)
	}
	if err := std.ValidateWithLeeway(jwt.Expected{Issuer: p.Issuer(), Time: time.Now()}, 0); err != nil {
		t.Fatalf("JWT claims: %v", err)
	}
	return all
}

// authURL is an authorization request for client, with PKCE S256.
func authURL(p *fapiop.Provider, clientID string, verifier string, extra url.Values) string {
	q := url.Values{
		"client_id": {clientID}, "redirect_uri": {redirectURI}, "response_type": {"code"},
		"scope": {"openid"}, "state": {"st-1"}, "nonce": {"n-1"},
		"code_challenge": {oauth2.S256ChallengeFromVerifier(verifier)}, "code_challenge_method": {"S256"},
	}
	for k, v := range extra {
		q[k] = v
	}
	return p.Metadata().AuthorizationEndpoint + "?" + q.Encode()
}

// signIn signs alice in with a new browser and returns the code, after
// checking state and the RFC 9207 iss parameter.
func signIn(t *testing.T, p *fapiop.Provider, authorizeURL string) string {
	t.Helper()
	cb := p.Login(t, nil, authorizeURL, userName, userPass)
	q := cb.Query()
	if got := cb.Scheme + "://" + cb.Host + cb.Path; got != redirectURI {
		t.Fatalf("redirect = %s, want %s", got, redirectURI)
	}
	if q.Get("error") != "" {
		t.Fatalf("authorization error %s: %s", q.Get("error"), q.Get("error_description"))
	}
	if q.Get("state") != "st-1" || q.Get("iss") != p.Issuer() || q.Get("code") == "" {
		t.Fatalf("callback query = %v, want state st-1, iss %s and a code", q, p.Issuer())
	}
	return q.Get("code")
}

// oauthConfig is an x/oauth2 client of the provider that sends its
// credentials in the body (client assertions need that).
func oauthConfig(p *fapiop.Provider, id, secret string) *oauth2.Config {
	return &oauth2.Config{ClientID: id, ClientSecret: secret, RedirectURL: redirectURI,
		Endpoint: oauth2.Endpoint{AuthURL: p.Metadata().AuthorizationEndpoint, TokenURL: p.Metadata().TokenEndpoint,
			AuthStyle: oauth2.AuthStyleInParams}}
}

// retrieveCode is the OAuth error code of an x/oauth2 error.
func retrieveCode(err error) string {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		return re.ErrorCode
	}
	return ""
}

func withClient(ctx context.Context, c *http.Client) context.Context {
	return context.WithValue(ctx, oauth2.HTTPClient, c)
}
