package config

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"time"
)

// This file holds Config.Validate: every problem that stops start-up.

// Validate reports every problem in c at once, as an [errors.Join] of
// *[Error] values with full key paths; nil means c is usable. It
// validates a copy with [Config.SetDefaults] applied, so unset fields are
// fine. It does no I/O: *_file keys must have been read ([Load] or
// [Config.ReadSecretFiles]). Problems name keys, never secret values.
func (c Config) Validate() error {
	c.SetDefaults()
	v := &validator{}
	v.top(c)
	v.oidc(c.OIDC)
	v.provider(c)
	v.session(c.Session)
	v.apis(c.APIs)
	v.rest(c)
	return errors.Join(v.errs...)
}

type validator struct{ errs []error }

func (v *validator) add(key, format string, args ...any) {
	v.errs = append(v.errs, configErr(key, format, args...))
}

func (v *validator) top(c Config) {
	if msg := checkHostPort(c.Listen); msg != "" {
		v.add("listen", "%s", msg)
	}
	if c.MetricsListen != "" {
		if msg := checkHostPort(c.MetricsListen); msg != "" {
			v.add("metrics_listen", "%s", msg)
		} else if c.MetricsListen == c.Listen {
			v.add("metrics_listen", "must differ from listen")
		}
	}
	if msg := checkOrigin(c.PublicURL); msg != "" {
		v.add("public_url", "%s", msg)
	}
	for i, p := range c.TrustedProxies {
		if _, err := netip.ParsePrefix(p); err == nil {
			continue
		}
		if _, err := netip.ParseAddr(p); err != nil {
			v.add(fmt.Sprintf("trusted_proxies[%d]", i), "must be a CIDR such as 10.0.0.0/8 or an IP address")
		}
	}
}

// authParamsReserved are authorization request parameters the BFF sets
// itself; auth_params must not override them.
var authParamsReserved = []string{
	"response_type", "client_id", "redirect_uri", "scope", "state", "nonce",
	"code_challenge", "code_challenge_method", "response_mode", "request", "request_uri",
}

func (v *validator) oidc(o OIDCConfig) {
	if msg := checkIssuer(o.Issuer); msg != "" {
		v.add("oidc.issuer", "%s", msg)
	}
	if o.ClientID == "" {
		v.add("oidc.client_id", "required")
	}
	v.clientAuth(o)
	v.fapi(o)
	v.scopes("oidc.scopes", o.Scopes)
	for k := range o.AuthParams {
		if k == "" || slices.Contains(authParamsReserved, k) {
			v.add("oidc.auth_params."+k, "is a protocol parameter the BFF sets itself")
		}
	}
	if msg := checkRedirect(o.PostLogoutRedirectURL); msg != "" {
		v.add("oidc.post_logout_redirect_url", "%s", msg)
	}
	if o.RefreshSkew < 0 {
		v.add("oidc.refresh_skew", "must not be negative")
	}
	if o.Timeout < 0 {
		v.add("oidc.timeout", "must be positive")
	}
}

// clientAuthMethods are the values of oidc.client_auth.
var clientAuthMethods = []string{"client_secret_basic", "client_secret_post", "private_key_jwt", "tls_client_auth", "self_signed_tls_client_auth"}

