package oidcclient

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	"golang.org/x/oauth2"
)

// Config configures a [Client].
type Config struct {
	// Issuer is the provider's issuer URL; discovery is fetched from
	// Issuer + "/.well-known/openid-configuration". Required.
	Issuer string
	// ClientID is this client's ID at the provider. Required.
	ClientID string
	// ClientSecret authenticates the client with AuthSecretBasic and
	// AuthSecretPost.
	ClientSecret string
	// AuthMethod is how the client authenticates at the token, PAR,
	// revocation and introspection endpoints: AuthSecretBasic (default),
	// AuthSecretPost, AuthPrivateKeyJWT, AuthTLS or AuthSelfSignedTLS.
	AuthMethod string
	// ClientKeyPEM holds the private_key_jwt keys: one or more PEM
	// private keys, RSA of at least 2048 bits or EC P-256; the first
	// signs, all are published by [Client.JWKS].
	ClientKeyPEM []byte
	// ClientKeyID is the kid of the first key. Default: its RFC 7638
	// thumbprint.
	ClientKeyID string
	// TLSClientCertPEM and TLSClientKeyPEM are the client certificate and
	// key of AuthTLS and AuthSelfSignedTLS (RFC 8705), presented to the
	// provider's mtls_endpoint_aliases (or its plain endpoints when it
	// advertises none).
	TLSClientCertPEM, TLSClientKeyPEM []byte
	// PAR is ModeAuto (default: pushed authorization requests, RFC 9126,
	// when discovery advertises the endpoint), ModeRequire (discovery
	// must advertise it) or ModeOff.
	PAR string
	// DPoP is ModeOff (default), ModeAuto (when discovery advertises
	// dpop_signing_alg_values_supported with ES256) or ModeRequire.
	DPoP string
	// Profile is "" or ProfileFAPI2: discovery must then also offer the
	// RFC 9207 iss parameter, PKCE S256 and AuthMethod.
	Profile string
	// Provider is the provider preset: ProviderGeneric (default, "") or
	// one whose quirks the client knows. Only ProviderEntra changes what
	// the client sends (see [TokenRequest]) and how [Client.CheckToken]
	// reads tokens; the other presets shape the configuration only.
	Provider string
	// RedirectURL is the callback registered at the provider. Required.
	RedirectURL string
	// Scopes requested at sign-in; "openid" is added when missing.
	Scopes []string
	// Resources are RFC 8707 resource indicators sent at sign-in, each as
	// its own resource parameter. Default none.
	Resources []string
	// AuthParams are extra authorization request parameters. Protocol
	// parameters (state, nonce, code_challenge, ...) are never overridden.
	AuthParams map[string]string
	// Timeout bounds each call to the provider. Default 10s.
	Timeout time.Duration
	// HTTPClient makes every call to the provider. If nil, a client with
	// Timeout is used; a client without a timeout gets Timeout. With
	// mutual TLS its Transport must be nil or an *http.Transport.
	HTTPClient *http.Client
	// TracerProvider and Propagator, when set, make each provider call a
	// span (otelhttp) and each operation (code exchange, ID-token
	// verification, grants, revocation, logout-token verification) a span
	// of its own. Default nil: no tracing.
	TracerProvider trace.TracerProvider
	Propagator     propagation.TextMapPropagator
}

// Modes of [Config.PAR] and [Config.DPoP].
const (
	ModeAuto    = "auto"
	ModeRequire = "require"
	ModeOff     = "off"
)

// ProfileFAPI2 is the FAPI 2.0 Security Profile of [Config.Profile].
const ProfileFAPI2 = "fapi2"

// Provider presets of [Config.Provider] that change the client's requests
// or token checks.
const (
	ProviderGeneric = ""
	ProviderEntra   = "entra"
)

// ErrUnavailable means the provider could not be asked: discovery failed,
// the provider did not answer, or it answered with a server error. It is
// temporary; errors.Is finds it.
var ErrUnavailable = errors.New("oidcclient: provider unavailable")

