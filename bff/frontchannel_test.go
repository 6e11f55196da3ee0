package bff_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/bff-project/bff/bff"
	"github.com/bff-project/bff/e2e/harness"
	"github.com/bff-project/bff/session"
)

// frontchannelGet sends the provider's iframe request: a cross-site GET
// without the SameSite=Strict cookie.
func frontchannelGet(t *testing.T, env *harness.Env, method, bffURL, query string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, bffURL+"/bff/frontchannel-logout?"+query, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	req.Header.Set("Sec-Fetch-Dest", "iframe")
	return env.NewBrowser().Do(t, req)
}

// TestFrontchannelLogout: with oidc.frontchannel_logout on, the provider's
// iframe request with its issuer and sid ends the sessions of that
// provider session on this instance and tells their streams; the page may
// be framed by the issuer's origin only. Bad requests end nothing.
func TestFrontchannelLogout(t *testing.T) {
	r := newRig(t, harness.Options{Config: func(c *bff.Config) { c.OIDC.FrontchannelLogout = new(true) }})
	other := r.env.NewBrowser()
	other.Login(t, r.url, harness.OtherName, harness.OtherPass)
	sid, _ := r.b.User(t, r.url, http.StatusOK).Claims["sid"].(string)
	if sid == "" {
		t.Fatal("the ID token has no sid")
	}
	es := openEvents(t, r.b, r.url)
	es.Want(t, "session")
	iss := url.QueryEscape(r.env.OPURL)

	for _, tt := range []struct {
		name, method, query string
		want                int
	}{
		{"no sid", http.MethodGet, "iss=" + iss, http.StatusBadRequest},
		{"no iss", http.MethodGet, "sid=" + url.QueryEscape(sid), http.StatusBadRequest},
		{"another issuer", http.MethodGet, "iss=" + url.QueryEscape("https://evil.example") + "&sid=" + url.QueryEscape(sid), http.StatusBadRequest},
		{"issuer with a trailing slash", http.MethodGet, "iss=" + url.QueryEscape(r.env.OPURL+"/") + "&sid=" + url.QueryEscape(sid), http.StatusBadRequest},
		{"HEAD (a link scanner)", http.MethodHead, "iss=" + iss + "&sid=" + url.QueryEscape(sid), http.StatusMethodNotAllowed},
		{"unknown sid", http.MethodGet, "iss=" + iss + "&sid=nobody", http.StatusOK},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if resp, body := frontchannelGet(t, r.env, tt.method, r.url, tt.query); resp.StatusCode != tt.want {
				t.Errorf("%s = %d %s, want %d", tt.method, resp.StatusCode, body, tt.want)
			}
			r.b.User(t, r.url, http.StatusOK)
		})
	}

	resp, body := frontchannelGet(t, r.env, http.MethodGet, r.url, "iss="+iss+"&sid="+url.QueryEscape(sid))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("front-channel logout = %d %s, want 200", resp.StatusCode, body)
	}
	csp := resp.Header.Get("Content-Security-Policy")
	if !strings.Contains(csp, "frame-ancestors "+r.env.OPURL) || !strings.Contains(csp, "default-src 'none'") {
		t.Errorf("Content-Security-Policy = %q, want default-src 'none' and frame-ancestors %s", csp, r.env.OPURL)
	}
	if xfo := resp.Header.Get("X-Frame-Options"); xfo != "" {
		t.Errorf("X-Frame-Options = %q, want none (it would forbid the provider's frame)", xfo)
	}
	if sc := resp.Header.Values("Set-Cookie"); len(sc) != 0 {
		t.Errorf("Set-Cookie = %q, want none", sc)
	}
	wantEnded(t, es, session.ReasonFrontchannel)
	r.b.User(t, r.url, http.StatusUnauthorized)
	other.User(t, r.url, http.StatusOK)
}

// TestFrontchannelLogoutOff: by default the endpoint does not exist.
func TestFrontchannelLogoutOff(t *testing.T) {
	r := newRig(t, harness.Options{})
	sid, _ := r.b.User(t, r.url, http.StatusOK).Claims["sid"].(string)
	resp, body := frontchannelGet(t, r.env, http.MethodGet, r.url, "iss="+url.QueryEscape(r.env.OPURL)+"&sid="+url.QueryEscape(sid))
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("front-channel logout when off = %d %s, want 404", resp.StatusCode, body)
	}
	r.b.User(t, r.url, http.StatusOK)
}
