package tokens

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bff-project/bff/bff/authz"
	"github.com/bff-project/bff/bff/oidcclient"
	"github.com/bff-project/bff/proxy"
	"github.com/bff-project/bff/session"
	"go.opentelemetry.io/otel/trace"
	"golang.org/x/sync/singleflight"
)

// Errors of [Manager.Token], for errors.Is. Any other error is one of
// authz.Check's (authz.ErrForbidden, *authz.StepUp: the route's rules
// refuse the call), or wraps oidcclient.ErrUnavailable (the provider is
// down: 503, the session stays), an *oidcclient.TokenError (the provider
// refused this route's token: the route's configuration, not the session)
// or [ErrStore].
var (
	// ErrUnauthenticated: the call has no live session.
	ErrUnauthenticated = errors.New("tokens: no session")
	// ErrSessionEnded: the provider rejected the session's refresh token
	// (invalid_grant), so the session has been ended.
	ErrSessionEnded = errors.New("tokens: the session's refresh token was rejected; session ended")
	// ErrExchangeRefused: the provider refused a token exchange for the
	// route (invalid_grant on RFC 8693): its policy for that audience, not
	// a dead session, which is kept.
	ErrExchangeRefused = errors.New("tokens: token exchange refused")
	// ErrStore: the session store failed; the session is not lost.
	ErrStore = errors.New("tokens: session store unavailable")
	// ErrTokenRefused: the provider refused this route's token for its
	// resource or scopes (invalid_target, invalid_scope), or would, since
	// the session's sign-in did not ask for the route's resource. The
	// session and the other routes are kept. It wraps the provider's
	// *oidcclient.TokenError when there was one.
	ErrTokenRefused = errors.New("tokens: the provider refused this API's token (resource or scopes)")
)

// Config configures a [Manager].
type Config struct {
	// Sessions holds the sessions. Required.
	Sessions *session.Manager
	// Provider issues the tokens. Required.
	Provider *oidcclient.Client
	// Routes are the proxy's routes in configuration order (the order of
	// proxy.Route.Index), whose token specs are worked out once here.
	Routes []proxy.Route
	// AtSignIn says, by route index, whether the route's resource is in
	// every sign-in request (apis[].at_sign_in); missing entries are true.
	AtSignIn []bool
	// Accept lists, by route index, the aud values the route's tokens may
	// carry when they are not its resource or audience
	// (apis[].token_audiences); missing entries are none.
	Accept [][]string
	// SignInAudience is the audience the sign-in request asks for
	// (oidc.auth_params.audience), "" for none. The sign-in access token
	// must carry it: a provider that falls back to a default audience
	// (Auth0) is caught before that token reaches an API. A route asking
	// for just this audience takes the sign-in token.
	SignInAudience string
	// RefreshSkew renews a token this long before it expires (at most half
	// its life). Default 60s.
	RefreshSkew time.Duration
	// Timeout bounds one provider call. Default 10s.
	Timeout time.Duration
	// Refreshed, when set, counts renewals by result: ok, failed,
	// invalid_grant, coalesced (served by another caller's renewal).
	Refreshed func(result string)
	// Ended, when set, is told when a session was ended here (its refresh
	// token rejected), with the reason session.ReasonRefreshFailed.
	Ended func(reason string)
	// Revoke, when set, revokes a refresh token the provider issued for a
	// session that ended (on any instance) while the provider answered.
	Revoke func(ctx context.Context, refreshToken string)
	// Logger receives why a route's token was refused. Default
	// slog.Default().
	Logger *slog.Logger
	// Tracer, when set, makes each renewal one span, however many calls
	// waited for it: their spans are linked to it. Default nil: no tracing.
	Tracer trace.Tracer
	// Authorizer checks each call against its route's rules
	// (apis[].require) once the session is loaded, before any token is
	// looked up or renewed. Default nil: no route has rules.
	Authorizer *authz.Authorizer
}

// Manager gives each API call its route's token. It is safe for
// concurrent use.
type Manager struct {
	cfg      Config
	specs    []spec // by proxy.Route.Index
	renewals singleflight.Group
	client   clientTokens
	// renewing holds the span of each renewal under way (tracing only),
	// for the calls that join it to link to.
	renewing sync.Map // singleflight key -> trace.Span
	keys     keyCache
}

