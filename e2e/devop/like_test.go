package devop

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"golang.org/x/oauth2"
)

const (
	ordersGUID = "6f1c2b8e-5c4d-4e7a-9b1a-3d2f1e0c9b8a"
	ordersAPI  = "api://" + ordersGUID
	graphAPI   = "https://graph.example"
)

// entraScopes are Config.APIScopes as an Entra app registration would
// expose them: two permissions of an API with a GUID URI, one of another.
var entraScopes = []string{ordersAPI + "/Orders.Read", ordersAPI + "/Orders.Write", graphAPI + "/User.Read"}

func newLikeEnv(t *testing.T, mode string, mutate func(*Config)) *testEnv {
	t.Helper()
	return newTestEnvWith(t, func(c *Config) {
		c.Like = mode
		if mode == LikeEntra {
			c.APIScopes = entraScopes
		}
		if mutate != nil {
			mutate(c)
		}
	})
}

func params(kv ...string) []oauth2.AuthCodeOption {
	var opts []oauth2.AuthCodeOption
	for i := 0; i+1 < len(kv); i += 2 {
		opts = append(opts, oauth2.SetAuthURLParam(kv[i], kv[i+1]))
	}
	return opts
}

// codeTokens signs alice in with scopes and opts, redeems the code at the
// token endpoint with extra form values and returns the raw answer.
func (e *testEnv) codeTokens(scopes []string, extra url.Values, opts ...oauth2.AuthCodeOption) (int, map[string]any) {
	e.t.Helper()
	conf := e.oauth2Config("bff", scopes...)
	verifier := oauth2.GenerateVerifier()
	opts = append(opts, oauth2.S256ChallengeOption(verifier))
	cb, err := e.p.SignIn(e.ctx, e.browser(), conf.AuthCodeURL("s", opts...), "alice", "alice-pw")
	if err != nil {
		e.t.Fatalf("SignIn() error = %v", err)
	}
	if cb.Query().Get("code") == "" {
		e.t.Fatalf("callback without code: error=%s", cb.Query().Get("error"))
	}
	form := url.Values{"grant_type": {"authorization_code"}, "code": {cb.Query().Get("code")},
		"redirect_uri": {testRedirect}, "code_verifier": {verifier}}
	for k, v := range extra {
		form[k] = v
	}
	return e.tokenCall(form)
}

// mustCodeTokens is codeTokens that must succeed.
func (e *testEnv) mustCodeTokens(scopes []string, opts ...oauth2.AuthCodeOption) map[string]any {
	e.t.Helper()
	status, resp := e.codeTokens(scopes, nil, opts...)
	if status != http.StatusOK {
		e.t.Fatalf("code exchange: %d %v, want 200", status, resp)
	}
	return resp
}

// authorizeError sends an authorization request that the provider should
// refuse before its login form and returns the error it redirects to the
// client with.
func (e *testEnv) authorizeError(scopes []string, opts ...oauth2.AuthCodeOption) string {
	e.t.Helper()
	opts = append(opts, oauth2.S256ChallengeOption(oauth2.GenerateVerifier()))
	u, err := e.p.Authorize(e.ctx, e.browser(), e.oauth2Config("bff", scopes...).AuthCodeURL("s", opts...))
	if err != nil {
		e.t.Fatalf("Authorize() error = %v, want an error redirect", err)
	}
	if got := u.Scheme + "://" + u.Host + u.Path; got != testRedirect {
		e.t.Fatalf("redirect to %q, want %q", got, testRedirect)
	}
	return u.Query().Get("error")
}

// refresh runs the refresh_token grant with extra form values (key, value
// pairs).
func (e *testEnv) refresh(rt string, kv ...string) (int, map[string]any) {
	e.t.Helper()
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}
	for i := 0; i+1 < len(kv); i += 2 {
		form.Add(kv[i], kv[i+1])
	}
	return e.tokenCall(form)
}

func (e *testEnv) exchange(subject string, kv ...string) (int, map[string]any) {
	e.t.Helper()
	form := url.Values{
		"grant_type":         {"urn:ietf:params:oauth:grant-type:token-exchange"},
		"subject_token":      {subject},
		"subject_token_type": {"urn:ietf:params:oauth:token-type:access_token"},
	}
	for i := 0; i+1 < len(kv); i += 2 {
		form.Add(kv[i], kv[i+1])
	}
	return e.tokenCall(form)
}