// Client talks to one OpenID provider. Discovery is fetched on first use
// and kept; a failure is remembered for a short while so that a provider
// that is down is not asked by every request. It is safe for concurrent
// use.
type Client struct {
	cfg  Config
	http *http.Client
	// tlsHTTP makes the calls that authenticate the client (token, PAR,
	// revocation, introspection): http with the client certificate for
	// mutual TLS, else http itself.
	tlsHTTP    *http.Client
	tracer     trace.Tracer // nil: no tracing
	auth       clientAuth
	nonces     nonces
	scopes     []string
	retryAfter time.Duration

	mu      sync.Mutex
	meta    *metadata
	lastErr error
	lastTry time.Time
}

// metadata is what discovery told us, with the verifiers built from it.
type metadata struct {
	endpoint oauth2.Endpoint
	verifier *oidc.IDTokenVerifier
	// logoutVerifier checks back-channel logout tokens: signature on the
	// logout key cache (keys), iss and aud; not exp, which providers omit.
	logoutVerifier *oidc.IDTokenVerifier
	keys           *logoutKeys
	// Optional endpoints; "" when the provider does not advertise them.
	revocationURL string
	endSessionURL string
	// issParameter is RFC 9207's
	// authorization_response_iss_parameter_supported.
	issParameter bool
	// parURL is the pushed_authorization_request_endpoint, "" when PAR is
	// not in use (none advertised, or Config.PAR off).
	parURL string
	// dpop: DPoP-bound tokens are asked for (Config.DPoP and discovery).
	dpop bool
	// introspectionURL is the RFC 7662 endpoint; "" when none.
	introspectionURL string
	// authSigningAlgs is token_endpoint_auth_signing_alg_values_supported.
	authSigningAlgs []string
	// mtlsAliased: client-authenticated calls go to mtls_endpoint_aliases.
	mtlsAliased bool
}

// New returns a Client for cfg. It does not call the provider.
func New(cfg Config) (*Client, error) {
	if cfg.Issuer == "" || cfg.ClientID == "" || cfg.RedirectURL == "" {
		return nil, errors.New("oidcclient: Issuer, ClientID and RedirectURL are required")
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	client := cfg.HTTPClient
	if client == nil {
		client = &http.Client{Timeout: cfg.Timeout}
	}
	if client.Timeout == 0 {
		c := *client
		c.Timeout = cfg.Timeout
		client = &c
	}
	auth, err := newClientAuth(cfg)
	if err != nil {
		return nil, err
	}
	tlsHTTP := client
	if cfg.AuthMethod == AuthTLS || cfg.AuthMethod == AuthSelfSignedTLS {
		if tlsHTTP, err = mtlsClient(client, cfg.TLSClientCertPEM, cfg.TLSClientKeyPEM); err != nil {
			return nil, err
		}
	}
	var tracer trace.Tracer
	if cfg.TracerProvider != nil && cfg.Propagator != nil {
		client, tlsHTTP = traced(client, cfg), traced(tlsHTTP, cfg)
		tracer = cfg.TracerProvider.Tracer("github.com/bff-project/bff/bff/oidcclient")
	}
	scopes := cfg.Scopes
	if !slices.Contains(scopes, "openid") {
		scopes = append([]string{"openid"}, scopes...)
	}
	return &Client{cfg: cfg, http: client, tlsHTTP: tlsHTTP, tracer: tracer, auth: auth, scopes: scopes, retryAfter: 2 * time.Second}, nil
}

// Issuer is the configured issuer.
func (c *Client) Issuer() string { return c.cfg.Issuer }

// ClientID is the configured client ID.
func (c *Client) ClientID() string { return c.cfg.ClientID }

// metadata returns discovery, fetching it when it is not loaded yet.
func (c *Client) metadata(ctx context.Context) (*metadata, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.meta != nil {
		return c.meta, nil
	}
	if c.lastErr != nil && time.Since(c.lastTry) < c.retryAfter {
		return nil, c.lastErr
	}
	c.lastTry = time.Now()
	m, err := c.discover(ctx)
	var ce *ConfigError
	switch {
	case errors.As(err, &ce):
		// The provider answered, and cannot serve this configuration.
		c.lastErr = err
		return nil, err
	case err != nil:
		c.lastErr = fmt.Errorf("%w: discovery: %v", ErrUnavailable, err)
		return nil, c.lastErr
	}
	c.meta, c.lastErr = m, nil
	return m, nil
}

// Ready reports whether discovery has been loaded.
func (c *Client) Ready() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.meta != nil
}

