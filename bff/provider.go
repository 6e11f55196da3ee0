package bff

import (
	"context"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/bff-project/bff/bff/config"
	"github.com/bff-project/bff/bff/oidcclient"
	"github.com/bff-project/bff/proxy"
)

// This file builds the provider client from the configuration: client
// authentication keys and certificates, PAR, DPoP and the FAPI 2.0
// profile, the sign-in request's scopes and resources, and the start-up
// check and log line of what is in force.

// newProvider builds s.provider. Key and certificate files are read here
// (Validate does no I/O); a file that does not load is a *config.Error
// naming its key.
func (s *Server) newProvider() error {
	var err error
	s.provider, s.signInResources, err = newProviderClient(s.cfg, s.publicURL.String())
	return err
}

// newProviderClient is the provider client of cfg (defaults set and
// validated) and the resources its sign-ins ask for.
func newProviderClient(cfg Config, publicURL string) (*oidcclient.Client, []string, error) {
	o := cfg.OIDC
	pc := oidcclient.Config{
		Issuer: o.Issuer, ClientID: o.ClientID, ClientSecret: o.ClientSecret, AuthMethod: o.ClientAuth,
		ClientKeyID: o.ClientKeyID, PAR: o.PAR, DPoP: o.DPoP, Profile: o.Profile, Provider: o.Provider,
		RedirectURL: strings.TrimSuffix(publicURL, "/") + "/bff/callback", AuthParams: o.AuthParams,
		Timeout: o.Timeout, HTTPClient: cfg.HTTPClient,
	}
	if cfg.Tracing != nil {
		pc.TracerProvider, pc.Propagator = cfg.Tracing.Provider, cfg.Tracing.Propagator
	}
	pc.Scopes, pc.Resources = signInRequest(cfg.Config)
	var errs []error
	read := func(key, path string) []byte {
		if path == "" {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			errs = append(errs, &config.Error{Key: key, Problem: "cannot be read: " + pathError(err)})
		}
		return b
	}
	pc.ClientKeyPEM = read("oidc.client_key_file", o.ClientKeyFile)
	pc.TLSClientCertPEM = read("oidc.tls_client_cert_file", o.TLSClientCertFile)
	pc.TLSClientKeyPEM = read("oidc.tls_client_key_file", o.TLSClientKeyFile)
	if err := errors.Join(errs...); err != nil {
		return nil, nil, err
	}
	c, err := oidcclient.New(pc)
	if err != nil {
		return nil, nil, asConfigError(err)
	}
	return c, slices.Clip(pc.Resources), nil
}

// pathError is err without the path, which the key already names.
func pathError(err error) string {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

// asConfigError turns the provider client's *ConfigError into the
// *config.Error that start-up reports.
func asConfigError(err error) error {
	if joined, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range joined.Unwrap() {
			out = append(out, asConfigError(e))
		}
		return errors.Join(out...)
	}
	var ce *oidcclient.ConfigError
	if errors.As(err, &ce) {
		return &config.Error{Key: ce.Key, Problem: ce.Problem}
	}
	return err
}

// signInRequest is what the sign-in request asks for (RFC 8707): the
// configured scopes with every user route's scopes, and every user
// route's resource, unless a route sets at_sign_in: false. A strict
// provider grants at sign-in what a refresh may later ask for, and
// nothing more.
func signInRequest(c config.Config) (scopes, resources []string) {
	scopes = slices.Clone(c.OIDC.Scopes)
	for _, a := range c.APIs {
		if !a.SignIn() || (a.Token != proxy.TokenUser && a.Token != proxy.TokenUserOptional && a.Token != "") {
			continue
		}
		for _, sc := range a.Scopes {
			if !slices.Contains(scopes, sc) {
				scopes = append(scopes, sc)
			}
		}
		if a.Resource != "" && !slices.Contains(resources, a.Resource) {
			resources = append(resources, a.Resource)
		}
	}
	return scopes, resources
}

// checkProvider fetches discovery at start-up when the configuration
// requires something of the provider (PAR or DPoP "require", the fapi2
// profile), so that a provider that cannot meet it stops start-up with
// the key named, rather than failing sign-ins later.
func (s *Server) checkProvider(ctx context.Context) error {
	o := s.cfg.OIDC
	if o.PAR != "require" && o.DPoP != "require" && o.Profile == "" {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, o.Timeout+5*time.Second)
	defer cancel()
	err := s.provider.Check(ctx)
	if errors.Is(err, oidcclient.ErrUnavailable) {
		return &config.Error{Key: "oidc.issuer", Problem: fmt.Sprintf(
			"discovery failed, and start-up needs it to check oidc.par %s, oidc.dpop %s, oidc.profile %q: %v", o.PAR, o.DPoP, o.Profile, err)}
	}
	return asConfigError(err)
}

// logFeatures waits for discovery and logs, once, the client
// authentication, PAR and DPoP in force.
func (s *Server) logFeatures(ctx context.Context) {
	s.provider.Warm(ctx)
	f, ok := s.provider.Features()
	if !ok {
		return
	}
	onOff := func(b bool) string {
		if b {
			return "on"
		}
		return "off"
	}
	o := s.cfg.OIDC
	s.log.Info("provider client", "preset", o.Provider, "client_auth", f.ClientAuth, "mtls_endpoint_aliases", f.MTLS,
		"par", onOff(f.PAR)+" ("+o.PAR+")", "dpop", onOff(f.DPoP)+" ("+o.DPoP+")", "profile", o.Profile)
}

// dpopSeeds are the keys a sign-in's DPoP key is derived from, one per
// session encryption key (the first derives, all are tried at the
// callback, so a key rotation between sign-in and callback is harmless).
func dpopSeeds(encryptionKeys [][]byte) [][]byte {
	out := make([][]byte, len(encryptionKeys))
	for i, k := range encryptionKeys {
		out[i], _ = hkdf.Key(sha256.New, k, nil, "bff dpop key seed", 32)
	}
	return out
}

// signInDPoPKey is the DPoP key of the sign-in with PKCE verifier, from
// seed: it is made again at the callback from the verifier in the login
// cookie, so the key itself is never kept anywhere before the session
// seals it in its record, and never reaches the browser.
func signInDPoPKey(seed []byte, verifier string) (*oidcclient.DPoPKey, error) {
	mac := hmac.New(sha256.New, seed)
	mac.Write([]byte(verifier))
	return oidcclient.DPoPKeyFromSeed(mac.Sum(nil))
}

// callbackDPoPKey makes the sign-in's key again: the one whose thumbprint
// the authorization request named (jkt).
func (s *Server) callbackDPoPKey(verifier, jkt string) (*oidcclient.DPoPKey, error) {
	for _, seed := range s.dpopSeeds {
		k, err := signInDPoPKey(seed, verifier)
		if err != nil {
			return nil, err
		}
		if k.Thumbprint() == jkt {
			return k, nil
		}
	}
	return nil, errors.New("bff: no encryption key makes the sign-in's dpop key (keys rotated away during sign-in)")
}
