// Package devop is a development OpenID Connect provider for tests and the
// demo. It is built on the certified provider library
// github.com/zitadel/oidc/v3/pkg/op, which implements the protocol endpoints
// (discovery, JWKS, authorize, token, userinfo, introspection, revocation
// (RFC 7009), end_session); devop adds in-memory storage, a plain HTML login
// form and a few test hooks (outage switch, token counters, back-channel
// logout sender).
//
// Beyond what op does on its own, devop:
//
//   - requires PKCE with S256 on every authorization request;
//   - issues JWT access tokens with aud, scope (space-separated), sub, exp and
//     client_id, and ID tokens with sid (one value per login);
//   - reads audience and resource (RFC 8707) on the authorization_code,
//     refresh_token, client_credentials and token-exchange (RFC 8693) grants
//     and issues the access token for that audience;
//   - accepts on the refresh_token grant any scope that was granted or is
//     listed in [Config.APIScopes];
//   - rotates refresh tokens: each refresh answers a new one and the old one
//     is dead.
//
// Sign-ins have a strength: acr ACRPassword, or ACRMFA for a user with a
// second factor (User.MFA) when acr_values asks for it; amr and an honest
// auth_time go with it into ID tokens and, with acr, into access tokens
// (RFC 9068), so sample APIs can ask for a step-up (RFC 9470). Test
// switches make devop ignore acr_values or max_age, as providers without
// step-up support do (strength.go).
//
// Unless Config.SingleSignOn is set, devop keeps no single-sign-on
// session: every authorization request shows the login form and every
// successful login starts a new sid. It does not add the RFC 9207 iss
// parameter to authorization responses, because op does not support it. It serves plain http and must be mounted at the origin
// root of its issuer. It is not for production use.
//
// # Provider quirks
//
// Config.Like makes devop behave like one real provider where providers
// differ, so a relying party's provider presets can be tested (like.go).
// "" keeps everything above. The modes:
//
//   - "auth0": the audience parameter picks the access token's aud among
//     Config.Audiences (the tenant's APIs); without one, or with one not
//     registered, the token silently gets Config.DefaultAudience (else the
//     client ID), as Auth0's "Default Audience" setting does. A refresh
//     with a registered audience gets a token for it (multi-resource
//     refresh tokens), else silently the sign-in's audience. resource is
//     never read (Auth0 ignores it unless "Resource Parameter
//     Compatibility Profile" is on). No token exchange.
//   - "entra": Microsoft Entra ID's v2 endpoint. Scopes "<resource>/<perm>"
//     (listed in Config.APIScopes) and "<resource>/.default" name one
//     resource per request: two resources are invalid_scope (AADSTS28000)
//     and the resource parameter is invalid_request (AADSTS901002), at
//     authorize and at the token endpoint; audience is ignored. The access
//     token's aud is the resource (api://<GUID> gives <GUID>, the API's
//     application ID, as in v2 tokens) and its scp claim holds the short
//     permission names, with no scope claim. A refresh token works for any
//     resource. Discovery offers front-channel logout and no back-channel
//     logout; [Provider.BackChannelLogout] refuses to send. No token
//     exchange (Entra has its own on-behalf-of grant instead).
//   - "keycloak": the refresh grant ignores audience and resource (the
//     token keeps the client's default aud, the client ID); token exchange
//     (Keycloak's standard token exchange v2) reads audience, not resource.
//   - "google": offline_access is invalid_scope; a refresh token is issued
//     only for access_type=offline with prompt=consent (Google issues one
//     on consent); access tokens are opaque ("ya29."...), still accepted
//     at userinfo and introspection; audience and resource are ignored; no
//     token exchange.
//
// Where a mode is silent, devop behaves as without it; client_credentials
// follows the mode's audience rule only. Refresh tokens rotate in every
// mode. [Provider.SetWithheldScopes] imitates a provider granting fewer
// scopes than asked, in any mode.
package devop

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// User is an account that can sign in on the login form.
type User struct {
	Subject    string // sub claim; required and unique
	Username   string // login name and preferred_username; required and unique
	Password   string // plain text, development only
	Email      string
	Name       string
	GivenName  string
	FamilyName string
	// Groups is the user's groups claim (with the profile scope); none
	// when empty.
	Groups []string
	// MFA: the user has a second factor, so a sign-in whose acr_values ask
	// for ACRMFA reaches it (acr mfa, amr pwd and otp). Without it every
	// sign-in is ACRPassword.
	MFA bool
}

