package main

import (
	"fmt"
	"time"

	"github.com/bff-project/bff/e2e/fapiop"
)

// The bff-dpop target: a BFF whose route's token is DPoP-bound (RFC 9449),
// so every proxied call signs a proof (ES256) for its method and URL. Its
// provider is e2e/fapiop (the development provider has no DPoP); it only
// signs the user in and issues one hour-long token, and is idle under
// load. Its row, next to bff's (same store, same upstream, same path),
// gives the cost of a DPoP route as a ratio to a bearer route.

const (
	dpopTarget   = "bff-dpop"
	dpopResource = "https://orders.bench.example/"
)

// startFAPI starts the DPoP-capable provider with the bench client,
// redirecting to the bff-dpop listener.
func (e *env) startFAPI() error {
	base := e.bffURL(dpopTarget)
	u := benchUsers[0]
	p, err := fapiop.Launch(fapiop.Config{
		DPoP: true,
		Resources: []fapiop.Resource{{Indicator: dpopResource, Scopes: []string{"orders.read"},
			AccessTokenTTL: time.Hour}},
		AccessTokenTTL: time.Hour, IDTokenTTL: time.Hour,
		Users: []fapiop.User{{Subject: u.Subject, Username: u.Username, Password: u.Password}},
		Clients: []fapiop.Client{{ID: clientID, Secret: clientSecret, RedirectURIs: []string{base + "/bff/callback"},
			DPoPBound: true}},
	}, e.tmp)
	if err != nil {
		return err
	}
	e.fapi = p
	return nil
}

// dpopChild is the bff-dpop instance (bolt, its own file), or a reason it
// is skipped.
func (e *env) dpopChild() (bffChild, string) {
	if err := e.startFAPI(); err != nil {
		return bffChild{}, fmt.Sprintf("%s: skipped: %v", dpopTarget, err)
	}
	return bffChild{Name: dpopTarget, Store: "bolt", BoltPath: e.tmp + "/sessions-dpop.db", Issuer: e.fapi.Issuer(), DPoP: true}, ""
}
