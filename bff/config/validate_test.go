package config

import (
	"bytes"
	"encoding/base64"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestValidateOK(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*Config)
	}{
		{"minimal", func(*Config) {}},
		{"public_url with trailing slash", func(c *Config) { c.PublicURL = "https://app.example.com/" }},
		{"public_url localhost http", func(c *Config) { c.PublicURL = "http://localhost:8080" }},
		{"http issuer on loopback", func(c *Config) { c.OIDC.Issuer = "http://127.0.0.1:9999/realms/x" }},
		{"http issuer on localhost", func(c *Config) { c.OIDC.Issuer = "http://localhost:9999" }},
		{"redis", func(c *Config) { c.Session.Store = "redis"; c.Session.RedisURL = "rediss://:pw@redis:6380/1" }},
		{"url-safe unpadded key", func(c *Config) {
			c.Session.EncryptionKeys = []string{base64.RawURLEncoding.EncodeToString(bytes.Repeat([]byte{0xfb}, 32))}
		}},
		{"trusted proxies", func(c *Config) { c.TrustedProxies = []string{"10.0.0.0/8", "::1", "fd00::/8"} }},
		{"absolute post-logout URL", func(c *Config) { c.OIDC.PostLogoutRedirectURL = "https://www.example.com/bye" }},
		{"token exchange with resource", func(c *Config) {
			c.APIs[0].Exchange, c.APIs[0].Audience, c.APIs[0].Resource = "token-exchange", "", "https://api.example.com/"
		}},
		{"disjoint prefixes", func(c *Config) {
			c.APIs = append(c.APIs, APIConfig{Prefix: "/api/order/", Upstream: "https://x.example.com", Token: "none", Methods: []string{"GET", "PATCH"}})
		}},
		{"text logs at debug", func(c *Config) { c.Log = LogConfig{Format: "text", Level: "debug"} }},
		{"metrics listener", func(c *Config) { c.MetricsListen = ":9090" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := validConfig()
			tt.mutate(&c)
			if err := c.Validate(); err != nil {
				t.Errorf("Validate() = %v, want nil", err)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name    string
		mutate  func(*Config)
		wantKey string
		want    string
	}{
		{"listen not host:port", func(c *Config) { c.Listen = "8080" }, "listen", "host:port"},
		{"listen bad port", func(c *Config) { c.Listen = ":99999" }, "listen", "port"},
		{"metrics_listen bad", func(c *Config) { c.MetricsListen = "x" }, "metrics_listen", "host:port"},
		{"metrics_listen same as listen", func(c *Config) { c.Listen, c.MetricsListen = ":8080", ":8080" }, "metrics_listen", "must differ"},
		{"public_url missing", func(c *Config) { c.PublicURL = "" }, "public_url", "required"},
		{"public_url relative", func(c *Config) { c.PublicURL = "app.example.com" }, "public_url", "absolute http(s) origin"},
		{"public_url ftp", func(c *Config) { c.PublicURL = "ftp://app.example.com" }, "public_url", "absolute http(s) origin"},
		{"public_url path", func(c *Config) { c.PublicURL = "https://app.example.com/app" }, "public_url", "origin only"},
		{"public_url query", func(c *Config) { c.PublicURL = "https://app.example.com/?a=b" }, "public_url", "origin only"},
		{"trusted proxy", func(c *Config) { c.TrustedProxies = []string{"10.0.0.0/8", "10.0.0.0/33"} }, "trusted_proxies[1]", "CIDR"},
		{"issuer missing", func(c *Config) { c.OIDC.Issuer = "" }, "oidc.issuer", "required"},
		{"issuer relative", func(c *Config) { c.OIDC.Issuer = "idp.example.com" }, "oidc.issuer", "absolute https URL"},
		{"issuer http public", func(c *Config) { c.OIDC.Issuer = "http://idp.example.com" }, "oidc.issuer", "must use https"},
		{"issuer with query", func(c *Config) { c.OIDC.Issuer = "https://idp.example.com?x=1" }, "oidc.issuer", "query"},
		{"client_id missing", func(c *Config) { c.OIDC.ClientID = "" }, "oidc.client_id", "required"},
		{"client_secret missing", func(c *Config) { c.OIDC.ClientSecret = "" }, "oidc.client_secret", "required"},
		{"client_secret and file", func(c *Config) { c.OIDC.ClientSecretFile = "/x" }, "oidc.client_secret_file", "not both"},
		{"client_secret_file unread", func(c *Config) { c.OIDC.ClientSecret, c.OIDC.ClientSecretFile = "", "/x" }, "oidc.client_secret_file", "not read yet"},
		{"auth method unknown", func(c *Config) { c.OIDC.ClientAuth = "client_secret_jwt" }, "oidc.client_auth", "must be one of"},
		{"auth method spelt twice", func(c *Config) {
			c.OIDC.ClientAuth, c.OIDC.TokenEndpointAuthMethod = "client_secret_post", "client_secret_basic"
		}, "oidc.token_endpoint_auth_method", "older spelling"},
		{"private_key_jwt without key", func(c *Config) { c.OIDC.TokenEndpointAuthMethod = "private_key_jwt" }, "oidc.client_key_file", "required with oidc.client_auth private_key_jwt"},
		{"tls_client_auth without certificate", func(c *Config) {
			c.OIDC.ClientAuth, c.OIDC.ClientSecret, c.OIDC.TLSClientKeyFile = "tls_client_auth", "", "/k.pem"
		}, "oidc.tls_client_cert_file", "required with oidc.client_auth tls_client_auth"},
		{"tls_client_auth without key", func(c *Config) {
			c.OIDC.ClientAuth, c.OIDC.ClientSecret, c.OIDC.TLSClientCertFile = "self_signed_tls_client_auth", "", "/c.pem"
		}, "oidc.tls_client_key_file", "required with oidc.client_auth self_signed_tls_client_auth"},
		{"key file with a secret method", func(c *Config) { c.OIDC.ClientKeyFile = "/keys.pem" }, "oidc.client_key_file", "not used with oidc.client_auth client_secret_basic"},
		{"par unknown", func(c *Config) { c.OIDC.PAR = "always" }, "oidc.par", "auto, require or off"},
		{"dpop unknown", func(c *Config) { c.OIDC.DPoP = "on" }, "oidc.dpop", "off, auto or require"},
		{"profile unknown", func(c *Config) { c.OIDC.Profile = "fapi1" }, "oidc.profile", "fapi2"},
		{"fapi2 with a secret", func(c *Config) { c.OIDC.Profile = "fapi2" }, "oidc.client_auth", "with oidc.profile fapi2"},
		{"fapi2 with par off", func(c *Config) {
			c.OIDC.Profile, c.OIDC.PAR, c.OIDC.ClientAuth, c.OIDC.ClientKeyFile, c.OIDC.ClientSecret = "fapi2", "off", "private_key_jwt", "/k.pem", ""
		}, "oidc.par", "must be require (or unset) with oidc.profile fapi2"},
		{"fapi2 with dpop auto", func(c *Config) {
			c.OIDC.Profile, c.OIDC.DPoP, c.OIDC.ClientAuth, c.OIDC.ClientKeyFile, c.OIDC.ClientSecret = "fapi2", "auto", "private_key_jwt", "/k.pem", ""
		}, "oidc.dpop", "must be require (or unset) with oidc.profile fapi2"},
		{"scope with space", func(c *Config) { c.OIDC.Scopes = []string{"openid", "a b"} }, "oidc.scopes[1]", "scope"},
		{"reserved auth param", func(c *Config) { c.OIDC.AuthParams = map[string]string{"state": "x"} }, "oidc.auth_params.state", "protocol parameter"},
		{"post-logout protocol-relative", func(c *Config) { c.OIDC.PostLogoutRedirectURL = "//evil.example" }, "oidc.post_logout_redirect_url", "path"},
		{"post-logout javascript", func(c *Config) { c.OIDC.PostLogoutRedirectURL = "javascript:alert(1)" }, "oidc.post_logout_redirect_url", "path"},
		{"refresh_skew negative", func(c *Config) { c.OIDC.RefreshSkew = -time.Second }, "oidc.refresh_skew", "negative"},
		{"oidc timeout negative", func(c *Config) { c.OIDC.Timeout = -time.Second }, "oidc.timeout", "positive"},
		{"store", func(c *Config) { c.Session.Store = "memcached" }, "session.store", "bolt, redis or postgres"},
		{"postgres without url", func(c *Config) { c.Session.Store = "postgres" }, "session.postgres_url", "required when session.store is postgres"},
		{"postgres url scheme", func(c *Config) { c.Session.PostgresURL = "mysql://u:pw@h/db" }, "session.postgres_url", "postgres://"},
		{"postgres migrate", func(c *Config) { c.Session.PostgresMigrate = "later" }, "session.postgres_migrate", "auto or off"},
		{"redis near cache", func(c *Config) { c.Session.RedisNearCache = "yes" }, "session.redis_near_cache", "on or off"},
		{"redis url missing", func(c *Config) { c.Session.Store = "redis" }, "session.redis_url", "required"},
		{"redis url scheme", func(c *Config) { c.Session.Store, c.Session.RedisURL = "redis", "http://redis:6379" }, "session.redis_url", "redis://"},
		{"redis url unparseable", func(c *Config) { c.Session.RedisURL = "redis://[::1" }, "session.redis_url", "redis://"},
		{"redis url file unread", func(c *Config) { c.Session.RedisURLFile = "/x" }, "session.redis_url_file", "not read yet"},
		{"idle_timeout negative", func(c *Config) { c.Session.IdleTimeout = -time.Minute }, "session.idle_timeout", "positive"},
		{"lifetime negative", func(c *Config) { c.Session.Lifetime = -time.Minute }, "session.lifetime", "positive"},
		{"idle longer than lifetime", func(c *Config) { c.Session.IdleTimeout, c.Session.Lifetime = 3*time.Hour, time.Hour }, "session.idle_timeout", "longer than session.lifetime"},
		{"expiry_warning negative", func(c *Config) { c.Session.ExpiryWarning = -time.Minute }, "session.expiry_warning", "positive"},
		{"expiry_warning as long as idle", func(c *Config) { c.Session.IdleTimeout, c.Session.ExpiryWarning = time.Minute, time.Minute }, "session.expiry_warning", "shorter than session.idle_timeout"},
		{"same_site none", func(c *Config) { c.Session.SameSite = "none" }, "session.same_site", "strict or lax"},
		{"no keys", func(c *Config) { c.Session.EncryptionKeys = nil }, "session.encryption_keys", "at least one"},
		{"key not base64", func(c *Config) { c.Session.EncryptionKeys = []string{testKey(1), "not base64!"} }, "session.encryption_keys[1]", "32 bytes"},
		{"key too short", func(c *Config) {
			c.Session.EncryptionKeys = []string{base64.StdEncoding.EncodeToString(make([]byte, 16))}
		}, "session.encryption_keys[0]", "32 bytes"},
		{"duplicate key in another encoding", func(c *Config) {
			k := bytes.Repeat([]byte{0xfb}, 32)
			c.Session.EncryptionKeys = []string{base64.StdEncoding.EncodeToString(k), base64.RawURLEncoding.EncodeToString(k)}
		}, "session.encryption_keys[1]", "duplicate of session.encryption_keys[0]"},
		{"keys file unread", func(c *Config) { c.Session.EncryptionKeys, c.Session.EncryptionKeysFile = nil, "/x" }, "session.encryption_keys_file", "not read yet"},
		{"prefix missing", func(c *Config) { c.APIs[0].Prefix = "" }, "apis[0].prefix", "required"},
		{"prefix no leading slash", func(c *Config) { c.APIs[0].Prefix = "api/" }, "apis[0].prefix", "start and end"},
		{"prefix no trailing slash", func(c *Config) { c.APIs[0].Prefix = "/api" }, "apis[0].prefix", "start and end"},
		{"prefix root", func(c *Config) { c.APIs[0].Prefix = "/" }, "apis[0].prefix", "hide the SPA"},
		{"prefix under /bff/", func(c *Config) { c.APIs[0].Prefix = "/bff/api/" }, "apis[0].prefix", "/bff/"},
		{"prefix dot segment", func(c *Config) { c.APIs[0].Prefix = "/api/../x/" }, "apis[0].prefix", "clean path"},
		{"prefix overlap", func(c *Config) {
			c.APIs = append(c.APIs, APIConfig{Prefix: "/api/", Upstream: "http://x.internal"})
		}, "apis[1].prefix", "overlaps apis[0].prefix"},
		{"upstream missing", func(c *Config) { c.APIs[0].Upstream = "" }, "apis[0].upstream", "required"},
		{"upstream relative", func(c *Config) { c.APIs[0].Upstream = "/orders" }, "apis[0].upstream", "absolute http(s) URL"},
		{"upstream no host", func(c *Config) { c.APIs[0].Upstream = "http:///x" }, "apis[0].upstream", "with a host"},
		{"upstream credentials", func(c *Config) { c.APIs[0].Upstream = "http://u:p@x.internal" }, "apis[0].upstream", "credentials"},
		{"upstream query", func(c *Config) { c.APIs[0].Upstream = "http://x.internal/?a=1" }, "apis[0].upstream", "query"},
		{"token", func(c *Config) { c.APIs[0].Token = "bearer" }, "apis[0].token", "user, user-optional, client or none"},
		{"exchange", func(c *Config) { c.APIs[0].Exchange = "magic" }, "apis[0].exchange", "refresh or token-exchange"},
		{"token-exchange without audience", func(c *Config) { c.APIs[0].Exchange, c.APIs[0].Audience = "token-exchange", "" }, "apis[0].exchange", "audience or a resource"},
		{"resource relative", func(c *Config) { c.APIs[0].Resource = "orders" }, "apis[0].resource", "absolute URI"},
		{"api scope", func(c *Config) { c.APIs[0].Scopes = []string{`a"b`} }, "apis[0].scopes[0]", "scope"},
		{"method", func(c *Config) { c.APIs[0].Methods = []string{"GET", "GE T"} }, "apis[0].methods[1]", "HTTP method"},
		{"api timeout", func(c *Config) { c.APIs[0].Timeout = -time.Second }, "apis[0].timeout", "positive"},
		{"csp newline", func(c *Config) { c.SPA.ContentSecurityPolicy = "default-src 'self'\r\nX: y" }, "spa.content_security_policy", "control"},
		{"log format", func(c *Config) { c.Log.Format = "xml" }, "log.format", "json or text"},
		{"log level", func(c *Config) { c.Log.Level = "verbose" }, "log.level", "debug, info, warn or error"},
		{"read header timeout", func(c *Config) { c.Server.ReadHeaderTimeout = -1 }, "server.read_header_timeout", "positive"},
		{"server idle timeout", func(c *Config) { c.Server.IdleTimeout = -1 }, "server.idle_timeout", "positive"},
		{"shutdown timeout", func(c *Config) { c.Server.ShutdownTimeout = -1 }, "server.shutdown_timeout", "positive"},
		{"max header bytes", func(c *Config) { c.Server.MaxHeaderBytes = -1 }, "server.max_header_bytes", "positive"},
		{"max event streams", func(c *Config) { c.Server.MaxEventStreams = -1 }, "server.max_event_streams", "positive"},
		{"max event streams per session", func(c *Config) { c.Server.MaxEventStreamsPerSession = -1 }, "server.max_event_streams_per_session", "positive"},
		{"burst", func(c *Config) { c.RateLimit.Burst = -1 }, "rate_limit.burst", "negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := validConfig()
			tt.mutate(&c)
			err := c.Validate()
			if err == nil {
				t.Fatalf("Validate() = nil, want %s: %s", tt.wantKey, tt.want)
			}
			if !hasProblem(t, err, tt.wantKey, tt.want) {
				t.Errorf("Validate() = %q, want %s: %s", err, tt.wantKey, tt.want)
			}
			if got := len(configErrors(t, err)); got != 1 {
				t.Errorf("Validate() reported %d problems, want 1: %v", got, err)
			}
		})
	}
}

// Key-based client authentication needs no client secret; fapi2 sets PAR
// and DPoP to require by itself.
func TestValidateKeyBasedClients(t *testing.T) {
	for _, tt := range []struct {
		name   string
		mutate func(*Config)
	}{
		{"private_key_jwt", func(c *Config) { c.OIDC.ClientAuth, c.OIDC.ClientKeyFile = "private_key_jwt", "/keys.pem" }},
		{"older spelling", func(c *Config) {
			c.OIDC.TokenEndpointAuthMethod, c.OIDC.ClientKeyFile, c.OIDC.ClientKeyID = "private_key_jwt", "/keys.pem", "k1"
		}},
		{"tls_client_auth", func(c *Config) {
			c.OIDC.ClientAuth, c.OIDC.TLSClientCertFile, c.OIDC.TLSClientKeyFile = "tls_client_auth", "/c.pem", "/k.pem"
		}},
		{"fapi2", func(c *Config) {
			c.OIDC.Profile, c.OIDC.ClientAuth, c.OIDC.ClientKeyFile = "fapi2", "private_key_jwt", "/keys.pem"
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := validConfig()
			c.OIDC.ClientSecret = ""
			tt.mutate(&c)
			if err := c.Validate(); err != nil {
				t.Errorf("Validate() = %v, want nil", err)
			}
		})
	}
	c := Config{OIDC: OIDCConfig{Profile: "fapi2"}}
	c.SetDefaults()
	if c.OIDC.PAR != "require" || c.OIDC.DPoP != "require" {
		t.Errorf("SetDefaults() with profile fapi2: par %q, dpop %q; want require, require", c.OIDC.PAR, c.OIDC.DPoP)
	}
}

func TestValidateReportsEveryProblem(t *testing.T) {
	c := Config{
		PublicURL: "ftp://x",
		OIDC:      OIDCConfig{Issuer: "http://idp.example.com"},
		Session:   SessionConfig{Store: "redis", SameSite: "none"},
		APIs:      []APIConfig{{Prefix: "/a/"}, {Prefix: "/a/b/", Upstream: "x", Token: "bad"}},
		Log:       LogConfig{Format: "xml"},
	}
	err := c.Validate()
	var got []string
	for _, ce := range configErrors(t, err) {
		got = append(got, ce.Key)
	}
	want := []string{
		"public_url", "oidc.issuer", "oidc.client_id", "oidc.client_secret",
		"session.redis_url", "session.same_site", "session.encryption_keys",
		"apis[0].upstream", "apis[1].prefix", "apis[1].upstream", "apis[1].token", "log.format",
	}
	if !slices.Equal(got, want) {
		t.Errorf("Validate() keys = %q\nwant %q", got, want)
	}
	for _, line := range strings.Split(err.Error(), "\n") {
		if !strings.HasPrefix(line, "config: ") {
			t.Errorf("error line %q does not start with %q", line, "config: ")
		}
	}
	var ce *Error
	if !errors.As(err, &ce) {
		t.Errorf("errors.As(Validate(), *Error) = false")
	}
}

func TestSecretsNeverInErrors(t *testing.T) {
	const secret = "s3cr3t-XYZZY-value"
	c := validConfig()
	c.OIDC.ClientSecret = secret
	c.OIDC.ClientSecretFile = "/run/secrets/x" // both set
	c.Session.Store = "redis"
	c.Session.RedisURL = "http://:" + secret + "@[::1" // unparseable
	c.Session.EncryptionKeys = []string{secret, secret + "=", testKey(1)}
	c.APIs[0].Upstream = "http://user:" + secret + "@x.internal/"
	c.OIDC.AuthParams = map[string]string{"state": secret}
	err := c.Validate()
	if err == nil {
		t.Fatal("Validate() = nil, want problems")
	}
	if strings.Contains(err.Error(), secret) {
		t.Errorf("Validate() error contains the secret:\n%v", err)
	}
	for _, k := range c.Session.EncryptionKeys {
		if _, err := ParseEncryptionKey(k); err != nil && strings.Contains(err.Error(), k) {
			t.Errorf("ParseEncryptionKey() error %q contains the key", err)
		}
	}
}
