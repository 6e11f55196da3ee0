package fapiop_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/go-jose/go-jose/v4"
	"golang.org/x/oauth2"

	"github.com/bff-project/bff/e2e/fapiop"
)

// PAR (RFC 9126) with private_key_jwt (RFC 7523): the request is pushed
// with a client assertion, the browser carries only client_id and
// request_uri, and the code is exchanged with another assertion. Also
// covers key rotation: the second key in the client's jwks is accepted, a
// key that is not listed and a replayed assertion are not.
func TestPARPrivateKeyJWT(t *testing.T) {
	t.Parallel()
	const id = "par-client"
	first, second, stranger := newKey(t, "k1"), newKey(t, "k2"), newKey(t, "k3")
	// The second client's keys come from its jwks_uri, on loopback.
	const uriID = "par-uri-client"
	jwks := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{first.public}})
	}))
	t.Cleanup(jwks.Close)
	p := fapiop.Start(t, fapiop.Config{
		PAR:   fapiop.PARRequired,
		Users: []fapiop.User{alice()},
		Clients: []fapiop.Client{
			{ID: id, AuthMethod: fapiop.AuthPrivateKeyJWT, RedirectURIs: []string{redirectURI},
				Keys: []jose.JSONWebKey{first.public, second.public}},
			{ID: uriID, AuthMethod: fapiop.AuthPrivateKeyJWT, RedirectURIs: []string{redirectURI}, JWKSURI: jwks.URL},
		},
	})
	m := p.Metadata()
	verifier := oauth2.GenerateVerifier()

	t.Run("plain request refused", func(t *testing.T) {
		cb := p.Login(t, nil, authURL(p, id, verifier, nil), userName, userPass)
		if got := cb.Query().Get("error"); got != "invalid_request" || cb.Query().Get("code") != "" {
			t.Errorf("authorization without PAR: error = %q, code %q, want invalid_request and no code", got, cb.Query().Get("code"))
		}
	})

	push := func(t *testing.T, clientID string, key signingKey, assertion string) (int, map[string]any) {
		t.Helper()
		u, _ := url.Parse(authURL(p, clientID, verifier, nil))
		form := u.Query()
		if assertion == "" {
			assertion = key.assertion(t, clientID, p.Issuer())
		}
		form.Set("client_assertion_type", assertType)
		form.Set("client_assertion", assertion)
		return post(t, nil, m.PAREndpoint, form, nil)
	}

	status, body := push(t, id, first, "")
	requestURI, _ := body["request_uri"].(string)
	if status != http.StatusCreated || requestURI == "" || body["expires_in"] == nil {
		t.Fatalf("PAR = %d %v, want 201 with request_uri and expires_in", status, body)
	}
	// Only client_id and request_uri travel through the browser.
	q := url.Values{"client_id": {id}, "request_uri": {requestURI}}
	code := signIn(t, p, m.AuthorizationEndpoint+"?"+q.Encode())

	conf := oauthConfig(p, id, "")
	params := first.authParams(t, id, p.Issuer())
	tok, err := conf.Exchange(t.Context(), code, oauth2.VerifierOption(verifier),
		oauth2.SetAuthURLParam("client_assertion_type", assertType),
		oauth2.SetAuthURLParam("client_assertion", params.Get("client_assertion")))
	if err != nil {
		t.Fatalf("code exchange: %v", err)
	}
	idToken, _ := tok.Extra("id_token").(string)
	claims := verifyJWT(t, p, idToken)
	if claims["sub"] != userSub || claims["aud"] != id || claims["nonce"] != "n-1" {
		t.Errorf("ID token sub, aud, nonce = %v %v %v, want %s %s n-1", claims["sub"], claims["aud"], claims["nonce"], userSub, id)
	}

	t.Run("request_uri is single use", func(t *testing.T) {
		cb := p.Login(t, nil, m.AuthorizationEndpoint+"?"+q.Encode(), userName, userPass)
		if got := cb.Query().Get("error"); got != "invalid_request_uri" || cb.Query().Get("code") != "" {
			t.Errorf("second use of request_uri: error = %q, code %q, want invalid_request_uri and no code", got, cb.Query().Get("code"))
		}
	})

	t.Run("rotated key accepted", func(t *testing.T) {
		if status, body := push(t, id, second, ""); status != http.StatusCreated {
			t.Errorf("PAR signed with the second key = %d %v, want 201", status, body)
		}
	})
	t.Run("unlisted key refused", func(t *testing.T) {
		status, body := push(t, id, stranger, "")
		wantError(t, "PAR signed with an unlisted key", status, body, http.StatusUnauthorized, "invalid_client")
	})
	t.Run("keys from jwks_uri", func(t *testing.T) {
		if status, body := push(t, uriID, first, ""); status != http.StatusCreated {
			t.Errorf("PAR of a client with jwks_uri = %d %v, want 201", status, body)
		}
		status, body := push(t, uriID, stranger, "")
		wantError(t, "PAR of a client with jwks_uri, unlisted key", status, body, http.StatusUnauthorized, "invalid_client")
	})
	t.Run("replayed assertion refused", func(t *testing.T) {
		a := second.assertion(t, id, p.Issuer())
		if status, body := push(t, id, second, a); status != http.StatusCreated {
			t.Fatalf("first use = %d %v, want 201", status, body)
		}
		status, body := push(t, id, second, a)
		wantError(t, "PAR with a replayed assertion", status, body, http.StatusUnauthorized, "invalid_client")
	})
}
