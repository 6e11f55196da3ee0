package fapiop_test

import (
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"github.com/bff-project/bff/e2e/fapiop"
)

// Discovery advertises what each Config turns on, and nothing it turns
// off: the BFF's "auto" modes read exactly these fields.
func TestDiscovery(t *testing.T) {
	t.Parallel()
	ca, err := fapiop.NewCA("client CA")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		cfg   fapiop.Config
		check func(t *testing.T, p *fapiop.Provider, m fapiop.Metadata)
	}{{
		name: "plain",
		cfg:  fapiop.Config{},
		check: func(t *testing.T, p *fapiop.Provider, m fapiop.Metadata) {
			if m.PAREndpoint != "" || m.DPoPSigningAlgs != nil || m.MTLSEndpointAliases != nil || m.CertificateBoundTokens {
				t.Errorf("PAR %q, DPoP %v, mTLS %v %v: want none", m.PAREndpoint, m.DPoPSigningAlgs, m.MTLSEndpointAliases, m.CertificateBoundTokens)
			}
			if !m.IssParameterSupported || m.RevocationEndpoint == "" || m.IntrospectionEndpoint == "" ||
				m.EndSessionEndpoint == "" || !m.BackchannelLogout || !m.BackchannelLogoutSession {
				t.Errorf("iss parameter, revocation, introspection, end_session, back-channel logout = %+v, want all", m)
			}
			if !slices.Equal(m.CodeChallengeMethods, []string{"S256"}) {
				t.Errorf("code_challenge_methods_supported = %v, want [S256]", m.CodeChallengeMethods)
			}
			for _, g := range []string{"authorization_code", "refresh_token", "client_credentials", fapiop.GrantTokenExchange} {
				if !slices.Contains(m.GrantTypes, g) {
					t.Errorf("grant_types_supported = %v, want %s", m.GrantTypes, g)
				}
			}
			if !strings.HasPrefix(p.Issuer(), "http://127.0.0.1:") || m.Issuer != p.Issuer() {
				t.Errorf("issuer = %q (discovery %q), want http://127.0.0.1:<port>", p.Issuer(), m.Issuer)
			}
		},
	}, {
		name: "fapi",
		cfg: fapiop.Config{PAR: fapiop.PARRequired, DPoPNonce: true, TLS: true, MTLS: &fapiop.MTLS{
			CertificateBoundAccessTokens: true, TLSClientAuth: true, SelfSignedTLSClientAuth: true,
			ClientCAs: []*x509.Certificate{ca.Certificate},
		}},
		check: func(t *testing.T, p *fapiop.Provider, m fapiop.Metadata) {
			if m.PAREndpoint == "" || !m.RequirePAR {
				t.Errorf("PAR endpoint %q, required %v: want both", m.PAREndpoint, m.RequirePAR)
			}
			if !slices.Contains(m.DPoPSigningAlgs, "ES256") {
				t.Errorf("dpop_signing_alg_values_supported = %v, want ES256", m.DPoPSigningAlgs)
			}
			if !m.CertificateBoundTokens {
				t.Error("tls_client_certificate_bound_access_tokens = false, want true")
			}
			for _, a := range []string{fapiop.AuthTLS, fapiop.AuthSelfSignedTLS, fapiop.AuthPrivateKeyJWT} {
				if !slices.Contains(m.TokenEndpointAuthMethods, a) {
					t.Errorf("token_endpoint_auth_methods_supported = %v, want %s", m.TokenEndpointAuthMethods, a)
				}
			}
			if !strings.HasPrefix(p.Issuer(), "https://127.0.0.1:") {
				t.Errorf("issuer = %q, want https", p.Issuer())
			}
			checkAliases(t, p, m)
		},
	}, {
		name: "disabled",
		cfg: fapiop.Config{DisableRevocation: true, DisableIntrospection: true, DisableRPInitiatedLogout: true,
			DisableBackchannelLogout: true, DisableClientCredentials: true, DisableTokenExchange: true,
			DisableRefreshRotation: true, Users: []fapiop.User{alice()},
			Clients: []fapiop.Client{{ID: "c", Secret: "s", RedirectURIs: []string{redirectURI}}}},
		check: func(t *testing.T, p *fapiop.Provider, m fapiop.Metadata) {
			if m.RevocationEndpoint != "" || m.IntrospectionEndpoint != "" || m.EndSessionEndpoint != "" || m.BackchannelLogout {
				t.Errorf("disabled endpoints advertised: %+v", m)
			}
			if !slices.Equal(m.GrantTypes, []string{"authorization_code", "refresh_token"}) {
				t.Errorf("grant_types_supported = %v, want [authorization_code refresh_token]", m.GrantTypes)
			}
			// Not in discovery: without rotation a refresh answers the
			// same refresh token.
			conf := oauthConfig(p, "c", "s")
			v := oauth2.GenerateVerifier()
			tok, err := conf.Exchange(t.Context(), signIn(t, p, authURL(p, "c", v, nil)), oauth2.VerifierOption(v))
			if err != nil {
				t.Fatalf("code exchange: %v", err)
			}
			next, err := conf.TokenSource(t.Context(), &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
			if err != nil || next.RefreshToken != tok.RefreshToken {
				t.Errorf("refresh: %v; same refresh token = %v, want true", err, err == nil && next.RefreshToken == tok.RefreshToken)
			}
		},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := fapiop.Start(t, tc.cfg)
			tc.check(t, p, p.Metadata())
		})
	}
}

// checkAliases wants every mTLS alias on one other https origin that asks
// for a client certificate, while the issuer's own endpoints do not.
func checkAliases(t *testing.T, p *fapiop.Provider, m fapiop.Metadata) {
	t.Helper()
	want := map[string]string{
		"token_endpoint": m.TokenEndpoint, "pushed_authorization_request_endpoint": m.PAREndpoint,
		"revocation_endpoint": m.RevocationEndpoint, "introspection_endpoint": m.IntrospectionEndpoint,
		"userinfo_endpoint": m.UserinfoEndpoint,
	}
	origin := ""
	for name, plain := range want {
		alias, err := url.Parse(m.MTLSEndpointAliases[name])
		if err != nil || alias.Scheme != "https" {
			t.Fatalf("mtls_endpoint_aliases[%s] = %q, want an https URL", name, m.MTLSEndpointAliases[name])
		}
		u, _ := url.Parse(plain)
		if alias.Host == u.Host || alias.Path != u.Path || (origin != "" && alias.Host != origin) {
			t.Errorf("alias %s = %s for %s: want the same path on one other origin", name, alias, plain)
		}
		origin = alias.Host
	}
	var asked [2]bool
	for i, target := range []string{"https://" + origin + "/jwks", m.JWKSURI} {
		tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: p.RootCAs(),
			GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
				asked[i] = true
				return &tls.Certificate{}, nil
			}}}
		resp, err := (&http.Client{Transport: tr}).Get(target)
		if err != nil {
			t.Fatalf("GET %s: %v", target, err)
		}
		resp.Body.Close()
	}
	if asked != [2]bool{true, false} {
		t.Errorf("client certificate asked by alias, issuer = %v, want [true false]", asked)
	}
}
