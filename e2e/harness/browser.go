package harness

import (
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// Browser is an HTTP client with a cookie jar that follows no redirects by
// itself, so tests see every hop. It records every response it gets (status,
// headers, body) for leak checks.
type Browser struct {
	Client    *http.Client
	UserAgent string
	mu        sync.Mutex
	seen      []Seen
}

// Seen is one response the browser received.
type Seen struct {
	URL    string
	Status int
	Header http.Header
	Body   string
}

// NewBrowser returns a browser with an empty cookie jar.
func (e *Env) NewBrowser() *Browser {
	jar, err := cookiejar.New(nil)
	if err != nil {
		e.t.Fatal(err)
	}
	return &Browser{
		UserAgent: "Mozilla/5.0 (X11; Linux x86_64) HarnessBrowser/1.0 Firefox/130.0",
		Client: &http.Client{
			Jar:       jar,
			Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}},
			CheckRedirect: func(*http.Request, []*http.Request) error {
				return http.ErrUseLastResponse
			},
		},
	}
}

// Do sends one request and records the response; the body is read fully
// and also returned.
func (b *Browser) Do(t testing.TB, req *http.Request) (*http.Response, string) {
	t.Helper()
	if req.Header.Get("User-Agent") == "" {
		req.Header.Set("User-Agent", b.UserAgent)
	}
	resp, err := b.Client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading body: %v", req.Method, req.URL, err)
	}
	b.mu.Lock()
	b.seen = append(b.seen, Seen{URL: req.URL.String(), Status: resp.StatusCode, Header: resp.Header.Clone(), Body: string(body)})
	b.mu.Unlock()
	return resp, string(body)
}

// Call sends method to url with X-CSRF: 1, as the SPA does.
func (b *Browser) Call(t testing.TB, method, u string, body io.Reader) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, u, body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-CSRF", "1")
	return b.Do(t, req)
}

// Get navigates to u (no X-CSRF header).
func (b *Browser) Get(t testing.TB, u string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", "text/html")
	return b.Do(t, req)
}

// JSON calls u with X-CSRF and decodes a JSON answer into out, returning
// the status.
func (b *Browser) JSON(t testing.TB, method, u string, out any) int {
	t.Helper()
	resp, body := b.Call(t, method, u, nil)
	if out != nil && body != "" {
		if err := json.Unmarshal([]byte(body), out); err != nil {
			t.Fatalf("%s %s: %d %q is not JSON: %v", method, u, resp.StatusCode, body, err)
		}
	}
	return resp.StatusCode
}

// Seen returns every response recorded so far.
func (b *Browser) Seen() []Seen {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]Seen(nil), b.seen...)
}

// Follow follows redirects from resp until a non-redirect answer, like a
// browser's navigation, and returns the last response, its body and the
// URLs visited.
func (b *Browser) Follow(t testing.TB, resp *http.Response, body string) (*http.Response, string) {
	t.Helper()
	for i := 0; resp.StatusCode >= 300 && resp.StatusCode < 400; i++ {
		if i > 10 {
			t.Fatal("too many redirects")
		}
		loc, err := resp.Request.URL.Parse(resp.Header.Get("Location"))
		if err != nil {
			t.Fatal(err)
		}
		resp, body = b.Get(t, loc.String())
	}
	return resp, body
}

var authRequestID = regexp.MustCompile(`name="authRequestID" value="([^"]+)"`)

// StartLogin goes from /bff/login to the provider's login form and
// returns the form page's URL and the auth request ID.
func (b *Browser) StartLogin(t testing.TB, bffURL, returnURL string) (formURL *url.URL, id string) {
	t.Helper()
	u := bffURL + "/bff/login"
	if returnURL != "" {
		u += "?returnUrl=" + url.QueryEscape(returnURL)
	}
	resp, body := b.Get(t, u)
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("GET /bff/login = %d %s, want 302", resp.StatusCode, body)
	}
	resp, body = b.Follow(t, resp, body)
	m := authRequestID.FindStringSubmatch(body)
	if resp.StatusCode != http.StatusOK || m == nil {
		t.Fatalf("login form not reached: %d %s", resp.StatusCode, body)
	}
	return resp.Request.URL, m[1]
}