// spec is what a route asks for.
type spec struct {
	// signIn: the route takes the sign-in access token (it asks for no
	// audience, resource or scopes); else key names its token in the
	// session (and in the client-token cache).
	signIn   bool
	key      string
	exchange string
	req      oidcclient.TokenRequest
	// want is what its token must carry (oidcclient.Client.CheckToken):
	// req, or for a sign-in route the sign-in request's audience; the
	// zero value is nothing, unchecked.
	want    oidcclient.TokenRequest
	checkIn bool         // a sign-in route whose token is checked against want
	warned  *atomic.Bool // its sign-in token's mismatch was logged at WARN
	prefix  string       // the route's, for log lines
	// atSignIn: the route's resource is asked for at sign-in.
	atSignIn bool
	// usedUp is set once a refusal of this route's token used up a
	// session's refresh token (a provider that rotates before it
	// refuses): from then on the route is refused without asking the
	// provider for sessions whose sign-in lacks its resource.
	usedUp *atomic.Bool
}

// New returns a Manager for cfg.
func New(cfg Config) (*Manager, error) {
	if cfg.Sessions == nil || cfg.Provider == nil {
		return nil, errors.New("tokens: Sessions and Provider are required")
	}
	if cfg.RefreshSkew <= 0 {
		cfg.RefreshSkew = 60 * time.Second
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	if cfg.Refreshed == nil {
		cfg.Refreshed = func(string) {}
	}
	if cfg.Ended == nil {
		cfg.Ended = func(string) {}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	m := &Manager{cfg: cfg, specs: make([]spec, len(cfg.Routes))}
	for i, rt := range cfg.Routes {
		var accept []string
		if i < len(cfg.Accept) {
			accept = cfg.Accept[i]
		}
		m.specs[i] = specFor(&rt, accept, cfg.SignInAudience)
		m.specs[i].prefix = rt.Prefix
		m.specs[i].atSignIn = i >= len(cfg.AtSignIn) || cfg.AtSignIn[i]
	}
	return m, nil
}

func specFor(rt *proxy.Route, accept []string, signInAudience string) spec {
	s := spec{exchange: rt.Exchange, req: oidcclient.TokenRequest{Audience: rt.Audience, Resource: rt.Resource, Scopes: rt.Scopes, Accept: accept},
		usedUp: new(atomic.Bool)}
	s.want = s.req
	if rt.Resource == "" && len(rt.Scopes) == 0 && (rt.Audience == "" || rt.Audience == signInAudience) {
		s.signIn = true
		s.req = oidcclient.TokenRequest{}
		s.want = oidcclient.TokenRequest{}
		return s
	}
	scopes := slices.Clone(rt.Scopes)
	slices.Sort(scopes)
	s.key = rt.Exchange + "|" + rt.Audience + "|" + rt.Resource + "|" + strings.Join(scopes, " ")
	return s
}

// RefreshAt is when a token expiring at expiry is due for renewal: skew
// before expiry, but never later than half its life, so a short-lived
// token is not renewed on every call.
func (m *Manager) RefreshAt(now, expiry time.Time) time.Time {
	skew := min(m.cfg.RefreshSkew, expiry.Sub(now)/2)
	return expiry.Add(-skew)
}

// Token implements proxy.TokenSource: the access token whose audience and
// scopes fit route, for the call's session (or, for client routes, the
// BFF's own), with the session's DPoP key as its Proof when the token is
// DPoP-bound. A zero Credential with a nil error means an anonymous call
// on a user-optional route.
func (m *Manager) Token(r *http.Request, route *proxy.Route) (proxy.Credential, error) {
	sp := &m.specs[route.Index]
	if route.Token == proxy.TokenClient {
		tok, err := m.client.token(r.Context(), m, sp)
		return proxy.Credential{Token: tok}, err
	}
	key, rec, err := m.session(r)
	if err != nil {
		return proxy.Credential{}, err
	}
	if rec == nil {
		// An anonymous call on a user-optional route passes unless a rule
		// applies to it: rules hold on a signed-in user.
		if route.Token == proxy.TokenUserOptional && !m.cfg.Authorizer.Applies(route.Index, r.Method) {
			return proxy.Credential{}, nil
		}
		return proxy.Credential{}, ErrUnauthenticated
	}
	if err := m.cfg.Authorizer.Check(route.Index, r.Method, rec); err != nil {
		return proxy.Credential{}, err
	}
	if tok, ok := freshToken(rec, sp, time.Now()); ok {
		return m.checked(rec, sp, tok)
	}
	return m.renew(r.Context(), key, sp)
}

// credential is tok as the proxy sends it: with the session's DPoP key
// when tok is bound to it.
func (m *Manager) credential(rec *session.Record, tok token) (proxy.Credential, error) {
	if tok.typ != oidcclient.TokenTypeDPoP {
		return proxy.Credential{Token: tok.value}, nil
	}
	k, err := m.keys.get(rec.DPoPKey)
	if err != nil {
		return proxy.Credential{}, err
	}
	return proxy.Credential{Token: tok.value, Proof: k}, nil
}

// checked is credential for a token that may be sent: not one the
// provider issued without what the route asked for (refused when it was
// renewed, until it is due again), nor, on a route taking the sign-in
// token, a sign-in token without the audience the sign-in asked for
// (SignInRefusal, worked out once when the token was stored).
func (m *Manager) checked(rec *session.Record, sp *spec, tok token) (proxy.Credential, error) {
	switch {
	case tok.refused == refusedAudience:
		return proxy.Credential{}, fmt.Errorf("%w (refused when it was issued)", oidcclient.ErrAudienceMismatch)
	case tok.refused != "":
		return proxy.Credential{}, fmt.Errorf("%w (refused when it was issued)", oidcclient.ErrScopeMismatch)
	}
	return m.credential(rec, tok)
}

// SignInRefusal is what session.Record.AccessRefused says of a sign-in
// access token: "audience" when the sign-in asked for an audience
// (SignInAudience) and the token, a JWT, does not carry it, which Auth0
// does silently when the audience is not one of its APIs, else "". The
// callback and renewals store it with the token, so that calls do not
// read the token again (about 8 µs each).
func (m *Manager) SignInRefusal(accessToken string) string {
	if m.cfg.SignInAudience == "" {
		return ""
	}
	err := m.cfg.Provider.CheckToken(accessToken, oidcclient.TokenRequest{Audience: m.cfg.SignInAudience})
	if err == nil {
		return ""
	}
	m.cfg.Logger.Warn("tokens: the sign-in access token does not carry the audience the sign-in asked for (oidc.auth_params.audience); routes using it are refused",
		"cause", err.Error())
	return refusedAudience
}

// Values of session.Token.Refused.
const (
	refusedAudience = "audience"
	refusedScope    = "scope"
)

// session loads the live session of the call r belongs to: a call begun
// with session.Manager.BeginCall (by the middleware in front of the proxy)
// for the cookie it carried. LoadCall binds the call to its session before
// loading it, so that a logout landing during the load still ends the
// call. A request that began no call has no session.
func (m *Manager) session(r *http.Request) (string, *session.Record, error) {
	call, ok := session.CallFrom(r.Context())
	if !ok {
		return "", nil, nil
	}
	key, rec, err := m.cfg.Sessions.LoadCall(r.Context(), call)
	if err != nil {
		return "", nil, fmt.Errorf("%w: %v", ErrStore, err)
	}
	return key, rec, nil
}

// signInSpec asks for the sign-in access token.
var signInSpec = &spec{signIn: true}

// token is an access token and its token_type, or why the provider's
// token was refused (session.Token.Refused).
type token struct{ value, typ, refused string }

// freshToken is the session's token for sp, if it is not due yet.
func freshToken(rec *session.Record, sp *spec, now time.Time) (token, bool) {
	if sp.signIn {
		return token{value: string(rec.AccessToken), typ: rec.AccessTokenType, refused: rec.AccessRefused}, rec.AccessToken != "" && now.Before(rec.AccessRefreshAt)
	}
	t, ok := rec.Tokens[sp.key]
	return token{string(t.AccessToken), t.Type, t.Refused}, ok && now.Before(t.RefreshAt)
}
