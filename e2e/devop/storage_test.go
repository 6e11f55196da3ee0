package devop

import (
	"net/http"
	"net/url"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

func TestRefreshRotation(t *testing.T) {
	e := newTestEnv(t)
	tok, idt := e.signIn("bff")
	var first struct{ SID string }
	_ = idt.Claims(&first)

	status, resp := e.tokenCall(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}})
	if status != http.StatusOK {
		t.Fatalf("refresh status = %d (%v), want 200", status, resp)
	}
	newRT := str(resp, "refresh_token")
	if newRT == "" || newRT == tok.RefreshToken {
		t.Fatalf("refresh_token after refresh = %q, want a new one", newRT)
	}
	idt2, err := e.provider.Verifier(&oidc.Config{ClientID: "bff"}).Verify(e.ctx, str(resp, "id_token"))
	if err != nil {
		t.Fatalf("Verify(refreshed id_token) error = %v", err)
	}
	var second struct{ SID string }
	_ = idt2.Claims(&second)
	if second.SID != first.SID {
		t.Errorf("refreshed id_token sid = %q, want %q", second.SID, first.SID)
	}
	if e.p.RefreshTokenActive(tok.RefreshToken) {
		t.Errorf("RefreshTokenActive(rotated) = true, want false")
	}
	if !e.p.RefreshTokenActive(newRT) {
		t.Errorf("RefreshTokenActive(new) = false, want true")
	}
	status, resp = e.tokenCall(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}})
	if status != http.StatusBadRequest || str(resp, "error") != "invalid_grant" {
		t.Errorf("reused refresh token: %d %v, want 400 invalid_grant", status, resp)
	}
	if got := e.p.Counts().Refresh; got != 2 {
		t.Errorf("Counts().Refresh = %d, want 2", got)
	}
}

func TestRefreshExpired(t *testing.T) {
	e := newTestEnv(t)
	tok, _ := e.signIn("bff")
	e.p.store.mu.Lock()
	e.p.store.refreshTokens[tok.RefreshToken].expires = time.Now().Add(-time.Second)
	e.p.store.mu.Unlock()
	status, resp := e.tokenCall(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}})
	if status != http.StatusBadRequest || str(resp, "error") != "invalid_grant" {
		t.Errorf("expired refresh token: %d %v, want 400 invalid_grant", status, resp)
	}
	if e.p.RefreshTokenActive(tok.RefreshToken) {
		t.Errorf("RefreshTokenActive(expired) = true, want false")
	}
}

func TestRefreshAudience(t *testing.T) {
	tests := []struct {
		name      string
		params    url.Values
		wantAud   []string
		wantScope string
		wantError string
	}{
		{name: "no audience", params: url.Values{}, wantAud: []string{"bff"}, wantScope: "openid profile email offline_access"},
		{name: "audience", params: url.Values{"audience": {"orders-api"}}, wantAud: []string{"orders-api"}, wantScope: "openid profile email offline_access"},
		{name: "resource", params: url.Values{"resource": {"https://orders.example"}}, wantAud: []string{"https://orders.example"}, wantScope: "openid profile email offline_access"},
		{name: "audience and API scope", params: url.Values{"audience": {"orders-api"}, "scope": {"orders.read"}}, wantAud: []string{"orders-api"}, wantScope: "orders.read"},
		{name: "granted scope subset", params: url.Values{"scope": {"openid email"}}, wantAud: []string{"bff"}, wantScope: "openid email"},
		{name: "unknown scope", params: url.Values{"audience": {"orders-api"}, "scope": {"admin"}}, wantError: "invalid_scope"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newTestEnv(t)
			tok, _ := e.signIn("bff")
			form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}}
			for k, v := range tt.params {
				form[k] = v
			}
			status, resp := e.tokenCall(form)
			if tt.wantError != "" {
				if status != http.StatusBadRequest || str(resp, "error") != tt.wantError {
					t.Errorf("refresh: %d %v, want 400 %s", status, resp, tt.wantError)
				}
				return
			}
			if status != http.StatusOK {
				t.Fatalf("refresh: %d %v, want 200", status, resp)
			}
			at := e.accessClaims(str(resp, "access_token"))
			if got := audOf(at); !slices.Equal(got, tt.wantAud) {
				t.Errorf("access_token aud = %v, want %v", got, tt.wantAud)
			}
			if got := str(at, "scope"); got != tt.wantScope {
				t.Errorf("access_token scope = %q, want %q", got, tt.wantScope)
			}
			// The ID token stays for the client: see audienceSwitch.
			idt, err := e.provider.Verifier(&oidc.Config{ClientID: "bff"}).Verify(e.ctx, str(resp, "id_token"))
			if err != nil {
				t.Fatalf("Verify(id_token) error = %v", err)
			}
			if !slices.Equal(idt.Audience, []string{"bff"}) {
				t.Errorf("id_token aud = %v, want [bff]", idt.Audience)
			}
		})
	}
}

