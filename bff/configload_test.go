package bff

import (
	"bytes"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

// testKey is a valid encryption key made of 32 copies of b.
func testKey(b byte) string { return base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{b}, 32)) }

// validConfig is a minimal config that Validate accepts and Audit does not
// warn about.
func validConfig() Config {
	return Config{
		PublicURL: "https://app.example.com",
		OIDC:      OIDCConfig{Issuer: "https://idp.example.com", ClientID: "spa-bff", ClientSecret: "not-a-real-secret"},
		Session:   SessionConfig{EncryptionKeys: []string{testKey(1), testKey(2)}},
		APIs: []APIConfig{
			{Prefix: "/api/orders/", Upstream: "http://orders.internal:9001", Audience: "orders-api"},
		},
	}
}

// writeFile writes content to name in a new temporary directory.
func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// configErrors lists the *ConfigError leaves of err; it fails the test on
// any other kind of error.
func configErrors(t *testing.T, err error) []*ConfigError {
	t.Helper()
	var out []*ConfigError
	for _, e := range flattenErrors(err) {
		var ce *ConfigError
		if !errors.As(e, &ce) {
			t.Fatalf("error %q is not a *ConfigError", e)
		}
		out = append(out, ce)
	}
	return out
}

// hasProblem reports whether err holds a *ConfigError for key whose problem
// contains want.
func hasProblem(t *testing.T, err error, key, want string) bool {
	t.Helper()
	for _, ce := range configErrors(t, err) {
		if ce.Key == key && strings.Contains(ce.Problem, want) {
			return true
		}
	}
	return false
}

