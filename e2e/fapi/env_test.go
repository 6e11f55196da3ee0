package fapi_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/bff-project/bff/bff"
	"github.com/bff-project/bff/bff/config"
	"github.com/bff-project/bff/e2e/fapiop"
	"github.com/bff-project/bff/e2e/harness"
	"github.com/bff-project/bff/e2e/sampleapi"
)

const (
	clientID   = "fapi-bff"
	userName   = "alice"
	userPass   = "alice-password-1"
	userSub    = "user-alice"
	ordersAPI  = "https://orders.example.test/"
	profileAPI = "https://profile.example.test/"
	billingAPI = "https://billing.example.test/"
)

func alice() fapiop.User {
	return fapiop.User{Subject: userSub, Username: userName, Password: userPass, ACR: "urn:pwd"}
}

func resources() []fapiop.Resource {
	return []fapiop.Resource{
		{Indicator: ordersAPI, Scopes: []string{"orders.read", "orders.write"}},
		{Indicator: profileAPI, Scopes: []string{"profile.read"}},
		{Indicator: billingAPI, Scopes: []string{"billing.read"}},
	}
}

// env is a BFF on https (loopback), its provider and sample APIs.
type env struct {
	t      *testing.T
	p      *fapiop.Provider
	ts     *httptest.Server
	URL    string
	logs   *harness.SyncBuffer
	h      atomic.Pointer[http.Handler]
	srv    *bff.Server
	apis   map[string]*tap
	keyDir string
}

// tap sits in front of a sample API: it counts the API's nonce
// challenges and keeps the last Authorization and DPoP headers the BFF
// sent, as someone reading the API's traffic would.
type tap struct {
	*httptest.Server
	mu         sync.Mutex
	auth, dpop string
	challenges atomic.Int32
}

func (tp *tap) last() (auth, dpop string) {
	tp.mu.Lock()
	defer tp.mu.Unlock()
	return tp.auth, tp.dpop
}

// newEnv starts the BFF's TLS listener first (the provider must trust it
// to fetch /bff/jwks), then the provider from opCfg (edit fills in
// clients), the sample APIs, and finally the BFF with cfg's changes.
func newEnv(t *testing.T, opCfg fapiop.Config, client func(c *fapiop.Client, bffURL string), apiNonce bool) *env {
	t.Helper()
	e := &env{t: t, logs: &harness.SyncBuffer{}, apis: map[string]*tap{}, keyDir: t.TempDir()}
	e.ts = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if h := e.h.Load(); h != nil {
			(*h).ServeHTTP(w, r)
			return
		}
		http.Error(w, "starting", http.StatusServiceUnavailable)
	}))
	e.ts.StartTLS()
	t.Cleanup(e.ts.Close)
	e.URL = e.ts.URL
	c := fapiop.Client{ID: clientID, RedirectURIs: []string{e.URL + "/bff/callback"}, PostLogoutRedirectURIs: []string{e.URL + "/"}}
	client(&c, e.URL)
	opCfg.Clients = []fapiop.Client{c}
	opCfg.Users = []fapiop.User{alice()}
	if opCfg.Resources == nil {
		opCfg.Resources = resources()
	}
	opCfg.TrustedCAs = append(opCfg.TrustedCAs, e.ts.Certificate())
	e.p = fapiop.Start(t, opCfg)
	for _, api := range []struct{ name, aud, scope string }{
		{"orders", ordersAPI, "orders.read"}, {"profile", profileAPI, "profile.read"}, {"billing", billingAPI, "billing.read"},
	} {
		h, err := sampleapi.New(sampleapi.Config{Name: api.name, Issuer: e.p.Issuer(), Audience: api.aud,
			RequiredScope: api.scope, HTTPClient: e.p.HTTPClient(), DPoPNonce: apiNonce})
		if err != nil {
			t.Fatal(err)
		}
		tp := &tap{}
		tp.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			tp.mu.Lock()
			tp.auth, tp.dpop = r.Header.Get("Authorization"), r.Header.Get("DPoP")
			tp.mu.Unlock()
			rec := &statusWriter{ResponseWriter: w}
			h.ServeHTTP(rec, r)
			if rec.status == http.StatusUnauthorized && strings.Contains(w.Header().Get("WWW-Authenticate"), "use_dpop_nonce") {
				tp.challenges.Add(1)
			}
		}))
		t.Cleanup(tp.Close)
		e.apis[api.name] = tp
	}
	return e
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s *statusWriter) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}

