package bff

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	jose "github.com/go-jose/go-jose/v4"
	"golang.org/x/oauth2"
)

// providerInfo is what discovery tells us about the OpenID provider.
type providerInfo struct {
	oidc     *oidc.Provider
	verifier *oidc.IDTokenVerifier
	// logoutVerifier checks back-channel logout tokens: signature on
	// logoutKeys, iss and aud; not exp, which providers omit (see
	// verifyLogoutToken).
	logoutVerifier *oidc.IDTokenVerifier
	oauth2         oauth2.Config
	// Optional endpoints; "" when the provider does not advertise them.
	revocationURL string
	endSessionURL string
	// issParameter is RFC 9207's
	// authorization_response_iss_parameter_supported.
	issParameter bool
}

type discoveryExtras struct {
	Issuer             string   `json:"issuer"`
	JWKSURI            string   `json:"jwks_uri"`
	SigningAlgs        []string `json:"id_token_signing_alg_values_supported"`
	RevocationEndpoint string   `json:"revocation_endpoint"`
	EndSessionEndpoint string   `json:"end_session_endpoint"`
	ISSParameter       bool     `json:"authorization_response_iss_parameter_supported"`
}

// provider loads discovery on first use and keeps it. A failure is
// remembered for a short while so a down provider is not hammered by every
// request, and retried after that.
type provider struct {
	issuer     string
	client     *http.Client
	base       oauth2.Config // ClientID, secret, redirect URL, scopes
	authStyle  oauth2.AuthStyle
	retryAfter time.Duration

	mu      sync.Mutex
	info    *providerInfo
	lastErr error
	lastTry time.Time
}

func (p *provider) get(ctx context.Context) (*providerInfo, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.info != nil {
		return p.info, nil
	}
	if p.lastErr != nil && time.Since(p.lastTry) < p.retryAfter {
		return nil, p.lastErr
	}
	p.lastTry = time.Now()
	info, err := p.discover(ctx)
	if err != nil {
		p.lastErr = err
		return nil, err
	}
	p.info, p.lastErr = info, nil
	return info, nil
}

// loaded reports whether discovery has succeeded, for /readyz.
func (p *provider) loaded() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.info != nil
}

func (p *provider) discover(ctx context.Context) (*providerInfo, error) {
	ctx, cancel := context.WithTimeout(ctx, p.client.Timeout)
	defer cancel()
	op, err := oidc.NewProvider(oidc.ClientContext(ctx, p.client), p.issuer)
	if err != nil {
		return nil, fmt.Errorf("oidc discovery: %w", err)
	}
	var extra discoveryExtras
	if err := op.Claims(&extra); err != nil {
		return nil, fmt.Errorf("oidc discovery: %w", err)
	}
	cfg := p.base
	cfg.Endpoint = op.Endpoint()
	cfg.Endpoint.AuthStyle = p.authStyle
	algs := signingAlgs(extra.SigningAlgs)
	keys := &logoutKeys{jwksURL: extra.JWKSURI, client: p.client, algs: algs, interval: keyRefetchInterval}
	algNames := make([]string, len(algs))
	for i, a := range algs {
		algNames[i] = string(a)
	}
	return &providerInfo{
		oidc:     op,
		verifier: op.Verifier(&oidc.Config{ClientID: p.base.ClientID}),
		logoutVerifier: oidc.NewVerifier(extra.Issuer, keys, &oidc.Config{
			ClientID: p.base.ClientID, SkipExpiryCheck: true, SupportedSigningAlgs: algNames,
		}),
		oauth2:        cfg,
		revocationURL: extra.RevocationEndpoint,
		endSessionURL: extra.EndSessionEndpoint,
		issParameter:  extra.ISSParameter,
	}, nil
}

// warm keeps trying discovery in the background until it succeeds or ctx
// ends, so /readyz turns ready without waiting for the first sign-in.
func (p *provider) warm(ctx context.Context) {
	delay := time.Second
	for {
		if _, err := p.get(ctx); err == nil {
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

// clientContext carries the provider HTTP client into go-oidc and
// x/oauth2, which only accept it through a context.
func (p *provider) clientContext(ctx context.Context) context.Context {
	return oidc.ClientContext(ctx, p.client)
}

// asymmetricAlgs are the signature algorithms a provider's keys may use;
// "none" and the HMAC family (keyed with the client secret) never verify a
// logout token.
var asymmetricAlgs = []jose.SignatureAlgorithm{
	jose.RS256, jose.RS384, jose.RS512, jose.PS256, jose.PS384, jose.PS512,
	jose.ES256, jose.ES384, jose.ES512, jose.EdDSA,
}

// signingAlgs is what discovery advertises, restricted to asymmetricAlgs;
// RS256, which OpenID Connect requires, when it advertises none of them.
func signingAlgs(advertised []string) []jose.SignatureAlgorithm {
	var out []jose.SignatureAlgorithm
	for _, a := range asymmetricAlgs {
		if slices.Contains(advertised, string(a)) {
			out = append(out, a)
		}
	}
	if len(out) == 0 {
		return []jose.SignatureAlgorithm{jose.RS256}
	}
	return out
}