func TestLoadConfigExample(t *testing.T) {
	// The example names secret files under /run/secrets; point the same keys
	// at temporary files through the environment.
	env := []string{
		"BFF_OIDC_CLIENT_SECRET_FILE=" + writeFile(t, "secret", "example-client-secret\n"),
		"BFF_SESSION_ENCRYPTION_KEYS_FILE=" + writeFile(t, "keys", "# current\n"+testKey(7)+"\n\n# previous\n"+testKey(8)+"\n"),
	}
	cfg, err := LoadConfig("../bff.example.yaml", env)
	if err != nil {
		t.Fatalf("LoadConfig(example) = %v", err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("Validate(example) = %v", err)
	}
	if got, want := cfg.OIDC.ClientSecret, "example-client-secret"; got != want {
		t.Errorf("ClientSecret = %q, want %q", got, want)
	}
	if got, want := cfg.Session.EncryptionKeys, []string{testKey(7), testKey(8)}; !slices.Equal(got, want) {
		t.Errorf("EncryptionKeys = %q, want %q", got, want)
	}
	if got, want := len(cfg.APIs), 3; got != want {
		t.Fatalf("len(APIs) = %d, want %d", got, want)
	}
	if got, want := cfg.APIs[1].Timeout, time.Minute; got != want {
		t.Errorf("APIs[1].Timeout = %v, want %v", got, want)
	}
	if got, want := cfg.APIs[2].Exchange, "refresh"; got != want {
		t.Errorf("APIs[2].Exchange (default) = %q, want %q", got, want)
	}
	if got, want := cfg.OIDC.AuthParams["prompt"], "login"; got != want {
		t.Errorf("AuthParams[prompt] = %q, want %q", got, want)
	}
}

// TestExampleUsesEveryKey fails when a key is added to Config but not to
// bff.example.yaml (set or commented out).
func TestExampleUsesEveryKey(t *testing.T) {
	data, err := os.ReadFile("../bff.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var walk func(reflect.Type, string)
	walk = func(typ reflect.Type, parent string) {
		for i := range typ.NumField() {
			name := yamlName(typ.Field(i))
			if name == "" {
				continue
			}
			if !bytes.Contains(data, []byte(name+":")) {
				t.Errorf("bff.example.yaml does not mention %s", joinKey(parent, name))
			}
			ft := typ.Field(i).Type
			if ft.Kind() == reflect.Slice {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				walk(ft, joinKey(parent, name))
			}
		}
	}
	walk(reflect.TypeFor[Config](), "")
}

func TestLoadConfigYAMLErrors(t *testing.T) {
	const secret = "s3cr3t-XYZZY-value"
	tests := []struct {
		name     string
		yaml     string
		wantKey  string // "" means the file itself
		wantText string
	}{
		{"unknown top-level key", "listen: ':1'\nlistne: ':2'\n", "listne", "unknown key (FILE line 2)"},
		{"unknown nested key", "oidc:\n  issuer: https://x\n  client_secert: x\n", "oidc.client_secert", "unknown key (FILE line 3)"},
		{"unknown key in list entry", "apis:\n  - prefix: /a/\n  - prefx: /b/\n", "apis[1].prefx", "unknown key"},
		{"duplicate key", "listen: ':1'\nlisten: ':2'\n", "listen", "duplicate key (first at line 1)"},
		{"duration as integer", "session:\n  idle_timeout: 90\n", "session.idle_timeout", "must be a duration"},
		{"bad duration", "oidc:\n  timeout: soon\n", "oidc.timeout", "must be a duration"},
		{"bool", "apis:\n  - strip_prefix: maybe\n", "apis[0].strip_prefix", "must be true or false"},
		{"int", "server:\n  max_header_bytes: lots\n", "server.max_header_bytes", "must be an integer"},
		{"list as string", "session:\n  encryption_keys: " + secret + "\n", "session.encryption_keys", "must be a list"},
		{"string as list", "oidc:\n  client_secret: [" + secret + "]\n", "oidc.client_secret", "must be a string"},
		{"section as scalar", "oidc: " + secret + "\n", "oidc", "must be a mapping"},
		{"map as list", "oidc:\n  auth_params: [a]\n", "oidc.auth_params", "must be a mapping"},
		{"top level list", "- a\n", "", "must be a mapping"},
		{"syntax error", "listen: [\n", "", "line"},
		{"two documents", "listen: ':1'\n---\nlisten: ':2'\n", "", "only one YAML document"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeFile(t, "bff.yaml", tt.yaml)
			_, err := LoadConfig(path, nil)
			if err == nil {
				t.Fatalf("LoadConfig() = nil error, want %q", tt.wantText)
			}
			if strings.Contains(err.Error(), secret) {
				t.Errorf("LoadConfig() error %q contains the secret", err)
			}
			wantKey := tt.wantKey
			if wantKey == "" {
				wantKey = path
			}
			want := strings.ReplaceAll(tt.wantText, "FILE", path)
			if !hasProblem(t, err, wantKey, want) {
				t.Errorf("LoadConfig() = %q, want a problem for %s containing %q", err, wantKey, want)
			}
		})
	}
}

func TestLoadConfigEmpty(t *testing.T) {
	for _, content := range []string{"", "# only a comment\n", "---\n"} {
		cfg, err := LoadConfig(writeFile(t, "bff.yaml", content), nil)
		if err != nil {
			t.Fatalf("LoadConfig(%q) = %v", content, err)
		}
		if got, want := cfg.Listen, "127.0.0.1:8080"; got != want {
			t.Errorf("LoadConfig(%q).Listen = %q, want %q", content, got, want)
		}
	}
	if _, err := LoadConfig(filepath.Join(t.TempDir(), "missing.yaml"), nil); err == nil {
		t.Error("LoadConfig(missing file) = nil error")
	}
}

func TestLoadConfigEnv(t *testing.T) {
	const file = `
listen: "127.0.0.1:1"
oidc:
  client_id: from-file
  scopes: [openid]
apis:
  - prefix: /api/a/
    upstream: http://a.internal
`
	tests := []struct {
		name  string
		env   []string
		check func(Config) bool
	}{
		{"string overrides file", []string{"BFF_LISTEN=:9000"}, func(c Config) bool { return c.Listen == ":9000" }},
		{"nested string", []string{"BFF_OIDC_CLIENT_SECRET=x"}, func(c Config) bool { return c.OIDC.ClientSecret == "x" }},
		{"nested with underscores", []string{"BFF_SESSION_REDIS_URL=redis://r:6379"}, func(c Config) bool { return c.Session.RedisURL == "redis://r:6379" }},
		{"duration", []string{"BFF_SESSION_IDLE_TIMEOUT=90s"}, func(c Config) bool { return c.Session.IdleTimeout == 90*time.Second }},
		{"same leaf name in other section", []string{"BFF_SERVER_IDLE_TIMEOUT=5s"}, func(c Config) bool {
			return c.Server.IdleTimeout == 5*time.Second && c.Session.IdleTimeout == 2*time.Hour
		}},
		{"int", []string{"BFF_RATE_LIMIT_BURST=3"}, func(c Config) bool { return c.RateLimit.Burst == 3 }},
		{"list", []string{"BFF_OIDC_SCOPES=openid, profile,,email"}, func(c Config) bool {
			return slices.Equal(c.OIDC.Scopes, []string{"openid", "profile", "email"})
		}},
		{"keys list", []string{"BFF_SESSION_ENCRYPTION_KEYS=k1,k2"}, func(c Config) bool {
			return slices.Equal(c.Session.EncryptionKeys, []string{"k1", "k2"})
		}},
		{"map", []string{"BFF_OIDC_AUTH_PARAMS=audience=orders, prompt=login"}, func(c Config) bool {
			return reflect.DeepEqual(c.OIDC.AuthParams, map[string]string{"audience": "orders", "prompt": "login"})
		}},
		{"apis existing entry", []string{"BFF_APIS_0_UPSTREAM=http://b.internal", "BFF_APIS_0_STRIP_PREFIX=true"}, func(c Config) bool {
			return len(c.APIs) == 1 && c.APIs[0].Upstream == "http://b.internal" && c.APIs[0].StripPrefix && c.APIs[0].Prefix == "/api/a/"
		}},
		{"apis extended in order", []string{"BFF_APIS_2_PREFIX=/c/", "BFF_APIS_1_PREFIX=/b/", "BFF_APIS_1_SCOPES=s1,s2"}, func(c Config) bool {
			return len(c.APIs) == 3 && c.APIs[1].Prefix == "/b/" && c.APIs[2].Prefix == "/c/" &&
				slices.Equal(c.APIs[1].Scopes, []string{"s1", "s2"}) && c.APIs[2].Token == "user"
		}},
		{"ignored variables", []string{"BFF_CONFIG=/x.yaml", "BFF_TEST_REDIS=1", "HOME=/root", "BFF_LISTEN"}, func(c Config) bool {
			return c.Listen == "127.0.0.1:1"
		}},
		{"last duplicate wins", []string{"BFF_LISTEN=:1", "BFF_LISTEN=:2"}, func(c Config) bool { return c.Listen == ":2" }},
	}
	path := writeFile(t, "bff.yaml", file)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := LoadConfig(path, tt.env)
			if err != nil {
				t.Fatalf("LoadConfig(%q) = %v", tt.env, err)
			}
			if !tt.check(cfg) {
				t.Errorf("LoadConfig(%q) = %+v, check failed", tt.env, cfg)
			}
		})
	}
}

