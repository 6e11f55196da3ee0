package tokens

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/bff-project/bff/bff/oidcclient"
	"github.com/bff-project/bff/proxy"
	"github.com/bff-project/bff/session"
	"github.com/bff-project/bff/session/boltstore"
)

// fixture is a Manager on a real bolt store with one session holding a
// fresh sign-in token and a fresh token for the orders route. Its provider
// is never called: an unreachable issuer fails any test that would.
type fixture struct {
	m      *Manager
	routes []proxy.Route
	req    *http.Request
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	store, err := boltstore.Open(filepath.Join(t.TempDir(), "s.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	cipher, err := session.NewCipher([][]byte{make([]byte, 32)})
	if err != nil {
		t.Fatal(err)
	}
	sessions, err := session.NewManager(session.Config{Store: store, Cipher: cipher, Exclusive: true})
	if err != nil {
		t.Fatal(err)
	}
	provider, err := oidcclient.New(oidcclient.Config{Issuer: "http://127.0.0.1:1", ClientID: "c", RedirectURL: "http://x/cb", Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	routes := []proxy.Route{
		{Prefix: "/api/signin/", Token: proxy.TokenUser, Index: 0},
		{Prefix: "/api/orders/", Token: proxy.TokenUser, Audience: "orders-api", Scopes: []string{"orders.read"}, Exchange: proxy.ExchangeRefresh, Index: 1},
		{Prefix: "/api/open/", Token: proxy.TokenUserOptional, Audience: "open-api", Index: 2},
	}
	m, err := New(Config{Sessions: sessions, Provider: provider, Routes: routes})
	if err != nil {
		t.Fatal(err)
	}
	exp := time.Now().Add(time.Hour)
	rec := &session.Record{
		Subject: "alice", AccessToken: "signin-token", AccessExpiry: exp, AccessRefreshAt: m.RefreshAt(time.Now(), exp),
		RefreshToken: "refresh",
		Tokens: map[string]session.Token{
			m.specs[1].key: {AccessToken: "orders-token", Expiry: exp, RefreshAt: m.RefreshAt(time.Now(), exp)},
		},
	}
	cookie, err := sessions.Create(context.Background(), rec)
	if err != nil {
		t.Fatal(err)
	}
	// What the middleware in front of the proxy does for a call that
	// carries the session cookie.
	call := sessions.BeginCall(context.Background(), string(cookie))
	t.Cleanup(func() { sessions.FinishCall(call) })
	req := httptest.NewRequestWithContext(call, http.MethodGet, "/api/orders/x", nil)
	return &fixture{m: m, routes: routes, req: req}
}

func TestTokenFromSession(t *testing.T) {
	fx := newFixture(t)
	for _, tt := range []struct {
		route   int
		anon    bool
		want    string
		wantErr error
	}{
		{route: 0, want: "signin-token"},
		{route: 1, want: "orders-token"},
		{route: 1, anon: true, wantErr: ErrUnauthenticated},
		{route: 2, anon: true, want: ""}, // anonymous on a user-optional route
	} {
		req := fx.req
		if tt.anon {
			req = httptest.NewRequest(http.MethodGet, "/api/x", nil)
		}
		got, err := fx.m.Token(req, &fx.routes[tt.route])
		if got.Token != tt.want || got.Proof != nil || err != tt.wantErr {
			t.Errorf("Token(route %d, anonymous %v) = %q (proof %v), %v, want %q (bearer), %v", tt.route, tt.anon, got.Token, got.Proof, err, tt.want, tt.wantErr)
		}
	}
}

// Routes asking for the same token share it in the session; the order of
// their scopes does not matter, the exchange method does.
func TestSpecKeys(t *testing.T) {
	a := specFor(&proxy.Route{Audience: "x", Scopes: []string{"b", "a"}, Exchange: proxy.ExchangeRefresh}, nil, "")
	b := specFor(&proxy.Route{Audience: "x", Scopes: []string{"a", "b"}, Exchange: proxy.ExchangeRefresh}, nil, "")
	c := specFor(&proxy.Route{Audience: "x", Scopes: []string{"a", "b"}, Exchange: proxy.ExchangeTokenExchange}, nil, "")
	if a.key != b.key || a.key == c.key || a.signIn {
		t.Errorf("keys %q %q %q: want the first two equal, the third different, none empty", a.key, b.key, c.key)
	}
	if s := specFor(&proxy.Route{}, nil, ""); !s.signIn {
		t.Errorf("a route without audience, resource or scopes: %+v, want the sign-in token", s)
	}
	// With a sign-in audience (Auth0), a route asking for just it takes the
	// sign-in token; one asking for another audience does not.
	if s := specFor(&proxy.Route{Audience: "orders"}, nil, "orders"); !s.signIn || s.req.Audience != "" {
		t.Errorf("route for the sign-in audience: %+v, want the sign-in token", s)
	}
	if s := specFor(&proxy.Route{Audience: "billing"}, nil, "orders"); s.signIn || s.want.Audience != "billing" {
		t.Errorf("route for another audience: %+v, want its own token", s)
	}
}

// BenchmarkTokenFresh is the hot path: Manager.Token for an audience token
// the session already holds.
func BenchmarkTokenFresh(b *testing.B) {
	fx := newFixture(b)
	route := &fx.routes[1]
	b.ReportAllocs()
	for b.Loop() {
		if tok, err := fx.m.Token(fx.req, route); err != nil || tok.Token != "orders-token" {
			b.Fatalf("Token() = %q, %v", tok.Token, err)
		}
	}
}