// clientAuth checks oidc.client_auth and says exactly what each method
// needs: a secret, a key file or a certificate and its key.
func (v *validator) clientAuth(o OIDCConfig) {
	if o.TokenEndpointAuthMethod != o.ClientAuth {
		v.add("oidc.token_endpoint_auth_method", "is the older spelling of oidc.client_auth and names another method; set only oidc.client_auth")
	}
	if !slices.Contains(clientAuthMethods, o.ClientAuth) {
		v.add("oidc.client_auth", "must be one of %s", strings.Join(clientAuthMethods, ", "))
		return
	}
	unused := func(key, value string) {
		if value != "" {
			v.add(key, "is not used with oidc.client_auth %s", o.ClientAuth)
		}
	}
	switch o.ClientAuth {
	case "client_secret_basic", "client_secret_post":
		v.secret("oidc.client_secret", o.ClientSecret, o.ClientSecretFile)
		unused("oidc.client_key_file", o.ClientKeyFile)
		unused("oidc.tls_client_cert_file", o.TLSClientCertFile)
	case "private_key_jwt":
		if o.ClientKeyFile == "" {
			v.add("oidc.client_key_file", "required with oidc.client_auth private_key_jwt: a PEM file of RSA (2048 bits or more) or EC P-256 private keys")
		}
		unused("oidc.tls_client_cert_file", o.TLSClientCertFile)
	default: // tls_client_auth, self_signed_tls_client_auth
		if o.TLSClientCertFile == "" {
			v.add("oidc.tls_client_cert_file", "required with oidc.client_auth %s: the PEM client certificate", o.ClientAuth)
		}
		if o.TLSClientKeyFile == "" {
			v.add("oidc.tls_client_key_file", "required with oidc.client_auth %s: the PEM key of the client certificate", o.ClientAuth)
		}
		unused("oidc.client_key_file", o.ClientKeyFile)
	}
	if o.ClientKeyID != "" && o.ClientKeyFile == "" {
		v.add("oidc.client_key_id", "needs oidc.client_key_file")
	}
	if (o.TLSClientKeyFile != "") != (o.TLSClientCertFile != "") && o.ClientAuth != "tls_client_auth" && o.ClientAuth != "self_signed_tls_client_auth" {
		v.add("oidc.tls_client_key_file", "is not used with oidc.client_auth %s", o.ClientAuth)
	}
}

// fapi checks oidc.par, oidc.dpop and oidc.profile.
func (v *validator) fapi(o OIDCConfig) {
	if !slices.Contains([]string{"auto", "require", "off"}, o.PAR) {
		v.add("oidc.par", "must be auto, require or off")
	}
	if !slices.Contains([]string{"off", "auto", "require"}, o.DPoP) {
		v.add("oidc.dpop", "must be off, auto or require")
	}
	switch o.Profile {
	case "":
	case "fapi2":
		if o.PAR != "require" {
			v.add("oidc.par", "must be require (or unset) with oidc.profile fapi2")
		}
		if o.DPoP != "require" {
			v.add("oidc.dpop", "must be require (or unset) with oidc.profile fapi2: sender-constrained tokens")
		}
		if o.ClientAuth != "private_key_jwt" && o.ClientAuth != "tls_client_auth" && o.ClientAuth != "self_signed_tls_client_auth" {
			v.add("oidc.client_auth", "must be private_key_jwt, tls_client_auth or self_signed_tls_client_auth with oidc.profile fapi2 (no shared secret)")
		}
	default:
		v.add("oidc.profile", `must be "" or fapi2`)
	}
}

// secret checks a required secret that may come from a *_file key.
func (v *validator) secret(key, value, file string) {
	if !v.fileKey(key, value != "", file) && value == "" {
		v.add(key, "required (or %s_file)", key)
	}
}

// fileKey checks key's *_file companion, which Load or
// ReadSecretFiles must have read and cleared: still set, it is a problem,
// "not both" when key itself (hasValue) is set too. It reports whether it
// added a problem.
func (v *validator) fileKey(key string, hasValue bool, file string) bool {
	switch {
	case file == "":
		return false
	case hasValue:
		v.add(key+"_file", "set %s or %s_file, not both", key, key)
	default:
		v.add(key+"_file", "not read yet: Load or Config.ReadSecretFiles reads it")
	}
	return true
}

func (v *validator) scopes(key string, scopes []string) {
	for i, s := range scopes {
		if !isScopeToken(s) {
			v.add(fmt.Sprintf("%s[%d]", key, i), "must be a non-empty scope without spaces or quotes")
		}
	}
}