func TestLoadConfigEnvErrors(t *testing.T) {
	const secret = "s3cr3t-XYZZY-value"
	tests := []struct {
		name    string
		env     string
		wantKey string
		want    string
	}{
		{"unknown variable", "BFF_LISTN=:1", "BFF_LISTN", "unknown environment variable"},
		{"unknown nested", "BFF_OIDC_SECRET=" + secret, "BFF_OIDC_SECRET", "unknown environment variable"},
		{"section, not value", "BFF_OIDC=x", "BFF_OIDC", "unknown environment variable"},
		{"api unknown field", "BFF_APIS_0_FOO=x", "BFF_APIS_0_FOO", "unknown environment variable"},
		{"api without index", "BFF_APIS_PREFIX=/x/", "BFF_APIS_PREFIX", "unknown environment variable"},
		{"api index skips", "BFF_APIS_2_PREFIX=/x/", "BFF_APIS_2_PREFIX", "index 2 skips entries"},
		{"bad duration", "BFF_OIDC_TIMEOUT=" + secret, "BFF_OIDC_TIMEOUT", "must be a duration"},
		{"bad bool", "BFF_APIS_0_STRIP_PREFIX=" + secret, "BFF_APIS_0_STRIP_PREFIX", "must be true or false"},
		{"bad int", "BFF_RATE_LIMIT_BURST=" + secret, "BFF_RATE_LIMIT_BURST", "must be an integer"},
		{"bad map", "BFF_OIDC_AUTH_PARAMS=a=b," + secret, "BFF_OIDC_AUTH_PARAMS", "entry 2 is not key=value"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := LoadConfig("", []string{tt.env})
			if err == nil {
				t.Fatalf("LoadConfig(%q) = nil error", tt.env)
			}
			if strings.Contains(err.Error(), secret) {
				t.Errorf("LoadConfig() error %q contains the secret", err)
			}
			if !hasProblem(t, err, tt.wantKey, tt.want) {
				t.Errorf("LoadConfig(%q) = %q, want %s: %s", tt.env, err, tt.wantKey, tt.want)
			}
		})
	}
	// Every bad variable is reported, not just the first.
	_, err := LoadConfig("", []string{"BFF_A=1", "BFF_B=2", "BFF_LISTEN=:1"})
	if got := len(configErrors(t, err)); got != 2 {
		t.Errorf("LoadConfig(2 unknown variables) reported %d problems, want 2: %v", got, err)
	}
}

