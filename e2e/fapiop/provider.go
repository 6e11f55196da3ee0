package fapiop

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// Metadata is the part of the provider's discovery document that tests
// use. Endpoints the provider does not offer are empty.
type Metadata struct {
	Issuer                   string            `json:"issuer"`
	AuthorizationEndpoint    string            `json:"authorization_endpoint"`
	TokenEndpoint            string            `json:"token_endpoint"`
	PAREndpoint              string            `json:"pushed_authorization_request_endpoint"`
	RequirePAR               bool              `json:"require_pushed_authorization_requests"`
	RevocationEndpoint       string            `json:"revocation_endpoint"`
	IntrospectionEndpoint    string            `json:"introspection_endpoint"`
	UserinfoEndpoint         string            `json:"userinfo_endpoint"`
	EndSessionEndpoint       string            `json:"end_session_endpoint"`
	JWKSURI                  string            `json:"jwks_uri"`
	GrantTypes               []string          `json:"grant_types_supported"`
	TokenEndpointAuthMethods []string          `json:"token_endpoint_auth_methods_supported"`
	DPoPSigningAlgs          []string          `json:"dpop_signing_alg_values_supported"`
	MTLSEndpointAliases      map[string]string `json:"mtls_endpoint_aliases"`
	CertificateBoundTokens   bool              `json:"tls_client_certificate_bound_access_tokens"`
	IssParameterSupported    bool              `json:"authorization_response_iss_parameter_supported"`
	BackchannelLogout        bool              `json:"backchannel_logout_supported"`
	BackchannelLogoutSession bool              `json:"backchannel_logout_session_supported"`
	ACRValues                []string          `json:"acr_values_supported"`
	CodeChallengeMethods     []string          `json:"code_challenge_methods_supported"`
}

// Provider is a running oidc-provider. Its methods are safe for
// concurrent use.
type Provider struct {
	issuer string
	meta   Metadata
	roots  *x509.CertPool // nil: no TLS listener
	proc   *process
}

// Start starts a provider for cfg on 127.0.0.1 and stops it in t.Cleanup;
// when t fails, the provider's log is added to its output. It skips t
// when node or the node modules are missing (saying which, and the
// command that installs them), or fails it when BFF_TEST_REQUIRE lists
// "fapiop". A bad cfg fails t with every problem found.
func Start(t testing.TB, cfg Config) *Provider {
	t.Helper()
	dir := nodeDir()
	node, why := checkInstall(dir)
	if why != "" {
		if Required() {
			t.Fatalf("fapiop: %s, but %s=%q requires fapiop", why, EnvRequire, os.Getenv(EnvRequire))
		}
		t.Skipf("fapiop: %s", why)
	}
	p, err := start(cfg, node, dir, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		p.proc.close()
		if t.Failed() {
			t.Logf("fapiop: provider log:\n%s", p.Log())
		}
	})
	return p
}

// ErrNotInstalled is returned by [Launch] when node or the node modules
// are missing; the wrapped text says which and how to install them.
var ErrNotInstalled = errors.New("fapiop: not installed")

// Launch starts a provider for cfg like [Start], for programs that are not
// tests (the benchmark); tmp is a directory for its files. Close stops it.
func Launch(cfg Config, tmp string) (*Provider, error) {
	dir := nodeDir()
	node, why := checkInstall(dir)
	if why != "" {
		return nil, fmt.Errorf("%w: %s", ErrNotInstalled, why)
	}
	return start(cfg, node, dir, tmp)
}

// Close stops a provider from [Launch]. ([Start]'s stops in t.Cleanup.)
func (p *Provider) Close() { p.proc.close() }

func start(cfg Config, node, dir, tmp string) (*Provider, error) {
	doc, err := newDocument(cfg)
	if err != nil {
		return nil, err
	}
	p := &Provider{}
	if cfg.TLS || cfg.MTLS != nil {
		ca, err := NewCA("fapiop provider CA")
		if err != nil {
			return nil, err
		}
		server, err := ca.serverCertificate()
		if err != nil {
			return nil, err
		}
		if doc.ServerCert, doc.ServerKey, err = pemPair(server); err != nil {
			return nil, err
		}
		p.roots = x509.NewCertPool()
		p.roots.AddCert(ca.Certificate)
	}
	var env []string
	if len(cfg.TrustedCAs) > 0 {
		var ders [][]byte
		for _, c := range cfg.TrustedCAs {
			ders = append(ders, c.Raw)
		}
		path := filepath.Join(tmp, "trusted-cas.pem")
		if err := os.WriteFile(path, []byte(pemCerts(ders)), 0o600); err != nil {
			return nil, fmt.Errorf("fapiop: %w", err)
		}
		env = append(env, "NODE_EXTRA_CA_CERTS="+path)
	}
	b, err := json.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("fapiop: %w", err)
	}
	if p.proc, p.issuer, err = launch(node, dir, b, env); err != nil {
		return nil, err
	}
	if err := p.discover(); err != nil {
		p.proc.close()
		return nil, fmt.Errorf("%w; provider log:\n%s", err, p.Log())
	}
	return p, nil
}

func (p *Provider) discover() error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.issuer+"/.well-known/openid-configuration", nil)
	if err != nil {
		return fmt.Errorf("fapiop: discovery: %w", err)
	}
	resp, err := p.HTTPClient().Do(req)
	if err != nil {
		return fmt.Errorf("fapiop: discovery: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil || resp.StatusCode != http.StatusOK {
		return fmt.Errorf("fapiop: discovery: %s %v", resp.Status, err)
	}
	if err := json.Unmarshal(body, &p.meta); err != nil {
		return fmt.Errorf("fapiop: discovery: %w", err)
	}
	return nil
}

// Issuer is the issuer identifier, e.g. "http://127.0.0.1:41234" (https
// with [Config.TLS]), without a trailing slash.
func (p *Provider) Issuer() string { return p.issuer }

// Metadata is the discovery document read at start.
func (p *Provider) Metadata() Metadata { return p.meta }

// RootCAs trusts the provider's TLS listeners (the issuer with
// [Config.TLS], the mTLS aliases with [Config.MTLS]); nil when it has
// none. Each call returns a new pool.
func (p *Provider) RootCAs() *x509.CertPool {
	if p.roots == nil {
		return nil
	}
	return p.roots.Clone()
}

// HTTPClient returns a new client for talking to the provider like a
// browser: it trusts [Provider.RootCAs], has its own cookie jar and a
// 10-second timeout, and follows redirects.
func (p *Provider) HTTPClient() *http.Client {
	jar, _ := cookiejar.New(nil) // never fails without options
	return &http.Client{
		Jar:     jar,
		Timeout: 10 * time.Second,
		Transport: &http.Transport{
			TLSClientConfig: &tls.Config{RootCAs: p.RootCAs()},
		},
	}
}

// Log is what the provider has written to stderr so far, at most 1 MiB:
// oidc-provider's warnings, server errors, and each refused request with
// the detail its error response leaves out (for example
// "fapiop: grant.error: invalid_grant: refresh token not found").
func (p *Provider) Log() string { return p.proc.log.String() }
