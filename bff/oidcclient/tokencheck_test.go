package oidcclient

import (
	"encoding/base64"
	"errors"
	"testing"
)

func fakeJWT(payload string) string {
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(`{"alg":"RS256"}`)) + "." + enc([]byte(payload)) + ".c2ln"
}

func TestCheckToken(t *testing.T) {
	generic := &Client{cfg: Config{}}
	entra := &Client{cfg: Config{Provider: ProviderEntra}}
	for _, tc := range []struct {
		name   string
		client *Client
		token  string
		req    TokenRequest
		want   error // nil: accepted
	}{
		{"aud string matches", generic, fakeJWT(`{"aud":"https://orders/"}`), TokenRequest{Resource: "https://orders/"}, nil},
		{"aud array holds it", generic, fakeJWT(`{"aud":["a","https://orders/"]}`), TokenRequest{Resource: "https://orders/"}, nil},
		{"resource or audience", generic, fakeJWT(`{"aud":"orders-api"}`), TokenRequest{Resource: "https://orders/", Audience: "orders-api"}, nil},
		{"other aud", generic, fakeJWT(`{"aud":"https://profile/"}`), TokenRequest{Resource: "https://orders/"}, ErrAudienceMismatch},
		{"no aud", generic, fakeJWT(`{"sub":"x"}`), TokenRequest{Audience: "orders"}, ErrAudienceMismatch},
		{"accept replaces resource and audience", generic, fakeJWT(`{"aud":"6f1c"}`), TokenRequest{Audience: "api://orders", Accept: []string{"6f1c"}}, nil},
		{"accept is the whole list", generic, fakeJWT(`{"aud":"api://orders"}`), TokenRequest{Audience: "api://orders", Accept: []string{"6f1c"}}, ErrAudienceMismatch},
		{"opaque token passes", generic, "2YotnFZFEjr1zCsicMWpAA", TokenRequest{Audience: "orders", Scopes: []string{"orders.read"}}, nil},
		{"nothing asked", generic, fakeJWT(`{"aud":"x"}`), TokenRequest{}, nil},

		{"scope string holds it", generic, fakeJWT(`{"aud":"o","scope":"openid orders.read"}`), TokenRequest{Audience: "o", Scopes: []string{"orders.read"}}, nil},
		{"scope missing", generic, fakeJWT(`{"aud":"o","scope":"openid orders.list"}`), TokenRequest{Audience: "o", Scopes: []string{"orders.read"}}, ErrScopeMismatch},
		{"one of two missing", generic, fakeJWT(`{"scope":"a"}`), TokenRequest{Scopes: []string{"a", "b"}}, ErrScopeMismatch},
		{"empty scope claim", generic, fakeJWT(`{"scope":""}`), TokenRequest{Scopes: []string{"a"}}, ErrScopeMismatch},
		{"scp array (Okta)", generic, fakeJWT(`{"scp":["a","b"]}`), TokenRequest{Scopes: []string{"b"}}, nil},
		{"scp array lacks it", generic, fakeJWT(`{"scp":["a"]}`), TokenRequest{Scopes: []string{"b"}}, ErrScopeMismatch},
		{"no scope claim passes", generic, fakeJWT(`{"aud":"o"}`), TokenRequest{Audience: "o", Scopes: []string{"orders.read"}}, nil},
		{"sign-in scopes not required", generic, fakeJWT(`{"scope":"a"}`), TokenRequest{Scopes: []string{"openid", "offline_access", "a"}}, nil},
		{"short name only with entra", generic, fakeJWT(`{"scp":"Orders.Read"}`), TokenRequest{Scopes: []string{"api://o/Orders.Read"}}, ErrScopeMismatch},
		{"audience checked before scopes", generic, fakeJWT(`{"aud":"x","scope":"a"}`), TokenRequest{Audience: "o", Scopes: []string{"a"}}, ErrAudienceMismatch},

		{"entra short scope", entra, fakeJWT(`{"aud":"api://o","scp":"Orders.Read"}`), TokenRequest{Audience: "api://o", Scopes: []string{"api://o/Orders.Read"}}, nil},
		{"entra short scope missing", entra, fakeJWT(`{"aud":"api://o","scp":"Orders.List"}`), TokenRequest{Audience: "api://o", Scopes: []string{"api://o/Orders.Read"}}, ErrScopeMismatch},
		{"entra .default asks nothing", entra, fakeJWT(`{"aud":"api://o","scp":"X"}`), TokenRequest{Audience: "api://o", Scopes: []string{"api://o/.default"}}, nil},
		{"entra v2 aud is the app id", entra, fakeJWT(`{"aud":"6f1c2a","scp":"X"}`), TokenRequest{Audience: "api://6f1c2a", Scopes: []string{"api://6f1c2a/.default"}}, nil},
		{"entra other app id", entra, fakeJWT(`{"aud":"99","scp":"X"}`), TokenRequest{Audience: "api://6f1c2a"}, ErrAudienceMismatch},
		{"entra custom URI is not an id", entra, fakeJWT(`{"aud":"contoso.com"}`), TokenRequest{Audience: "api://contoso.com/orders"}, ErrAudienceMismatch},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.client.CheckToken(tc.token, tc.req)
			if tc.want == nil && err != nil || tc.want != nil && !errors.Is(err, tc.want) {
				t.Errorf("CheckToken() = %v, want %v", err, tc.want)
			}
		})
	}
}

// TestEntraSendsNoAudience: Entra ID's v2 endpoint names the API in the
// scope; an audience parameter is not what it reads, so it is not sent.
func TestEntraSendsNoAudience(t *testing.T) {
	req := TokenRequest{Audience: "api://orders", Scopes: []string{"api://orders/.default"}}
	for _, tc := range []struct {
		provider     string
		wantAudience string
	}{{ProviderGeneric, "api://orders"}, {ProviderEntra, ""}} {
		form := map[string][]string{}
		req.set(form, tc.provider)
		if got := form["audience"]; len(got) != 0 && got[0] != tc.wantAudience || len(got) == 0 && tc.wantAudience != "" {
			t.Errorf("provider %q: audience = %q, want %q", tc.provider, got, tc.wantAudience)
		}
		if got := form["scope"]; len(got) != 1 || got[0] != "api://orders/.default" {
			t.Errorf("provider %q: scope = %q", tc.provider, got)
		}
	}
}

// BenchmarkCheckToken is what a call of a route using an Auth0 sign-in
// token pays on each call: reading aud and scope of a typical JWT.
func BenchmarkCheckToken(b *testing.B) {
	c := &Client{}
	tok := fakeJWT(`{"iss":"https://tenant.eu.auth0.com/","sub":"auth0|6543a1b2c3d4e5f6a7b8c9d0","aud":["https://orders.example.com","https://tenant.eu.auth0.com/userinfo"],` +
		`"iat":1765000000,"exp":1765086400,"scope":"openid profile email offline_access orders.read","azp":"abcdEFGHijklMNOPqrstUVWXyz012345","permissions":["orders.read"]}`)
	req := TokenRequest{Audience: "https://orders.example.com"}
	b.ReportAllocs()
	for b.Loop() {
		if err := c.CheckToken(tok, req); err != nil {
			b.Fatal(err)
		}
	}
}