func TestLoadConfigFiles(t *testing.T) {
	secretFile := writeFile(t, "secret", "file-secret \n\n")
	redisFile := writeFile(t, "redis", "redis://:pw@redis.internal:6379/0\n")
	keysFile := writeFile(t, "keys", "# rotated 2025-01-01\n"+testKey(1)+"\n\n  "+testKey(2)+"  \n")
	emptyFile := writeFile(t, "empty", "\n")
	missing := filepath.Join(t.TempDir(), "missing")

	t.Run("read", func(t *testing.T) {
		cfg, err := LoadConfig("", []string{
			"BFF_OIDC_CLIENT_SECRET_FILE=" + secretFile,
			"BFF_SESSION_REDIS_URL_FILE=" + redisFile,
			"BFF_SESSION_ENCRYPTION_KEYS_FILE=" + keysFile,
		})
		if err != nil {
			t.Fatalf("LoadConfig() = %v", err)
		}
		want := SessionConfig{RedisURL: "redis://:pw@redis.internal:6379/0", EncryptionKeys: []string{testKey(1), testKey(2)}}
		if got := cfg.OIDC.ClientSecret; got != "file-secret" {
			t.Errorf("ClientSecret = %q, want %q", got, "file-secret")
		}
		if got := cfg.Session; got.RedisURL != want.RedisURL || !slices.Equal(got.EncryptionKeys, want.EncryptionKeys) {
			t.Errorf("Session = %+v, want RedisURL and EncryptionKeys of %+v", got, want)
		}
		if cfg.OIDC.ClientSecretFile != "" || cfg.Session.RedisURLFile != "" || cfg.Session.EncryptionKeysFile != "" {
			t.Errorf("*_file fields not cleared after reading: %+v", cfg)
		}
		if err := cfg.ReadSecretFiles(); err != nil {
			t.Errorf("second ReadSecretFiles() = %v, want nil", err)
		}
	})

	tests := []struct {
		name    string
		yaml    string
		env     []string
		wantKey string
		want    string
	}{
		{"secret and file", "oidc:\n  client_secret: x\n", []string{"BFF_OIDC_CLIENT_SECRET_FILE=" + secretFile}, "oidc.client_secret_file", "not both"},
		{"redis url and file", "session:\n  redis_url_file: " + redisFile + "\n", []string{"BFF_SESSION_REDIS_URL=redis://x"}, "session.redis_url_file", "not both"},
		{"keys and file", "session:\n  encryption_keys: [a]\n  encryption_keys_file: " + keysFile + "\n", nil, "session.encryption_keys_file", "not both"},
		{"missing secret file", "oidc:\n  client_secret_file: " + missing + "\n", nil, "oidc.client_secret_file", "no such file"},
		{"missing keys file", "session:\n  encryption_keys_file: " + missing + "\n", nil, "session.encryption_keys_file", "no such file"},
		{"empty secret file", "oidc:\n  client_secret_file: " + emptyFile + "\n", nil, "oidc.client_secret_file", "is empty"},
		{"keys file without keys", "session:\n  encryption_keys_file: " + emptyFile + "\n", nil, "session.encryption_keys_file", "holds no keys"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := LoadConfig(writeFile(t, "bff.yaml", tt.yaml), tt.env)
			if err == nil {
				t.Fatal("LoadConfig() = nil error")
			}
			if !hasProblem(t, err, tt.wantKey, tt.want) {
				t.Errorf("LoadConfig() = %q, want %s: %s", err, tt.wantKey, tt.want)
			}
		})
	}
}

