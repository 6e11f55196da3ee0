// Command bff-demo runs the whole product on localhost for a first look: a
// development OpenID provider, two sample APIs that check their audience,
// and the BFF serving the demo SPA. Nothing is kept after it stops.
//
//	go run ./cmd/bff-demo
//
// Then open http://localhost:8080 and sign in as alice / alice.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/bff-project/bff/bff"
	"github.com/bff-project/bff/bff/config"
	"github.com/bff-project/bff/e2e/devop"
	"github.com/bff-project/bff/e2e/sampleapi"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "bff-demo:", err)
		os.Exit(1)
	}
}

func run() error {
	port := flag.Int("port", 8080, "BFF port (the app is at http://localhost:PORT)")
	opPort := flag.Int("op-port", 9000, "development provider port")
	verbose := flag.Bool("v", false, "log every request")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	level := slog.LevelWarn
	if *verbose {
		level = slog.LevelInfo
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))

	publicURL := fmt.Sprintf("http://localhost:%d", *port)
	issuer := fmt.Sprintf("http://127.0.0.1:%d", *opPort)
	secret, err := config.GenerateKey() // a throwaway client secret
	if err != nil {
		return err
	}

	op, err := devop.New(devop.Config{
		Issuer: issuer,
		Users: []devop.User{
			// alice has a second factor, so she can step up to acr mfa
			// for the payments API; bob cannot.
			{Subject: "alice", Username: "alice", Password: "alice", Email: "alice@example.com", Name: "Alice Liddell", GivenName: "Alice", FamilyName: "Liddell",
				Groups: []string{"staff", "payments"}, MFA: true},
			{Subject: "bob", Username: "bob", Password: "bob", Email: "bob@example.com", Name: "Bob Builder", GivenName: "Bob", FamilyName: "Builder",
				Groups: []string{"staff"}},
		},
		Clients: []devop.Client{{
			ID: "spa-bff", Secret: secret,
			RedirectURIs:           []string{publicURL + "/bff/callback"},
			PostLogoutRedirectURIs: []string{publicURL + "/"},
			BackChannelLogoutURI:   publicURL + "/bff/backchannel-logout",
		}},
		APIScopes: []string{"orders.read", "profile.read", "payments.read"},
		Logger:    logger,
	})
	if err != nil {
		return err
	}
	servers := &serverGroup{}
	defer servers.shutdown()
	if err := servers.serve(fmt.Sprintf("127.0.0.1:%d", *opPort), op); err != nil {
		return fmt.Errorf("provider: %w (is port %d free? try -op-port)", err, *opPort)
	}

	// payments needs a sign-in with a second factor: the BFF's rule asks
	// for the step-up before any call goes out, and the API itself would
	// ask too (RFC 9470) should a weaker token reach it.
	mfa := []string{devop.ACRMFA}
	apis := []struct {
		name, audience, scope, exchange string
		require                         []config.RuleConfig
		stepUp                          []sampleapi.StepUp
	}{
		{name: "orders", audience: "orders-api", scope: "orders.read", exchange: "refresh"},
		{name: "profile", audience: "profile-api", scope: "profile.read", exchange: "token-exchange"},
		{name: "payments", audience: "payments-api", scope: "payments.read", exchange: "refresh",
			require: []config.RuleConfig{{ACR: mfa}}, stepUp: []sampleapi.StepUp{{ACRValues: mfa}}},
	}
	var routes []config.APIConfig
	for _, a := range apis {
		h, err := sampleapi.New(sampleapi.Config{Name: a.name, Issuer: issuer, Audience: a.audience, RequiredScope: a.scope, StepUp: a.stepUp})
		if err != nil {
			return err
		}
		addr, err := servers.serveAny(h)
		if err != nil {
			return err
		}
		routes = append(routes, config.APIConfig{
			Prefix: "/api/" + a.name + "/", Upstream: "http://" + addr, StripPrefix: true,
			Audience: a.audience, Scopes: []string{a.scope}, Exchange: a.exchange, Require: a.require,
		})
	}

	key, err := config.GenerateKey()
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "bff-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	srv, err := bff.New(ctx, bff.Config{
		Config: config.Config{
			Listen:    fmt.Sprintf("127.0.0.1:%d", *port),
			PublicURL: publicURL,
			OIDC: config.OIDCConfig{
				Issuer: issuer, ClientID: "spa-bff", ClientSecret: secret,
				Scopes: []string{"openid", "profile", "email", "offline_access"},
			},
			Session: config.SessionConfig{Path: filepath.Join(dir, "sessions.db"), EncryptionKeys: []string{key}},
			APIs:    routes,
		},
		Logger:  logger,
		Version: "demo",
	})
	if err != nil {
		return err
	}
	defer srv.Close()
	if err := servers.serve(fmt.Sprintf("127.0.0.1:%d", *port), srv.Handler()); err != nil {
		return fmt.Errorf("bff: %w (is port %d free? try -port)", err, *port)
	}
	// Browsers may try ::1 for localhost first; serve it too when it exists.
	_ = servers.serve(fmt.Sprintf("[::1]:%d", *port), srv.Handler())

	fmt.Printf(`
  BFF demo is running.

    Open        %s
    Sign in as  alice / alice   (or bob / bob)

    Provider    %s (development only)
    APIs        /api/orders/   -> audience orders-api   (refresh-token grant)
                /api/profile/  -> audience profile-api  (token exchange, RFC 8693)
                /api/payments/ -> audience payments-api (needs a second factor:
                                  step-up sign-in; alice has one, bob does not)

  The session encryption key and client secret were generated for this run;
  sessions end when the demo stops. Press Ctrl-C to stop.

`, publicURL, issuer)
	<-ctx.Done()
	fmt.Println("stopping")
	return nil
}

// serverGroup runs HTTP servers and shuts them all down.
type serverGroup struct{ servers []*http.Server }

func (g *serverGroup) serve(addr string, h http.Handler) error {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	g.start(l, h)
	return nil
}

func (g *serverGroup) serveAny(h http.Handler) (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	g.start(l, h)
	return l.Addr().String(), nil
}

func (g *serverGroup) start(l net.Listener, h http.Handler) {
	s := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	g.servers = append(g.servers, s)
	go func() {
		if err := s.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			fmt.Fprintln(os.Stderr, "bff-demo:", err)
		}
	}()
}

func (g *serverGroup) shutdown() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, s := range g.servers {
		_ = s.Shutdown(ctx)
	}
}