func TestAuthorizeAudience(t *testing.T) {
	e := newTestEnv(t)
	tok, idt := e.signIn("bff", oauth2.SetAuthURLParam("audience", "orders-api"))
	if got := audOf(e.accessClaims(tok.AccessToken)); !slices.Equal(got, []string{"orders-api"}) {
		t.Errorf("access_token aud = %v, want [orders-api]", got)
	}
	if !slices.Equal(idt.Audience, []string{"bff"}) {
		t.Errorf("id_token aud = %v, want [bff]", idt.Audience)
	}
}

func TestTokenExchange(t *testing.T) {
	e := newTestEnv(t)
	tok, _ := e.signIn("bff")
	base := url.Values{
		"grant_type":         {"urn:ietf:params:oauth:grant-type:token-exchange"},
		"subject_token":      {tok.AccessToken},
		"subject_token_type": {"urn:ietf:params:oauth:token-type:access_token"},
	}
	with := func(kv ...string) url.Values {
		v := url.Values{}
		for k, vs := range base {
			v[k] = vs
		}
		for i := 0; i+1 < len(kv); i += 2 {
			v.Set(kv[i], kv[i+1])
		}
		return v
	}
	tests := []struct {
		name       string
		form       url.Values
		user, pass string
		wantStatus int
		wantAud    []string
		wantScope  string
	}{
		{name: "audience and scope", form: with("audience", "orders-api", "scope", "orders.read"), user: "bff", pass: "bff-secret",
			wantStatus: 200, wantAud: []string{"orders-api"}, wantScope: "orders.read"},
		{name: "resource, default scopes", form: with("resource", "https://orders.example"), user: "bff", pass: "bff-secret",
			wantStatus: 200, wantAud: []string{"https://orders.example"}, wantScope: "openid profile email offline_access"},
		{name: "client_secret_post", form: with("audience", "orders-api", "client_id", "bff-post", "client_secret", "post-secret"),
			wantStatus: 200, wantAud: []string{"orders-api"}, wantScope: "openid profile email offline_access"},
		{name: "unknown scope", form: with("audience", "orders-api", "scope", "admin"), user: "bff", pass: "bff-secret", wantStatus: 400},
		{name: "foreign subject token", form: with("subject_token", "eyJhbGciOiJub25lIn0.e30."), user: "bff", pass: "bff-secret", wantStatus: 400},
		{name: "bad client secret", form: with("audience", "orders-api"), user: "bff", pass: "nope", wantStatus: 401},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, resp := e.post(e.provider.Endpoint().TokenURL, tt.form, tt.user, tt.pass)
			if status != tt.wantStatus {
				t.Fatalf("token exchange status = %d (%v), want %d", status, resp, tt.wantStatus)
			}
			if status != 200 {
				return
			}
			at := e.accessClaims(str(resp, "access_token"))
			if got := audOf(at); !slices.Equal(got, tt.wantAud) {
				t.Errorf("aud = %v, want %v", got, tt.wantAud)
			}
			if got := str(at, "scope"); got != tt.wantScope {
				t.Errorf("scope = %q, want %q", got, tt.wantScope)
			}
			if got := str(at, "sub"); got != "u-alice" {
				t.Errorf("sub = %q, want u-alice", got)
			}
		})
	}
	if got := e.p.Counts().TokenExchange; got != len(tests) {
		t.Errorf("Counts().TokenExchange = %d, want %d", got, len(tests))
	}
}

