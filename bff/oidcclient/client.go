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
	"golang.org/x/oauth2"
)

// Config configures a [Client].
type Config struct {
	// Issuer is the provider's issuer URL; discovery is fetched from
	// Issuer + "/.well-known/openid-configuration". Required.
	Issuer string
	// ClientID is this client's ID at the provider. Required.
	ClientID string
	// ClientSecret authenticates the client at the token and revocation
	// endpoints.
	ClientSecret string
	// AuthMethod is how the client authenticates: AuthSecretBasic
	// (default) or AuthSecretPost.
	AuthMethod string
	// RedirectURL is the callback registered at the provider. Required.
	RedirectURL string
	// Scopes requested at sign-in; "openid" is added when missing.
	Scopes []string
	// AuthParams are extra authorization request parameters. Protocol
	// parameters (state, nonce, code_challenge, ...) are never overridden.
	AuthParams map[string]string
	// Timeout bounds each call to the provider. Default 10s.
	Timeout time.Duration
	// HTTPClient makes every call to the provider. If nil, a client with
	// Timeout is used; a client without a timeout gets Timeout.
	HTTPClient *http.Client
}

// Client authentication methods of [Config.AuthMethod] (OpenID Connect
// Core 9).
const (
	AuthSecretBasic = "client_secret_basic"
	AuthSecretPost  = "client_secret_post"
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
	cfg        Config
	http       *http.Client
	auth       clientAuth
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
	// logout key cache, iss and aud; not exp, which providers omit.
	logoutVerifier *oidc.IDTokenVerifier
	// Optional endpoints; "" when the provider does not advertise them.
	revocationURL string
	endSessionURL string
	// issParameter is RFC 9207's
	// authorization_response_iss_parameter_supported.
	issParameter bool
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
	scopes := cfg.Scopes
	if !slices.Contains(scopes, "openid") {
		scopes = append([]string{"openid"}, scopes...)
	}
	return &Client{cfg: cfg, http: client, auth: auth, scopes: scopes, retryAfter: 2 * time.Second}, nil
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
	if err != nil {
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
	ISSParameter       bool     `json:"authorization_response_iss_parameter_supported"`
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
	algs := signingAlgs(extra.SigningAlgs)
	keys := &logoutKeys{jwksURL: extra.JWKSURI, client: c.http, algs: algs, interval: keyRefetchInterval}
	algNames := make([]string, len(algs))
	for i, a := range algs {
		algNames[i] = string(a)
	}
	return &metadata{
		endpoint: op.Endpoint(),
		verifier: op.Verifier(&oidc.Config{ClientID: c.cfg.ClientID}),
		logoutVerifier: oidc.NewVerifier(extra.Issuer, keys, &oidc.Config{
			ClientID: c.cfg.ClientID, SkipExpiryCheck: true, SupportedSigningAlgs: algNames,
		}),
		revocationURL: extra.RevocationEndpoint,
		endSessionURL: extra.EndSessionEndpoint,
		issParameter:  extra.ISSParameter,
	}, nil
}

// clientContext carries the HTTP client into go-oidc and x/oauth2, which
// only accept it through a context.
func (c *Client) clientContext(ctx context.Context) context.Context {
	return oidc.ClientContext(ctx, c.http)
}
