package fapiop

import (
	"context"
	"errors"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

// ErrLoginRejected is returned by [Provider.SignIn] when the login form
// does not accept the username and password.
var ErrLoginRejected = errors.New("fapiop: login rejected")

// Patterns for the provider's own pages (node/interactions.js), which
// carry no user input in these attributes.
var (
	loginFormRE  = regexp.MustCompile(`<form id="login" method="post" action="([^"]+)"`)
	logoutFormRE = regexp.MustCompile(`<form[^>]*id="op.logoutForm"[^>]*>`)
	actionRE     = regexp.MustCompile(`action="([^"]+)"`)
	xsrfRE       = regexp.MustCompile(`name="xsrf" value="([^"]+)"`)
	errorPageRE  = regexp.MustCompile(`<h1 id="error">([^<]*)</h1><p>([^<]*)</p>`)
)

// SignIn signs in like a browser using client, which needs a cookie jar
// (nil means a new [Provider.HTTPClient]); client itself is not modified.
// It GETs startURL (a relying party's login URL or the provider's
// authorization URL) and follows redirects; on the login form it posts
// username and password; consent is granted without a page. It returns
// the first redirect from the provider to another origin, normally the
// client's redirect_uri with code, state and iss, or with error, without
// requesting it. A provider session already in the jar skips the form.
func (p *Provider) SignIn(ctx context.Context, client *http.Client, startURL, username, password string) (*url.URL, error) {
	c, left := p.browser(client)
	resp, body, err := do(ctx, c, http.MethodGet, startURL, nil)
	if err != nil {
		return nil, fmt.Errorf("fapiop: sign in: %w", err)
	}
	if *left != nil {
		return *left, nil
	}
	m := loginFormRE.FindStringSubmatch(body)
	if resp.StatusCode != http.StatusOK || !p.ownURL(resp.Request.URL) || m == nil {
		return nil, fmt.Errorf("fapiop: sign in: login form not reached: %s %s%s",
			resp.Status, resp.Request.URL.Redacted(), pageError(body))
	}
	action, err := resp.Request.URL.Parse(html.UnescapeString(m[1]))
	if err != nil {
		return nil, fmt.Errorf("fapiop: sign in: %w", err)
	}
	form := url.Values{"username": {username}, "password": {password}}
	resp, body, err = do(ctx, c, http.MethodPost, action.String(), form)
	if err != nil {
		return nil, fmt.Errorf("fapiop: sign in: %w", err)
	}
	switch {
	case *left != nil:
		return *left, nil
	case resp.StatusCode == http.StatusOK && loginFormRE.MatchString(body):
		return nil, ErrLoginRejected
	}
	return nil, fmt.Errorf("fapiop: sign in: no redirect to the client: %s%s", resp.Status, pageError(body))
}

// Login is [Provider.SignIn] for tests: it fails t on any error.
func (p *Provider) Login(t testing.TB, client *http.Client, authURL, username, password string) *url.URL {
	t.Helper()
	u, err := p.SignIn(t.Context(), client, authURL, username, password)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// SignOut ends the provider session in client's jar like a browser: it
// GETs endSessionURL (RP-Initiated Logout, with id_token_hint,
// post_logout_redirect_uri, state as the caller chose) and confirms on the
// provider's page, which sends the back-channel logout tokens. It returns
// the redirect to post_logout_redirect_uri, or nil when the provider
// ended on its own "signed out" page.
func (p *Provider) SignOut(ctx context.Context, client *http.Client, endSessionURL string) (*url.URL, error) {
	c, left := p.browser(client)
	resp, body, err := do(ctx, c, http.MethodGet, endSessionURL, nil)
	if err != nil {
		return nil, fmt.Errorf("fapiop: sign out: %w", err)
	}
	formTag := logoutFormRE.FindString(body)
	action, xsrf := actionRE.FindStringSubmatch(formTag), xsrfRE.FindStringSubmatch(body)
	if *left != nil || action == nil || xsrf == nil {
		return nil, fmt.Errorf("fapiop: sign out: confirmation not reached: %s%s", resp.Status, pageError(body))
	}
	target, err := resp.Request.URL.Parse(html.UnescapeString(action[1]))
	if err != nil {
		return nil, fmt.Errorf("fapiop: sign out: %w", err)
	}
	form := url.Values{"xsrf": {html.UnescapeString(xsrf[1])}, "logout": {"yes"}}
	resp, body, err = do(ctx, c, http.MethodPost, target.String(), form)
	switch {
	case err != nil:
		return nil, fmt.Errorf("fapiop: sign out: %w", err)
	case *left != nil:
		return *left, nil
	case resp.StatusCode == http.StatusOK && strings.Contains(body, `id="signed-out"`):
		return nil, nil
	}
	return nil, fmt.Errorf("fapiop: sign out: %s%s", resp.Status, pageError(body))
}

// browser copies client (or a new one) so that it stops at the first
// redirect from the provider to another origin, which it stores in *left.
func (p *Provider) browser(client *http.Client) (*http.Client, **url.URL) {
	if client == nil {
		client = p.HTTPClient()
	}
	c := *client
	left := new(*url.URL)
	c.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if len(via) >= 20 {
			return errors.New("too many redirects")
		}
		if !p.ownURL(req.URL) && p.ownURL(via[len(via)-1].URL) {
			*left = req.URL
			return http.ErrUseLastResponse
		}
		return nil
	}
	return &c, left
}

// ownURL reports whether u is on the issuer's origin or an mTLS alias's.
func (p *Provider) ownURL(u *url.URL) bool {
	same := func(s string) bool {
		o, err := url.Parse(s)
		return err == nil && strings.EqualFold(o.Scheme, u.Scheme) && strings.EqualFold(o.Host, u.Host)
	}
	if same(p.issuer) {
		return true
	}
	for _, alias := range p.meta.MTLSEndpointAliases {
		if same(alias) {
			return true
		}
	}
	return false
}

// do sends a GET, or a POST of form, and reads up to 1 MiB of the answer.
func do(ctx context.Context, c *http.Client, method, target string, form url.Values) (*http.Response, string, error) {
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequestWithContext(ctx, method, target, body)
	if err != nil {
		return nil, "", err
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp, string(b), err
}

// pageError is the error code and description of the provider's error
// page, for messages.
func pageError(body string) string {
	if m := errorPageRE.FindStringSubmatch(body); m != nil {
		return fmt.Sprintf(" (provider error %s: %s)", html.UnescapeString(m[1]), html.UnescapeString(m[2]))
	}
	return ""
}
