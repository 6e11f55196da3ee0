package devop

import (
	"slices"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"
)

// audienceSwitch gives the access token and the ID token of one token
// response different audiences. op builds both from the same request object
// and both read GetAudience: first CreateJWT for the access token, then
// CreateIDToken. CreateJWT calls the storage's GetPrivateClaimsFromRequest
// right after reading the audience, which calls accessTokenBuilt, so the ID
// token that follows gets aud = client ID. TestRefreshAudience guards this
// ordering.
type audienceSwitch struct {
	clientID       string
	accessAudience []string // empty means the client ID
	built          bool
}

func (a *audienceSwitch) GetAudience() []string {
	if a.built || len(a.accessAudience) == 0 {
		return []string{a.clientID}
	}
	return slices.Clone(a.accessAudience)
}

func (a *audienceSwitch) accessTokenAudience() []string {
	if len(a.accessAudience) == 0 {
		return []string{a.clientID}
	}
	return slices.Clone(a.accessAudience)
}

func (a *audienceSwitch) accessTokenBuilt() { a.built = true }

// accessTokenBuilder is implemented by devop's request types.
type accessTokenBuilder interface {
	accessTokenBuilt()
	accessTokenAudience() []string
	sessionID() string
	signInStrength() signInStrength
}

// authRequest implements op.AuthRequest. Storage hands out copies, so op
// never shares one with another goroutine.
type authRequest struct {
	audienceSwitch
	id       string
	req      oidc.AuthRequest
	created  time.Time
	subject  string
	sid      string
	authTime time.Time
	acr      string
	amr      []string
	done     bool
}

func (a *authRequest) clone() *authRequest {
	c := *a
	c.req.Scopes = slices.Clone(a.req.Scopes)
	c.accessAudience = slices.Clone(a.accessAudience)
	c.amr = slices.Clone(a.amr)
	return &c
}

func (a *authRequest) GetID() string          { return a.id }
func (a *authRequest) GetACR() string         { return a.acr }
func (a *authRequest) GetAMR() []string       { return slices.Clone(a.amr) }
func (a *authRequest) GetAuthTime() time.Time { return a.authTime }
func (a *authRequest) GetClientID() string    { return a.req.ClientID }
func (a *authRequest) GetCodeChallenge() *oidc.CodeChallenge {
	if a.req.CodeChallenge == "" {
		return nil
	}
	return &oidc.CodeChallenge{Challenge: a.req.CodeChallenge, Method: a.req.CodeChallengeMethod}
}
func (a *authRequest) GetNonce() string                   { return a.req.Nonce }
func (a *authRequest) GetRedirectURI() string             { return a.req.RedirectURI }
func (a *authRequest) GetResponseType() oidc.ResponseType { return a.req.ResponseType }
func (a *authRequest) GetResponseMode() oidc.ResponseMode { return a.req.ResponseMode }
func (a *authRequest) GetScopes() []string                { return slices.Clone(a.req.Scopes) }
func (a *authRequest) GetState() string                   { return a.req.State }
func (a *authRequest) GetSubject() string                 { return a.subject }
func (a *authRequest) Done() bool                         { return a.done }
func (a *authRequest) sessionID() string                  { return a.sid }
func (a *authRequest) signInStrength() signInStrength {
	return signInStrength{acr: a.acr, amr: slices.Clone(a.amr), authTime: a.authTime}
}

// refreshRequest implements op.RefreshTokenRequest for one refresh_token
// grant.
type refreshRequest struct {
	audienceSwitch
	rt     refreshToken
	scopes []string // acceptable scopes until SetCurrentScopes narrows them
}

func (r *refreshRequest) GetAMR() []string                 { return slices.Clone(r.rt.amr) }
func (r *refreshRequest) GetAuthTime() time.Time           { return r.rt.authTime }
func (r *refreshRequest) GetClientID() string              { return r.rt.clientID }
func (r *refreshRequest) GetScopes() []string              { return slices.Clone(r.scopes) }
func (r *refreshRequest) GetSubject() string               { return r.rt.subject }
func (r *refreshRequest) SetCurrentScopes(scopes []string) { r.scopes = slices.Clone(scopes) }
func (r *refreshRequest) sessionID() string                { return r.rt.sid }
func (r *refreshRequest) signInStrength() signInStrength {
	return signInStrength{acr: r.rt.acr, amr: slices.Clone(r.rt.amr), authTime: r.rt.authTime}
}

// clientRequest is a client_credentials token request; the client is the
// subject.
type clientRequest struct {
	audienceSwitch
	scopes []string
}

func (c *clientRequest) GetSubject() string  { return c.clientID }
func (c *clientRequest) GetScopes() []string { return slices.Clone(c.scopes) }
func (c *clientRequest) sessionID() string   { return "" }
func (c *clientRequest) signInStrength() signInStrength {
	return signInStrength{}
}
