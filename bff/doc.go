// Package bff is the backend-for-frontend's HTTP surface: the /bff/*
// endpoints (sign-in, callback, user, logout, back-channel and
// front-channel logout, the session manager, the session's event stream
// and keepalive), the middleware every request passes (request ID and
// access log, anti-forgery, security headers, sign-in limits), and [New],
// which wires the other packages together: bff/config for the
// configuration, bff/oidcclient for the provider, session for the sessions,
// bff/authz for the routes' rules, bff/tokens for the tokens of API calls,
// proxy for the calls themselves and web for the SPA. Handlers turn errors into answers in one place
// (writeError).
//
// It holds no YAML parsing, no OAuth, OIDC or JOSE calls and no store
// driver: it must not import yaml, go-oidc, x/oauth2, go-jose, bbolt or a
// Redis client. Nothing below it imports it.
package bff