var oidcScopes = []string{"openid", "profile", "offline_access"}

func TestLikeAuth0Authorize(t *testing.T) {
	tests := []struct {
		name       string
		defaultAud string
		opts       []oauth2.AuthCodeOption
		wantAud    []string
	}{
		{name: "registered audience", defaultAud: "https://default.example",
			opts: params("audience", "https://orders.example"), wantAud: []string{"https://orders.example"}},
		{name: "no audience falls back to the default audience", defaultAud: "https://default.example",
			wantAud: []string{"https://default.example"}},
		{name: "unregistered audience falls back", defaultAud: "https://default.example",
			opts: params("audience", "https://other.example"), wantAud: []string{"https://default.example"}},
		{name: "resource is ignored", defaultAud: "https://default.example",
			opts: params("resource", "https://orders.example"), wantAud: []string{"https://default.example"}},
		{name: "no default audience: client ID", wantAud: []string{"bff"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newLikeEnv(t, LikeAuth0, func(c *Config) {
				c.DefaultAudience = tt.defaultAud
				c.Audiences = []string{"https://orders.example", "https://profile.example"}
			})
			resp := e.mustCodeTokens(oidcScopes, tt.opts...)
			if got := audOf(e.accessClaims(str(resp, "access_token"))); !slices.Equal(got, tt.wantAud) {
				t.Errorf("access_token aud = %v, want %v", got, tt.wantAud)
			}
		})
	}
}

func TestLikeAuth0Refresh(t *testing.T) {
	tests := []struct {
		name    string
		kv      []string
		wantAud string
	}{
		{name: "registered audience", kv: []string{"audience", "https://profile.example"}, wantAud: "https://profile.example"},
		{name: "no audience: the sign-in's", wantAud: "https://orders.example"},
		{name: "unregistered audience: the sign-in's", kv: []string{"audience", "https://other.example"}, wantAud: "https://orders.example"},
		{name: "resource is ignored", kv: []string{"resource", "https://profile.example"}, wantAud: "https://orders.example"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newLikeEnv(t, LikeAuth0, func(c *Config) {
				c.DefaultAudience = "https://default.example"
				c.Audiences = []string{"https://orders.example", "https://profile.example"}
			})
			resp := e.mustCodeTokens(oidcScopes, params("audience", "https://orders.example")...)
			status, resp := e.refresh(str(resp, "refresh_token"), tt.kv...)
			if status != http.StatusOK {
				t.Fatalf("refresh: %d %v, want 200", status, resp)
			}
			if got := audOf(e.accessClaims(str(resp, "access_token"))); !slices.Equal(got, []string{tt.wantAud}) {
				t.Errorf("access_token aud = %v, want [%s]", got, tt.wantAud)
			}
			// The sign-in's audience survives rotation.
			status, resp = e.refresh(str(resp, "refresh_token"))
			if got := audOf(e.accessClaims(str(resp, "access_token"))); status != 200 || !slices.Equal(got, []string{"https://orders.example"}) {
				t.Errorf("next refresh: %d aud = %v, want 200 [https://orders.example]", status, got)
			}
		})
	}
}

func TestLikeNoTokenExchange(t *testing.T) {
	for _, mode := range []string{LikeAuth0, LikeEntra, LikeGoogle} {
		t.Run(mode, func(t *testing.T) {
			e := newLikeEnv(t, mode, nil)
			resp := e.mustCodeTokens([]string{"openid", "profile"})
			status, resp := e.exchange(str(resp, "access_token"), "audience", "orders-api")
			if status != http.StatusBadRequest || str(resp, "error") != "unsupported_grant_type" {
				t.Errorf("token exchange: %d %v, want 400 unsupported_grant_type", status, resp)
			}
			var d struct {
				GrantTypes []string `json:"grant_types_supported"`
			}
			if err := e.provider.Claims(&d); err != nil {
				t.Fatal(err)
			}
			if slices.Contains(d.GrantTypes, "urn:ietf:params:oauth:grant-type:token-exchange") {
				t.Errorf("grant_types_supported = %v, want no token exchange", d.GrantTypes)
			}
		})
	}
}

