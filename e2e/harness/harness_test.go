package harness

import (
	"encoding/json"
	"net/http"
	"slices"
	"testing"

	"github.com/bff-project/bff/e2e/devop"
)

// Options.Like and Options.Provider reach the provider, and a BFF still
// starts against a provider without back-channel logout or token exchange.
func TestStartLike(t *testing.T) {
	const scope = "api://6f1c2b8e-5c4d-4e7a-9b1a-3d2f1e0c9b8a/Orders.Read"
	e := Start(t, Options{Like: devop.LikeEntra, Provider: func(c *devop.Config) {
		c.APIScopes = append(c.APIScopes, scope)
	}})
	resp, err := http.Get(e.OPURL + "/.well-known/openid-configuration")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var d struct {
		BackChannel bool     `json:"backchannel_logout_supported"`
		Scopes      []string `json:"scopes_supported"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&d); err != nil {
		t.Fatal(err)
	}
	if d.BackChannel {
		t.Errorf("backchannel_logout_supported = true, want false (Like entra)")
	}
	if !slices.Contains(d.Scopes, scope) {
		t.Errorf("scopes_supported = %v, want %s (Options.Provider)", d.Scopes, scope)
	}
}