// Client is a registered confidential client.
type Client struct {
	ID     string // required
	Secret string // required
	// RedirectURIs must match the authorization request's redirect_uri exactly.
	RedirectURIs []string
	// PostLogoutRedirectURIs are the allowed post_logout_redirect_uri values.
	PostLogoutRedirectURIs []string
	// BackChannelLogoutURI is where [Provider.BackChannelLogout] POSTs
	// logout tokens for this client; empty means none.
	BackChannelLogoutURI string
	// FrontChannelLogoutURI is what the provider's front-channel logout
	// page (FrontChannelLogoutPath) frames for this client, with iss and
	// sid; empty means none.
	FrontChannelLogoutURI string
	// AuthMethod is "client_secret_basic" (default) or "client_secret_post".
	// The token endpoint accepts either; this value is what the client
	// advertises and what token exchange expects.
	AuthMethod string
}

// Config configures a [Provider].
type Config struct {
	// Issuer is the provider's origin, e.g. "http://127.0.0.1:9000"; required.
	// The provider must be served at the origin root (no path).
	Issuer  string
	Users   []User
	Clients []Client
	// APIScopes are extra scopes (beyond openid, profile, email, phone,
	// address, offline_access) that clients may request: at authorize, on the
	// refresh_token grant (even if not granted at sign-in), on
	// client_credentials and on token exchange. Others are refused with
	// invalid_scope (refresh, client_credentials, token exchange) or dropped
	// (authorize). With Like "entra" they are Entra resource scopes
	// "<resource>/<permission>", and "<resource>/.default" is added for each
	// resource listed.
	APIScopes []string
	// AccessTokenLifetime defaults to 5 minutes.
	AccessTokenLifetime time.Duration
	// IDTokenLifetime defaults to 5 minutes.
	IDTokenLifetime time.Duration
	// RefreshTokenLifetime defaults to 24 hours; each rotation starts it anew.
	RefreshTokenLifetime time.Duration
	// Logger defaults to discarding everything.
	Logger *slog.Logger
	// HTTPClient sends back-channel logout requests; nil means
	// http.DefaultClient.
	HTTPClient *http.Client
	// SingleSignOn remembers each browser's sign-in in a provider cookie
	// and answers later authorization requests from it without the form,
	// as long as it satisfies them: max_age (prompt=login is max_age 0),
	// acr_values (a user with MFA who signed in with a password only must
	// sign in again for ACRMFA), login_hint; prompt=select_account always
	// shows the form, and prompt=none without a usable sign-in gets
	// error=login_required. A reused sign-in keeps its sid, auth_time, acr
	// and amr. Default false: every request shows the form and starts a
	// new sid.
	SingleSignOn bool
	// Like imitates one provider's quirks: "" (default) none, or
	// [LikeAuth0], [LikeEntra], [LikeKeycloak], [LikeGoogle]; see the
	// package documentation. Any other value is an error.
	Like string
	// DefaultAudience is Auth0's tenant setting "Default Audience": the aud
	// of access tokens whose request names no registered audience; empty
	// means the client ID. Like "auth0" only.
	DefaultAudience string
	// Audiences are the APIs registered at the Auth0 tenant, the audience
	// values a request may pick (DefaultAudience counts as registered).
	// Like "auth0" only.
	Audiences []string
}

