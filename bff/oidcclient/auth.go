package oidcclient

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"

	jose "github.com/go-jose/go-jose/v4"
)

// Client authentication methods of [Config.AuthMethod] (OpenID Connect
// Core 9, RFC 7523, RFC 8705).
const (
	AuthSecretBasic   = "client_secret_basic"
	AuthSecretPost    = "client_secret_post"
	AuthPrivateKeyJWT = "private_key_jwt"
	AuthTLS           = "tls_client_auth"
	AuthSelfSignedTLS = "self_signed_tls_client_auth"
)

// clientAuth is how the client proves who it is to the token, PAR,
// revocation and introspection endpoints. Each method is one
// implementation; every request to those endpoints goes through it, once
// per attempt (an assertion is never sent twice).
type clientAuth interface {
	// authenticate adds the client's credentials to a request whose form
	// is not encoded yet. m is the discovery the request is made under.
	authenticate(req *http.Request, form url.Values, m *metadata) error
}

func newClientAuth(cfg Config) (clientAuth, error) {
	switch cfg.AuthMethod {
	case "", AuthSecretBasic:
		return secretAuth{id: cfg.ClientID, secret: cfg.ClientSecret}, nil
	case AuthSecretPost:
		return secretAuth{id: cfg.ClientID, secret: cfg.ClientSecret, post: true}, nil
	case AuthPrivateKeyJWT:
		if len(cfg.ClientKeyPEM) == 0 {
			return nil, errors.New("oidcclient: private_key_jwt needs ClientKeyPEM")
		}
		keys, err := parseClientKeys(cfg.ClientKeyPEM, cfg.ClientKeyID)
		if err != nil {
			return nil, &ConfigError{Key: "oidc.client_key_file", Problem: err.Error()}
		}
		return keyAuth{id: cfg.ClientID, issuer: cfg.Issuer, keys: keys}, nil
	case AuthTLS, AuthSelfSignedTLS:
		if _, err := tls.X509KeyPair(cfg.TLSClientCertPEM, cfg.TLSClientKeyPEM); err != nil {
			return nil, &ConfigError{Key: "oidc.tls_client_cert_file", Problem: "certificate and key do not load: " + err.Error()}
		}
		return tlsAuth{id: cfg.ClientID}, nil
	}
	return nil, &ConfigError{Key: "oidc.client_auth", Problem: fmt.Sprintf("unknown client authentication method %q", cfg.AuthMethod)}
}

// secretAuth is client_secret_basic or client_secret_post.
type secretAuth struct {
	id, secret string
	post       bool
}

func (a secretAuth) authenticate(req *http.Request, form url.Values, _ *metadata) error {
	if a.post {
		form.Set("client_id", a.id)
		form.Set("client_secret", a.secret)
		return nil
	}
	// RFC 6749 2.3.1: form-encode the credentials before Basic.
	req.SetBasicAuth(url.QueryEscape(a.id), url.QueryEscape(a.secret))
	return nil
}

// keyAuth is private_key_jwt: a fresh client assertion signed by the
// first key for every request.
type keyAuth struct {
	id, issuer string
	keys       []clientKey
}

func (a keyAuth) authenticate(_ *http.Request, form url.Values, m *metadata) error {
	k := a.keys[0]
	alg := k.alg
	// A provider that lists its assertion algorithms and takes RS256 but
	// not PS256 still gets an RSA key's assertion.
	if algs := m.authSigningAlgs; alg == jose.PS256 && len(algs) > 0 && !slices.Contains(algs, "PS256") && slices.Contains(algs, "RS256") {
		alg = jose.RS256
	}
	s, err := k.assertion(a.id, a.issuer, alg)
	if err != nil {
		return err
	}
	form.Set("client_id", a.id)
	form.Set("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
	form.Set("client_assertion", s)
	return nil
}

// tlsAuth is tls_client_auth or self_signed_tls_client_auth: the
// certificate goes with the TLS handshake (Client.tlsHTTP), the request
// names the client.
type tlsAuth struct{ id string }

func (a tlsAuth) authenticate(_ *http.Request, form url.Values, _ *metadata) error {
	form.Set("client_id", a.id)
	return nil
}

// JWKS is the client's public keys for private_key_jwt, as a JWK set a
// provider can fetch from the client's jwks_uri; nil with any other
// method. It has no private member.
func (c *Client) JWKS() *jose.JSONWebKeySet {
	ka, ok := c.auth.(keyAuth)
	if !ok {
		return nil
	}
	return &jose.JSONWebKeySet{Keys: publicJWKs(ka.keys)}
}

// mtlsClient is base with certificate presented on every TLS handshake
// that asks for one. tls.Config.Certificates would not do: Go sends such
// a certificate only when its issuer is among the CAs the server names,
// and a self-signed one (self_signed_tls_client_auth) never is.
func mtlsClient(base *http.Client, certPEM, keyPEM []byte) (*http.Client, error) {
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, err
	}
	var tr *http.Transport
	switch t := base.Transport.(type) {
	case nil:
		tr = http.DefaultTransport.(*http.Transport).Clone()
	case *http.Transport:
		tr = t.Clone()
	default:
		return nil, fmt.Errorf("oidcclient: mutual TLS needs an *http.Transport, HTTPClient has %T", t)
	}
	if tr.TLSClientConfig == nil {
		tr.TLSClientConfig = &tls.Config{}
	}
	tr.TLSClientConfig.MinVersion = max(tr.TLSClientConfig.MinVersion, tls.VersionTLS12)
	tr.TLSClientConfig.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
		return &cert, nil
	}
	c := *base
	c.Transport = tr
	return &c, nil
}

// ConfigError is a problem with the client's configuration or with what
// the provider's discovery offers for it, naming the BFF configuration key
// concerned, e.g. "oidc.par" when PAR is required and the provider has no
// pushed_authorization_request_endpoint.
type ConfigError struct {
	Key     string
	Problem string
}

func (e *ConfigError) Error() string { return "oidcclient: " + e.Key + ": " + e.Problem }
