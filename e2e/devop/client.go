package devop

import (
	"slices"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// client implements op.Client for a configured [Client].
type client struct {
	cfg       Client
	issuer    string
	apiScopes []string
	idTTL     time.Duration
	opaque    bool // Config.Like google: opaque access tokens
}

var _ op.Client = (*client)(nil)

func (c *client) GetID() string                    { return c.cfg.ID }
func (c *client) RedirectURIs() []string           { return slices.Clone(c.cfg.RedirectURIs) }
func (c *client) PostLogoutRedirectURIs() []string { return slices.Clone(c.cfg.PostLogoutRedirectURIs) }
func (c *client) ApplicationType() op.ApplicationType {
	return op.ApplicationTypeWeb
}

func (c *client) AuthMethod() oidc.AuthMethod {
	if c.cfg.AuthMethod == authMethodPost {
		return oidc.AuthMethodPost
	}
	return oidc.AuthMethodBasic
}

func (c *client) ResponseTypes() []oidc.ResponseType {
	return []oidc.ResponseType{oidc.ResponseTypeCode}
}

func (c *client) GrantTypes() []oidc.GrantType {
	return []oidc.GrantType{
		oidc.GrantTypeCode,
		oidc.GrantTypeRefreshToken,
		oidc.GrantTypeClientCredentials,
		oidc.GrantTypeTokenExchange,
	}
}

func (c *client) LoginURL(authRequestID string) string {
	return c.issuer + loginPath + "?authRequestID=" + authRequestID
}

// AccessTokenType is bearer (opaque, op's encrypted token ID) for google,
// else JWT.
func (c *client) AccessTokenType() op.AccessTokenType {
	if c.opaque {
		return op.AccessTokenTypeBearer
	}
	return op.AccessTokenTypeJWT
}

func (c *client) IDTokenLifetime() time.Duration { return c.idTTL }
func (c *client) DevMode() bool                  { return false }

func (c *client) RestrictAdditionalIdTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}

func (c *client) RestrictAdditionalAccessTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}

func (c *client) IsScopeAllowed(scope string) bool { return slices.Contains(c.apiScopes, scope) }

// IDTokenUserinfoClaimsAssertion is true so ID tokens carry the profile and
// email claims even when an access token is issued with them.
func (c *client) IDTokenUserinfoClaimsAssertion() bool { return true }
func (c *client) ClockSkew() time.Duration             { return 0 }