// Warm keeps trying discovery in the background until it succeeds or ctx
// ends, so that readiness does not wait for the first sign-in.
func (c *Client) Warm(ctx context.Context) {
	delay := time.Second
	for {
		if _, err := c.metadata(ctx); err == nil {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(delay):
		}
		delay = min(delay*2, 30*time.Second)
	}
}

type discoveryExtras struct {
	Issuer             string   `json:"issuer"`
	JWKSURI            string   `json:"jwks_uri"`
	SigningAlgs        []string `json:"id_token_signing_alg_values_supported"`
	RevocationEndpoint string   `json:"revocation_endpoint"`
	EndSessionEndpoint string   `json:"end_session_endpoint"`
	offers
}

func (c *Client) discover(ctx context.Context) (*metadata, error) {
	ctx, cancel := context.WithTimeout(ctx, c.http.Timeout)
	defer cancel()
	op, err := oidc.NewProvider(c.clientContext(ctx), c.cfg.Issuer)
	if err != nil {
		return nil, err
	}
	var extra discoveryExtras
	if err := op.Claims(&extra); err != nil {
		return nil, err
	}
	if err := c.checkOffers(&extra.offers); err != nil {
		return nil, err
	}
	algs := signingAlgs(extra.SigningAlgs)
	keys := &logoutKeys{jwksURL: extra.JWKSURI, client: c.http, algs: algs, interval: keyRefetchInterval}
	algNames := make([]string, len(algs))
	for i, a := range algs {
		algNames[i] = string(a)
	}
	ep := op.Endpoint()
	ep.TokenURL = c.endpoint(&extra.offers, "token_endpoint", ep.TokenURL)
	m := &metadata{
		endpoint: ep,
		verifier: op.Verifier(&oidc.Config{ClientID: c.cfg.ClientID}),
		logoutVerifier: oidc.NewVerifier(extra.Issuer, keys, &oidc.Config{
			ClientID: c.cfg.ClientID, SkipExpiryCheck: true, SupportedSigningAlgs: algNames,
		}),
		keys:             keys,
		revocationURL:    c.endpoint(&extra.offers, "revocation_endpoint", extra.RevocationEndpoint),
		introspectionURL: c.endpoint(&extra.offers, "introspection_endpoint", extra.IntrospectionEndpoint),
		endSessionURL:    extra.EndSessionEndpoint,
		issParameter:     extra.ISSParameter,
		dpop:             c.cfg.DPoP == ModeRequire || (c.cfg.DPoP == ModeAuto && extra.dpopES256()),
		authSigningAlgs:  extra.AuthSigningAlgs,
		mtlsAliased:      c.tlsHTTP != c.http && extra.MTLSAliases["token_endpoint"] != "",
	}
	if c.cfg.PAR != ModeOff && extra.PAREndpoint != "" {
		m.parURL = c.endpoint(&extra.offers, "pushed_authorization_request_endpoint", extra.PAREndpoint)
	}
	return m, nil
}

// endpoint is the URL of a client-authenticated endpoint: its mTLS alias
// (RFC 8705 section 5) when the client authenticates with a certificate
// and the provider names one, else plain.
func (c *Client) endpoint(o *offers, name, plain string) string {
	if c.tlsHTTP != c.http {
		if alias := o.MTLSAliases[name]; alias != "" {
			return alias
		}
	}
	return plain
}

// clientContext carries the HTTP client into go-oidc and x/oauth2, which
// only accept it through a context.
func (c *Client) clientContext(ctx context.Context) context.Context {
	return oidc.ClientContext(ctx, c.http)
}
