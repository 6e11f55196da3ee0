package fapiop

import (
	"crypto/x509"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// PARMode says whether the provider offers pushed authorization requests
// (RFC 9126).
type PARMode string

// PAR modes.
const (
	// PAROff: no pushed_authorization_request_endpoint.
	PAROff PARMode = ""
	// PAROptional: the endpoint is offered and plain authorization
	// requests are still accepted.
	PAROptional PARMode = "optional"
	// PARRequired: require_pushed_authorization_requests is advertised and
	// an authorization request without request_uri is refused.
	PARRequired PARMode = "required"
)

// Client authentication methods (token_endpoint_auth_method).
const (
	AuthSecretBasic   = "client_secret_basic"
	AuthSecretPost    = "client_secret_post"
	AuthPrivateKeyJWT = "private_key_jwt"
	AuthTLS           = "tls_client_auth"
	AuthSelfSignedTLS = "self_signed_tls_client_auth"
)

// GrantTokenExchange is the grant_type of token exchange (RFC 8693), which
// node/token_exchange.js adds to oidc-provider: an access token this
// provider issued to the same client (subject_token, type
// urn:ietf:params:oauth:token-type:access_token) is exchanged for a
// Bearer JWT for one configured resource (resource or audience).
const GrantTokenExchange = "urn:ietf:params:oauth:grant-type:token-exchange"

// Client is a registered confidential web client. It may use the
// authorization_code and refresh_token grants, and client_credentials and
// token exchange unless those are disabled.
type Client struct {
	// ID is the client_id; required and unique.
	ID string
	// Secret is required for client_secret_basic and client_secret_post.
	Secret string
	// AuthMethod is the token_endpoint_auth_method the provider accepts
	// from this client at the token, PAR, revocation and introspection
	// endpoints. Default: client_secret_basic. oidc-provider accepts
	// client_secret_basic and client_secret_post for one another.
	AuthMethod string
	// RedirectURIs must match the authorization request's redirect_uri
	// exactly; at least one is required.
	RedirectURIs []string
	// PostLogoutRedirectURIs are the allowed post_logout_redirect_uri values.
	PostLogoutRedirectURIs []string
	// BackchannelLogoutURI receives logout tokens (with sid) when the user
	// signs out at the provider; empty means none.
	BackchannelLogoutURI string
	// Keys are the client's public keys, registered as its jwks:
	// private_key_jwt assertions must be signed by one of them (any one,
	// found by kid, so listing two is how a test rotates keys), and a
	// self_signed_tls_client_auth certificate must be the first of some
	// key's Certificates (x5c). Private keys are refused.
	Keys []jose.JSONWebKey
	// JWKSURI is where the provider fetches the client's keys instead
	// (http or https; see [Config.TrustedCAs]). Set Keys or JWKSURI, not both.
	JWKSURI string
	// DPoPBound (dpop_bound_access_tokens) makes a token request without
	// a DPoP proof fail. Needs [Config.DPoP].
	DPoPBound bool
	// CertificateBound (tls_client_certificate_bound_access_tokens) binds
	// its access tokens to the client certificate it presents at the
	// token endpoint's mTLS alias (cnf x5t#S256). Needs [Config.MTLS].
	CertificateBound bool
	// TLSSubjectDN is tls_client_auth_subject_dn, compared with the
	// certificate's subject written "CN=a,O=b" in certificate order.
	// With tls_client_auth, set it or the certificate is not matched
	// to the client.
	TLSSubjectDN string
	// Extra is more client metadata for oidc-provider, written over the
	// fields above (for example "require_pushed_authorization_requests"
	// or "grant_types").
	Extra map[string]any
}

// User is an account that can sign in on the login form.
type User struct {
	Subject  string // sub; required and unique
	Username string // login name and preferred_username; required and unique
	Password string // plain text, tests only
	// ACR is the acr of this user's logins, unless the provider honours an
	// acr_values entry of the request (see [Config.ACRValues]). Empty
	// means no acr claim.
	ACR string
	// AMR is the amr claim of this user's logins; empty means none.
	AMR []string
	// Claims are more claims about the user. Standard profile and email
	// claims are released with those scopes, any other with openid; all go
	// into the ID token and UserInfo.
	Claims map[string]any
}

// Resource is a protected resource (RFC 8707) the provider issues access
// tokens for: JWTs whose aud is exactly Indicator and whose scope is the
// requested scopes that Scopes lists. A resource the authorization
// request did not name is refused later with invalid_target.
type Resource struct {
	// Indicator is the resource's absolute URI; required and unique.
	Indicator string
	// Scopes are the scopes this resource defines; at least one.
	Scopes []string
	// AccessTokenTTL overrides [Config.AccessTokenTTL] for this resource.
	AccessTokenTTL time.Duration
}

// MTLS turns on mutual-TLS features (RFC 8705). The provider then also
// listens on a second HTTPS port that asks for client certificates and
// advertises it as mtls_endpoint_aliases (token, PAR, revocation,
// introspection, UserInfo); the ordinary endpoints never ask for one.
type MTLS struct {
	// CertificateBoundAccessTokens offers tls_client_certificate_bound_access_tokens.
	CertificateBoundAccessTokens bool
	// TLSClientAuth offers tls_client_auth: certificates issued by ClientCAs.
	TLSClientAuth bool
	// SelfSignedTLSClientAuth offers self_signed_tls_client_auth:
	// certificates registered in the client's Keys.
	SelfSignedTLSClientAuth bool
	// ClientCAs are trusted to issue tls_client_auth certificates.
	ClientCAs []*x509.Certificate
}

// Config configures a provider for [Start]. The zero value is a plain
// OpenID provider on http with no clients: the FAPI features are opt-in,
// the others (revocation, introspection, back-channel and RP-initiated
// logout, client credentials, refresh-token rotation, token exchange) are
// on unless disabled. PKCE with S256 is always required and the response
// type is always code.
type Config struct {
	Clients []Client
	Users   []User
	// PAR defaults to PAROff.
	PAR PARMode
	// DPoP offers DPoP-bound tokens (RFC 9449): a token request with a
	// DPoP proof gets token_type DPoP and cnf.jkt.
	DPoP bool
	// DPoPNonce requires a server nonce in every DPoP proof (RFC 9449,
	// section 8): a proof without one is answered use_dpop_nonce with a
	// DPoP-Nonce header. It implies DPoP.
	DPoPNonce bool
	// Resources are the resource indicators the provider accepts.
	Resources []Resource
	// UseGrantedResource lets a token request that names no resource get
	// a token for the one resource granted. Default: such a request gets a
	// UserInfo token (opaque, no aud), as the strictest reading of RFC 8707.
	UseGrantedResource bool
	// Scopes are more scopes not tied to a resource (beyond openid,
	// offline_access, profile and email).
	Scopes []string
	// ACRValues are the acr values the provider honours from a request's
	// acr_values: a login gets the first requested one listed here, and a
	// session whose acr is not among them signs in again. Empty means the
	// provider ignores acr_values and every login gets the user's ACR.
	ACRValues []string
	// Port is the issuer's loopback port; 0 means a free one, chosen by
	// the provider.
	Port int
	// TLS serves the issuer over https with a certificate from a private
	// CA; [Provider.RootCAs] trusts it.
	TLS bool
	// MTLS, when set, turns on the mTLS features.
	MTLS *MTLS
	// AccessTokenTTL defaults to 5 minutes.
	AccessTokenTTL time.Duration
	// IDTokenTTL defaults to 5 minutes.
	IDTokenTTL time.Duration
	// RefreshTokenTTL defaults to 24 hours; a rotation starts it anew.
	// Every client allowed the grant gets a refresh token; unless
	// offline_access was granted (oidc-provider keeps it only with
	// prompt=consent) it also ends with the provider's session, so
	// RP-initiated logout revokes it.
	RefreshTokenTTL time.Duration
	// TrustedCAs are added to the roots node trusts when it calls clients
	// (jwks_uri, back-channel logout), e.g. an httptest TLS server's.
	TrustedCAs []*x509.Certificate

	DisableRevocation        bool // no revocation_endpoint (RFC 7009)
	DisableIntrospection     bool // no introspection_endpoint (RFC 7662)
	DisableBackchannelLogout bool // no back-channel logout tokens
	DisableRPInitiatedLogout bool // no end_session_endpoint
	DisableClientCredentials bool // no client_credentials grant
	DisableRefreshRotation   bool // a refresh answers the same refresh token
	DisableTokenExchange     bool // no token exchange grant (RFC 8693)
}
