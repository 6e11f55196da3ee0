package devop

import (
	"context"
	"errors"
	"fmt"
	"html/template"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/zitadel/oidc/v3/pkg/op"
)

// pageStyle is the provider pages' look: plain, and clearly another site
// than the app (a user should see where they type their password).
const pageStyle = `<style>
:root{--bg:#eef1f6;--card:#fff;--text:#1c1f2a;--muted:#5f6577;--border:#d9dde7;--accent:#0f766e;--danger:#c62828;--danger-bg:#fdecea}
@media (prefers-color-scheme:dark){:root{--bg:#101318;--card:#1a1e26;--text:#e7e9f0;--muted:#9aa0b4;--border:#2c3240;--accent:#2dd4bf;--danger:#ff6b6b;--danger-bg:#3a1d20}}
*{box-sizing:border-box}
body{margin:0;min-height:100vh;display:grid;place-items:center;background:var(--bg);color:var(--text);font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif}
main{width:min(24rem,calc(100vw - 2rem));background:var(--card);border:1px solid var(--border);border-radius:14px;padding:2rem;box-shadow:0 4px 16px rgba(20,24,40,.08)}
.brand{margin:0 0 1.25rem;color:var(--accent);font-weight:600;font-size:.9rem;letter-spacing:.04em;text-transform:uppercase}
h1{margin:0 0 1.25rem;font-size:1.5rem}
label{display:block;margin:0 0 .35rem;font-weight:500;font-size:.95rem}
input{width:100%;padding:.6rem .75rem;border:1px solid var(--border);border-radius:8px;background:transparent;color:inherit;font:inherit}
input:focus{outline:2px solid var(--accent);outline-offset:1px}
p{margin:0 0 1rem}
button{width:100%;padding:.7rem;border:0;border-radius:8px;background:var(--accent);color:#fff;font:inherit;font-weight:600;cursor:pointer}
[role=alert]{padding:.6rem .75rem;border-radius:8px;background:var(--danger-bg);color:var(--danger)}
.hint{color:var(--muted);font-size:.85rem;margin:1rem 0 0}
</style>`

var loginPage = template.Must(template.New("login").Parse(`<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Sign in - devop</title>
<meta name="viewport" content="width=device-width, initial-scale=1">` + pageStyle + `</head>
<body>
<main>
<p class="brand">devop · development provider</p>
<h1>Sign in</h1>
{{if .Error}}<p id="error" role="alert">{{.Error}}</p>{{end}}
{{if .SecondFactor}}<p id="second-factor" class="hint">This sign-in asks for a second factor. devop stands in for it: an account with one (alice in the demo) passes with its password.</p>{{end}}
<form id="login" method="post" action="{{.Action}}">
<input type="hidden" name="authRequestID" value="{{.ID}}">
<p><label for="username">Username</label>
<input id="username" name="username" type="text" autocomplete="username" value="{{.Username}}" required autofocus></p>
<p><label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password" required></p>
<p><button id="submit" type="submit">Sign in</button></p>
</form>
<p class="hint">A provider for development and tests, not for real accounts.</p>
</main>
</body>
</html>
`))

type loginData struct {
	Action, ID, Username, Error string
	SecondFactor                bool
}

// serveLogin is the login UI op redirects to with ?authRequestID=. A
// successful POST completes the auth request and redirects to op's
// authorize callback, which redirects to the client with the code.
func (p *Provider) serveLogin(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	switch r.Method {
	case http.MethodGet:
		id := r.URL.Query().Get("authRequestID")
		if !p.store.authRequestExists(id) {
			http.Error(w, "unknown or expired sign-in request", http.StatusBadRequest)
			return
		}
		if si, ok := p.rememberedSignIn(r); ok && p.store.reusable(id, si) && p.store.completeFromSignIn(id, si) {
			http.Redirect(w, r, op.AuthCallbackURL(p.op)(p.ctxWithIssuer(r.Context()), id), http.StatusFound)
			return
		}
		if redirectURI, state, none := p.store.promptNone(id); none {
			p.loginRequired(w, r, id, redirectURI, state)
			return
		}
		renderLogin(w, http.StatusOK, loginData{Action: p.issuer + loginPath, ID: id, SecondFactor: p.store.wantsSecondFactor(id)})
	case http.MethodPost:
		r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
		if err := r.ParseForm(); err != nil {
			http.Error(w, "bad form", http.StatusBadRequest)
			return
		}
		id, user := r.PostForm.Get("authRequestID"), r.PostForm.Get("username")
		// The same user signing in again in a remembered provider session
		// (a step-up) stays in it.
		sid := ""
		if si, ok := p.rememberedSignIn(r); ok && si.username == user {
			sid = si.sid
		}
		ok, found := p.store.completeLogin(id, user, r.PostForm.Get("password"), sid)
		switch {
		case !found:
			http.Error(w, "unknown or expired sign-in request", http.StatusBadRequest)
		case !ok:
			renderLogin(w, http.StatusOK, loginData{Action: p.issuer + loginPath, ID: id,
				Username: user, Error: "Invalid username or password.", SecondFactor: p.store.wantsSecondFactor(id)})
		default:
			p.remember(w, r, id)
			http.Redirect(w, r, op.AuthCallbackURL(p.op)(p.ctxWithIssuer(r.Context()), id), http.StatusFound)
		}
	default:
		w.Header().Set("Allow", "GET, POST")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	}
}

