// Package harness starts a development provider, sample APIs and BFF
// instances on loopback for tests, and drives them like a browser would. It
// is imported by tests only.
package harness

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base64"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"log/slog"

	"github.com/bff-project/bff/bff"
	"github.com/bff-project/bff/bff/config"
	"github.com/bff-project/bff/e2e/devop"
	"github.com/bff-project/bff/e2e/sampleapi"
)

// Test identities. The password and secret are test values, distinctive so
// that leak checks can search for them.
const (
	ClientID     = "spa-bff"
	ClientSecret = "test-client-secret-4f9c2e7a"
	UserName     = "alice"
	UserPassword = "alice-password-1"
	UserSubject  = "user-alice"
	OtherName    = "bob"
	OtherPass    = "bob-password-2"
	OtherSubject = "user-bob"
)

// Env is a provider, sample APIs and one or more BFF instances.
type Env struct {
	t       testing.TB
	OP      *devop.Provider
	OPURL   string
	APIs    map[string]string // sample API name -> URL
	Key     string            // the BFF encryption key (base64)
	DBPath  string            // bolt file of the default instance
	Logs    *SyncBuffer       // every BFF log line, JSON
	Default *Instance
	opSrv   *httptest.Server
	spare   []net.Listener
}

// Instance is one running BFF behind a TLS test server.
type Instance struct {
	URL    string
	Server *bff.Server
	Config bff.Config
	ts     *httptest.Server
	h      atomic.Pointer[http.Handler]
}

// Options adjust an environment.
type Options struct {
	// Config changes the BFF config before start.
	Config func(*bff.Config)
	// AccessTokenLifetime at the provider; default 5m.
	AccessTokenLifetime time.Duration
	// SingleSignOn makes the provider remember sign-ins
	// (devop.Config.SingleSignOn).
	SingleSignOn bool
	// Like makes the provider imitate a real one's quirks
	// (devop.Config.Like: "auth0", "entra", "keycloak", "google"); ""
	// (default) none.
	Like string
	// Provider changes the provider's config last, after the fields
	// above are applied and before devop.New, for what they do not cover
	// (e.g. DefaultAudience and Audiences for auth0, resource scopes in
	// APIScopes for entra). Nil changes nothing.
	Provider func(*devop.Config)
}

// SyncBuffer is a bytes.Buffer safe for concurrent writes.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// String returns everything written so far.
func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Start starts the provider, two sample APIs ("orders" wanting audience
// orders-api and scope orders.read, "profile" wanting profile-api and
// profile.read) and one BFF instance with routes to both.
func Start(t testing.TB, opts Options) *Env {
	t.Helper()
	e := &Env{t: t, Logs: &SyncBuffer{}, APIs: map[string]string{}}
	e.Key = base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{0x42}, 32))
	e.DBPath = filepath.Join(t.TempDir(), "sessions.db")

	// Reserve the BFF listeners first: the provider must know their
	// redirect URIs.
	bffListeners := make([]net.Listener, 3)
	var redirects, postLogout []string
	for i := range bffListeners {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		bffListeners[i] = l
		origin := "https://" + l.Addr().String()
		redirects = append(redirects, origin+"/bff/callback")
		postLogout = append(postLogout, origin+"/")
	}

	opSrv := httptest.NewUnstartedServer(nil)
	e.OPURL = "http://" + opSrv.Listener.Addr().String()
	opCfg := devop.Config{
		Issuer: e.OPURL,
		Users: []devop.User{
			// alice has a second factor (acr mfa when asked for) and is an
			// admin; bob has neither.
			{Subject: UserSubject, Username: UserName, Password: UserPassword, Email: "alice@example.test", Name: "Alice Example", GivenName: "Alice", FamilyName: "Example",
				Groups: []string{"staff", "admins"}, MFA: true},
			{Subject: OtherSubject, Username: OtherName, Password: OtherPass, Email: "bob@example.test", Name: "Bob Example", GivenName: "Bob", FamilyName: "Example",
				Groups: []string{"staff"}},
		},
		SingleSignOn: opts.SingleSignOn,
		Clients: []devop.Client{{
			ID: ClientID, Secret: ClientSecret, RedirectURIs: redirects, PostLogoutRedirectURIs: postLogout,
			BackChannelLogoutURI:  "https://" + bffListeners[0].Addr().String() + "/bff/backchannel-logout",
			FrontChannelLogoutURI: "https://" + bffListeners[0].Addr().String() + "/bff/frontchannel-logout",
		}},
		APIScopes:           []string{"orders.read", "profile.read", "admin.all"},
		AccessTokenLifetime: opts.AccessTokenLifetime,
		// Back-channel logout posts to the BFF's self-signed test server
		// on loopback.
		HTTPClient: &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}},
		Like:       opts.Like,
	}
	if opts.Provider != nil {
		opts.Provider(&opCfg)
	}
	op, err := devop.New(opCfg)
	if err != nil {
		t.Fatal(err)
	}
	opSrv.Config.Handler = op
	opSrv.Start()
	t.Cleanup(opSrv.Close)
	e.OP, e.opSrv = op, opSrv

	for _, api := range []struct{ name, aud, scope string }{
		{"orders", "orders-api", "orders.read"},
		{"profile", "profile-api", "profile.read"},
	} {
		h, err := sampleapi.New(sampleapi.Config{Name: api.name, Issuer: e.OPURL, Audience: api.aud, RequiredScope: api.scope})
		if err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(h)
		t.Cleanup(srv.Close)
		e.APIs[api.name] = srv.URL
	}

	e.spare = bffListeners[1:]
	e.Default = e.startInstance(bffListeners[0], e.DBPath, opts.Config)
	return e
}

