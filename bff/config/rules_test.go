package config

import (
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// claims builds a claims condition from Go values.
func claims(kv ...any) map[string][]ClaimValue {
	m := map[string][]ClaimValue{}
	for i := 0; i+1 < len(kv); i += 2 {
		for _, v := range kv[i+1].([]any) {
			m[kv[i].(string)] = append(m[kv[i].(string)], ClaimValue{v})
		}
	}
	return m
}

func TestValidateRulesOK(t *testing.T) {
	tests := []struct {
		name  string
		token string
		rules []RuleConfig
	}{
		{"claims of every type", "", []RuleConfig{{Claims: claims("groups", []any{"admins", "ops"}, "email_verified", []any{true}, "level", []any{3, 4.5})}}},
		{"method-specific step-up", "", []RuleConfig{{Methods: []string{"POST", "DELETE"}, ACR: []string{"urn:example:mfa", "mfa"}, AMR: []string{"otp"}, MaxAge: 15 * time.Minute}}},
		{"user-optional route", "user-optional", []RuleConfig{{Methods: []string{"POST"}, ACR: []string{"mfa"}}}},
		{"disjoint acr on disjoint methods", "", []RuleConfig{{Methods: []string{"POST"}, ACR: []string{"a"}}, {Methods: []string{"DELETE"}, ACR: []string{"b"}}}},
		{"acr lists that share a value", "", []RuleConfig{{ACR: []string{"a", "b"}}, {Methods: []string{"DELETE"}, ACR: []string{"b"}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := validConfig()
			c.APIs[0].Token = tt.token
			c.APIs[0].Require = tt.rules
			if err := c.Validate(); err != nil {
				t.Errorf("Validate() = %v, want nil", err)
			}
		})
	}
}

func TestValidateRules(t *testing.T) {
	tests := []struct {
		name    string
		mutate  func(a *APIConfig)
		wantKey string
		want    string
	}{
		{"no condition", func(a *APIConfig) { a.Require = []RuleConfig{{Methods: []string{"GET"}}} }, "apis[0].require[0]", "at least one condition"},
		{"client route", func(a *APIConfig) { a.Token = "client"; a.Require = []RuleConfig{{ACR: []string{"mfa"}}} }, "apis[0].require", "user or user-optional"},
		{"none route", func(a *APIConfig) { a.Token = "none"; a.Require = []RuleConfig{{ACR: []string{"mfa"}}} }, "apis[0].require", "user or user-optional"},
		{"empty methods", func(a *APIConfig) { a.Require = []RuleConfig{{Methods: []string{}, ACR: []string{"mfa"}}} }, "apis[0].require[0].methods", "at least one method"},
		{"lower-case method", func(a *APIConfig) { a.Require = []RuleConfig{{Methods: []string{"delete"}, ACR: []string{"mfa"}}} }, "apis[0].require[0].methods[0]", "upper case, such as DELETE"},
		{"bad method", func(a *APIConfig) { a.Require = []RuleConfig{{Methods: []string{"PO ST"}, ACR: []string{"mfa"}}} }, "apis[0].require[0].methods[0]", "HTTP method"},
		{"trace", func(a *APIConfig) { a.Require = []RuleConfig{{Methods: []string{"TRACE"}, ACR: []string{"mfa"}}} }, "apis[0].require[0].methods[0]", "never proxied"},
		{"method twice", func(a *APIConfig) {
			a.Require = []RuleConfig{{Methods: []string{"POST", "POST"}, ACR: []string{"mfa"}}}
		}, "apis[0].require[0].methods[1]", "twice"},
		{"method the route refuses", func(a *APIConfig) {
			a.Methods = []string{"GET"}
			a.Require = []RuleConfig{{Methods: []string{"DELETE"}, ACR: []string{"mfa"}}}
		}, "apis[0].require[0].methods[0]", "never apply"},
		{"empty claims", func(a *APIConfig) { a.Require = []RuleConfig{{Claims: map[string][]ClaimValue{}}} }, "apis[0].require[0].claims", "at least one claim"},
		{"claim without values", func(a *APIConfig) { a.Require = []RuleConfig{{Claims: map[string][]ClaimValue{"groups": {}}}} }, "apis[0].require[0].claims.groups", "at least one value"},
		{"claim value of another type", func(a *APIConfig) { a.Require = []RuleConfig{{Claims: claims("groups", []any{[]string{"x"}})}} }, "apis[0].require[0].claims.groups[0]", "string, a boolean or a number"},
		{"empty claim name", func(a *APIConfig) { a.Require = []RuleConfig{{Claims: claims(" ", []any{"x"})}} }, "apis[0].require[0].claims", "claim name"},
		{"empty acr", func(a *APIConfig) { a.Require = []RuleConfig{{ACR: []string{}}} }, "apis[0].require[0].acr", "at least one value"},
		{"acr with space", func(a *APIConfig) { a.Require = []RuleConfig{{ACR: []string{"a b"}}} }, "apis[0].require[0].acr[0]", "without spaces"},
		{"acr twice", func(a *APIConfig) { a.Require = []RuleConfig{{ACR: []string{"a", "a"}}} }, "apis[0].require[0].acr[1]", "twice"},
		{"too many acr", func(a *APIConfig) {
			a.Require = []RuleConfig{{ACR: []string{"a1", "a2", "a3", "a4", "a5", "a6", "a7", "a8", "a9", "a10", "a11"}}}
		}, "apis[0].require[0].acr", "at most 10"},
		{"acr too long", func(a *APIConfig) { a.Require = []RuleConfig{{ACR: []string{strings.Repeat("a", 513)}}} }, "apis[0].require[0].acr", "at most 512"},
		{"empty amr", func(a *APIConfig) { a.Require = []RuleConfig{{AMR: []string{}}} }, "apis[0].require[0].amr", "at least one value"},
		{"amr with quote", func(a *APIConfig) { a.Require = []RuleConfig{{AMR: []string{`o"tp`}}} }, "apis[0].require[0].amr[0]", "quotes"},
		{"negative max_age", func(a *APIConfig) { a.Require = []RuleConfig{{MaxAge: -time.Minute}} }, "apis[0].require[0].max_age", "positive"},
		{"fractional max_age", func(a *APIConfig) { a.Require = []RuleConfig{{MaxAge: 1500 * time.Millisecond}} }, "apis[0].require[0].max_age", "whole number of seconds"},
		{"acr no sign-in can satisfy", func(a *APIConfig) {
			a.Require = []RuleConfig{{ACR: []string{"a"}}, {Methods: []string{"POST"}, ACR: []string{"b"}}}
		}, "apis[0].require[1].acr", "no value in common with apis[0].require[0].acr"},
		{"acr conflict through GET and HEAD", func(a *APIConfig) {
			a.Require = []RuleConfig{{Methods: []string{"GET"}, ACR: []string{"a"}}, {Methods: []string{"HEAD"}, ACR: []string{"b"}}}
		}, "apis[0].require[1].acr", "no value in common"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := validConfig()
			tt.mutate(&c.APIs[0])
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

// TestLoadRules reads rules from YAML: claim values keep their YAML type,
// and every problem of every rule is reported at once, naming its key.
func TestLoadRules(t *testing.T) {
	const base = `
public_url: https://app.example.com
oidc: {issuer: "https://idp.example.com", client_id: c, client_secret: s}
session: {encryption_keys: ["` + "%s" + `"]}
apis:
  - prefix: /api/orders/
    upstream: http://orders.internal
`
	head := strings.Replace(base, "%s", testKey(1), 1)
	t.Run("typed values", func(t *testing.T) {
		path := writeFile(t, "bff.yaml", head+`    require:
      - claims: {groups: [admins, "true"], email_verified: [true], level: [3, 4.5]}
      - methods: [POST]
        acr: ["urn:example:mfa", mfa]
        amr: [otp]
        max_age: 15m
`)
		cfg, err := Load(path, nil)
		if err != nil {
			t.Fatalf("Load() = %v", err)
		}
		if err := cfg.Validate(); err != nil {
			t.Fatalf("Validate() = %v", err)
		}
		want := []RuleConfig{
			{Claims: claims("groups", []any{"admins", "true"}, "email_verified", []any{true}, "level", []any{3.0, 4.5})},
			{Methods: []string{"POST"}, ACR: []string{"urn:example:mfa", "mfa"}, AMR: []string{"otp"}, MaxAge: 15 * time.Minute},
		}
		if got := cfg.APIs[0].Require; !reflect.DeepEqual(got, want) {
			t.Errorf("Require = %#v\nwant %#v", got, want)
		}
	})
	t.Run("every problem at once", func(t *testing.T) {
		path := writeFile(t, "bff.yaml", head+`    require:
      - claims: {groups: [{nested: map}], email_verified: [null]}
        acr: "mfa"
        colour: vermilion-42
      - methods: [post]
        acr: []
        max_age: soon
`)
		cfg, err := Load(path, nil)
		problems := Problems(err, cfg.Validate())
		var keys []string
		for _, p := range problems {
			keys = append(keys, p.(*Error).Key)
			if strings.Contains(p.Error(), "nested") || strings.Contains(p.Error(), "vermilion") {
				t.Errorf("problem %q quotes a configured value", p)
			}
		}
		want := []string{
			"apis[0].require[0].claims.groups[0]",
			"apis[0].require[0].acr",
			"apis[0].require[0].colour",
			"apis[0].require[1].max_age",
			"apis[0].require[0].claims.email_verified",
			"apis[0].require[1].methods[0]",
			"apis[0].require[1].acr",
		}
		for _, k := range want {
			if !slices.Contains(keys, k) {
				t.Errorf("problems %q do not name %s", keys, k)
			}
		}
	})
}

func TestLoadRulesFromEnv(t *testing.T) {
	path := writeFile(t, "bff.yaml", "apis:\n  - prefix: /api/a/\n    upstream: http://a.internal\n")
	cfg, err := Load(path, []string{
		"BFF_APIS_0_REQUIRE_0_CLAIMS=groups=admins, groups=ops, email_verified=true, level=3",
		"BFF_APIS_0_REQUIRE_1_METHODS=POST,DELETE",
		"BFF_APIS_0_REQUIRE_1_ACR=mfa",
		"BFF_APIS_0_REQUIRE_1_MAX_AGE=10m",
	})
	if err != nil {
		t.Fatalf("Load() = %v", err)
	}
	want := []RuleConfig{
		{Claims: claims("groups", []any{"admins", "ops"}, "email_verified", []any{true}, "level", []any{3.0})},
		{Methods: []string{"POST", "DELETE"}, ACR: []string{"mfa"}, MaxAge: 10 * time.Minute},
	}
	if got := cfg.APIs[0].Require; !reflect.DeepEqual(got, want) {
		t.Errorf("Require = %#v\nwant %#v", got, want)
	}
	_, err = Load(path, []string{"BFF_APIS_0_REQUIRE_0_CLAIMS=groups"})
	if !hasProblem(t, err, "BFF_APIS_0_REQUIRE_0_CLAIMS", "not claim=value") {
		t.Errorf("Load(claims without =) = %v, want a problem naming the variable", err)
	}
}
