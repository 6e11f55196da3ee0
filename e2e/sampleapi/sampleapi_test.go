package sampleapi

import (
	"bufio"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/bff-project/bff/e2e/devop"
)

type testEnv struct {
	t   *testing.T
	p   *devop.Provider
	op  *httptest.Server
	api *httptest.Server
	up  atomic.Bool // provider answers; false: 503 everywhere
}

func newTestEnv(t *testing.T) *testEnv {
	t.Helper()
	e := &testEnv{t: t}
	e.up.Store(true)
	e.op = httptest.NewUnstartedServer(nil)
	p, err := devop.New(devop.Config{
		Issuer:    "http://" + e.op.Listener.Addr().String(),
		Clients:   []devop.Client{{ID: "bff", Secret: "secret"}},
		APIScopes: []string{"orders.read", "other"},
	})
	if err != nil {
		t.Fatal(err)
	}
	e.p = p
	e.op.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !e.up.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		p.ServeHTTP(w, r)
	})
	e.op.Start()
	t.Cleanup(e.op.Close)
	h, err := New(Config{Name: "orders", Issuer: p.Issuer(), Audience: "orders-api", RequiredScope: "orders.read"})
	if err != nil {
		t.Fatal(err)
	}
	e.api = httptest.NewServer(h)
	t.Cleanup(e.api.Close)
	return e
}

// clientToken gets a client_credentials access token.
func (e *testEnv) clientToken(audience, scope string) string {
	e.t.Helper()
	form := url.Values{"grant_type": {"client_credentials"}, "audience": {audience}, "scope": {scope}}
	req, _ := http.NewRequest(http.MethodPost, e.p.Issuer()+"/oauth/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth("bff", "secret")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || body.AccessToken == "" {
		e.t.Fatalf("client_credentials: status %d, err %v", resp.StatusCode, err)
	}
	return body.AccessToken
}

// signed signs claims with the provider's key (devop signs any claims).
func (e *testEnv) signed(claims map[string]any) string {
	e.t.Helper()
	tok, err := e.p.SignLogoutToken(claims)
	if err != nil {
		e.t.Fatal(err)
	}
	return tok
}

func (e *testEnv) call(method, path, token string) (*http.Response, map[string]any) {
	e.t.Helper()
	req, _ := http.NewRequest(method, e.api.URL+path, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if token != "" && strings.Contains(string(raw), token) {
		e.t.Errorf("answer echoes the token")
	}
	var m map[string]any
	_ = json.Unmarshal(raw, &m)
	return resp, m
}

func foreignToken(t *testing.T, claims map[string]any) string {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: k},
		(&jose.SignerOptions{}).WithHeader("kid", "foreign"))
	if err != nil {
		t.Fatal(err)
	}
	payload, _ := json.Marshal(claims)
	jws, err := s.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	out, _ := jws.CompactSerialize()
	return out
}

