package fapiop

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The install check tells a missing node_modules from a stale one, so the
// skip message says what to run; it needs no node.
func TestCheckModules(t *testing.T) {
	write := func(t *testing.T, path, content string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name      string
		installed string // version of node_modules/oidc-provider; "" = none, "-" = no node_modules
		want      string // substring of the answer; "" = ready
	}{
		{name: "no node_modules", installed: "-", want: "missing (no node_modules)"},
		{name: "missing", installed: "", want: "missing (oidc-provider not installed)"},
		{name: "stale", installed: "9.0.0", want: "stale (oidc-provider 9.0.0 installed, 9.13.3 pinned)"},
		{name: "ready", installed: "9.13.3", want: ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			write(t, filepath.Join(dir, "package.json"), `{"dependencies":{"oidc-provider":"9.13.3"}}`)
			if tc.installed != "-" {
				write(t, filepath.Join(dir, "node_modules", ".package-lock.json"), "{}")
			}
			if tc.installed != "" && tc.installed != "-" {
				write(t, filepath.Join(dir, "node_modules", "oidc-provider", "package.json"), `{"version":"`+tc.installed+`"}`)
			}
			got := checkModules(dir)
			if (tc.want == "") != (got == "") || !strings.Contains(got, tc.want) {
				t.Errorf("checkModules() = %q, want %q", got, tc.want)
			}
		})
	}
}

// The pinned package.json is the one the check reads, and it pins exact
// versions only.
func TestPackagePinsExactVersions(t *testing.T) {
	var pkg struct{ Dependencies map[string]string }
	if err := readJSON(filepath.Join(nodeDir(), "package.json"), &pkg); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(pkg.Dependencies["oidc-provider"], "9.") {
		t.Errorf("oidc-provider = %q, want a 9.x version", pkg.Dependencies["oidc-provider"])
	}
	for name, v := range pkg.Dependencies {
		if strings.ContainsAny(v, "^~<>=*x ") {
			t.Errorf("%s = %q, want an exact version", name, v)
		}
	}
}

func TestRequired(t *testing.T) {
	for in, want := range map[string]bool{"": false, "redis,chromium": false, "redis, FAPIOP": true, "fapiop": true, "fapiopx": false} {
		t.Setenv(EnvRequire, in)
		if got := Required(); got != want {
			t.Errorf("Required() with %s=%q = %v, want %v", EnvRequire, in, got, want)
		}
	}
}

// newDocument reports every problem of a config at once.
func TestValidate(t *testing.T) {
	_, err := newDocument(Config{
		PAR: "sometimes",
		Clients: []Client{
			{ID: "a"},
			{ID: "a", AuthMethod: AuthPrivateKeyJWT, RedirectURIs: []string{"https://x/cb"}},
			{ID: "b", AuthMethod: AuthTLS, Secret: "s", RedirectURIs: []string{"https://x/cb"}, DPoPBound: true},
		},
		Users:     []User{{Subject: "u"}},
		Resources: []Resource{{Indicator: "relative/path"}},
	})
	if err == nil {
		t.Fatal("newDocument() = nil error, want every problem")
	}
	for _, want := range []string{
		`PAR "sometimes"`,
		"Clients[0]: at least one RedirectURI",
		"Clients[0]: client_secret_basic needs a Secret",
		`Clients[1]: ID "a" is empty or not unique`,
		"Clients[1]: private_key_jwt needs Keys or JWKSURI",
		"Clients[2]: tls_client_auth needs Config.MTLS",
		"Clients[2]: DPoPBound needs Config.DPoP",
		"Users[0]: Subject and Username are required",
		`Resources[0]: Indicator "relative/path"`,
		"Resources[0]: at least one scope",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q\nlacks %q", err, want)
		}
	}
}