// config is the BFF configuration for this env: routes to orders and
// profile (each its own resource), the provider's https roots trusted.
func (e *env) config() bff.Config {
	return bff.Config{
		Config: config.Config{
			PublicURL: e.URL,
			OIDC: config.OIDCConfig{
				Issuer: e.p.Issuer(), ClientID: clientID,
				Scopes: []string{"openid", "profile"}, Timeout: 5 * time.Second,
			},
			Session: config.SessionConfig{Path: filepath.Join(e.t.TempDir(), "sessions.db"),
				EncryptionKeys: []string{base64.StdEncoding.EncodeToString([]byte(strings.Repeat("k", 32)))}},
			APIs: []config.APIConfig{
				{Prefix: "/api/orders/", Upstream: e.apis["orders"].URL, StripPrefix: true, Resource: ordersAPI, Scopes: []string{"orders.read"}},
				{Prefix: "/api/profile/", Upstream: e.apis["profile"].URL, StripPrefix: true, Resource: profileAPI, Scopes: []string{"profile.read"}},
			},
			RateLimit: config.RateLimitConfig{LoginPerMinute: -1},
		},
		Logger:     slog.New(slog.NewJSONHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		HTTPClient: &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: e.p.RootCAs()}}},
	}
}

// start starts (or restarts) the BFF with cfg.
func (e *env) start(cfg bff.Config) {
	e.t.Helper()
	if old := e.srv; old != nil {
		old.Close() // the bolt file has one owner at a time
	}
	srv, err := bff.New(e.t.Context(), cfg)
	if err != nil {
		e.t.Fatalf("bff.New() = %v", err)
	}
	e.srv = srv
	h := srv.Handler()
	e.h.Store(&h)
	e.t.Cleanup(func() { srv.Close() })
}

// browser is a cookie jar and a client that trusts the BFF's test
// certificate and follows no redirect.
type browser struct {
	e *env
	c *http.Client
}

func (e *env) browser() *browser {
	jar, _ := cookiejar.New(nil)
	roots := e.p.RootCAs() // the provider's https listeners, if any
	if roots == nil {
		roots = x509.NewCertPool()
	}
	roots.AddCert(e.ts.Certificate())
	return &browser{e: e, c: &http.Client{Jar: jar, Timeout: 10 * time.Second,
		Transport:     &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// signIn signs alice in through the BFF and the provider's login form.
func (b *browser) signIn(t *testing.T) {
	t.Helper()
	cb, err := b.e.p.SignIn(t.Context(), b.c, b.e.URL+"/bff/login?returnUrl=/", userName, userPass)
	if err != nil {
		t.Fatalf("sign in: %v", err)
	}
	if q := cb.Query(); q.Get("error") != "" || q.Get("code") == "" {
		t.Fatalf("provider answered the BFF with %v, want a code", q)
	}
	resp, body := b.do(t, http.MethodGet, cb.String(), nil)
	if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != "/" {
		t.Fatalf("callback = %d %s (Location %q), want 302 to /", resp.StatusCode, body, resp.Header.Get("Location"))
	}
}

// do sends a request as the SPA would (X-CSRF on anything but a
// navigation to /bff/login or /bff/callback).
func (b *browser) do(t *testing.T, method, u string, body io.Reader) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, u, body)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(u, "/bff/callback") && !strings.Contains(u, "/bff/login") {
		req.Header.Set("X-CSRF", "1")
		req.Header.Set("Accept", "application/json")
	}
	resp, err := b.c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b2, _ := io.ReadAll(resp.Body)
	return resp, string(b2)
}

// apiAnswer is what the sample API answers.
type apiAnswer struct {
	API      string   `json:"api"`
	Scheme   string   `json:"scheme"`
	Sub      string   `json:"sub"`
	Audience []string `json:"audience"`
	Scopes   []string `json:"scopes"`
	Error    string   `json:"error"`
}

// call calls an API route and decodes the answer.
func (b *browser) call(t *testing.T, method, path string, body io.Reader) (int, apiAnswer) {
	t.Helper()
	resp, s := b.do(t, method, b.e.URL+path, body)
	var a apiAnswer
	if err := json.Unmarshal([]byte(s), &a); err != nil {
		t.Fatalf("%s %s = %d %q: not JSON", method, path, resp.StatusCode, s)
	}
	return resp.StatusCode, a
}

// clientKey is a private_key_jwt key written to a PEM file.
type clientKey struct {
	priv *ecdsa.PrivateKey
	pem  []byte
	kid  string // RFC 7638 thumbprint
}

func newClientKey(t *testing.T) clientKey {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	sum, err := (&jose.JSONWebKey{Key: &priv.PublicKey}).Thumbprint(crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	return clientKey{priv: priv, pem: pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}),
		kid: base64.RawURLEncoding.EncodeToString(sum)}
}

func (k clientKey) public() jose.JSONWebKey {
	return jose.JSONWebKey{Key: &k.priv.PublicKey, KeyID: k.kid, Algorithm: "ES256", Use: "sig"}
}

// keyFile writes keys, in order, to one PEM file.
func (e *env) keyFile(keys ...clientKey) string {
	e.t.Helper()
	var data []byte
	for _, k := range keys {
		data = append(data, k.pem...)
	}
	f, err := os.CreateTemp(e.keyDir, "client-keys-*.pem")
	if err != nil {
		e.t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write(data); err != nil {
		e.t.Fatal(err)
	}
	return f.Name()
}

// waitFor polls cond every 50ms for up to 10s, for renewals that need a
// token to come due.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("timed out waiting for %s", what)
		case <-time.After(50 * time.Millisecond):
		}
	}
}