func (v *validator) session(s SessionConfig) {
	switch s.Store {
	case "bolt":
		// Path has a default.
	case "redis":
		if s.RedisURL == "" && s.RedisURLFile == "" {
			v.add("session.redis_url", "required when session.store is redis (or session.redis_url_file)")
		}
	case "postgres":
		if s.PostgresURL == "" && s.PostgresURLFile == "" {
			v.add("session.postgres_url", "required when session.store is postgres (or session.postgres_url_file)")
		}
	default:
		v.add("session.store", "must be bolt, redis or postgres")
	}
	if !v.fileKey("session.postgres_url", s.PostgresURL != "", s.PostgresURLFile) && s.PostgresURL != "" {
		if !validPostgresURL(s.PostgresURL) {
			v.add("session.postgres_url", "must be a postgres:// or postgresql:// URL, or a key=value connection string")
		}
	}
	if s.PostgresMigrate != "auto" && s.PostgresMigrate != "off" {
		v.add("session.postgres_migrate", "must be auto or off")
	}
	if s.RedisNearCache != "on" && s.RedisNearCache != "off" {
		v.add("session.redis_near_cache", "must be on or off")
	}
	if !v.fileKey("session.redis_url", s.RedisURL != "", s.RedisURLFile) && s.RedisURL != "" {
		if u, err := url.Parse(s.RedisURL); err != nil || !redisSchemes[u.Scheme] || (u.Host == "" && u.Scheme != "unix") {
			v.add("session.redis_url", "must be a redis://, rediss://, redis-sentinel://, redis-cluster:// or unix:// URL with a host")
		}
	}
	if s.RedisPasswordFile != "" {
		v.add("session.redis_password_file", "not read yet: Load or Config.ReadSecretFiles reads it")
	}
	if s.RedisTimeout < 0 {
		v.add("session.redis_timeout", "must not be negative")
	}
	if len(s.RedisAddrs) > 0 && s.Store == "redis" && s.RedisURL == "" && s.RedisURLFile == "" {
		v.add("session.redis_url", "required with session.redis_addrs (it gives TLS, credentials and database)")
	}
	if s.IdleTimeout <= 0 {
		v.add("session.idle_timeout", "must be positive")
	}
	if s.Lifetime <= 0 {
		v.add("session.lifetime", "must be positive")
	}
	if s.IdleTimeout > s.Lifetime && s.Lifetime > 0 {
		v.add("session.idle_timeout", "must not be longer than session.lifetime")
	}
	switch {
	case s.IdleTimeout <= 0:
		// Reported above; the warning's default follows it.
	case s.ExpiryWarning <= 0:
		v.add("session.expiry_warning", "must be positive")
	case s.ExpiryWarning >= s.IdleTimeout:
		v.add("session.expiry_warning", "must be shorter than session.idle_timeout")
	}
	if s.SameSite != "strict" && s.SameSite != "lax" {
		v.add("session.same_site", "must be strict or lax")
	}
	v.keys(s)
}

func (v *validator) keys(s SessionConfig) {
	if v.fileKey("session.encryption_keys", len(s.EncryptionKeys) > 0, s.EncryptionKeysFile) {
		return
	}
	if len(s.EncryptionKeys) == 0 {
		v.add("session.encryption_keys", "at least one key is required (bff keygen makes one)")
		return
	}
	var seen [][]byte
	for i, k := range s.EncryptionKeys {
		key := fmt.Sprintf("session.encryption_keys[%d]", i)
		b, err := ParseEncryptionKey(k)
		if err != nil {
			v.add(key, "must be base64 of exactly 32 bytes (bff keygen makes one)")
			continue
		}
		if j := slices.IndexFunc(seen, func(o []byte) bool { return bytes.Equal(o, b) }); j >= 0 {
			v.add(key, "duplicate of session.encryption_keys[%d]", j)
		}
		seen = append(seen, b)
	}
}

