package fapiop

import (
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"maps"
	"net/url"
	"time"
)

// document is the JSON that node/server.js reads on stdin; node/config.js
// describes each field.
type document struct {
	Port       int        `json:"port"`
	TLS        bool       `json:"tls"`
	ServerCert string     `json:"serverCert,omitempty"`
	ServerKey  string     `json:"serverKey,omitempty"`
	MTLS       *docMTLS   `json:"mtls,omitempty"`
	PAR        string     `json:"par"`
	DPoP       docDPoP    `json:"dpop"`
	Resources  []docRes   `json:"resources"`
	UseGranted bool       `json:"useGrantedResource"`
	Scopes     []string   `json:"scopes"`
	ACRValues  []string   `json:"acrValues"`
	Users      []docUser  `json:"users"`
	Clients    []docAny   `json:"clients"`
	TTL        docTTL     `json:"ttl"`
	Disable    docDisable `json:"disable"`
	Exchange   bool       `json:"tokenExchange"`
}

type docAny = map[string]any

type docMTLS struct {
	ClientCA         string `json:"clientCA,omitempty"`
	CertificateBound bool   `json:"certificateBoundAccessTokens"`
	TLSClientAuth    bool   `json:"tlsClientAuth"`
	SelfSigned       bool   `json:"selfSignedTlsClientAuth"`
}

type docDPoP struct {
	Enabled bool `json:"enabled"`
	Nonce   bool `json:"nonce"`
}

type docRes struct {
	Indicator string   `json:"indicator"`
	Scopes    []string `json:"scopes"`
	TTL       int      `json:"accessTokenTTL,omitempty"`
}

type docUser struct {
	Sub      string         `json:"sub"`
	Username string         `json:"username"`
	Password string         `json:"password"`
	ACR      string         `json:"acr,omitempty"`
	AMR      []string       `json:"amr,omitempty"`
	Claims   map[string]any `json:"claims,omitempty"`
}

type docTTL struct {
	AccessToken  int `json:"accessToken,omitempty"`
	IDToken      int `json:"idToken,omitempty"`
	RefreshToken int `json:"refreshToken,omitempty"`
}

type docDisable struct {
	Revocation        bool `json:"revocation"`
	Introspection     bool `json:"introspection"`
	BackchannelLogout bool `json:"backchannelLogout"`
	RPInitiatedLogout bool `json:"rpInitiatedLogout"`
	ClientCredentials bool `json:"clientCredentials"`
	RefreshRotation   bool `json:"refreshRotation"`
}

// seconds rounds d up to whole seconds, the provider's unit; 0 stays 0
// (the default).
func seconds(d time.Duration) int {
	return int((d + time.Second - 1) / time.Second)
}

func pemCerts(certs [][]byte) string {
	var out []byte
	for _, der := range certs {
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})...)
	}
	return string(out)
}

// newDocument checks cfg, reporting every problem at once, and writes it
// as the document.
func newDocument(cfg Config) (*document, error) {
	if err := validate(cfg); err != nil {
		return nil, err
	}
	par := "off"
	if cfg.PAR != PAROff {
		par = string(cfg.PAR)
	}
	d := &document{
		Port:       cfg.Port,
		TLS:        cfg.TLS,
		PAR:        par,
		DPoP:       docDPoP{Enabled: cfg.DPoP || cfg.DPoPNonce, Nonce: cfg.DPoPNonce},
		UseGranted: cfg.UseGrantedResource,
		Scopes:     append([]string{}, cfg.Scopes...),
		ACRValues:  append([]string{}, cfg.ACRValues...),
		Users:      []docUser{},
		Clients:    []docAny{},
		Resources:  []docRes{},
		TTL: docTTL{
			AccessToken:  seconds(cfg.AccessTokenTTL),
			IDToken:      seconds(cfg.IDTokenTTL),
			RefreshToken: seconds(cfg.RefreshTokenTTL),
		},
		Disable: docDisable{
			Revocation:        cfg.DisableRevocation,
			Introspection:     cfg.DisableIntrospection,
			BackchannelLogout: cfg.DisableBackchannelLogout,
			RPInitiatedLogout: cfg.DisableRPInitiatedLogout,
			ClientCredentials: cfg.DisableClientCredentials,
			RefreshRotation:   cfg.DisableRefreshRotation,
		},
		Exchange: !cfg.DisableTokenExchange,
	}
	if m := cfg.MTLS; m != nil {
		var cas [][]byte
		for _, c := range m.ClientCAs {
			cas = append(cas, c.Raw)
		}
		d.MTLS = &docMTLS{ClientCA: pemCerts(cas), CertificateBound: m.CertificateBoundAccessTokens,
			TLSClientAuth: m.TLSClientAuth, SelfSigned: m.SelfSignedTLSClientAuth}
	}
	for _, r := range cfg.Resources {
		d.Resources = append(d.Resources, docRes{Indicator: r.Indicator, Scopes: r.Scopes, TTL: seconds(r.AccessTokenTTL)})
	}
	for _, u := range cfg.Users {
		d.Users = append(d.Users, docUser{Sub: u.Subject, Username: u.Username, Password: u.Password,
			ACR: u.ACR, AMR: u.AMR, Claims: u.Claims})
	}
	for _, c := range cfg.Clients {
		m, err := clientMetadata(cfg, c)
		if err != nil {
			return nil, err
		}
		d.Clients = append(d.Clients, m)
	}
	return d, nil
}

