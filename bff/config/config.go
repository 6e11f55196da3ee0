package config

import (
	"fmt"
	"log/slog"
	"strings"
	"time"
)

// Config is the whole BFF configuration, as read from the YAML file named by
// -config (or BFF_CONFIG) and overridden by BFF_* environment variables. See
// [Load]. Field comments give each key's meaning and default; the yaml tags
// are the contract names in DESIGN.md and must never be renamed.
//
// Config holds input only: parsed values (URLs, keys, routes) live in the
// objects built from it, and the program's own dependencies (logger, HTTP
// client) are given to bff.New beside it.
type Config struct {
	// Listen is the address the HTTP server binds. Default "127.0.0.1:8080".
	Listen string `yaml:"listen"`
	// MetricsListen, when set, serves /metrics on this address only; Listen
	// then answers 404 for it. Default "" (metrics on the main listener).
	MetricsListen string `yaml:"metrics_listen"`
	// PublicURL is the origin the browser uses, e.g. "https://app.example.com".
	// The callback is PublicURL + "/bff/callback". Required.
	PublicURL string `yaml:"public_url"`
	// TrustedProxies lists CIDRs (or single IPs) of load balancers whose
	// X-Forwarded-For / X-Forwarded-Proto headers are believed. Default none:
	// the client IP is the TCP peer.
	TrustedProxies []string `yaml:"trusted_proxies"`

	OIDC      OIDCConfig      `yaml:"oidc"`
	Session   SessionConfig   `yaml:"session"`
	APIs      []APIConfig     `yaml:"apis"`
	SPA       SPAConfig       `yaml:"spa"`
	Log       LogConfig       `yaml:"log"`
	Server    ServerConfig    `yaml:"server"`
	RateLimit RateLimitConfig `yaml:"rate_limit"`
}

// OIDCConfig describes the OpenID provider and this confidential client.
type OIDCConfig struct {
	// Issuer is the provider's issuer URL; discovery is fetched from
	// Issuer + "/.well-known/openid-configuration". Required.
	Issuer string `yaml:"issuer"`
	// Provider is the provider preset: "generic" (default), "entra",
	// "okta", "auth0", "keycloak" or "google". A preset sets that
	// provider's known quirks as defaults and refuses settings the
	// provider cannot honour; see provider.go and the README's provider
	// sections.
	Provider string `yaml:"provider"`
	// ClientID is this BFF's client ID at the provider. Required.
	ClientID string `yaml:"client_id"`
	// ClientSecret is the client secret. Required (or ClientSecretFile)
	// with client_secret_basic and client_secret_post; not used otherwise.
	ClientSecret string `yaml:"client_secret"`
	// ClientSecretFile names a file holding the client secret.
	ClientSecretFile string `yaml:"client_secret_file"`
	// ClientAuth is how the BFF authenticates at the token, PAR,
	// revocation and introspection endpoints: "client_secret_basic"
	// (default), "client_secret_post", "private_key_jwt" (RFC 7523, with
	// ClientKeyFile), "tls_client_auth" or "self_signed_tls_client_auth"
	// (RFC 8705, with TLSClientCertFile and TLSClientKeyFile).
	ClientAuth string `yaml:"client_auth"`
	// TokenEndpointAuthMethod is the older spelling of ClientAuth, still
	// read; setting both to different methods is a configuration problem.
	TokenEndpointAuthMethod string `yaml:"token_endpoint_auth_method"`
	// ClientKeyFile names a PEM file of private_key_jwt keys: one or more
	// RSA (at least 2048 bits) or EC P-256 private keys; the first signs,
	// all are published at /bff/jwks (rotation: put the new key first,
	// keep the old one after it until the provider has fetched the keys).
	ClientKeyFile string `yaml:"client_key_file"`
	// ClientKeyID is the kid of the first key. Default: its RFC 7638
	// thumbprint.
	ClientKeyID string `yaml:"client_key_id"`
	// TLSClientCertFile and TLSClientKeyFile are the PEM client
	// certificate and key of tls_client_auth and
	// self_signed_tls_client_auth.
	TLSClientCertFile string `yaml:"tls_client_cert_file"`
	TLSClientKeyFile  string `yaml:"tls_client_key_file"`
	// PAR is "auto" (default: pushed authorization requests, RFC 9126,
	// when the provider advertises them), "require" (start-up fails when
	// it does not) or "off".
	PAR string `yaml:"par"`
	// DPoP is "off" (default), "auto" (when the provider advertises DPoP,
	// RFC 9449) or "require": DPoP-bound tokens with one key per session.
	DPoP string `yaml:"dpop"`
	// Profile is "" (default) or "fapi2": the FAPI 2.0 Security Profile
	// (PAR and DPoP required, a key-based client_auth, the RFC 9207 iss
	// check and PKCE S256), checked against the provider at start-up.
	Profile string `yaml:"profile"`
	// Scopes requested at sign-in. Default ["openid", "profile", "email",
	// "offline_access"]; "openid" is always added.
	Scopes []string `yaml:"scopes"`
	// AuthParams are extra authorization request parameters, e.g.
	// {audience: orders-api}. Default none. Protocol parameters (state,
	// nonce, code_challenge, redirect_uri, ...) cannot be overridden.
	AuthParams map[string]string `yaml:"auth_params"`
	// PostLogoutRedirectURL is where the provider sends the browser after
	// logout. A path is relative to PublicURL. Default PublicURL + "/".
	PostLogoutRedirectURL string `yaml:"post_logout_redirect_url"`
	// RefreshSkew is how long before expiry an access token is refreshed.
	// Default 60s.
	RefreshSkew time.Duration `yaml:"refresh_skew"`
	// Timeout bounds each call to the provider. Default 10s.
	Timeout time.Duration `yaml:"timeout"`
	// FrontchannelLogout serves GET /bff/frontchannel-logout (OpenID
	// Connect Front-Channel Logout 1.0), for providers that offer no
	// back-channel logout. Default false (true with provider entra, whose
	// only provider-initiated logout it is): the endpoint answers 404.
	FrontchannelLogout *bool `yaml:"frontchannel_logout"`
}