func TestLikeEntraAuthorizeErrors(t *testing.T) {
	tests := []struct {
		name      string
		scopes    []string
		opts      []oauth2.AuthCodeOption
		wantError string
	}{
		{name: "resource parameter (AADSTS901002)", scopes: []string{"openid", ordersAPI + "/Orders.Read"},
			opts: params("resource", ordersAPI), wantError: "invalid_request"},
		{name: "two resources (AADSTS28000)", scopes: []string{"openid", ordersAPI + "/Orders.Read", graphAPI + "/User.Read"},
			wantError: "invalid_scope"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newLikeEnv(t, LikeEntra, nil)
			if got := e.authorizeError(tt.scopes, tt.opts...); got != tt.wantError {
				t.Errorf("authorize error = %q, want %q", got, tt.wantError)
			}
		})
	}
}

// Entra refuses the resource parameter at the token endpoint too.
func TestLikeEntraCodeResource(t *testing.T) {
	e := newLikeEnv(t, LikeEntra, nil)
	status, resp := e.codeTokens(oidcScopes, url.Values{"resource": {ordersAPI}})
	if status != http.StatusBadRequest || str(resp, "error") != "invalid_request" {
		t.Errorf("code exchange with resource: %d %v, want 400 invalid_request", status, resp)
	}
}

func TestLikeEntraSignInToken(t *testing.T) {
	e := newLikeEnv(t, LikeEntra, nil)
	resp := e.mustCodeTokens(append(slices.Clone(oidcScopes), ordersAPI+"/Orders.Read"))
	at := e.accessClaims(str(resp, "access_token"))
	if got := audOf(at); !slices.Equal(got, []string{ordersGUID}) {
		t.Errorf("access_token aud = %v, want [%s]", got, ordersGUID)
	}
	if got := str(at, "scp"); got != "Orders.Read" {
		t.Errorf("access_token scp = %q, want Orders.Read", got)
	}
	if _, ok := at["scope"]; ok {
		t.Errorf("access_token has a scope claim %v, want none", at["scope"])
	}
}

func TestLikeEntraRefresh(t *testing.T) {
	tests := []struct {
		name          string
		kv            []string
		wantError     string
		wantAud       string
		wantScp       string // "" means no scp claim
		wantRespScope string
	}{
		{name: ".default of an api://GUID resource", kv: []string{"scope", ordersAPI + "/.default offline_access"},
			wantAud: ordersGUID, wantScp: "Orders.Read Orders.Write",
			wantRespScope: ordersAPI + "/Orders.Read " + ordersAPI + "/Orders.Write offline_access"},
		{name: "another resource with the same refresh token", kv: []string{"scope", graphAPI + "/User.Read"},
			wantAud: graphAPI, wantScp: "User.Read", wantRespScope: graphAPI + "/User.Read"},
		{name: "no resource scope, audience ignored", kv: []string{"audience", "orders-api"},
			wantAud: "bff", wantScp: "openid profile offline_access", wantRespScope: "openid profile offline_access"},
		{name: "resource parameter", kv: []string{"resource", ordersAPI}, wantError: "invalid_request"},
		{name: "two resources", kv: []string{"scope", ordersAPI + "/.default " + graphAPI + "/User.Read"}, wantError: "invalid_scope"},
		{name: "resource without listed permissions", kv: []string{"scope", "api://unknown/.default"}, wantError: "invalid_scope"},
		{name: "permission not listed", kv: []string{"scope", ordersAPI + "/Orders.Delete"}, wantError: "invalid_scope"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newLikeEnv(t, LikeEntra, nil)
			resp := e.mustCodeTokens(oidcScopes)
			status, resp := e.refresh(str(resp, "refresh_token"), tt.kv...)
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
			if got := audOf(at); !slices.Equal(got, []string{tt.wantAud}) {
				t.Errorf("access_token aud = %v, want [%s]", got, tt.wantAud)
			}
			if got := str(at, "scp"); got != tt.wantScp {
				t.Errorf("access_token scp = %q, want %q", got, tt.wantScp)
			}
			if _, ok := at["scope"]; ok {
				t.Errorf("access_token has a scope claim %v, want none", at["scope"])
			}
			if got := str(resp, "scope"); got != tt.wantRespScope {
				t.Errorf("response scope = %q, want %q", got, tt.wantRespScope)
			}
		})
	}
}