func TestClientCredentials(t *testing.T) {
	tests := []struct {
		name       string
		form       url.Values
		wantStatus int
		wantAud    []string
		wantScope  string
	}{
		{name: "audience and scope", form: url.Values{"audience": {"orders-api"}, "scope": {"orders.read orders.write"}},
			wantStatus: 200, wantAud: []string{"orders-api"}, wantScope: "orders.read orders.write"},
		{name: "defaults", form: url.Values{}, wantStatus: 200, wantAud: []string{"bff"}, wantScope: ""},
		{name: "unknown scope", form: url.Values{"scope": {"admin"}}, wantStatus: 400},
	}
	e := newTestEnv(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.form.Set("grant_type", "client_credentials")
			status, resp := e.tokenCall(tt.form)
			if status != tt.wantStatus {
				t.Fatalf("client_credentials status = %d (%v), want %d", status, resp, tt.wantStatus)
			}
			if status != 200 {
				return
			}
			at := e.accessClaims(str(resp, "access_token"))
			if got := audOf(at); !slices.Equal(got, tt.wantAud) {
				t.Errorf("aud = %v, want %v", got, tt.wantAud)
			}
			if got := str(at, "scope"); got != tt.wantScope {
				t.Errorf("scope = %q, want %q", got, tt.wantScope)
			}
			if got := str(at, "sub"); got != "bff" {
				t.Errorf("sub = %q, want bff", got)
			}
		})
	}
}

func TestRevocation(t *testing.T) {
	e := newTestEnv(t)
	tok, _ := e.signIn("bff")
	revURL := e.p.Issuer() + revocationPath
	if status, resp := e.post(revURL, url.Values{"token": {tok.RefreshToken}, "token_type_hint": {"refresh_token"}}, "bff", "bff-secret"); status != 200 {
		t.Fatalf("revoke status = %d (%v), want 200", status, resp)
	}
	if e.p.RefreshTokenActive(tok.RefreshToken) {
		t.Errorf("RefreshTokenActive(revoked) = true, want false")
	}
	status, resp := e.tokenCall(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}})
	if status != 400 || str(resp, "error") != "invalid_grant" {
		t.Errorf("refresh with revoked token: %d %v, want 400 invalid_grant", status, resp)
	}
	// RFC 7009 section 2.2: an unknown token is not an error.
	if status, _ := e.post(revURL, url.Values{"token": {"unknown"}}, "bff", "bff-secret"); status != 200 {
		t.Errorf("revoke unknown token status = %d, want 200", status)
	}
	if got := e.p.Counts().Revocation; got != 2 {
		t.Errorf("Counts().Revocation = %d, want 2", got)
	}
}

func TestConcurrentRefresh(t *testing.T) {
	e := newTestEnv(t)
	const n = 50
	tokens := make([]string, n)
	for i := range tokens {
		tok, _ := e.signIn("bff")
		tokens[i] = tok.RefreshToken
	}
	var wg sync.WaitGroup
	errs := make(chan string, n)
	for _, rt := range tokens {
		wg.Go(func() {
			status, resp := e.tokenCall(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}, "audience": {"orders-api"}})
			if status != 200 || str(resp, "refresh_token") == "" {
				errs <- str(resp, "error")
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("parallel refresh failed: %s", err)
	}
}

// Of many concurrent refreshes with one token, exactly one wins.
func TestConcurrentRefreshSameToken(t *testing.T) {
	e := newTestEnv(t)
	tok, _ := e.signIn("bff")
	const n = 20
	var wg sync.WaitGroup
	var mu sync.Mutex
	ok := 0
	for range n {
		wg.Go(func() {
			status, _ := e.tokenCall(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}})
			if status == 200 {
				mu.Lock()
				ok++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if ok != 1 {
		t.Errorf("successful refreshes with one token = %d, want 1", ok)
	}
}
