package devop

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// storage implements op.Storage, op.ClientCredentialsStorage and
// op.TokenExchangeStorage in memory. One mutex guards everything.
type storage struct {
	issuer    string
	key       *signingKey
	apiScopes []string
	idTTL     time.Duration
	like      like // Config.Like

	mu            sync.Mutex
	accessTTL     time.Duration
	refreshTTL    time.Duration
	users         map[string]User // by username
	subjects      map[string]User // by subject
	clients       map[string]*client
	authRequests  map[string]*authRequest
	codes         map[string]string // code -> auth request ID
	accessTokens  map[string]*accessToken
	refreshTokens map[string]*refreshToken // by token value
	refreshByID   map[string]string        // refresh token ID -> token value
	signIns       map[string]*signInState  // remembered sign-ins by cookie value
	ignoreACR     bool                     // SetIgnoreACRValues
	ignoreMaxAge  bool                     // SetIgnoreMaxAge
	withheld      []string                 // SetWithheldScopes
}

type accessToken struct {
	id       string
	clientID string
	subject  string
	audience []string
	scopes   []string
	sid      string
	expires  time.Time
	revoked  bool
	strength signInStrength // of the sign-in behind it; zero for client tokens
}

// signInStrength is how a user signed in: what ID tokens and access
// tokens state as acr, amr and auth_time.
type signInStrength struct {
	acr      string
	amr      []string
	authTime time.Time
}

func (t *accessToken) active(now time.Time) bool { return !t.revoked && now.Before(t.expires) }

type refreshToken struct {
	token    string
	id       string
	clientID string
	subject  string
	scopes   []string // granted at sign-in
	audience []string // of the sign-in's access token
	sid      string
	authTime time.Time
	amr      []string
	acr      string
	expires  time.Time
}

var (
	_ op.Storage                        = (*storage)(nil)
	_ op.ClientCredentialsStorage       = (*storage)(nil)
	_ op.TokenExchangeStorage           = (*storage)(nil)
	_ op.CanSetUserinfoFromRequest      = (*storage)(nil)
	_ op.CanGetPrivateClaimsFromRequest = (*storage)(nil)
	_ op.CanTerminateSessionFromRequest = (*storage)(nil)
)

var errNotFound = errors.New("devop: not found")

func newStorage(cfg Config, issuer string) (*storage, error) {
	key, err := newSigningKey()
	if err != nil {
		return nil, err
	}
	l := newLike(cfg)
	s := &storage{
		issuer:        issuer,
		key:           key,
		like:          l,
		apiScopes:     l.apiScopes(cfg.APIScopes),
		idTTL:         cfg.IDTokenLifetime,
		accessTTL:     cfg.AccessTokenLifetime,
		refreshTTL:    cfg.RefreshTokenLifetime,
		users:         map[string]User{},
		subjects:      map[string]User{},
		clients:       map[string]*client{},
		authRequests:  map[string]*authRequest{},
		codes:         map[string]string{},
		accessTokens:  map[string]*accessToken{},
		refreshTokens: map[string]*refreshToken{},
		refreshByID:   map[string]string{},
		signIns:       map[string]*signInState{},
	}
	for _, u := range cfg.Users {
		s.users[u.Username] = u
		s.subjects[u.Subject] = u
	}
	for _, c := range cfg.Clients {
		c.RedirectURIs = slices.Clone(c.RedirectURIs)
		c.PostLogoutRedirectURIs = slices.Clone(c.PostLogoutRedirectURIs)
		s.clients[c.ID] = &client{cfg: c, issuer: issuer, apiScopes: s.apiScopes, idTTL: cfg.IDTokenLifetime,
			opaque: l.opaqueAccessTokens()}
	}
	return s, nil
}

// --- authorization requests and codes ---

func (s *storage) CreateAuthRequest(ctx context.Context, req *oidc.AuthRequest, _ string) (op.AuthRequest, error) {
	if req.CodeChallenge == "" || req.CodeChallengeMethod != oidc.CodeChallengeMethodS256 {
		return nil, oidc.ErrInvalidRequest().WithDescription("PKCE with code_challenge_method=S256 is required")
	}
	params := paramsFrom(ctx)
	if err := s.like.checkAuthorize(params); err != nil {
		return nil, err
	}
	a := &authRequest{
		audienceSwitch: audienceSwitch{clientID: req.ClientID, accessAudience: s.like.requestedAudience(params)},
		id:             rand.Text(),
		req:            *req,
		created:        time.Now(),
	}
	a.req.Scopes = s.like.authorizeScopes(req.Scopes, params, req.Prompt)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.authRequests[a.id] = a
	return a.clone(), nil
}