// clientMetadata is c as oidc-provider client metadata.
func clientMetadata(cfg Config, c Client) (docAny, error) {
	grants := []string{"authorization_code", "refresh_token"}
	if !cfg.DisableClientCredentials {
		grants = append(grants, "client_credentials")
	}
	if !cfg.DisableTokenExchange {
		grants = append(grants, GrantTokenExchange)
	}
	m := docAny{
		"client_id":                  c.ID,
		"redirect_uris":              c.RedirectURIs,
		"grant_types":                grants,
		"response_types":             []string{"code"},
		"token_endpoint_auth_method": authMethod(c),
	}
	set := func(key string, v any, ok bool) {
		if ok {
			m[key] = v
		}
	}
	set("client_secret", c.Secret, c.Secret != "")
	set("post_logout_redirect_uris", c.PostLogoutRedirectURIs, len(c.PostLogoutRedirectURIs) > 0)
	set("backchannel_logout_uri", c.BackchannelLogoutURI, c.BackchannelLogoutURI != "")
	set("backchannel_logout_session_required", true, c.BackchannelLogoutURI != "")
	set("jwks_uri", c.JWKSURI, c.JWKSURI != "")
	set("dpop_bound_access_tokens", true, c.DPoPBound)
	set("tls_client_certificate_bound_access_tokens", true, c.CertificateBound)
	set("tls_client_auth_subject_dn", c.TLSSubjectDN, c.TLSSubjectDN != "")
	if len(c.Keys) > 0 {
		keys := make([]json.RawMessage, 0, len(c.Keys))
		for _, k := range c.Keys {
			b, err := k.MarshalJSON()
			if err != nil {
				return nil, fmt.Errorf("fapiop: client %q: key %q: %w", c.ID, k.KeyID, err)
			}
			keys = append(keys, b)
		}
		m["jwks"] = map[string]any{"keys": keys}
	}
	maps.Copy(m, c.Extra)
	return m, nil
}

func authMethod(c Client) string {
	if c.AuthMethod == "" {
		return AuthSecretBasic
	}
	return c.AuthMethod
}

func validate(cfg Config) error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf("fapiop: "+format, args...)) }
	if cfg.Port < 0 || cfg.Port > 65535 {
		bad("Port %d is out of range", cfg.Port)
	}
	switch cfg.PAR {
	case PAROff, PAROptional, PARRequired:
	default:
		bad("PAR %q is not off, optional or required", cfg.PAR)
	}
	ids := map[string]bool{}
	for i, c := range cfg.Clients {
		if c.ID == "" || ids[c.ID] {
			bad("Clients[%d]: ID %q is empty or not unique", i, c.ID)
		}
		ids[c.ID] = true
		errs = append(errs, validateClient(cfg, i, c)...)
	}
	subs, names := map[string]bool{}, map[string]bool{}
	for i, u := range cfg.Users {
		if u.Subject == "" || u.Username == "" || subs[u.Subject] || names[u.Username] {
			bad("Users[%d]: Subject and Username are required and unique", i)
		}
		subs[u.Subject], names[u.Username] = true, true
	}
	res := map[string]bool{}
	for i, r := range cfg.Resources {
		if u, err := url.Parse(r.Indicator); err != nil || !u.IsAbs() || u.Fragment != "" || res[r.Indicator] {
			bad("Resources[%d]: Indicator %q is not a unique absolute URI without fragment", i, r.Indicator)
		}
		res[r.Indicator] = true
		if len(r.Scopes) == 0 {
			bad("Resources[%d]: at least one scope is required", i)
		}
	}
	return errors.Join(errs...)
}

func validateClient(cfg Config, i int, c Client) []error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("fapiop: Clients[%d]: %s", i, fmt.Sprintf(format, args...)))
	}
	if len(c.RedirectURIs) == 0 {
		bad("at least one RedirectURI is required")
	}
	switch m := authMethod(c); m {
	case AuthSecretBasic, AuthSecretPost:
		if c.Secret == "" {
			bad("%s needs a Secret", m)
		}
	case AuthPrivateKeyJWT:
		if (len(c.Keys) == 0) == (c.JWKSURI == "") {
			bad("private_key_jwt needs Keys or JWKSURI (one of them)")
		}
	case AuthTLS, AuthSelfSignedTLS:
		if cfg.MTLS == nil {
			bad("%s needs Config.MTLS", m)
		}
	default:
		bad("AuthMethod %q is not supported", m)
	}
	for _, k := range c.Keys {
		if !k.IsPublic() {
			bad("key %q is not a public key", k.KeyID)
		}
	}
	if c.DPoPBound && !cfg.DPoP && !cfg.DPoPNonce {
		bad("DPoPBound needs Config.DPoP")
	}
	if c.CertificateBound && cfg.MTLS == nil {
		bad("CertificateBound needs Config.MTLS")
	}
	return errs
}