// Counts are the calls the provider saw, including failed ones and ones
// answered 503 while down.
type Counts struct {
	Code              int // token endpoint, grant_type=authorization_code
	Refresh           int // token endpoint, grant_type=refresh_token
	ClientCredentials int // token endpoint, grant_type=client_credentials
	TokenExchange     int // token endpoint, RFC 8693 token exchange
	Revocation        int // revocation endpoint
	EndSession        int // end_session endpoint
}

// Provider is a running development OpenID provider; it is an http.Handler.
// It is safe for concurrent use.
type Provider struct {
	issuer     string
	op         *op.Provider
	store      *storage
	logger     *slog.Logger
	httpClient *http.Client
	mux        *http.ServeMux

	sso bool // Config.SingleSignOn

	mu     sync.Mutex
	down   bool
	counts Counts
	issued []string
}

// New checks cfg, reporting every problem at once, generates an RS256
// signing key and returns the provider.
func New(cfg Config) (*Provider, error) {
	if err := validate(cfg); err != nil {
		return nil, err
	}
	if cfg.AccessTokenLifetime <= 0 {
		cfg.AccessTokenLifetime = 5 * time.Minute
	}
	if cfg.IDTokenLifetime <= 0 {
		cfg.IDTokenLifetime = 5 * time.Minute
	}
	if cfg.RefreshTokenLifetime <= 0 {
		cfg.RefreshTokenLifetime = 24 * time.Hour
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = http.DefaultClient
	}
	issuer := trimSlash(cfg.Issuer)
	store, err := newStorage(cfg, issuer)
	if err != nil {
		return nil, err
	}
	var opStore op.Storage = store
	if !store.like.tokenExchange() {
		opStore = withoutExchange(store)
	}
	opCfg := &op.Config{
		DefaultLogoutRedirectURI:          loggedOutPath,
		CodeMethodS256:                    true,
		AuthMethodPost:                    true,
		GrantTypeRefreshToken:             true,
		SupportedScopes:                   append(slices.Clone(op.DefaultSupportedScopes), store.apiScopes...),
		BackChannelLogoutSupported:        store.like.backChannelLogout(),
		BackChannelLogoutSessionSupported: store.like.backChannelLogout(),
	}
	if _, err := rand.Read(opCfg.CryptoKey[:]); err != nil {
		return nil, fmt.Errorf("devop: crypto key: %w", err)
	}
	opts := []op.Option{op.WithAllowInsecure(), op.WithLogger(cfg.Logger)}
	if store.like.opaqueAccessTokens() {
		opts = append(opts, op.WithCrypto(googleCrypto{op.NewAESCrypto(opCfg.CryptoKey)}))
	}
	o, err := op.NewProvider(opCfg, opStore, op.StaticIssuer(issuer), opts...)
	if err != nil {
		return nil, fmt.Errorf("devop: %w", err)
	}
	p := &Provider{
		issuer:     issuer,
		op:         o,
		store:      store,
		logger:     cfg.Logger,
		httpClient: cfg.HTTPClient,
		sso:        cfg.SingleSignOn,
	}
	p.mux = http.NewServeMux()
	p.mux.HandleFunc(loginPath, p.serveLogin)
	p.mux.HandleFunc(loggedOutPath, serveLoggedOut)
	p.mux.HandleFunc(tokenPath, p.serveToken)
	p.mux.HandleFunc(revocationPath, p.serveRevocation)
	p.mux.HandleFunc(endSessionPath, p.serveEndSession)
	p.mux.HandleFunc("GET "+FrontChannelLogoutPath, p.serveFrontChannelLogout)
	p.mux.HandleFunc(authorizePath, p.serveAuthorize)
	if !store.like.backChannelLogout() {
		p.mux.HandleFunc("GET "+oidc.DiscoveryEndpoint, p.serveFrontChannelDiscovery)
	}
	p.mux.Handle("/", o)
	return p, nil
}