func (s *storage) AuthRequestByID(_ context.Context, id string) (op.AuthRequest, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.authRequests[id]
	if !ok {
		return nil, fmt.Errorf("devop: auth request: %w", errNotFound)
	}
	return a.clone(), nil
}

func (s *storage) AuthRequestByCode(_ context.Context, code string) (op.AuthRequest, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.authRequests[s.codes[code]]
	if !ok {
		return nil, fmt.Errorf("devop: code: %w", errNotFound)
	}
	return a.clone(), nil
}

func (s *storage) SaveAuthCode(_ context.Context, id, code string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.authRequests[id]; !ok {
		return fmt.Errorf("devop: auth request: %w", errNotFound)
	}
	s.codes[code] = id
	return nil
}

// DeleteAuthRequest runs when the code is redeemed, so the code cannot be
// used twice.
func (s *storage) DeleteAuthRequest(_ context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.authRequests, id)
	for code, reqID := range s.codes {
		if reqID == id {
			delete(s.codes, code)
		}
	}
	return nil
}

// completeLogin marks the auth request authenticated by user, now, at the
// level its acr_values ask for and the user can reach. sid is the provider
// session it belongs to: a remembered one of the same user (a step-up), or
// "" to start a new one.
func (s *storage) completeLogin(id, username, password, sid string) (ok bool, found bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, found := s.authRequests[id]
	if !found {
		return false, false
	}
	u, known := s.users[username]
	if !known || subtle.ConstantTimeCompare([]byte(u.Password), []byte(password)) != 1 {
		return false, true
	}
	if sid == "" {
		sid = rand.Text()
	}
	a.acr, a.amr = strength(u, a.req.ACRValues, s.ignoreACR)
	a.subject, a.sid, a.authTime, a.done = u.Subject, sid, time.Now(), true
	return true, true
}

func (s *storage) authRequestExists(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.authRequests[id]
	return ok
}

// --- tokens ---

func (s *storage) CreateAccessToken(ctx context.Context, req op.TokenRequest) (string, time.Time, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.newAccessTokenLocked(req)
	return t.id, t.expires, nil
}

func (s *storage) newAccessTokenLocked(req op.TokenRequest) *accessToken {
	t := &accessToken{
		id:      rand.Text(),
		subject: req.GetSubject(),
		scopes:  s.grantLocked(req.GetScopes()),
		expires: time.Now().Add(s.accessTTL),
	}
	switch r := req.(type) {
	case accessTokenBuilder:
		t.audience, t.sid = r.accessTokenAudience(), r.sessionID()
		t.clientID = clientIDOf(req)
		t.strength = r.signInStrength()
	case op.TokenExchangeRequest:
		t.clientID, t.audience = r.GetClientID(), r.GetAudience()
		if len(t.audience) == 0 {
			t.audience = []string{t.clientID}
		}
		if subj, ok := s.accessTokens[r.GetExchangeSubjectTokenIDOrToken()]; ok {
			t.sid, t.strength = subj.sid, subj.strength
		}
	}
	s.accessTokens[t.id] = t
	return t
}

func clientIDOf(req op.TokenRequest) string {
	switch r := req.(type) {
	case *authRequest:
		return r.GetClientID()
	case *refreshRequest:
		return r.GetClientID()
	case *clientRequest:
		return r.clientID
	}
	return ""
}

// CreateAccessAndRefreshTokens issues an access token and a refresh token.
// With currentRefreshToken set (refresh grant) it rotates: the current token
// is deleted atomically, so of two concurrent refreshes with one token only
// the first succeeds and the other gets invalid_grant.
func (s *storage) CreateAccessAndRefreshTokens(ctx context.Context, req op.TokenRequest, currentRefreshToken string) (string, string, time.Time, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	var rt refreshToken
	switch r := req.(type) {
	case *authRequest:
		rt = refreshToken{clientID: r.GetClientID(), subject: r.subject, scopes: r.GetScopes(),
			audience: r.accessTokenAudience(), sid: r.sid, authTime: r.authTime, amr: r.GetAMR(), acr: r.acr}
	case *refreshRequest:
		old, ok := s.refreshTokens[currentRefreshToken]
		if !ok || !now.Before(old.expires) || old.id != r.rt.id {
			return "", "", time.Time{}, oidc.ErrInvalidGrant().WithDescription("refresh token is invalid, revoked or already used")
		}
		s.deleteRefreshLocked(old)
		rt = *old
	default:
		return "", "", time.Time{}, oidc.ErrInvalidRequest().WithDescription("refresh tokens are not issued for this grant")
	}
	rt.token, rt.id, rt.expires = rand.Text()+rand.Text(), rand.Text(), now.Add(s.refreshTTL)
	s.refreshTokens[rt.token] = &rt
	s.refreshByID[rt.id] = rt.token
	at := s.newAccessTokenLocked(req)
	return at.id, rt.token, at.expires, nil
}

