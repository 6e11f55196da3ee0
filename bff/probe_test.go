package bff_test

import (
	"context"
	"net"
	"strings"
	"testing"

	"github.com/bff-project/bff/bff"
	"github.com/bff-project/bff/e2e/harness"
)

// `bff check --probe` against the real development provider: all well,
// then each way a deployment is commonly misconfigured, each failing its
// own line and no other.
func TestProbe(t *testing.T) {
	env := harness.Start(t, harness.Options{})
	deadAddr := func() string {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		return "http://" + l.Addr().String()
	}()
	tests := []struct {
		name     string
		mutate   func(*bff.Config)
		wantFail []string // checks that must fail; all others ok
	}{
		{name: "healthy"},
		{name: "wrong client secret", mutate: func(c *bff.Config) { c.OIDC.ClientSecret = "not-the-secret" },
			wantFail: []string{"client authentication"}},
		{name: "unknown client", mutate: func(c *bff.Config) { c.OIDC.ClientID = "nobody" },
			wantFail: []string{"client authentication", "redirect URI"}},
		{name: "redirect URI not registered", mutate: func(c *bff.Config) { c.PublicURL = "https://app.not-registered.example" },
			wantFail: []string{"redirect URI"}},
		{name: "upstream down", mutate: func(c *bff.Config) { c.APIs[0].Upstream = deadAddr },
			wantFail: []string{"apis[0] upstream /api/orders/"}},
		{name: "provider down", mutate: func(c *bff.Config) { c.OIDC.Issuer = deadAddr },
			wantFail: []string{"discovery"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := env.Default.Config
			cfg.APIs = append(cfg.APIs[:0:0], cfg.APIs...)
			if tt.mutate != nil {
				tt.mutate(&cfg)
			}
			results := bff.Probe(context.Background(), cfg)
			failed := map[string]bool{}
			for _, r := range results {
				if !r.OK {
					failed[r.Check] = true
				}
				if strings.Contains(r.Detail, cfg.OIDC.ClientSecret) || strings.Contains(r.Detail, harness.ClientSecret) {
					t.Errorf("%s detail %q shows the client secret", r.Check, r.Detail)
				}
			}
			for _, c := range tt.wantFail {
				if !failed[c] {
					t.Errorf("check %q did not fail; results %+v", c, results)
				}
				delete(failed, c)
			}
			for c := range failed {
				t.Errorf("check %q failed, want ok; results %+v", c, results)
			}
			if len(results) < 2 {
				t.Errorf("Probe() = %+v, want the whole table", results)
			}
		})
	}
}