func validate(cfg Config) error {
	var errs []error
	if cfg.Issuer == "" {
		errs = append(errs, errors.New("devop: Issuer is required"))
	} else if u, err := url.Parse(cfg.Issuer); err != nil || u.Host == "" ||
		(u.Scheme != "http" && u.Scheme != "https") || trimSlash(u.Path) != "" || u.RawQuery != "" {
		errs = append(errs, fmt.Errorf("devop: Issuer %q must be an http(s) origin without path", cfg.Issuer))
	}
	subs, names, ids := map[string]bool{}, map[string]bool{}, map[string]bool{}
	for i, u := range cfg.Users {
		if u.Subject == "" || u.Username == "" {
			errs = append(errs, fmt.Errorf("devop: Users[%d]: Subject and Username are required", i))
		}
		if subs[u.Subject] || names[u.Username] {
			errs = append(errs, fmt.Errorf("devop: Users[%d]: duplicate Subject or Username", i))
		}
		subs[u.Subject], names[u.Username] = true, true
	}
	for i, c := range cfg.Clients {
		if c.ID == "" || c.Secret == "" {
			errs = append(errs, fmt.Errorf("devop: Clients[%d]: ID and Secret are required", i))
		}
		if ids[c.ID] {
			errs = append(errs, fmt.Errorf("devop: Clients[%d]: duplicate ID %q", i, c.ID))
		}
		ids[c.ID] = true
		switch c.AuthMethod {
		case "", authMethodBasic, authMethodPost:
		default:
			errs = append(errs, fmt.Errorf("devop: Clients[%d]: AuthMethod %q is not client_secret_basic or client_secret_post", i, c.AuthMethod))
		}
	}
	switch cfg.Like {
	case "", LikeAuth0, LikeEntra, LikeKeycloak, LikeGoogle:
	default:
		errs = append(errs, fmt.Errorf("devop: Like %q is not auth0, entra, keycloak, google or empty", cfg.Like))
	}
	if cfg.Like != LikeAuth0 && (cfg.DefaultAudience != "" || len(cfg.Audiences) > 0) {
		errs = append(errs, errors.New("devop: DefaultAudience and Audiences need Like auth0"))
	}
	return errors.Join(errs...)
}

func trimSlash(s string) string {
	for len(s) > 0 && s[len(s)-1] == '/' {
		s = s[:len(s)-1]
	}
	return s
}

// ServeHTTP serves the provider's endpoints and login form.
func (p *Provider) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.mux.ServeHTTP(w, r)
}

// Issuer returns the issuer identifier, without a trailing slash.
func (p *Provider) Issuer() string { return p.issuer }

// Counts returns how many calls each endpoint has seen.
func (p *Provider) Counts() Counts {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.counts
}

// SetDown(true) makes the token and revocation endpoints answer 503
// temporarily_unavailable; discovery, JWKS, authorize, login, userinfo and
// end_session stay up. SetDown(false) brings them back.
func (p *Provider) SetDown(down bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = down
}

func (p *Provider) isDown() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.down
}

// SetAccessTokenLifetime changes the lifetime of access tokens issued from
// now on; d <= 0 is ignored.
func (p *Provider) SetAccessTokenLifetime(d time.Duration) {
	if d <= 0 {
		return
	}
	p.store.mu.Lock()
	defer p.store.mu.Unlock()
	p.store.accessTTL = d
}

// IssuedTokens returns every access, refresh and ID token the token endpoint
// has answered, oldest first, for leak checks.
func (p *Provider) IssuedTokens() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.issued)
}

// RefreshTokenActive reports whether token would still be accepted by the
// refresh_token grant: it was issued, not revoked, not rotated away and not
// expired.
func (p *Provider) RefreshTokenActive(token string) bool {
	return p.store.refreshTokenActive(token)
}

// ctxWithIssuer gives op helpers that read the issuer from the context what
// they need outside op's own router.
func (p *Provider) ctxWithIssuer(ctx context.Context) context.Context {
	return op.ContextWithIssuer(ctx, p.issuer)
}
