// Package tokens is the BFF's per-session token manager: for each API
// call it finds the access token that fits the call's route (audience,
// resource, scopes) in the caller's session, and renews it when it is due,
// once per session and route however many calls (on however many
// instances) want it at the same moment, saving a rotated refresh token
// before it can be used again. [Manager] implements proxy.TokenSource: a
// DPoP-bound token goes with the session's key as its proof maker.
//
// Before it looks for a token it checks the call against its route's
// rules (authz.Authorizer, given in Config): a call the rules refuse never
// costs a token renewal, and never reaches the upstream.
//
// It reads and writes sessions only through session.Manager and calls the
// provider only through oidcclient.Client. It must not import the bff
// package or any store driver, and knows nothing of HTTP answers: its
// errors are typed ([ErrUnauthenticated], [ErrSessionEnded],
// [ErrExchangeRefused], [ErrTokenRefused], [ErrStore], and
// oidcclient.ErrAudienceMismatch) for the caller to render.
package tokens
