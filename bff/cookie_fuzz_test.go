package bff_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/bff-project/bff/e2e/harness"
)

// FuzzSessionCookie sends arbitrary session cookie values: each must be
// answered 401 (no such session), never a server error, and never sign
// anyone in.
func FuzzSessionCookie(f *testing.F) {
	env := harness.Start(f, harness.Options{})
	b := env.NewBrowser()
	b.Login(f, env.Default.URL, harness.UserName, harness.UserPassword)
	real := b.Cookie(env.Default.URL, sessionCookie)
	for _, seed := range []string{"", "x", real[:len(real)-1] + "A", real + "=", strings.Repeat("A", 43), "%00", "a;b", real[1:]} {
		f.Add(seed)
	}
	client := env.NewBrowser().Client
	f.Fuzz(func(t *testing.T, value string) {
		if value == real {
			return
		}
		req, err := http.NewRequest(http.MethodGet, env.Default.URL+"/bff/user", nil)
		if err != nil {
			t.Skip()
		}
		req.Header.Set("X-CSRF", "1")
		req.Header.Set("Cookie", sessionCookie+"="+value)
		resp, err := client.Do(req)
		if err != nil {
			t.Skip() // a value net/http refuses to send
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("GET /bff/user with cookie %q = %d, want 401", value, resp.StatusCode)
		}
	})
}

// FuzzCallbackParams sends arbitrary callback query strings and login
// cookies: every one must be refused with a 4xx, never a 5xx, and must set
// no session cookie. The seeds include a real state whose flow is spent.
func FuzzCallbackParams(f *testing.F) {
	env := harness.Start(f, harness.Options{})
	b := env.NewBrowser()
	formURL, id := b.StartLogin(f, env.Default.URL, "/")
	cb := b.SubmitLogin(f, formURL, id, harness.UserName, harness.UserPassword)
	login := b.Cookie(env.Default.URL, loginCookie)
	if resp, _ := b.Get(f, cb.String()); resp.StatusCode != http.StatusFound {
		f.Fatalf("real callback = %d, want 302", resp.StatusCode)
	}
	f.Add(cb.RawQuery, login)
	f.Add(cb.RawQuery+"&iss="+url.QueryEscape(env.OPURL), login)
	f.Add("state=x&code=y", "")
	f.Add("error=access_denied&error_description=%3Cscript%3E", login)
	f.Add("state="+cb.Query().Get("state"), login[:len(login)-2])
	f.Add("%zz=1&state", "garbage")
	client := env.NewBrowser().Client
	f.Fuzz(func(t *testing.T, query, loginValue string) {
		req, err := http.NewRequest(http.MethodGet, env.Default.URL+"/bff/callback?"+query, nil)
		if err != nil {
			t.Skip()
		}
		if loginValue != "" {
			req.Header.Set("Cookie", loginCookie+"="+loginValue)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Skip()
		}
		resp.Body.Close()
		if resp.StatusCode < 400 || resp.StatusCode >= 500 {
			t.Errorf("callback ?%s = %d, want 4xx", query, resp.StatusCode)
		}
		for _, c := range resp.Cookies() {
			if c.Name == sessionCookie && c.Value != "" {
				t.Errorf("callback ?%s set a session cookie", query)
			}
		}
	})
}