func TestLikeEntraLogout(t *testing.T) {
	e := newLikeEnv(t, LikeEntra, nil)
	var d map[string]any
	if err := e.provider.Claims(&d); err != nil {
		t.Fatal(err)
	}
	if d["backchannel_logout_supported"] == true || d["frontchannel_logout_supported"] != true {
		t.Errorf("discovery backchannel_logout_supported = %v, frontchannel_logout_supported = %v, want false, true",
			d["backchannel_logout_supported"], d["frontchannel_logout_supported"])
	}
	if err := e.p.BackChannelLogout(e.ctx, "u-alice", ""); err == nil {
		t.Errorf("BackChannelLogout() error = nil, want an error for entra")
	}
}

func TestLikeKeycloak(t *testing.T) {
	e := newLikeEnv(t, LikeKeycloak, nil)
	tok, _ := e.signIn("bff")
	status, resp := e.refresh(tok.RefreshToken, "audience", "orders-api", "resource", "https://orders.example")
	if status != http.StatusOK {
		t.Fatalf("refresh: %d %v, want 200", status, resp)
	}
	at := e.accessClaims(str(resp, "access_token"))
	if got := audOf(at); !slices.Equal(got, []string{"bff"}) {
		t.Errorf("refresh with audience and resource: aud = %v, want [bff]", got)
	}
	if got := str(at, "scope"); got != "openid profile email offline_access" {
		t.Errorf("refresh: scope = %q, want the sign-in's", got)
	}

	status, resp = e.exchange(tok.AccessToken, "audience", "orders-api")
	if got := audOf(e.accessClaims(str(resp, "access_token"))); status != 200 || !slices.Equal(got, []string{"orders-api"}) {
		t.Errorf("token exchange with audience: %d aud = %v, want 200 [orders-api]", status, got)
	}
	status, resp = e.exchange(tok.AccessToken, "resource", "https://orders.example")
	if status != http.StatusOK {
		t.Fatalf("token exchange with resource: %d %v, want 200", status, resp)
	}
	if got := audOf(e.accessClaims(str(resp, "access_token"))); slices.Contains(got, "https://orders.example") {
		t.Errorf("token exchange with resource: aud = %v, want the resource ignored", got)
	}
}

func TestLikeGoogleOfflineAccessRefused(t *testing.T) {
	e := newLikeEnv(t, LikeGoogle, nil)
	if got := e.authorizeError([]string{"openid", "email", "offline_access"}); got != "invalid_scope" {
		t.Errorf("authorize with offline_access: error = %q, want invalid_scope", got)
	}
}

func TestLikeGoogleRefreshToken(t *testing.T) {
	tests := []struct {
		name   string
		opts   []oauth2.AuthCodeOption
		wantRT bool
	}{
		{name: "online"},
		{name: "offline without consent", opts: params("access_type", "offline")},
		{name: "consent without offline", opts: params("prompt", "consent")},
		{name: "offline with consent", opts: params("access_type", "offline", "prompt", "consent"), wantRT: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newLikeEnv(t, LikeGoogle, nil)
			resp := e.mustCodeTokens([]string{"openid", "email"}, tt.opts...)
			if got := str(resp, "refresh_token") != ""; got != tt.wantRT {
				t.Errorf("refresh_token issued = %v, want %v", got, tt.wantRT)
			}
			if got := str(resp, "scope"); got != "openid email" {
				t.Errorf("response scope = %q, want %q", got, "openid email")
			}
		})
	}
}