// SubmitLogin posts the provider's login form and returns the provider's
// redirect toward the BFF callback (not yet followed).
func (b *Browser) SubmitLogin(t testing.TB, formURL *url.URL, id, user, pass string) (callback *url.URL) {
	t.Helper()
	form := url.Values{"authRequestID": {id}, "username": {user}, "password": {pass}}
	req, err := http.NewRequest(http.MethodPost, formURL.Scheme+"://"+formURL.Host+formURL.Path, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, body := b.Do(t, req)
	// Follow the provider's own redirects until one points at the BFF.
	for resp.StatusCode >= 300 && resp.StatusCode < 400 {
		loc, err := resp.Request.URL.Parse(resp.Header.Get("Location"))
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasSuffix(loc.Path, "/bff/callback") {
			return loc
		}
		resp, body = b.Get(t, loc.String())
	}
	t.Fatalf("provider did not redirect to the callback: %d %s", resp.StatusCode, body)
	return nil
}

// Login signs in through the provider's login form and returns the
// callback's response (a redirect to the return URL on success).
func (b *Browser) Login(t testing.TB, bffURL, user, pass string) *http.Response {
	t.Helper()
	formURL, id := b.StartLogin(t, bffURL, "/")
	cb := b.SubmitLogin(t, formURL, id, user, pass)
	resp, body := b.Get(t, cb.String())
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("callback = %d %s, want 302", resp.StatusCode, body)
	}
	return resp
}

// SignInAt signs in from loginURL, a /bff/login URL with its parameters
// (as a step_up_required answer's login_url gives it), relative to bffURL:
// it follows the redirects to the provider, fills in the login form if the
// provider shows one (user and pass; a provider that remembers the sign-in
// may not), and returns the callback's response and body. When /bff/login
// itself refuses, that answer is returned.
func (b *Browser) SignInAt(t testing.TB, bffURL, loginURL, user, pass string) (*http.Response, string) {
	t.Helper()
	resp, body := b.Get(t, bffURL+loginURL)
	if resp.StatusCode != http.StatusFound {
		return resp, body
	}
	for resp.StatusCode >= 300 && resp.StatusCode < 400 {
		loc, err := resp.Request.URL.Parse(resp.Header.Get("Location"))
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasSuffix(loc.Path, "/bff/callback") {
			return b.Get(t, loc.String())
		}
		resp, body = b.Get(t, loc.String())
	}
	m := authRequestID.FindStringSubmatch(body)
	if resp.StatusCode != http.StatusOK || m == nil {
		t.Fatalf("neither the login form nor the callback reached: %d %s", resp.StatusCode, body)
	}
	cb := b.SubmitLogin(t, resp.Request.URL, m[1], user, pass)
	return b.Get(t, cb.String())
}

// User is /bff/user's answer.
type User struct {
	Sub     string         `json:"sub"`
	Claims  map[string]any `json:"claims"`
	Session struct {
		ID        string     `json:"id"`
		LogoutURL string     `json:"logout_url"`
		CreatedAt time.Time  `json:"created_at"`
		ExpiresAt time.Time  `json:"expires_at"`
		ACR       string     `json:"acr"`
		AMR       []string   `json:"amr"`
		AuthTime  *time.Time `json:"auth_time"`
	} `json:"session"`
}

// User fetches /bff/user; it fails the test unless the status is want.
func (b *Browser) User(t testing.TB, bffURL string, want int) User {
	t.Helper()
	var u User
	if got := b.JSON(t, http.MethodGet, bffURL+"/bff/user", &u); got != want {
		t.Fatalf("GET /bff/user = %d, want %d", got, want)
	}
	return u
}

// Cookie returns the value of the named cookie the jar holds for u.
func (b *Browser) Cookie(u, name string) string {
	pu, _ := url.Parse(u)
	for _, c := range b.Client.Jar.Cookies(pu) {
		if c.Name == name {
			return c.Value
		}
	}
	return ""
}

// String describes the browser for test messages.
func (b *Browser) String() string { return fmt.Sprintf("browser(%d responses)", len(b.Seen())) }
