package config

import (
	"bytes"
	"encoding/base64"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

func TestLoadFiles(t *testing.T) {
	secretFile := writeFile(t, "secret", "file-secret \n\n")
	redisFile := writeFile(t, "redis", "redis://:pw@redis.internal:6379/0\n")
	keysFile := writeFile(t, "keys", "# rotated 2025-01-01\n"+testKey(1)+"\n\n  "+testKey(2)+"  \n")
	emptyFile := writeFile(t, "empty", "\n")
	missing := filepath.Join(t.TempDir(), "missing")

	t.Run("read", func(t *testing.T) {
		cfg, err := Load("", []string{
			"BFF_OIDC_CLIENT_SECRET_FILE=" + secretFile,
			"BFF_SESSION_REDIS_URL_FILE=" + redisFile,
			"BFF_SESSION_ENCRYPTION_KEYS_FILE=" + keysFile,
		})
		if err != nil {
			t.Fatalf("Load() = %v", err)
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
			_, err := Load(writeFile(t, "bff.yaml", tt.yaml), tt.env)
			if err == nil {
				t.Fatal("Load() = nil error")
			}
			if !hasProblem(t, err, tt.wantKey, tt.want) {
				t.Errorf("Load() = %q, want %s: %s", err, tt.wantKey, tt.want)
			}
		})
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
	for _, pg := range []string{"postgres://bff:" + secret + "@db:5432/bff", "host=db user=bff password=" + secret} {
		c := Config{Session: SessionConfig{PostgresURL: pg}}
		if got := c.Redacted().Session.PostgresURL; strings.Contains(got, secret) {
			t.Errorf("Redacted() of postgres_url %q = %q, want the password hidden", pg, got)
		}
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
