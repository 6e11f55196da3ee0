// Package fapiop starts a real, OpenID-certified provider for end-to-end
// tests of the BFF's FAPI-grade client features: pushed authorization
// requests (RFC 9126), private_key_jwt client authentication (RFC 7523),
// mutual-TLS client authentication and certificate-bound tokens (RFC 8705),
// DPoP (RFC 9449) with server nonces, strict resource indicators (RFC 8707)
// and the iss authorization response parameter (RFC 9207).
//
// The provider is the npm package oidc-provider (panva), pinned in
// node/package.json and run by node/server.js; nothing of those protocols
// is written here. [Start] passes a [Config] to it as JSON, waits for its
// issuer URL and stops it in t.Cleanup. Sign-in goes through a plain HTML
// login form that [Provider.SignIn] fills in, like e2e/devop's, so tests
// need no browser. Most tests should keep using e2e/devop, which runs in
// process; use this package where the protocol must come from an
// independent implementation.
//
// A test that signs in through PAR with private_key_jwt:
//
//	key := ... // the client's ECDSA key, its public JWK has kid "k1"
//	p := fapiop.Start(t, fapiop.Config{
//		PAR:       fapiop.PARRequired,
//		DPoP:      true,
//		Resources: []fapiop.Resource{{Indicator: "https://orders.example/", Scopes: []string{"orders.read"}}},
//		Users:     []fapiop.User{{Subject: "u1", Username: "alice", Password: "pw", ACR: "urn:pwd"}},
//		Clients: []fapiop.Client{{ID: "bff", AuthMethod: fapiop.AuthPrivateKeyJWT,
//			RedirectURIs: []string{"https://127.0.0.1:8443/bff/callback"}, Keys: []jose.JSONWebKey{publicJWK}}},
//	})
//	// POST the request to p.Metadata().PAREndpoint with a client assertion,
//	// then let the "browser" carry only client_id and request_uri:
//	cb := p.Login(t, nil, p.Metadata().AuthorizationEndpoint+"?client_id=bff&request_uri="+uri, "alice", "pw")
//	// cb is the redirect to the callback with code, state and iss.
//
// The tests of this package are worked examples of every feature.
//
// It needs node (20.19 or later) on PATH and the node modules installed
// once with
//
//	npm ci --prefix e2e/fapiop/node
//
// (.ci/run does so). Without them a test that calls Start is skipped with a
// message saying which is missing, unless BFF_TEST_REQUIRE (a
// comma-separated list such as "redis,chromium,fapiop") contains "fapiop":
// then it fails, so CI cannot pass by skipping.
//
// Only _test.go files import this package; it is not for production use.
package fapiop