// SessionConfig describes the server-side session and its store.
type SessionConfig struct {
	// Store is "bolt" (default, embedded file), "redis" or "postgres".
	Store string `yaml:"store"`
	// Path is the bolt file. Default "bff-sessions.db".
	Path string `yaml:"path"`
	// RedisURL is a redis:// or rediss:// URL. Required when Store is redis.
	RedisURL string `yaml:"redis_url"`
	// RedisURLFile names a file holding RedisURL (it may carry a password).
	RedisURLFile string `yaml:"redis_url_file"`
	// RedisPrefix prefixes every Redis key. Default "bff:".
	RedisPrefix string `yaml:"redis_prefix"`
	// RedisAddrs replaces the URL's host with several addresses: with
	// RedisMasterName they are Sentinels; without, Cluster nodes. The URL
	// still gives TLS (rediss://), credentials and database. Default none.
	// The URL schemes redis-sentinel:// and redis-cluster:// (and their
	// rediss- forms) list hosts separated by commas instead.
	RedisAddrs []string `yaml:"redis_addrs"`
	// RedisMasterName selects Redis Sentinel with this master name.
	RedisMasterName string `yaml:"redis_master_name"`
	// RedisUsername overrides the URL's user name.
	RedisUsername string `yaml:"redis_username"`
	// RedisPassword overrides the URL's password.
	RedisPassword string `yaml:"redis_password"`
	// RedisPasswordFile names a file holding RedisPassword.
	RedisPasswordFile string `yaml:"redis_password_file"`
	// RedisTimeout bounds each Redis dial, read and write, so a dead Redis
	// answers fast (503) instead of hanging requests. Default 500ms.
	RedisTimeout time.Duration `yaml:"redis_timeout"`
	// RedisNearCache is "on" (default) or "off". On, each instance keeps
	// the sessions it reads in memory and Redis invalidates them (RESP3
	// client tracking) the moment any instance changes or deletes one;
	// off, every request reads Redis.
	RedisNearCache string `yaml:"redis_near_cache"`
	// PostgresURL is a postgres:// URL (or key=value DSN) of the database
	// that holds the sessions. Required when Store is postgres. Its
	// search_path option picks the schema.
	PostgresURL string `yaml:"postgres_url"`
	// PostgresURLFile names a file holding PostgresURL (it may carry a
	// password).
	PostgresURLFile string `yaml:"postgres_url_file"`
	// PostgresMigrate is "auto" (default): the schema is created or
	// migrated at start-up; or "off": start-up only checks that the schema
	// is current and refuses to start otherwise, for teams that run
	// `bff migrate` themselves.
	PostgresMigrate string `yaml:"postgres_migrate"`
	// IdleTimeout ends a session not used for this long. Default 2h.
	IdleTimeout time.Duration `yaml:"idle_timeout"`
	// Lifetime ends a session this long after sign-in, used or not.
	// Default 24h.
	Lifetime time.Duration `yaml:"lifetime"`
	// ExpiryWarning is how long before a session's idle or absolute end
	// its event streams are sent "expiring". Default 2m (at most half of
	// IdleTimeout); it must be shorter than IdleTimeout.
	ExpiryWarning time.Duration `yaml:"expiry_warning"`
	// SameSite is the session cookie's SameSite: "strict" (default) or "lax".
	SameSite string `yaml:"same_site"`
	// EncryptionKeys are base64 32-byte AES keys. The first encrypts; all
	// decrypt, so a new key can be prepended without signing anyone out.
	// Required (the demo generates one).
	EncryptionKeys []string `yaml:"encryption_keys"`
	// EncryptionKeysFile names a file with one base64 key per line, used
	// when EncryptionKeys is empty.
	EncryptionKeysFile string `yaml:"encryption_keys_file"`
}