func (s *storage) deleteRefreshLocked(rt *refreshToken) {
	delete(s.refreshTokens, rt.token)
	delete(s.refreshByID, rt.id)
}

// TokenRequestByRefreshToken starts a refresh_token grant. When the token
// request carries audience or resource, the new access token is for that
// audience. When it carries scope, op checks each requested scope against
// GetScopes, which is then the granted scopes plus [Config.APIScopes].
func (s *storage) TokenRequestByRefreshToken(ctx context.Context, token string) (op.RefreshTokenRequest, error) {
	s.mu.Lock()
	rt, ok := s.refreshTokens[token]
	var cp refreshToken
	if ok {
		cp = *rt
	}
	s.mu.Unlock()
	if !ok || !time.Now().Before(cp.expires) {
		return nil, op.ErrInvalidRefreshToken
	}
	params := paramsFrom(ctx)
	scopes := slices.Clone(cp.scopes)
	if params.scopeRequested {
		for _, sc := range s.apiScopes {
			if !slices.Contains(scopes, sc) {
				scopes = append(scopes, sc)
			}
		}
	}
	granted := params.scope
	if !params.scopeRequested {
		granted = cp.scopes
	}
	return &refreshRequest{
		audienceSwitch: audienceSwitch{clientID: cp.clientID, accessAudience: s.like.refreshAudience(params, cp.audience, granted)},
		rt:             cp,
		scopes:         scopes,
	}, nil
}

func (s *storage) refreshTokenActive(token string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	rt, ok := s.refreshTokens[token]
	return ok && time.Now().Before(rt.expires)
}

func (s *storage) GetRefreshTokenInfo(_ context.Context, clientID, token string) (string, string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rt, ok := s.refreshTokens[token]
	if !ok || rt.clientID != clientID {
		return "", "", op.ErrInvalidRefreshToken
	}
	return rt.subject, rt.id, nil
}

// RevokeToken revokes a refresh token (by ID or value) or an access token
// (by ID). Unknown tokens are not an error (RFC 7009, section 2.2).
func (s *storage) RevokeToken(_ context.Context, tokenOrID, _ string, clientID string) *oidc.Error {
	s.mu.Lock()
	defer s.mu.Unlock()
	value, ok := s.refreshByID[tokenOrID]
	if !ok {
		value = tokenOrID
	}
	if rt, ok := s.refreshTokens[value]; ok {
		if rt.clientID != clientID {
			return oidc.ErrInvalidClient().WithDescription("token was issued to another client")
		}
		s.deleteRefreshLocked(rt)
		return nil
	}
	if at, ok := s.accessTokens[tokenOrID]; ok {
		if at.clientID != clientID {
			return oidc.ErrInvalidClient().WithDescription("token was issued to another client")
		}
		at.revoked = true
	}
	return nil
}

// TerminateSession is unused: op calls TerminateSessionFromRequest instead.
func (s *storage) TerminateSession(context.Context, string, string) error { return nil }

// TerminateSessionFromRequest ends the provider session named by the
// id_token_hint's sid: its refresh tokens stop working.
func (s *storage) TerminateSessionFromRequest(_ context.Context, req *op.EndSessionRequest) (string, error) {
	if req.IDTokenHintClaims == nil || req.IDTokenHintClaims.SessionID == "" {
		return req.RedirectURI, nil
	}
	sid := req.IDTokenHintClaims.SessionID
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, rt := range s.refreshTokens {
		if rt.sid == sid {
			s.deleteRefreshLocked(rt)
		}
	}
	for k, si := range s.signIns {
		if si.sid == sid {
			delete(s.signIns, k)
		}
	}
	return req.RedirectURI, nil
}

// --- keys ---

