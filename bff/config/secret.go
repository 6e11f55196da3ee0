package config

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"os"
	"slices"
	"strings"
)

// This file handles a Config's secrets: *_file keys, redaction, encryption keys.

// redactedValue replaces secrets in [Config.Redacted] and in logs.
const redactedValue = "[redacted]"

// ReadSecretFiles reads each *_file key (oidc.client_secret_file,
// session.redis_url_file, session.encryption_keys_file) into its matching
// field and clears the *_file field. Trailing white space is trimmed; the
// keys file holds one key per line, ignoring blank lines and "#" comments.
// Setting both a value and its file is an error. [Load] calls it; call
// it yourself for a Config built in code. Calling it again does nothing.
func (c *Config) ReadSecretFiles() error {
	var errs []error
	readSecret := func(value, file *string, key string) {
		if *file == "" {
			return
		}
		if *value != "" {
			errs = append(errs, configErr(key+"_file", "set %s or %s_file, not both", key, key))
			return
		}
		data, err := os.ReadFile(*file)
		if err != nil {
			errs = append(errs, configErr(key+"_file", "%v", err))
			return
		}
		s := strings.TrimRight(string(data), " \t\r\n")
		if s == "" {
			errs = append(errs, configErr(key+"_file", "file %s is empty", *file))
			return
		}
		*value, *file = s, ""
	}
	readSecret(&c.OIDC.ClientSecret, &c.OIDC.ClientSecretFile, "oidc.client_secret")
	readSecret(&c.Session.RedisURL, &c.Session.RedisURLFile, "session.redis_url")
	readSecret(&c.Session.RedisPassword, &c.Session.RedisPasswordFile, "session.redis_password")
	readSecret(&c.Session.PostgresURL, &c.Session.PostgresURLFile, "session.postgres_url")

	if file := c.Session.EncryptionKeysFile; file != "" {
		const key = "session.encryption_keys_file"
		data, err := os.ReadFile(file)
		switch {
		case len(c.Session.EncryptionKeys) > 0:
			errs = append(errs, configErr(key, "set session.encryption_keys or session.encryption_keys_file, not both"))
		case err != nil:
			errs = append(errs, configErr(key, "%v", err))
		default:
			var keys []string
			for line := range strings.Lines(string(data)) {
				line = strings.TrimSpace(line)
				if line != "" && !strings.HasPrefix(line, "#") {
					keys = append(keys, line)
				}
			}
			if len(keys) == 0 {
				errs = append(errs, configErr(key, "file %s holds no keys", file))
				break
			}
			c.Session.EncryptionKeys, c.Session.EncryptionKeysFile = keys, ""
		}
	}
	return errors.Join(errs...)
}

// Redacted returns a copy of c that is safe to print: the client secret, the
// encryption keys, a Redis URL with credentials or query and an upstream URL
// with credentials are replaced by "[redacted]". Slices it changes are
// copied; c is not modified.
func (c Config) Redacted() Config {
	if c.OIDC.ClientSecret != "" {
		c.OIDC.ClientSecret = redactedValue
	}
	if c.Session.RedisPassword != "" {
		c.Session.RedisPassword = redactedValue
	}
	if c.Session.RedisURL != "" && urlHasSecret(c.Session.RedisURL) {
		c.Session.RedisURL = redactedValue
	}
	if c.Session.PostgresURL != "" && (urlHasSecret(c.Session.PostgresURL) || strings.Contains(c.Session.PostgresURL, "password")) {
		c.Session.PostgresURL = redactedValue
	}
	if len(c.Session.EncryptionKeys) > 0 {
		keys := make([]string, len(c.Session.EncryptionKeys))
		for i := range keys {
			keys[i] = redactedValue
		}
		c.Session.EncryptionKeys = keys
	}
	c.APIs = slices.Clone(c.APIs)
	for i := range c.APIs {
		if urlHasSecret(c.APIs[i].Upstream) {
			c.APIs[i].Upstream = redactedValue
		}
	}
	return c
}

// urlHasSecret reports whether a URL may carry credentials (user info or a
// query), or cannot be parsed to tell.
func urlHasSecret(s string) bool {
	u, err := url.Parse(s)
	return err != nil || u.User != nil || u.RawQuery != ""
}

// ParseEncryptionKey decodes a session encryption key: base64 (standard or
// URL alphabet, padded or not) of exactly 32 bytes. Its errors never contain
// the key.
func ParseEncryptionKey(s string) ([]byte, error) {
	for _, enc := range []*base64.Encoding{
		base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding,
	} {
		b, err := enc.Strict().DecodeString(s)
		if err != nil {
			continue
		}
		if len(b) != 32 {
			return nil, fmt.Errorf("bff: encryption key decodes to %d bytes, want 32", len(b))
		}
		return b, nil
	}
	return nil, errors.New("bff: encryption key is not base64")
}

// GenerateKey returns a new random session encryption key: 32 bytes from
// crypto/rand in standard base64, the form [ParseEncryptionKey] reads.
func GenerateKey() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("bff: generate key: %w", err)
	}
	return base64.StdEncoding.EncodeToString(b), nil
}
