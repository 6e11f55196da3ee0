// Package fapi holds end-to-end tests of the BFF as a FAPI 2.0-grade
// client against a real, OpenID-certified provider (e2e/fapiop, the npm
// oidc-provider): private_key_jwt and mutual-TLS client authentication,
// pushed authorization requests, DPoP-bound tokens with server nonces at
// the provider and at the APIs, the fapi2 profile's start-up checks, and
// per-API tokens on a strict RFC 8707 server. The APIs are e2e/sampleapi,
// which validates aud and DPoP proofs. It has tests only.
package fapi
