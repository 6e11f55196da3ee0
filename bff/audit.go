package bff

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
)

// This file checks a Config: Validate (errors that stop start-up), Audit
// (warnings an operator should act on) and Check (both, plus the provider's
// discovery document), for `bff check`.

// Validate reports every problem in c at once, as an [errors.Join] of
// *[ConfigError] values with full key paths; nil means c is usable. It
// validates a copy with [Config.SetDefaults] applied, so unset fields are
// fine. It does no I/O: *_file keys must have been read ([LoadConfig] or
// [Config.ReadSecretFiles]). Problems name keys, never secret values.
func (c Config) Validate() error {
	c.SetDefaults()
	v := &validator{}
	v.top(c)
	v.oidc(c.OIDC)
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
	v.secret("oidc.client_secret", o.ClientSecret, o.ClientSecretFile)
	if !slices.Contains([]string{"client_secret_basic", "client_secret_post"}, o.TokenEndpointAuthMethod) {
		v.add("oidc.token_endpoint_auth_method", "must be client_secret_basic or client_secret_post")
	}
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

// secret checks a required secret that may come from a *_file key.
func (v *validator) secret(key, value, file string) {
	switch {
	case value != "" && file != "":
		v.add(key+"_file", "set %s or %s_file, not both", key, key)
	case file != "":
		v.add(key+"_file", "not read yet: LoadConfig or Config.ReadSecretFiles reads it")
	case value == "":
		v.add(key, "required (or %s_file)", key)
	}
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
	default:
		v.add("session.store", "must be bolt or redis")
	}
	switch {
	case s.RedisURL != "" && s.RedisURLFile != "":
		v.add("session.redis_url_file", "set session.redis_url or session.redis_url_file, not both")
	case s.RedisURLFile != "":
		v.add("session.redis_url_file", "not read yet: LoadConfig or Config.ReadSecretFiles reads it")
	case s.RedisURL != "":
		if u, err := url.Parse(s.RedisURL); err != nil || !redisSchemes[u.Scheme] || (u.Host == "" && u.Scheme != "unix") {
			v.add("session.redis_url", "must be a redis://, rediss://, redis-sentinel://, redis-cluster:// or unix:// URL with a host")
		}
	}
	if s.RedisPasswordFile != "" {
		v.add("session.redis_password_file", "not read yet: LoadConfig or Config.ReadSecretFiles reads it")
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
	if s.SameSite != "strict" && s.SameSite != "lax" {
		v.add("session.same_site", "must be strict or lax")
	}
	v.keys(s)
}

func (v *validator) keys(s SessionConfig) {
	switch {
	case len(s.EncryptionKeys) > 0 && s.EncryptionKeysFile != "":
		v.add("session.encryption_keys_file", "set session.encryption_keys or session.encryption_keys_file, not both")
		return
	case s.EncryptionKeysFile != "":
		v.add("session.encryption_keys_file", "not read yet: LoadConfig or Config.ReadSecretFiles reads it")
		return
	case len(s.EncryptionKeys) == 0:
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
		for j, m := range a.Methods {
			if !isToken(m) {
				v.add(fmt.Sprintf("apis[%d].methods[%d]", i, j), "must be an HTTP method such as GET")
			}
		}
		if a.Timeout < 0 {
			v.add(key("timeout"), "must be positive")
		}
	}
}

func (v *validator) rest(c Config) {
	if strings.ContainsFunc(c.SPA.ContentSecurityPolicy, isControl) {
		v.add("spa.content_security_policy", "must not contain control characters")
	}
	if c.Log.Format != "json" && c.Log.Format != "text" {
		v.add("log.format", "must be json or text")
	}
	if _, err := parseLevel(c.Log.Level); err != nil {
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
	if c.RateLimit.Burst < 0 {
		v.add("rate_limit.burst", "must not be negative")
	}
}

func checkHostPort(s string) string {
	_, port, err := net.SplitHostPort(s)
	if err != nil {
		return "must be host:port, such as 127.0.0.1:8080 or :8080"
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return "port must be a number from 0 to 65535"
	}
	return ""
}

func checkOrigin(s string) string {
	if s == "" {
		return "required"
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Opaque != "" {
		return "must be an absolute http(s) origin such as https://app.example.com"
	}
	if u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" {
		return "must be an origin only, without credentials, path, query or fragment"
	}
	return ""
}

func checkIssuer(s string) string {
	if s == "" {
		return "required"
	}
	u, err := url.Parse(s)
	if err != nil || !u.IsAbs() || u.Host == "" || u.Opaque != "" {
		return "must be an absolute https URL"
	}
	switch {
	case u.Scheme == "http" && !isLoopbackHost(u.Hostname()):
		return "must use https (http only for a loopback host)"
	case u.Scheme != "https" && u.Scheme != "http":
		return "must be an absolute https URL"
	case u.User != nil || u.RawQuery != "" || u.ForceQuery || u.Fragment != "":
		return "must not contain credentials, a query or a fragment"
	}
	return ""
}

// checkRedirect allows a local path or an absolute http(s) URL.
func checkRedirect(s string) string {
	const msg = "must be a path such as / or an absolute http(s) URL"
	if strings.ContainsFunc(s, isControl) {
		return msg
	}
	if strings.HasPrefix(s, "/") {
		if strings.HasPrefix(s, "//") || strings.HasPrefix(s, "/\\") {
			return msg
		}
		return ""
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
		return msg
	}
	return ""
}

func checkPrefix(p string) string {
	switch {
	case p == "":
		return "required"
	case !strings.HasPrefix(p, "/") || !strings.HasSuffix(p, "/"):
		return `must start and end with "/", such as /api/orders/`
	case p == "/":
		return `must not be "/": it would hide the SPA`
	case strings.HasPrefix(p, "/bff/"):
		return "must not be under /bff/"
	case strings.ContainsFunc(p, func(r rune) bool { return isControl(r) || strings.ContainsRune(" ?#%\\{}", r) }),
		strings.Contains(p, "//"), strings.Contains(p, "/./"), strings.Contains(p, "/../"):
		return "must be a clean path without spaces, ?, #, %, {, } or dot segments"
	}
	return ""
}

func checkUpstream(s string) string {
	if s == "" {
		return "required"
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Opaque != "" {
		return "must be an absolute http(s) URL with a host"
	}
	if u.User != nil {
		return "must not contain credentials"
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return "must not contain a query or fragment"
	}
	return ""
}

// urlHasSecret reports whether a URL may carry credentials (user info or a
// query), or cannot be parsed to tell.
func urlHasSecret(s string) bool {
	u, err := url.Parse(s)
	return err != nil || u.User != nil || u.RawQuery != ""
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }

// isScopeToken reports whether s is a scope-token (RFC 6749 section 3.3).
func isScopeToken(s string) bool {
	return s != "" && !strings.ContainsFunc(s, func(r rune) bool {
		return r < 0x21 || r == '"' || r == '\\' || r > 0x7e
	})
}

// isToken reports whether s is an HTTP token (RFC 9110 section 5.6.2).
func isToken(s string) bool {
	return s != "" && !strings.ContainsFunc(s, func(r rune) bool {
		return r > 0x7e || r <= 0x20 || strings.ContainsRune(`"(),/:;<=>?@[\]{}`, r)
	})
}

// isLoopbackHost reports whether host is localhost or a loopback IP.
func isLoopbackHost(host string) bool {
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.Unmap().IsLoopback()
}

// isPrivateHost reports whether host is loopback, a private or link-local
// address (RFC 1918, RFC 4193), a single-label name, or a name under .internal,
// .local, .localhost or .svc: hosts plain http does not cross the internet to.
func isPrivateHost(host string) bool {
	if isLoopbackHost(host) {
		return true
	}
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	if ip, err := netip.ParseAddr(host); err == nil {
		ip = ip.Unmap()
		return ip.IsPrivate() || ip.IsLinkLocalUnicast()
	}
	if !strings.Contains(host, ".") {
		return true
	}
	for _, suffix := range []string{".internal", ".local", ".svc"} {
		if strings.HasSuffix(host, suffix) {
			return true
		}
	}
	return false
}

// Audit returns start-up warnings: settings that work but weaken security or
// surprise operators. Each is a sentence naming the key. cmd/bff logs them
// at WARN and `bff check` prints them. Problems that stop start-up are
// [Config.Validate]'s job, not Audit's.
func (c Config) Audit() []string {
	c.SetDefaults()
	var w []string
	if u, err := url.Parse(c.PublicURL); err == nil && u.Scheme == "http" && u.Host != "" && !isLoopbackHost(u.Hostname()) {
		w = append(w, "public_url uses plain http for a non-loopback host: browsers will not store the Secure __Host- session cookie and traffic is readable; use https")
	}
	if c.Session.SameSite == "lax" {
		w = append(w, "session.same_site is lax: the session cookie is sent on top-level navigations from other sites; use strict unless sign-in links from other sites must land signed in")
	}
	if len(c.Session.EncryptionKeys) == 1 {
		w = append(w, "session.encryption_keys has a single key: plan rotation by prepending a new key (bff keygen) and later dropping the old one; the README documents rotating at least every 90 days")
	}
	for i, a := range c.APIs {
		if u, err := url.Parse(a.Upstream); err == nil && u.Scheme == "http" && u.Host != "" && !isPrivateHost(u.Hostname()) {
			w = append(w, fmt.Sprintf("apis[%d].upstream uses plain http to a public host: access tokens cross the network unencrypted; use https", i))
		}
	}
	if !slices.Contains(c.OIDC.Scopes, "offline_access") {
		w = append(w, "oidc.scopes lacks offline_access: without a refresh token, sessions end when the access token expires")
	}
	if u, err := url.Parse(c.OIDC.Issuer); err == nil && u.Scheme == "http" && c.OIDC.TokenEndpointAuthMethod == "client_secret_post" {
		w = append(w, "oidc.token_endpoint_auth_method is client_secret_post while oidc.issuer is plain http: the client secret is sent unencrypted; use https")
	}
	for i, p := range c.TrustedProxies {
		if pfx, err := netip.ParsePrefix(p); err == nil && pfx.Bits() == 0 {
			w = append(w, fmt.Sprintf("trusted_proxies[%d] trusts every address: any client can forge X-Forwarded-For and evade the login rate limit; list only your load balancers", i))
		}
	}
	if c.RateLimit.LoginPerMinute < 0 {
		w = append(w, "rate_limit.login_per_minute is negative: the login and callback rate limit is off")
	}
	return w
}

// Check validates cfg and fetches the provider's discovery document
// ({issuer}/.well-known/openid-configuration, 10s timeout, using
// cfg.HTTPClient when set), as `bff check` does. problems holds every
// *[ConfigError] (nil when cfg is usable); warnings holds [Config.Audit]'s
// warnings and notes about what the provider does not advertise.
func Check(ctx context.Context, cfg Config) (problems []error, warnings []string) {
	cfg.SetDefaults()
	problems = flattenErrors(cfg.Validate())
	warnings = cfg.Audit()
	if checkIssuer(cfg.OIDC.Issuer) == "" {
		p, w := checkDiscovery(ctx, cfg)
		problems = append(problems, p...)
		warnings = append(warnings, w...)
	}
	if cfg.SPA.Dir != "" {
		if fi, err := os.Stat(cfg.SPA.Dir); err != nil || !fi.IsDir() {
			problems = append(problems, configErr("spa.dir", "not a readable directory"))
		}
	}
	return problems, warnings
}

// discovery is the part of the provider metadata Check looks at
// (OpenID Connect Discovery 1.0 section 3, RFC 8414).
type discovery struct {
	TokenAuthMethods     []string `json:"token_endpoint_auth_methods_supported"`
	CodeChallengeMethods []string `json:"code_challenge_methods_supported"`
	GrantTypes           []string `json:"grant_types_supported"`
	EndSession           string   `json:"end_session_endpoint"`
	Revocation           string   `json:"revocation_endpoint"`
	BackchannelLogout    bool     `json:"backchannel_logout_supported"`
}

func checkDiscovery(ctx context.Context, cfg Config) (problems []error, warnings []string) {
	client := cfg.HTTPClient
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	p, err := oidc.NewProvider(oidc.ClientContext(ctx, client), cfg.OIDC.Issuer)
	if err != nil {
		return []error{configErr("oidc.issuer", "discovery failed: %v", err)}, nil
	}
	var d discovery
	if err := p.Claims(&d); err != nil {
		return []error{configErr("oidc.issuer", "discovery document: %v", err)}, nil
	}
	if len(d.TokenAuthMethods) > 0 && !slices.Contains(d.TokenAuthMethods, cfg.OIDC.TokenEndpointAuthMethod) {
		problems = append(problems, configErr("oidc.token_endpoint_auth_method", "the provider does not support it (see token_endpoint_auth_methods_supported)"))
	}
	switch {
	case len(d.CodeChallengeMethods) == 0:
		warnings = append(warnings, "oidc.issuer does not advertise PKCE (code_challenge_methods_supported): make sure it enforces S256")
	case !slices.Contains(d.CodeChallengeMethods, "S256"):
		problems = append(problems, configErr("oidc.issuer", "the provider does not support PKCE S256"))
	}
	if len(d.GrantTypes) > 0 {
		for i, a := range cfg.APIs {
			if a.Exchange == "token-exchange" && !slices.Contains(d.GrantTypes, "urn:ietf:params:oauth:grant-type:token-exchange") {
				problems = append(problems, configErr(fmt.Sprintf("apis[%d].exchange", i), "the provider does not support token exchange (see grant_types_supported)"))
			}
			if a.Token == "client" && !slices.Contains(d.GrantTypes, "client_credentials") {
				problems = append(problems, configErr(fmt.Sprintf("apis[%d].token", i), "the provider does not support client_credentials (see grant_types_supported)"))
			}
		}
	}
	if d.EndSession == "" {
		warnings = append(warnings, "oidc.issuer has no end_session_endpoint: logout ends the BFF session but not the sign-in at the provider")
	}
	if d.Revocation == "" {
		warnings = append(warnings, "oidc.issuer has no revocation_endpoint: logout cannot revoke refresh tokens")
	}
	if !d.BackchannelLogout {
		warnings = append(warnings, "oidc.issuer does not advertise back-channel logout: signing out at the provider leaves BFF sessions open until they expire")
	}
	return problems, warnings
}

// flattenErrors lists the leaves of a tree of joined errors.
func flattenErrors(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, flattenErrors(e)...)
		}
		return out
	}
	return []error{err}
}

var redisSchemes = map[string]bool{
	"redis": true, "rediss": true, "unix": true,
	"redis-sentinel": true, "rediss-sentinel": true, "redis-cluster": true, "rediss-cluster": true,
}