func renderLogin(w http.ResponseWriter, status int, d loginData) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_ = loginPage.Execute(w, d)
}

func serveLoggedOut(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_, _ = io.WriteString(w, `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Signed out</title>`+
		`<meta name="viewport" content="width=device-width, initial-scale=1">`+pageStyle+`</head>`+
		`<body><main><p class="brand">devop · development provider</p><h1 id="signed-out">You are signed out.</h1></main></body></html>`)
}

// ErrLoginRejected is returned by [Provider.SignIn] when the login form
// does not accept the credentials.
var ErrLoginRejected = errors.New("devop: login rejected")

// SignIn signs in like a browser with client, which should have a cookie
// jar when startURL is a relying party's login URL. It GETs startURL (a
// relying party's login URL, or this provider's authorize URL) following
// redirects while they stay on the provider's origin or come from the
// start, until it reaches the login form; posts username and password; and
// follows the provider's redirects until the first one that leaves the
// provider's origin. It returns that redirect's URL (normally the client's
// redirect_uri with code and state) without requesting it. client itself is
// not modified.
func (p *Provider) SignIn(ctx context.Context, client *http.Client, startURL, username, password string) (*url.URL, error) {
	if client == nil {
		client = http.DefaultClient
	}
	c := *client
	var left *url.URL
	c.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if len(via) >= 20 {
			return errors.New("devop: too many redirects")
		}
		if !p.sameOrigin(req.URL) {
			left = req.URL
			return http.ErrUseLastResponse
		}
		return nil
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, startURL, nil)
	if err != nil {
		return nil, fmt.Errorf("devop: sign in: %w", err)
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, fmt.Errorf("devop: sign in: %w", err)
	}
	drain(resp)
	id := resp.Request.URL.Query().Get("authRequestID")
	if resp.StatusCode != http.StatusOK || !p.sameOrigin(resp.Request.URL) || resp.Request.URL.Path != loginPath || id == "" {
		return nil, fmt.Errorf("devop: sign in: login form not reached: %s %s (redirect %v)",
			resp.Status, resp.Request.URL.Redacted(), left != nil)
	}
	form := url.Values{"authRequestID": {id}, "username": {username}, "password": {password}}
	req, err = http.NewRequestWithContext(ctx, http.MethodPost, p.issuer+loginPath, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, fmt.Errorf("devop: sign in: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	left = nil
	resp, err = c.Do(req)
	if err != nil {
		return nil, fmt.Errorf("devop: sign in: %w", err)
	}
	drain(resp)
	if left == nil {
		if resp.StatusCode == http.StatusOK && resp.Request.URL.Path == loginPath {
			return nil, ErrLoginRejected
		}
		return nil, fmt.Errorf("devop: sign in: no redirect to the client: %s", resp.Status)
	}
	return left, nil
}

// ErrFormShown is returned by [Provider.Authorize] when the provider
// shows its login form instead of answering at once.
var ErrFormShown = errors.New("devop: the login form is shown")

// Authorize is SignIn for a request the provider should answer without
// the form (Config.SingleSignOn, prompt=none): it GETs startURL, follows
// redirects while they stay on the provider's origin or come from the
// start, and returns the first redirect that leaves the provider (the
// client's redirect_uri with a code, or an error such as login_required).
// When the login form is shown instead it returns [ErrFormShown]. client
// should have the cookie jar of earlier sign-ins; it is not modified.
func (p *Provider) Authorize(ctx context.Context, client *http.Client, startURL string) (*url.URL, error) {
	if client == nil {
		client = http.DefaultClient
	}
	c := *client
	var left *url.URL
	c.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if len(via) >= 20 {
			return errors.New("devop: too many redirects")
		}
		if !p.sameOrigin(req.URL) {
			left = req.URL
			return http.ErrUseLastResponse
		}
		return nil
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, startURL, nil)
	if err != nil {
		return nil, fmt.Errorf("devop: authorize: %w", err)
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, fmt.Errorf("devop: authorize: %w", err)
	}
	drain(resp)
	switch {
	case left != nil:
		return left, nil
	case resp.Request.URL.Path == loginPath:
		return nil, ErrFormShown
	}
	return nil, fmt.Errorf("devop: authorize: no redirect to the client: %s", resp.Status)
}

func (p *Provider) sameOrigin(u *url.URL) bool {
	iss, err := url.Parse(p.issuer)
	return err == nil && strings.EqualFold(u.Scheme, iss.Scheme) && strings.EqualFold(u.Host, iss.Host)
}

func drain(resp *http.Response) {
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	_ = resp.Body.Close()
}