func (v *validator) apis(apis []APIConfig) {
	for i, a := range apis {
		key := func(k string) string { return fmt.Sprintf("apis[%d].%s", i, k) }
		if msg := checkPrefix(a.Prefix); msg != "" {
			v.add(key("prefix"), "%s", msg)
		} else {
			for j, b := range apis[:i] {
				if strings.HasPrefix(a.Prefix, b.Prefix) || strings.HasPrefix(b.Prefix, a.Prefix) {
					v.add(key("prefix"), "overlaps apis[%d].prefix", j)
				}
			}
		}
		if msg := checkUpstream(a.Upstream); msg != "" {
			v.add(key("upstream"), "%s", msg)
		}
		if !slices.Contains([]string{"user", "user-optional", "client", "none"}, a.Token) {
			v.add(key("token"), "must be user, user-optional, client or none")
		}
		switch a.Exchange {
		case "refresh":
		case "token-exchange":
			if a.Audience == "" && a.Resource == "" {
				v.add(key("exchange"), "token-exchange needs an audience or a resource")
			}
		default:
			v.add(key("exchange"), "must be refresh or token-exchange")
		}
		if a.Resource != "" {
			if u, err := url.Parse(a.Resource); err != nil || !u.IsAbs() || u.Fragment != "" {
				v.add(key("resource"), "must be an absolute URI without a fragment (RFC 8707)")
			}
		}
		v.scopes(key("scopes"), a.Scopes)
		v.scopes(key("token_audiences"), a.TokenAudiences)
		for j, m := range a.Methods {
			if !isToken(m) {
				v.add(fmt.Sprintf("apis[%d].methods[%d]", i, j), "must be an HTTP method such as GET")
			}
		}
		if a.Timeout < 0 {
			v.add(key("timeout"), "must be positive")
		}
		v.rules(i, a)
	}
}

func (v *validator) rest(c Config) {
	if strings.ContainsFunc(c.SPA.ContentSecurityPolicy, isControl) {
		v.add("spa.content_security_policy", "must not contain control characters")
	}
	if c.Log.Format != "json" && c.Log.Format != "text" {
		v.add("log.format", "must be json or text")
	}
	if _, err := c.Log.SlogLevel(); err != nil {
		v.add("log.level", "must be debug, info, warn or error")
	}
	for _, t := range []struct {
		key string
		d   time.Duration
	}{
		{"server.read_header_timeout", c.Server.ReadHeaderTimeout},
		{"server.idle_timeout", c.Server.IdleTimeout},
		{"server.shutdown_timeout", c.Server.ShutdownTimeout},
	} {
		if t.d < 0 {
			v.add(t.key, "must be positive")
		}
	}
	if c.Server.MaxHeaderBytes < 0 {
		v.add("server.max_header_bytes", "must be positive")
	}
	if c.Server.MaxEventStreams < 0 {
		v.add("server.max_event_streams", "must be positive")
	}
	if c.Server.MaxEventStreamsPerSession < 0 {
		v.add("server.max_event_streams_per_session", "must be positive")
	}
	if c.Server.MaxEventStreamsPerUser < 0 {
		v.add("server.max_event_streams_per_user", "must be positive")
	}
	if c.RateLimit.Burst < 0 {
		v.add("rate_limit.burst", "must not be negative")
	}
}

var redisSchemes = map[string]bool{
	"redis": true, "rediss": true, "unix": true,
	"redis-sentinel": true, "rediss-sentinel": true, "redis-cluster": true, "rediss-cluster": true,
}

// validPostgresURL accepts what pgx parses: a postgres:// or postgresql://
// URL with a host, or a key=value connection string. It never quotes the
// value, which may hold a password.
func validPostgresURL(s string) bool {
	if strings.HasPrefix(s, "postgres://") || strings.HasPrefix(s, "postgresql://") {
		_, err := url.Parse(s)
		return err == nil
	}
	return strings.Contains(s, "=") && !strings.Contains(s, "://")
}
