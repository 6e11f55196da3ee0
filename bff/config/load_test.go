package config

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
)

// testKey is a valid encryption key made of 32 copies of b.
func testKey(b byte) string { return base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{b}, 32)) }

// validConfig is a minimal config that Validate accepts and Audit does not
// warn about.
func validConfig() Config {
	return Config{
		PublicURL:     "https://app.example.com",
		MetricsListen: "127.0.0.1:9090",
		OIDC:          OIDCConfig{Issuer: "https://idp.example.com", ClientID: "spa-bff", ClientSecret: "not-a-real-secret"},
		Session:       SessionConfig{EncryptionKeys: []string{testKey(1), testKey(2)}},
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

// configErrors lists the *Error leaves of err; it fails the test on
// any other kind of error.
func configErrors(t *testing.T, err error) []*Error {
	t.Helper()
	var out []*Error
	for _, e := range flattenErrors(err) {
		var ce *Error
		if !errors.As(e, &ce) {
			t.Fatalf("error %q is not a *Error", e)
		}
		out = append(out, ce)
	}
	return out
}

// hasProblem reports whether err holds a *Error for key whose problem
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

func TestLoadExample(t *testing.T) {
	// The example names secret files under /run/secrets; point the same keys
	// at temporary files through the environment.
	env := []string{
		"BFF_OIDC_CLIENT_SECRET_FILE=" + writeFile(t, "secret", "example-client-secret\n"),
		"BFF_SESSION_ENCRYPTION_KEYS_FILE=" + writeFile(t, "keys", "# current\n"+testKey(7)+"\n\n# previous\n"+testKey(8)+"\n"),
	}
	cfg, err := Load("../../bff.example.yaml", env)
	if err != nil {
		t.Fatalf("Load(example) = %v", err)
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
	data, err := os.ReadFile("../../bff.example.yaml")
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

func TestLoadYAMLErrors(t *testing.T) {
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
		// Review of issue 13: an unquoted secret starting with "*" is an
		// alias, and yaml.v3 named the "anchor" in its error.
		{"secret read as an alias", "oidc:\n  client_secret: *" + secret + "\n", "", "unknown anchor"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeFile(t, "bff.yaml", tt.yaml)
			_, err := Load(path, nil)
			if err == nil {
				t.Fatalf("Load() = nil error, want %q", tt.wantText)
			}
			if strings.Contains(err.Error(), secret) {
				t.Errorf("Load() error %q contains the secret", err)
			}
			wantKey := tt.wantKey
			if wantKey == "" {
				wantKey = path
			}
			want := strings.ReplaceAll(tt.wantText, "FILE", path)
			if !hasProblem(t, err, wantKey, want) {
				t.Errorf("Load() = %q, want a problem for %s containing %q", err, wantKey, want)
			}
		})
	}
}

func TestLoadEmpty(t *testing.T) {
	for _, content := range []string{"", "# only a comment\n", "---\n"} {
		cfg, err := Load(writeFile(t, "bff.yaml", content), nil)
		if err != nil {
			t.Fatalf("Load(%q) = %v", content, err)
		}
		if got, want := cfg.Listen, "127.0.0.1:8080"; got != want {
			t.Errorf("Load(%q).Listen = %q, want %q", content, got, want)
		}
	}
	if _, err := Load(filepath.Join(t.TempDir(), "missing.yaml"), nil); err == nil {
		t.Error("Load(missing file) = nil error")
	}
}