func TestSetDefaults(t *testing.T) {
	var c Config
	c.APIs = []APIConfig{{Prefix: "/a/"}}
	c.SetDefaults()
	want := Config{
		Listen: "127.0.0.1:8080",
		OIDC: OIDCConfig{
			Scopes:                  []string{"openid", "profile", "email", "offline_access"},
			TokenEndpointAuthMethod: "client_secret_basic",
			PostLogoutRedirectURL:   "/",
			RefreshSkew:             60 * time.Second,
			Timeout:                 10 * time.Second,
		},
		Session: SessionConfig{
			Store: "bolt", Path: "bff-sessions.db", RedisPrefix: "bff:", RedisTimeout: 500 * time.Millisecond,
			IdleTimeout: 2 * time.Hour, Lifetime: 24 * time.Hour, SameSite: "strict",
		},
		APIs: []APIConfig{{Prefix: "/a/", Token: "user", Exchange: "refresh", Timeout: 30 * time.Second}},
		Log:  LogConfig{Format: "json", Level: "info"},
		Server: ServerConfig{
			ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 120 * time.Second,
			MaxHeaderBytes: 64 << 10, ShutdownTimeout: 20 * time.Second,
		},
		RateLimit: RateLimitConfig{LoginPerMinute: 30, Burst: 10},
	}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("SetDefaults() = %+v\nwant %+v", c, want)
	}
	again := c
	again.SetDefaults()
	if !reflect.DeepEqual(again, want) {
		t.Errorf("SetDefaults() twice = %+v, want %+v", again, want)
	}

	t.Run("openid added", func(t *testing.T) {
		c := Config{OIDC: OIDCConfig{Scopes: []string{"profile"}}}
		c.SetDefaults()
		if got, want := c.OIDC.Scopes, []string{"openid", "profile"}; !slices.Equal(got, want) {
			t.Errorf("Scopes = %q, want %q", got, want)
		}
	})
	t.Run("set values kept", func(t *testing.T) {
		c := Config{Listen: ":1", RateLimit: RateLimitConfig{LoginPerMinute: -1}, Session: SessionConfig{SameSite: "lax"}}
		c.SetDefaults()
		if c.Listen != ":1" || c.RateLimit.LoginPerMinute != -1 || c.Session.SameSite != "lax" {
			t.Errorf("SetDefaults() changed set values: %+v", c)
		}
	})
	t.Run("does not modify a copy's source", func(t *testing.T) {
		orig := Config{APIs: []APIConfig{{Prefix: "/a/"}}}
		cp := orig
		cp.SetDefaults()
		if orig.APIs[0].Token != "" {
			t.Errorf("SetDefaults on a copy changed the original's APIs: %+v", orig.APIs[0])
		}
	})
}

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
		{"auth method", func(c *Config) { c.OIDC.TokenEndpointAuthMethod = "private_key_jwt" }, "oidc.token_endpoint_auth_method", "client_secret_basic or client_secret_post"},
		{"scope with space", func(c *Config) { c.OIDC.Scopes = []string{"openid", "a b"} }, "oidc.scopes[1]", "scope"},
		{"reserved auth param", func(c *Config) { c.OIDC.AuthParams = map[string]string{"state": "x"} }, "oidc.auth_params.state", "protocol parameter"},
		{"post-logout protocol-relative", func(c *Config) { c.OIDC.PostLogoutRedirectURL = "//evil.example" }, "oidc.post_logout_redirect_url", "path"},
		{"post-logout javascript", func(c *Config) { c.OIDC.PostLogoutRedirectURL = "javascript:alert(1)" }, "oidc.post_logout_redirect_url", "path"},
		{"refresh_skew negative", func(c *Config) { c.OIDC.RefreshSkew = -time.Second }, "oidc.refresh_skew", "negative"},
		{"oidc timeout negative", func(c *Config) { c.OIDC.Timeout = -time.Second }, "oidc.timeout", "positive"},
		{"store", func(c *Config) { c.Session.Store = "memcached" }, "session.store", "bolt or redis"},
		{"redis url missing", func(c *Config) { c.Session.Store = "redis" }, "session.redis_url", "required"},
		{"redis url scheme", func(c *Config) { c.Session.Store, c.Session.RedisURL = "redis", "http://redis:6379" }, "session.redis_url", "redis://"},
		{"redis url unparseable", func(c *Config) { c.Session.RedisURL = "redis://[::1" }, "session.redis_url", "redis://"},
		{"redis url file unread", func(c *Config) { c.Session.RedisURLFile = "/x" }, "session.redis_url_file", "not read yet"},
		{"idle_timeout negative", func(c *Config) { c.Session.IdleTimeout = -time.Minute }, "session.idle_timeout", "positive"},
		{"lifetime negative", func(c *Config) { c.Session.Lifetime = -time.Minute }, "session.lifetime", "positive"},
		{"idle longer than lifetime", func(c *Config) { c.Session.IdleTimeout, c.Session.Lifetime = 3*time.Hour, time.Hour }, "session.idle_timeout", "longer than session.lifetime"},
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
	var ce *ConfigError
	if !errors.As(err, &ce) {
		t.Errorf("errors.As(Validate(), *ConfigError) = false")
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

func TestRedacted(t *testing.T) {
	const secret = "s3cr3t-XYZZY-value"
	c := validConfig()
	c.OIDC.ClientSecret = secret
	c.Session.RedisURL = "redis://:" + secret + "@redis.internal:6379/0"
	c.Session.EncryptionKeys = []string{secret, "other-" + secret}
	c.APIs[0].Upstream = "http://u:" + secret + "@x.internal"
	r := c.Redacted()
	out, err := yaml.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(out, []byte(secret)) {
		t.Errorf("Redacted() contains the secret:\n%s", out)
	}
	if got, want := r.OIDC.ClientSecret, "[redacted]"; got != want {
		t.Errorf("Redacted().OIDC.ClientSecret = %q, want %q", got, want)
	}
	if got, want := r.Session.EncryptionKeys, []string{"[redacted]", "[redacted]"}; !slices.Equal(got, want) {
		t.Errorf("Redacted().Session.EncryptionKeys = %q, want %q", got, want)
	}
	if c.OIDC.ClientSecret != secret || c.Session.EncryptionKeys[0] != secret || !strings.Contains(c.APIs[0].Upstream, secret) {
		t.Errorf("Redacted() modified the original config")
	}
	plain := Config{Session: SessionConfig{RedisURL: "redis://redis.internal:6379/0"}}
	if got := plain.Redacted().Session.RedisURL; got != plain.Session.RedisURL {
		t.Errorf("Redacted() of a credential-free Redis URL = %q, want it unchanged", got)
	}
}

func TestParseEncryptionKey(t *testing.T) {
	raw := bytes.Repeat([]byte{0xfb, 0xff}, 16)
	tests := []struct {
		name    string
		in      string
		wantErr bool
	}{
		{"std padded", base64.StdEncoding.EncodeToString(raw), false},
		{"std unpadded", base64.RawStdEncoding.EncodeToString(raw), false},
		{"url padded", base64.URLEncoding.EncodeToString(raw), false},
		{"url unpadded", base64.RawURLEncoding.EncodeToString(raw), false},
		{"16 bytes", base64.StdEncoding.EncodeToString(raw[:16]), true},
		{"33 bytes", base64.StdEncoding.EncodeToString(append(raw, 1)), true},
		{"not base64", "this is not base64 at all!!!!!!!!!!!!!!!!!!!", true},
		{"empty", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseEncryptionKey(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("ParseEncryptionKey() error = %v, wantErr %v", err, tt.wantErr)
			}
			if !tt.wantErr && !bytes.Equal(got, raw) {
				t.Errorf("ParseEncryptionKey() = %x, want %x", got, raw)
			}
		})
	}
}

func TestGenerateKey(t *testing.T) {
	k1, err := GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	k2, _ := GenerateKey()
	if k1 == k2 {
		t.Errorf("GenerateKey() returned %q twice", k1)
	}
	b, err := ParseEncryptionKey(k1)
	if err != nil || len(b) != 32 {
		t.Errorf("ParseEncryptionKey(GenerateKey()) = %d bytes, %v; want 32 bytes", len(b), err)
	}
	if _, err := base64.StdEncoding.DecodeString(k1); err != nil {
		t.Errorf("GenerateKey() = %q, not standard base64: %v", k1, err)
	}
}

func TestNaturalCompare(t *testing.T) {
	in := []string{"BFF_APIS_10_A", "BFF_APIS_2_A", "BFF_APIS_1_B", "BFF_APIS_1_A", "BFF_APIS_002_B", "BFF_LISTEN"}
	slices.SortStableFunc(in, naturalCompare)
	want := []string{"BFF_APIS_1_A", "BFF_APIS_1_B", "BFF_APIS_2_A", "BFF_APIS_002_B", "BFF_APIS_10_A", "BFF_LISTEN"}
	if !slices.Equal(in, want) {
		t.Errorf("sorted = %q, want %q", in, want)
	}
}
