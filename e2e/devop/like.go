package devop

import (
	"net/url"
	"regexp"
	"slices"
	"strings"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// Values of [Config.Like]: the provider whose quirks devop imitates.
const (
	LikeAuth0    = "auth0"
	LikeEntra    = "entra"
	LikeKeycloak = "keycloak"
	LikeGoogle   = "google"
)

// like is the parsed [Config.Like] with the settings its mode reads. The
// zero value is today's behaviour. It is read-only after New.
type like struct {
	mode string
	// auth0: the tenant's Default Audience and registered APIs.
	defaultAudience string
	audiences       []string
	// entra: resource -> its permissions (short names) listed in
	// Config.APIScopes as "<resource>/<permission>".
	permissions map[string][]string
}

func newLike(cfg Config) like {
	l := like{mode: cfg.Like, defaultAudience: cfg.DefaultAudience, audiences: slices.Clone(cfg.Audiences)}
	if l.mode == LikeEntra {
		l.permissions = map[string][]string{}
		for _, sc := range cfg.APIScopes {
			if res, perm, ok := splitResourceScope(sc); ok && perm != entraDefault && !slices.Contains(l.permissions[res], perm) {
				l.permissions[res] = append(l.permissions[res], perm)
			}
		}
	}
	return l
}

const entraDefault = ".default"

// splitResourceScope splits an Entra resource scope "<resource>/<permission>"
// (e.g. "api://6f1c.../Orders.Read") at its last slash.
func splitResourceScope(scope string) (resource, permission string, ok bool) {
	i := strings.LastIndex(scope, "/")
	if i < 0 {
		return "", "", false
	}
	return scope[:i], scope[i+1:], true
}

// resourcesOf returns the distinct resources named by scopes, in order.
func resourcesOf(scopes []string) []string {
	var out []string
	for _, sc := range scopes {
		if res, _, ok := splitResourceScope(sc); ok && !slices.Contains(out, res) {
			out = append(out, res)
		}
	}
	return out
}

// apiScopes is what clients may ask for beyond the OIDC scopes: listed,
// plus, for entra, "<resource>/.default" of every resource with a listed
// permission.
func (l like) apiScopes(listed []string) []string {
	out := slices.Clone(listed)
	for _, res := range resourcesOf(listed) {
		if d := res + "/" + entraDefault; len(l.permissions[res]) > 0 && !slices.Contains(out, d) {
			out = append(out, d)
		}
	}
	return out
}

// tokenExchange reports whether the RFC 8693 grant exists. Auth0 has no
// generic token exchange (only Custom Token Exchange, an enterprise
// feature); Entra uses its own on-behalf-of grant
// (urn:ietf:params:oauth:grant-type:jwt-bearer); Google has none for web
// clients. Keycloak implements standard token exchange (v2, Keycloak 26.2).
func (l like) tokenExchange() bool { return l.mode == "" || l.mode == LikeKeycloak }

// backChannelLogout: Entra documents front-channel logout (the app
// registration's "Front-channel logout URL") and no back-channel logout.
func (l like) backChannelLogout() bool { return l.mode != LikeEntra }

// opaqueAccessTokens: Google's access tokens ("ya29....") are not JWTs;
// APIs check them at tokeninfo/userinfo.
func (l like) opaqueAccessTokens() bool { return l.mode == LikeGoogle }

// checkAuthorize refuses what the imitated provider refuses at its
// authorization endpoint; op then redirects the error to the client.
func (l like) checkAuthorize(p requestParams) error {
	switch l.mode {
	case LikeEntra:
		if len(p.resource) > 0 {
			// Entra v2: AADSTS901002 "The 'resource' request parameter
			// is not supported."
			return oidc.ErrInvalidRequest().WithDescription("AADSTS901002: the 'resource' request parameter is not supported")
		}
		if len(resourcesOf(p.scope)) > 1 {
			// Entra v2: AADSTS28000, one resource per token request.
			return oidc.ErrInvalidScope().WithDescription("AADSTS28000: scope must name one resource only")
		}
	case LikeGoogle:
		// Google knows no offline_access scope (it uses
		// access_type=offline) and answers invalid_scope.
		if slices.Contains(p.scope, oidc.ScopeOfflineAccess) {
			return oidc.ErrInvalidScope().WithDescription("Some requested scopes were invalid: offline_access")
		}
	}
	return nil
}

// authorizeScopes returns the scopes to keep for an authorization request.
// For google it adds offline_access, devop's internal marker that makes op
// issue a refresh token, when the request had access_type=offline and
// prompt=consent: Google issues a refresh token on consent only. granted
// takes the marker out of access tokens and token responses again.
func (l like) authorizeScopes(scopes []string, p requestParams, prompt []string) []string {
	scopes = slices.Clone(scopes)
	if l.mode == LikeGoogle && p.accessType == "offline" && slices.Contains(prompt, oidc.PromptConsent) {
		scopes = append(scopes, oidc.ScopeOfflineAccess)
	}
	return scopes
}

// requestedAudience is the access token's audience for an authorization
// request or a client_credentials grant; nil means the client ID.
func (l like) requestedAudience(p requestParams) []string {
	switch l.mode {
	case LikeAuth0:
		// Auth0 reads audience only, never resource, and silently falls
		// back to the tenant's Default Audience.
		return l.auth0Audience(p, nil)
	case LikeEntra:
		return entraAudience(p.scope)
	case LikeGoogle:
		return nil
	}
	return slices.Clone(p.audience)
}

// refreshAudience is the access token's audience on a refresh_token grant.
// signIn is the audience of the sign-in's access token; scopes are the
// grant's (the scope parameter, else the sign-in's).
func (l like) refreshAudience(p requestParams, signIn, scopes []string) []string {
	switch l.mode {
	case LikeAuth0:
		// Multi-resource refresh tokens: a registered audience gets its
		// token; anything else silently the sign-in's audience.
		return l.auth0Audience(p, signIn)
	case LikeEntra:
		return entraAudience(scopes)
	case LikeKeycloak, LikeGoogle:
		// Keycloak's refresh grant reads neither audience nor resource;
		// Google's has no such parameters.
		return nil
	}
	return slices.Clone(p.audience)
}

func (l like) auth0Audience(p requestParams, fallback []string) []string {
	for _, a := range p.audienceParam {
		if a == l.defaultAudience || slices.Contains(l.audiences, a) {
			return []string{a}
		}
	}
	if fallback != nil {
		return slices.Clone(fallback)
	}
	if l.defaultAudience != "" {
		return []string{l.defaultAudience}
	}
	return nil
}

var apiGUID = regexp.MustCompile(`^api://([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})$`)

// entraAudience is the aud of an Entra v2 access token for scopes: the
// resource of the resource scopes, except that api://<GUID> gives <GUID>
// (v2 tokens carry the API's application ID); nil (client ID) without one.
func entraAudience(scopes []string) []string {
	res := resourcesOf(scopes)
	if len(res) == 0 {
		return nil
	}
	if m := apiGUID.FindStringSubmatch(res[0]); m != nil {
		return []string{m[1]}
	}
	return []string{res[0]}
}

// checkToken refuses token requests the imitated provider refuses before
// op sees them; it returns the OAuth error code and description, or "".
func (l like) checkToken(form url.Values) (code, desc string) {
	if l.mode != LikeEntra {
		return "", ""
	}
	grant := oidc.GrantType(form.Get("grant_type"))
	if grant != oidc.GrantTypeCode && grant != oidc.GrantTypeRefreshToken {
		return "", ""
	}
	if form.Has("resource") {
		return "invalid_request", "AADSTS901002: the 'resource' request parameter is not supported"
	}
	res := resourcesOf(strings.Fields(form.Get("scope")))
	switch {
	case len(res) > 1:
		return "invalid_scope", "AADSTS28000: scope must name one resource only"
	case len(res) == 1 && len(l.permissions[res[0]]) == 0:
		return "invalid_scope", "AADSTS65005: the resource has no such permissions"
	}
	return "", ""
}

// granted is what an access token gets for scopes, before
// [Provider.SetWithheldScopes]: entra expands "<resource>/.default" to
// the resource's listed permissions; google drops the offline_access
// marker (see authorizeScopes).
func (l like) granted(scopes []string) []string {
	if l.mode != LikeEntra && l.mode != LikeGoogle {
		return slices.Clone(scopes)
	}
	var out []string
	add := func(sc string) {
		if !slices.Contains(out, sc) {
			out = append(out, sc)
		}
	}
	for _, sc := range scopes {
		res, perm, ok := splitResourceScope(sc)
		switch {
		case l.mode == LikeGoogle && sc == oidc.ScopeOfflineAccess:
		case l.mode == LikeEntra && ok && perm == entraDefault:
			for _, p := range l.permissions[res] {
				add(res + "/" + p)
			}
		default:
			add(sc)
		}
	}
	return out
}

// scopeClaims are the access token's scope claims for granted scopes:
// scope (space-separated) as RFC 9068 has it, or for entra scp with the
// short permission names and no scope claim, as Entra v2 tokens carry
// them ("Orders.Read Orders.Write"), or the OIDC scopes without a resource.
func (l like) scopeClaims(granted []string) map[string]any {
	if l.mode != LikeEntra {
		return map[string]any{"scope": strings.Join(granted, " ")}
	}
	var perms, others []string
	for _, sc := range granted {
		if _, perm, ok := splitResourceScope(sc); ok {
			perms = append(perms, perm)
		} else {
			others = append(others, sc)
		}
	}
	if len(perms) == 0 {
		perms = others
	}
	if len(perms) == 0 {
		return map[string]any{}
	}
	return map[string]any{"scp": strings.Join(perms, " ")}
}

// googleCrypto gives op's opaque access tokens Google's "ya29." prefix
// (op encrypts "tokenID:subject" into them and decrypts them again at
// userinfo, introspection and revocation). op also encrypts authorization
// codes with it; their prefix is harmless.
type googleCrypto struct{ op.Crypto }

const googleTokenPrefix = "ya29."

func (c googleCrypto) Encrypt(s string) (string, error) {
	e, err := c.Crypto.Encrypt(s)
	if err != nil {
		return "", err
	}
	return googleTokenPrefix + e, nil
}

func (c googleCrypto) Decrypt(s string) (string, error) {
	return c.Crypto.Decrypt(strings.TrimPrefix(s, googleTokenPrefix))
}

// exchangelessStorage is the storage without op.TokenExchangeStorage, so
// op neither advertises the token-exchange grant in discovery nor accepts
// it (400 unsupported_grant_type). Keep its interfaces in step with the
// assertions in storage.go.
type exchangelessStorage struct {
	op.Storage
	op.ClientCredentialsStorage
	op.CanSetUserinfoFromRequest
	op.CanGetPrivateClaimsFromRequest
	op.CanTerminateSessionFromRequest
}

func withoutExchange(s *storage) op.Storage {
	return exchangelessStorage{s, s, s, s, s}
}