func (s *storage) SigningKey(context.Context) (op.SigningKey, error) { return s.key, nil }

func (s *storage) SignatureAlgorithms(context.Context) ([]jose.SignatureAlgorithm, error) {
	return []jose.SignatureAlgorithm{jose.RS256}, nil
}

func (s *storage) KeySet(context.Context) ([]op.Key, error) {
	return []op.Key{publicKey{s.key}}, nil
}

func (s *storage) GetKeyByIDAndClientID(context.Context, string, string) (*jose.JSONWebKey, error) {
	return nil, errors.New("devop: JWT profile client authentication is not supported")
}

func (s *storage) ValidateJWTProfileScopes(_ context.Context, _ string, scopes []string) ([]string, error) {
	return scopes, nil
}

func (s *storage) Health(context.Context) error { return nil }

// --- clients ---

func (s *storage) GetClientByClientID(_ context.Context, id string) (op.Client, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.clients[id]
	if !ok {
		return nil, fmt.Errorf("devop: client %q: %w", id, errNotFound)
	}
	return c, nil
}

func (s *storage) AuthorizeClientIDSecret(_ context.Context, id, secret string) error {
	_, err := s.authenticate(id, secret)
	return err
}

func (s *storage) authenticate(id, secret string) (*client, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.clients[id]
	if !ok || subtle.ConstantTimeCompare([]byte(c.cfg.Secret), []byte(secret)) != 1 {
		return nil, errors.New("devop: invalid client credentials")
	}
	return c, nil
}

func (s *storage) ClientCredentials(_ context.Context, id, secret string) (op.Client, error) {
	return s.authenticate(id, secret)
}

func (s *storage) ClientCredentialsTokenRequest(ctx context.Context, clientID string, scopes []string) (op.TokenRequest, error) {
	for _, sc := range scopes {
		if !slices.Contains(s.apiScopes, sc) {
			return nil, oidc.ErrInvalidScope().WithDescription("scope %q is not allowed", sc)
		}
	}
	return &clientRequest{
		audienceSwitch: audienceSwitch{clientID: clientID, accessAudience: s.like.requestedAudience(paramsFrom(ctx))},
		scopes:         slices.Clone(scopes),
	}, nil
}

// --- claims ---

func (s *storage) SetUserinfoFromScopes(_ context.Context, ui *oidc.UserInfo, userID, _ string, scopes []string) error {
	s.mu.Lock()
	u, ok := s.subjects[userID]
	s.mu.Unlock()
	ui.Subject = userID
	if !ok {
		return nil // a client_credentials subject has no profile
	}
	for _, sc := range scopes {
		switch sc {
		case oidc.ScopeProfile:
			ui.Name, ui.GivenName, ui.FamilyName = u.Name, u.GivenName, u.FamilyName
			ui.PreferredUsername = u.Username
			if len(u.Groups) > 0 {
				ui.AppendClaims("groups", slices.Clone(u.Groups))
			}
		case oidc.ScopeEmail:
			ui.Email, ui.EmailVerified = u.Email, oidc.Bool(u.Email != "")
		}
	}
	return nil
}

// SetUserinfoFromRequest adds sid to ID tokens.
func (s *storage) SetUserinfoFromRequest(_ context.Context, ui *oidc.UserInfo, req op.IDTokenRequest, _ []string) error {
	if r, ok := req.(accessTokenBuilder); ok && r.sessionID() != "" {
		ui.AppendClaims("sid", r.sessionID())
	}
	return nil
}

func (s *storage) SetUserinfoFromToken(ctx context.Context, ui *oidc.UserInfo, tokenID, subject, _ string) error {
	s.mu.Lock()
	t, ok := s.accessTokens[tokenID]
	var scopes []string
	if ok {
		ok = t.active(time.Now()) && t.subject == subject
		scopes = slices.Clone(t.scopes)
	}
	s.mu.Unlock()
	if !ok {
		return errors.New("devop: access token is not active")
	}
	return s.SetUserinfoFromScopes(ctx, ui, subject, "", scopes)
}

