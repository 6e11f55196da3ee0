package devop_test

import (
	"context"
	"fmt"
	"net/http/httptest"

	"golang.org/x/oauth2"

	"github.com/bff-project/bff/e2e/devop"
)

// A provider on httptest: the issuer must be known before New, so take it
// from an unstarted server's listener.
func Example() {
	srv := httptest.NewUnstartedServer(nil)
	p, err := devop.New(devop.Config{
		Issuer:  "http://" + srv.Listener.Addr().String(),
		Users:   []devop.User{{Subject: "u-1", Username: "alice", Password: "pw"}},
		Clients: []devop.Client{{ID: "bff", Secret: "s", RedirectURIs: []string{"http://127.0.0.1:8080/bff/callback"}}},
	})
	if err != nil {
		panic(err)
	}
	srv.Config.Handler = p
	srv.Start()
	defer srv.Close()

	conf := oauth2.Config{
		ClientID: "bff", ClientSecret: "s", RedirectURL: "http://127.0.0.1:8080/bff/callback",
		Endpoint: oauth2.Endpoint{AuthURL: p.Issuer() + "/authorize", TokenURL: p.Issuer() + "/oauth/token"},
		Scopes:   []string{"openid", "offline_access"},
	}
	verifier := oauth2.GenerateVerifier()
	// SignIn fills in the login form and stops at the redirect to the client.
	cb, err := p.SignIn(context.Background(), nil, conf.AuthCodeURL("st", oauth2.S256ChallengeOption(verifier)), "alice", "pw")
	if err != nil {
		panic(err)
	}
	tok, err := conf.Exchange(context.Background(), cb.Query().Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		panic(err)
	}
	fmt.Println(cb.Path, cb.Query().Get("state"), tok.RefreshToken != "", p.Counts().Code)
	// Output: /bff/callback st true 1
}