// APIConfig is one proxied API route.
type APIConfig struct {
	// Prefix is the path prefix the SPA calls, e.g. "/api/orders/". It must
	// start and end with "/" and not overlap another route or /bff/.
	Prefix string `yaml:"prefix"`
	// Upstream is the internal API's base URL (http or https). Required.
	Upstream string `yaml:"upstream"`
	// StripPrefix removes Prefix before forwarding. Default false.
	StripPrefix bool `yaml:"strip_prefix"`
	// Token is "user" (default: session required), "user-optional",
	// "client" (the BFF's own client-credentials token) or "none".
	Token string `yaml:"token"`
	// Audience asks for a token for this audience. Default "": the sign-in
	// access token.
	Audience string `yaml:"audience"`
	// Resource is the RFC 8707 resource indicator, sent when set: at
	// sign-in (with every route's) and on this route's token request.
	Resource string `yaml:"resource"`
	// AtSignIn adds Resource and Scopes to the sign-in request. Default
	// true; false for providers that refuse unknown scopes or resources
	// up front and grant them later.
	AtSignIn *bool `yaml:"at_sign_in"`
	// Scopes asked for this API's token. Default none (with provider
	// entra: "<audience>/.default"; a scope without "/" gets the audience
	// as its prefix).
	Scopes []string `yaml:"scopes"`
	// TokenAudiences lists the aud values this API's tokens may carry,
	// when that is not the route's resource or audience (an Entra ID API
	// with a custom App ID URI receives v2 tokens whose aud is its
	// application ID). Only checked, never sent. Default none: the
	// resource or audience.
	TokenAudiences []string `yaml:"token_audiences"`
	// Exchange is how an audience token is obtained: "refresh" (default;
	// refresh-token grant with audience/resource/scope) or "token-exchange"
	// (RFC 8693).
	Exchange string `yaml:"exchange"`
	// Methods allowed on this route. Default all.
	Methods []string `yaml:"methods"`
	// Timeout bounds the upstream's response headers. Default 30s.
	Timeout time.Duration `yaml:"timeout"`
	// PassthroughCSP leaves this API's answers without the default
	// Content-Security-Policy ("default-src 'none'; frame-ancestors 'none';
	// sandbox") when they carry none of their own. Default false.
	PassthroughCSP bool `yaml:"passthrough_csp"`
	// Require lists the route's authorization rules: every rule whose
	// Methods match the request must hold, on the session's ID-token
	// claims, before any token is fetched or anything reaches the
	// upstream. Default none: every signed-in user may call the route.
	// Only user and user-optional routes may have rules.
	Require []RuleConfig `yaml:"require"`
}

// RuleConfig is one authorization rule of an API route
// (apis[].require[]). A rule needs at least one condition; all of its
// conditions must hold.
type RuleConfig struct {
	// Methods the rule applies to (upper case; a rule for GET applies to
	// HEAD too). Default all.
	Methods []string `yaml:"methods" config:"keepempty"`
	// Claims maps an ID-token claim name to the values it may have: the
	// claim must equal one of them, or, when it is an array, contain one.
	// Values are strings, booleans or numbers, compared with their type
	// ("true" is not true). Failing: 403 forbidden.
	Claims map[string][]ClaimValue `yaml:"claims" config:"keepempty"`
	// ACR lists the acr values the session's sign-in may have (any one of
	// them; preferred first: they are asked for as acr_values in this
	// order). Failing: 401 step_up_required.
	ACR []string `yaml:"acr" config:"keepempty"`
	// AMR lists authentication methods the sign-in must all have used
	// (RFC 8176 values such as otp, hwk). Failing: 401 step_up_required.
	AMR []string `yaml:"amr" config:"keepempty"`
	// MaxAge is the longest time since the user last authenticated at the
	// provider (the ID token's auth_time), in whole seconds. Default 0:
	// none. Failing: 401 step_up_required.
	MaxAge time.Duration `yaml:"max_age"`
}