func TestAPI(t *testing.T) {
	e := newTestEnv(t)
	now := time.Now()
	claims := func(kv ...any) map[string]any {
		c := map[string]any{"iss": e.p.Issuer(), "sub": "u-1", "aud": "orders-api",
			"iat": now.Unix(), "exp": now.Add(time.Minute).Unix(), "scope": "orders.read"}
		for i := 0; i+1 < len(kv); i += 2 {
			if kv[i+1] == nil {
				delete(c, kv[i].(string))
			} else {
				c[kv[i].(string)] = kv[i+1]
			}
		}
		return c
	}
	tests := []struct {
		name       string
		token      string
		wantStatus int
		wantError  string
		wantDesc   string // error_description, when set
	}{
		{name: "right audience", token: e.clientToken("orders-api", "orders.read"), wantStatus: 200},
		{name: "scp array", token: e.signed(claims("scope", nil, "scp", []string{"x", "orders.read"})), wantStatus: 200},
		{name: "scp string", token: e.signed(claims("scope", nil, "scp", "x orders.read")), wantStatus: 200},
		{name: "scp string without the scope", token: e.signed(claims("scope", nil, "scp", "orders.readx other")), wantStatus: 403, wantError: "insufficient_scope"},
		{name: "wrong audience", token: e.clientToken("billing-api", "orders.read"), wantStatus: 401, wantError: "invalid_token", wantDesc: "token audience is not accepted"},
		{name: "missing scope", token: e.clientToken("orders-api", "other"), wantStatus: 403, wantError: "insufficient_scope"},
		{name: "foreign key", token: foreignToken(t, claims()), wantStatus: 401, wantError: "invalid_token", wantDesc: "token signature is invalid"},
		{name: "expired", token: e.signed(claims("exp", now.Add(-time.Minute).Unix())), wantStatus: 401, wantError: "invalid_token", wantDesc: "token is expired"},
		{name: "wrong issuer", token: e.signed(claims("iss", "http://evil.example")), wantStatus: 401, wantError: "invalid_token", wantDesc: "token issuer is not accepted"},
		{name: "garbage", token: "not-a-jwt", wantStatus: 401, wantError: "invalid_token"},
		{name: "no token", token: "", wantStatus: 401, wantError: "invalid_token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := e.call(http.MethodPost, "/orders/42?x=1", tt.token)
			if resp.StatusCode != tt.wantStatus {
				t.Fatalf("status = %d (%v), want %d", resp.StatusCode, body, tt.wantStatus)
			}
			if tt.wantStatus == 401 {
				if got, want := resp.Header.Get("WWW-Authenticate"), `Bearer error="invalid_token"`; got != want {
					t.Errorf("WWW-Authenticate = %q, want %q", got, want)
				}
			}
			if tt.wantError != "" {
				if got := body["error"]; got != tt.wantError {
					t.Errorf("error = %v, want %s", got, tt.wantError)
				}
				if got := body["error_description"]; tt.wantDesc != "" && got != tt.wantDesc {
					t.Errorf("error_description = %v, want %s", got, tt.wantDesc)
				}
				return
			}
			if body["api"] != "orders" || body["method"] != "POST" || body["path"] != "/orders/42" || body["query"] != "x=1" {
				t.Errorf("answer = %v, want api orders, POST /orders/42?x=1", body)
			}
			if aud, _ := body["audience"].([]any); !slices.Contains(aud, any("orders-api")) {
				t.Errorf("audience = %v, want orders-api", body["audience"])
			}
			if sc, _ := body["scopes"].([]any); !slices.Contains(sc, any("orders.read")) {
				t.Errorf("scopes = %v, want orders.read", body["scopes"])
			}
			if body["sub"] == "" {
				t.Errorf("sub is empty")
			}
		})
	}
}

func TestLazyDiscovery(t *testing.T) {
	e := newTestEnv(t)
	tok := e.clientToken("orders-api", "orders.read")
	e.up.Store(false)
	if resp, _ := e.call(http.MethodGet, "/", tok); resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("status with provider down = %d, want 503", resp.StatusCode)
	}
	e.up.Store(true)
	if resp, body := e.call(http.MethodGet, "/", tok); resp.StatusCode != http.StatusOK {
		t.Errorf("status with provider up = %d (%v), want 200", resp.StatusCode, body)
	}
}

func TestEvents(t *testing.T) {
	e := newTestEnv(t)
	req, _ := http.NewRequest(http.MethodGet, e.api.URL+"/api/events", nil)
	req.Header.Set("Authorization", "Bearer "+e.clientToken("orders-api", "orders.read"))
	start := time.Now()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if got := resp.Header.Get("Content-Type"); got != "text/event-stream" {
		t.Errorf("Content-Type = %q, want text/event-stream", got)
	}
	var got []string
	var firstAt time.Duration
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if line := sc.Text(); line != "" {
			if got == nil {
				firstAt = time.Since(start)
			}
			got = append(got, line)
		}
	}
	if want := []string{"data: 1", "data: 2", "data: 3"}; !slices.Equal(got, want) {
		t.Errorf("events = %q, want %q", got, want)
	}
	if total := time.Since(start); total < 200*time.Millisecond || firstAt > total-150*time.Millisecond {
		t.Errorf("first event at %v, stream took %v: want the first flushed before the rest", firstAt, total)
	}
}

func TestNewValidates(t *testing.T) {
	_, err := New(Config{})
	for _, want := range []string{"Name", "Issuer", "Audience"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("New(Config{}) error = %v, want it to mention %s", err, want)
		}
	}
}
