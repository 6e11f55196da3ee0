package config

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"gopkg.in/yaml.v3"
)

// FuzzLoad checks that Load never panics on any YAML, and that a
// config it accepts and Validate passes survives a round trip: marshal with
// yaml.v3, load again, get an equal Config.
func FuzzLoad(f *testing.F) {
	example, err := os.ReadFile("../../bff.example.yaml")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(example)
	f.Add([]byte(`
public_url: https://app.example.com
oidc: {issuer: "https://idp.example.com", client_id: c, client_secret: "s", auth_params: {audience: a}}
session: {encryption_keys: ["` + testKey(1) + `"], idle_timeout: 1h, lifetime: 2h}
apis: [{prefix: /api/, upstream: "http://a.internal", methods: [GET], scopes: []}]
trusted_proxies: [10.0.0.0/8]
`))
	for _, s := range []string{
		"",
		"---\n",
		"listen: [\n",
		"- a\n- b\n",
		"oidc: 5\n",
		"session:\n  idle_timeout: 90\n",
		"apis:\n  - prefix: /a/\n    nope: 1\n",
		"listen: ':1'\nlisten: ':2'\n",
		"a: &a [*a, *a]\n",
		"x: &x {a: 1}\noidc:\n  <<: *x\n",
		"oidc: &o {client_id: a}\nsession: *o\n",
		"listen: \"\\xff\"\n",
		"scopes: !!binary aGVsbG8=\n",
		"---\nlisten: a\n---\nlisten: b\n",
		"rate_limit: {burst: 99999999999999999999}\n",
		"oidc: {scopes: [openid, null, ~]}\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		path := filepath.Join(dir, "bff.yaml")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		cfg, err := Load(path, nil)
		if err != nil {
			return
		}
		_ = cfg.Audit() // must not panic either
		if cfg.Validate() != nil {
			return
		}
		out, err := yaml.Marshal(cfg)
		if err != nil {
			t.Fatalf("yaml.Marshal(accepted config) = %v", err)
		}
		if err := os.WriteFile(path, out, 0o600); err != nil {
			t.Fatal(err)
		}
		again, err := Load(path, nil)
		if err != nil {
			t.Fatalf("Load(marshalled config) = %v\n%s", err, out)
		}
		if !reflect.DeepEqual(cfg, again) {
			t.Errorf("round trip changed the config:\n got %+v\nwant %+v\nyaml:\n%s", again, cfg, out)
		}
	})
}