// SPAConfig describes the static single-page app.
type SPAConfig struct {
	// Dir serves the SPA from this directory. Default "": the embedded demo.
	Dir string `yaml:"dir"`
	// ContentSecurityPolicy replaces the default strict policy.
	ContentSecurityPolicy string `yaml:"content_security_policy"`
}

// SignIn reports whether the route's resource and scopes are requested at
// sign-in (AtSignIn, default true; false with provider entra, which
// SetDefaults fills in).
func (a APIConfig) SignIn() bool { return a.AtSignIn == nil || *a.AtSignIn }

// Frontchannel reports whether GET /bff/frontchannel-logout is served
// (FrontchannelLogout, default false; true with provider entra, which
// SetDefaults fills in).
func (o OIDCConfig) Frontchannel() bool { return o.FrontchannelLogout != nil && *o.FrontchannelLogout }

// LogConfig describes logging.
type LogConfig struct {
	// Format is "json" (default) or "text".
	Format string `yaml:"format"`
	// Level is "debug", "info" (default), "warn" or "error".
	Level string `yaml:"level"`
}

// SlogLevel is Level as a slog.Level.
func (c LogConfig) SlogLevel() (slog.Level, error) {
	switch strings.ToLower(c.Level) {
	case "debug":
		return slog.LevelDebug, nil
	case "", "info":
		return slog.LevelInfo, nil
	case "warn":
		return slog.LevelWarn, nil
	case "error":
		return slog.LevelError, nil
	}
	return 0, fmt.Errorf("config: log level %q: want debug, info, warn or error", c.Level)
}

// ServerConfig bounds the HTTP server.
type ServerConfig struct {
	// ReadHeaderTimeout default 10s.
	ReadHeaderTimeout time.Duration `yaml:"read_header_timeout"`
	// IdleTimeout for keep-alive connections, default 120s.
	IdleTimeout time.Duration `yaml:"idle_timeout"`
	// MaxHeaderBytes default 64 KiB.
	MaxHeaderBytes int `yaml:"max_header_bytes"`
	// ShutdownTimeout is how long SIGTERM waits for in-flight requests.
	// Default 20s.
	ShutdownTimeout time.Duration `yaml:"shutdown_timeout"`
	// MaxEventStreams bounds the open /bff/events streams of this
	// instance; more are refused 503. Default 10000.
	MaxEventStreams int `yaml:"max_event_streams"`
	// MaxEventStreamsPerSession bounds one session's open /bff/events
	// streams on this instance (a tab each); more are refused 429.
	// Default 16.
	MaxEventStreamsPerSession int `yaml:"max_event_streams_per_session"`
	// MaxEventStreamsPerUser bounds the open /bff/events streams of all
	// the sessions of one user (subject) on this instance, so that one
	// account signing in many times cannot take the instance's whole
	// MaxEventStreams; more are refused 429. Default 64 (four devices'
	// worth of tabs).
	MaxEventStreamsPerUser int `yaml:"max_event_streams_per_user"`
}

// RateLimitConfig limits sign-ins per client address (an IPv6 client by its
// /64): starts at /bff/login and, counted apart, callbacks that carry a
// live sign-in flow (each costs a token-endpoint call). Untrusted private
// and loopback peers (a load balancer missing from TrustedProxies) are not
// limited. Lower the defaults only when every client has its own address
// and the provider's own limit per client is lower.
type RateLimitConfig struct {
	// LoginPerMinute is the sustained rate per address. Default 600; 0 uses
	// the default, a negative value disables the limit.
	LoginPerMinute int `yaml:"login_per_minute"`
	// Burst is how many sign-ins an address may make at once. Default 600,
	// so a whole office behind one NAT can sign in within a minute.
	Burst int `yaml:"burst"`
}