// BaseConfig is the configuration every instance starts from.
func (e *Env) BaseConfig(publicURL, dbPath string) bff.Config {
	return bff.Config{
		Config: config.Config{
			PublicURL: publicURL,
			OIDC: config.OIDCConfig{
				Issuer: e.OPURL, ClientID: ClientID, ClientSecret: ClientSecret,
				Scopes:  []string{"openid", "profile", "email", "offline_access"},
				Timeout: 3 * time.Second,
			},
			Session: config.SessionConfig{Path: dbPath, EncryptionKeys: []string{e.Key}},
			APIs: []config.APIConfig{
				{Prefix: "/api/orders/", Upstream: e.APIs["orders"], StripPrefix: true, Audience: "orders-api", Scopes: []string{"orders.read"}},
				{Prefix: "/api/profile/", Upstream: e.APIs["profile"], StripPrefix: true, Audience: "profile-api", Scopes: []string{"profile.read"}, Exchange: "token-exchange"},
			},
			RateLimit: config.RateLimitConfig{LoginPerMinute: -1},
		},
		Logger: slog.New(slog.NewJSONHandler(e.Logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
}

func (e *Env) startInstance(l net.Listener, dbPath string, mutate func(*bff.Config)) *Instance {
	t := e.t
	inst := &Instance{URL: "https://" + l.Addr().String()}
	cfg := e.BaseConfig(inst.URL, dbPath)
	if mutate != nil {
		mutate(&cfg)
	}
	inst.Config = cfg
	ts := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		(*inst.h.Load()).ServeHTTP(w, r)
	}))
	ts.Listener.Close()
	ts.Listener = l
	ts.StartTLS()
	inst.ts = ts
	inst.start(t)
	t.Cleanup(func() {
		ts.Close()
		inst.Server.Close()
	})
	return inst
}

func (inst *Instance) start(t testing.TB) {
	srv, err := bff.New(context.Background(), inst.Config)
	if err != nil {
		t.Fatalf("bff.New() = %v", err)
	}
	h := srv.Handler()
	inst.h.Store(&h)
	inst.Server = srv
}

// Restart closes the instance's BFF and starts a new one with the same
// configuration on the same address, as a process restart would.
func (inst *Instance) Restart(t testing.TB) {
	t.Helper()
	if err := inst.Server.Close(); err != nil {
		t.Fatalf("Close() = %v", err)
	}
	inst.start(t)
}

// StartInstance starts another BFF instance (at most two more per Env),
// configured like the default one except for mutate.
func (e *Env) StartInstance(dbPath string, mutate func(*bff.Config)) *Instance {
	e.t.Helper()
	if len(e.spare) == 0 {
		e.t.Fatal("harness: no more reserved instance addresses")
	}
	l := e.spare[0]
	e.spare = e.spare[1:]
	return e.startInstance(l, dbPath, mutate)
}
