package bff_test

import (
	"net/http"
	"testing"

	"github.com/bff-project/bff/e2e/harness"
)

func TestSignInSmoke(t *testing.T) {
	env := harness.Start(t, harness.Options{})
	b := env.NewBrowser()
	b.User(t, env.Default.URL, http.StatusUnauthorized)
	resp := b.Login(t, env.Default.URL, harness.UserName, harness.UserPassword)
	if got := resp.Header.Get("Location"); got != "/" {
		t.Errorf("callback Location = %q, want /", got)
	}
	u := b.User(t, env.Default.URL, http.StatusOK)
	if u.Sub != harness.UserSubject {
		t.Errorf("sub = %q, want %q", u.Sub, harness.UserSubject)
	}
	var got map[string]any
	if code := b.JSON(t, "GET", env.Default.URL+"/api/orders/whoami", &got); code != 200 {
		t.Fatalf("GET /api/orders/whoami = %d %v", code, got)
	}
	t.Logf("orders: %v", got)
	if code := b.JSON(t, "GET", env.Default.URL+"/api/profile/whoami", &got); code != 200 {
		t.Fatalf("GET /api/profile/whoami = %d %v", code, got)
	}
	t.Logf("profile: %v", got)
}
