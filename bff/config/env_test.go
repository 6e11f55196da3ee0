package config

import (
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestLoadEnv(t *testing.T) {
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
			cfg, err := Load(path, tt.env)
			if err != nil {
				t.Fatalf("Load(%q) = %v", tt.env, err)
			}
			if !tt.check(cfg) {
				t.Errorf("Load(%q) = %+v, check failed", tt.env, cfg)
			}
		})
	}
}

func TestLoadEnvErrors(t *testing.T) {
	const secret = "s3cr3t-XYZZY-value"
	tests := []struct {
		name    string
		env     string
		wantKey string
		want    string
	}{
		{"api index skips", "BFF_APIS_2_PREFIX=/x/", "BFF_APIS_2_PREFIX", "index 2 skips entries"},
		{"bad duration", "BFF_OIDC_TIMEOUT=" + secret, "BFF_OIDC_TIMEOUT", "must be a duration"},
		{"bad bool", "BFF_APIS_0_STRIP_PREFIX=" + secret, "BFF_APIS_0_STRIP_PREFIX", "must be true or false"},
		{"bad int", "BFF_RATE_LIMIT_BURST=" + secret, "BFF_RATE_LIMIT_BURST", "must be an integer"},
		{"bad map", "BFF_OIDC_AUTH_PARAMS=a=b," + secret, "BFF_OIDC_AUTH_PARAMS", "entry 2 is not key=value"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load("", []string{tt.env})
			if err == nil {
				t.Fatalf("Load(%q) = nil error", tt.env)
			}
			if strings.Contains(err.Error(), secret) {
				t.Errorf("Load() error %q contains the secret", err)
			}
			if !hasProblem(t, err, tt.wantKey, tt.want) {
				t.Errorf("Load(%q) = %q, want %s: %s", tt.env, err, tt.wantKey, tt.want)
			}
		})
	}
	// Every bad variable is reported, not just the first.
	_, err := Load("", []string{"BFF_OIDC_TIMEOUT=x", "BFF_RATE_LIMIT_BURST=y", "BFF_LISTEN=:1"})
	if got := len(configErrors(t, err)); got != 2 {
		t.Errorf("Load(2 bad variables) reported %d problems, want 2: %v", got, err)
	}
}

// Issue 13: a Kubernetes Service named bff puts BFF_SERVICE_HOST, BFF_PORT,
// BFF_PORT_8080_TCP_ADDR and more into every pod, and the BFF refused to
// start. Variables that name no key are listed, never an error, and do not
// stop the others from applying.
func TestUnknownEnvIgnored(t *testing.T) {
	const secret = "s3cr3t-XYZZY-value"
	env := []string{
		"BFF_SERVICE_HOST=10.0.0.7", "BFF_SERVICE_PORT=8080", "BFF_SERVICE_PORT_HTTP=8080", "BFF_PORT=tcp://10.0.0.7:8080",
		"BFF_PORT_8080_TCP=tcp://10.0.0.7:8080", "BFF_PORT_8080_TCP_PROTO=tcp", "BFF_PORT_8080_TCP_PORT=8080",
		"BFF_PORT_8080_TCP_ADDR=10.0.0.7", "BFF_APIS_SERVICE_HOST=10.0.0.8", "BFF_OIDC_SECRET=" + secret,
		"BFF_OIDC=x", "BFF_APIS_0_FOO=x", "BFF_LISTEN=:1", "BFF_APIS_0_PREFIX=/api/a/", "BFF_CONFIG=/x.yaml", "BFF_TEST_REDIS=1",
	}
	cfg, err := Load("", env)
	if err != nil {
		t.Fatalf("Load() = %v, want no error", err)
	}
	if cfg.Listen != ":1" || len(cfg.APIs) != 1 || cfg.APIs[0].Prefix != "/api/a/" {
		t.Errorf("Load() did not apply the known variables: listen %q, apis %+v", cfg.Listen, cfg.APIs)
	}
	want := []string{"BFF_APIS_0_FOO", "BFF_APIS_SERVICE_HOST", "BFF_OIDC", "BFF_OIDC_SECRET", "BFF_PORT",
		"BFF_PORT_8080_TCP", "BFF_PORT_8080_TCP_ADDR", "BFF_PORT_8080_TCP_PORT", "BFF_PORT_8080_TCP_PROTO",
		"BFF_SERVICE_HOST", "BFF_SERVICE_PORT", "BFF_SERVICE_PORT_HTTP"}
	got := UnknownEnv(env)
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("UnknownEnv() = %q, want %q", got, want)
	}
	if strings.Contains(strings.Join(got, " "), secret) {
		t.Error("UnknownEnv() shows a value")
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