func (s *storage) SetIntrospectionFromToken(ctx context.Context, resp *oidc.IntrospectionResponse, tokenID, subject, _ string) error {
	s.mu.Lock()
	t, ok := s.accessTokens[tokenID]
	var cp accessToken
	if ok {
		cp = *t
	}
	s.mu.Unlock()
	if !ok || !cp.active(time.Now()) {
		return errors.New("devop: access token is not active")
	}
	ui := new(oidc.UserInfo)
	if err := s.SetUserinfoFromScopes(ctx, ui, subject, "", cp.scopes); err != nil {
		return err
	}
	resp.SetUserInfo(ui)
	resp.Active = true
	resp.Scope = cp.scopes
	resp.ClientID = cp.clientID
	resp.TokenType = oidc.BearerToken
	resp.Expiration = oidc.FromTime(cp.expires)
	resp.Audience = cp.audience
	resp.Issuer = s.issuer
	resp.JWTID = cp.id
	return nil
}

func (s *storage) GetPrivateClaimsFromScopes(context.Context, string, string, []string) (map[string]any, error) {
	return nil, nil
}

// GetPrivateClaimsFromRequest adds the scope (or, for entra, scp) claim to
// access tokens. op calls it while building the access token, after
// reading its audience; see audienceSwitch.
func (s *storage) GetPrivateClaimsFromRequest(_ context.Context, req op.TokenRequest, _ []string) (map[string]any, error) {
	claims := s.like.scopeClaims(s.grant(req.GetScopes()))
	if r, ok := req.(accessTokenBuilder); ok {
		r.accessTokenBuilt()
		r.signInStrength().addTo(claims)
	}
	return claims, nil
}

// addTo adds acr, amr and auth_time to access token claims (RFC 9068
// section 2.2.1), so APIs can ask for a step-up (RFC 9470).
func (st signInStrength) addTo(claims map[string]any) {
	if st.acr != "" {
		claims["acr"] = st.acr
	}
	if len(st.amr) > 0 {
		claims["amr"] = slices.Clone(st.amr)
	}
	if !st.authTime.IsZero() {
		claims["auth_time"] = st.authTime.Unix()
	}
}

// --- token exchange (RFC 8693) ---

// ValidateTokenExchangeRequest accepts an active access token issued by this
// provider as subject_token and issues an access token only. Scopes default
// to the subject token's and may be any of those plus [Config.APIScopes].
func (s *storage) ValidateTokenExchangeRequest(_ context.Context, req op.TokenExchangeRequest) error {
	switch req.GetRequestedTokenType() {
	case "":
		req.SetRequestedTokenType(oidc.AccessTokenType)
	case oidc.AccessTokenType:
	default:
		return oidc.ErrInvalidRequest().WithDescription("only requested_token_type %s is supported", oidc.AccessTokenType)
	}
	if req.GetExchangeSubjectTokenType() != oidc.AccessTokenType {
		return oidc.ErrInvalidRequest().WithDescription("subject_token_type must be %s", oidc.AccessTokenType)
	}
	if req.GetExchangeActor() != "" {
		return oidc.ErrInvalidRequest().WithDescription("actor_token is not supported")
	}
	s.mu.Lock()
	subj, ok := s.accessTokens[req.GetExchangeSubjectTokenIDOrToken()]
	var granted []string
	if ok {
		ok = subj.active(time.Now())
		granted = slices.Clone(subj.scopes)
	}
	s.mu.Unlock()
	if !ok {
		return oidc.ErrInvalidGrant().WithDescription("subject_token is not active")
	}
	if len(req.GetScopes()) == 0 {
		req.SetCurrentScopes(granted)
		return nil
	}
	for _, sc := range req.GetScopes() {
		if !slices.Contains(granted, sc) && !slices.Contains(s.apiScopes, sc) {
			return oidc.ErrInvalidScope().WithDescription("scope %q is not allowed", sc)
		}
	}
	return nil
}

func (s *storage) CreateTokenExchangeRequest(context.Context, op.TokenExchangeRequest) error {
	return nil
}

func (s *storage) GetPrivateClaimsFromTokenExchangeRequest(_ context.Context, req op.TokenExchangeRequest) (map[string]any, error) {
	claims := s.like.scopeClaims(s.grant(req.GetScopes()))
	s.mu.Lock()
	subj, ok := s.accessTokens[req.GetExchangeSubjectTokenIDOrToken()]
	var st signInStrength
	if ok {
		st = subj.strength
	}
	s.mu.Unlock()
	st.addTo(claims)
	return claims, nil
}

func (s *storage) SetUserinfoFromTokenExchangeRequest(ctx context.Context, ui *oidc.UserInfo, req op.TokenExchangeRequest) error {
	return s.SetUserinfoFromScopes(ctx, ui, req.GetSubject(), req.GetClientID(), req.GetScopes())
}