func TestLikeGoogleOpaqueAccessToken(t *testing.T) {
	e := newLikeEnv(t, LikeGoogle, nil)
	resp := e.mustCodeTokens([]string{"openid", "email"}, params("access_type", "offline", "prompt", "consent")...)
	status, resp := e.refresh(str(resp, "refresh_token"), "audience", "orders-api", "resource", "https://orders.example")
	if status != http.StatusOK {
		t.Fatalf("refresh: %d %v, want 200", status, resp)
	}
	at := str(resp, "access_token")
	if !strings.HasPrefix(at, "ya29.") || strings.Count(at, ".") == 2 {
		t.Errorf("access token is not opaque with the ya29. prefix")
	}

	req, _ := http.NewRequest(http.MethodGet, e.p.Issuer()+"/userinfo", nil)
	req.Header.Set("Authorization", "Bearer "+at)
	ui, err := e.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	ui.Body.Close()
	if ui.StatusCode != http.StatusOK {
		t.Errorf("userinfo with the opaque token = %d, want 200", ui.StatusCode)
	}

	var d struct {
		Introspection string `json:"introspection_endpoint"`
	}
	if err := e.provider.Claims(&d); err != nil {
		t.Fatal(err)
	}
	status, in := e.post(d.Introspection, url.Values{"token": {at}}, "bff", "bff-secret")
	if status != http.StatusOK || in["active"] != true {
		t.Fatalf("introspection: %d active=%v, want 200 true", status, in["active"])
	}
	if got := audOf(in); !slices.Equal(got, []string{"bff"}) {
		t.Errorf("introspected aud = %v, want [bff] (audience and resource ignored)", got)
	}
}

func TestSetWithheldScopes(t *testing.T) {
	t.Run("default", func(t *testing.T) {
		e := newTestEnv(t)
		e.p.SetWithheldScopes("orders.read")
		resp := e.mustCodeTokens([]string{"openid", "offline_access", "orders.read", "orders.write"})
		const want = "openid offline_access orders.write"
		if got := str(resp, "scope"); got != want {
			t.Errorf("code exchange: response scope = %q, want %q", got, want)
		}
		if got := str(e.accessClaims(str(resp, "access_token")), "scope"); got != want {
			t.Errorf("code exchange: scope claim = %q, want %q", got, want)
		}
		status, ex := e.exchange(str(resp, "access_token"), "audience", "orders-api", "scope", "orders.read orders.write")
		if got := str(e.accessClaims(str(ex, "access_token")), "scope"); status != 200 || got != "orders.write" {
			t.Errorf("token exchange: %d scope claim = %q, want 200 orders.write", status, got)
		}

		e.p.SetWithheldScopes()
		status, resp = e.refresh(str(resp, "refresh_token"), "scope", "orders.read")
		if got := str(e.accessClaims(str(resp, "access_token")), "scope"); status != 200 || got != "orders.read" {
			t.Errorf("refresh after SetWithheldScopes(): %d scope claim = %q, want 200 orders.read", status, got)
		}
	})
	t.Run("entra", func(t *testing.T) {
		e := newLikeEnv(t, LikeEntra, nil)
		e.p.SetWithheldScopes(ordersAPI + "/Orders.Write")
		resp := e.mustCodeTokens(oidcScopes)
		status, resp := e.refresh(str(resp, "refresh_token"), "scope", ordersAPI+"/.default")
		if status != http.StatusOK {
			t.Fatalf("refresh: %d %v, want 200", status, resp)
		}
		if got := str(e.accessClaims(str(resp, "access_token")), "scp"); got != "Orders.Read" {
			t.Errorf("scp = %q, want Orders.Read", got)
		}
		if got := str(resp, "scope"); got != ordersAPI+"/Orders.Read" {
			t.Errorf("response scope = %q, want %q", got, ordersAPI+"/Orders.Read")
		}
	})
}

func TestNewValidatesLike(t *testing.T) {
	base := Config{Issuer: "http://127.0.0.1:9000"}
	tests := []struct {
		name    string
		mutate  func(*Config)
		wantErr string // "" means no error
	}{
		{name: "unknown mode", mutate: func(c *Config) { c.Like = "okta" }, wantErr: `Like "okta"`},
		{name: "audiences without auth0", mutate: func(c *Config) { c.Audiences = []string{"x"} }, wantErr: "need Like auth0"},
		{name: "auth0 with audiences", mutate: func(c *Config) { c.Like, c.DefaultAudience = LikeAuth0, "x" }},
		{name: "entra", mutate: func(c *Config) { c.Like = LikeEntra }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := base
			tt.mutate(&cfg)
			_, err := New(cfg)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("New() error = %v, want nil", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("New() error = %v, want it to mention %q", err, tt.wantErr)
			}
		})
	}
}
