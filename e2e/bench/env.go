package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/bff-project/bff/e2e/devop"
	"github.com/bff-project/bff/e2e/fapiop"
	"github.com/bff-project/bff/session/pgtest"
	"github.com/bff-project/bff/session/redistest"
)

// Bench identities (development values).
const (
	clientID     = "spa-bff"
	clientSecret = "bench-client-secret-5d1e"
	sessionName  = "__Host-bff"
)

var benchUsers = []devop.User{
	// alice is in the group the claims rule of claimsPath's route asks for.
	{Subject: "user-alice", Username: "alice", Password: "alice-pw", Email: "alice@example.test", Name: "Alice Example", GivenName: "Alice", FamilyName: "Example",
		Groups: []string{"staff", "admins"}},
	{Subject: "user-bob", Username: "bob", Password: "bob-pw", Email: "bob@example.test", Name: "Bob Example", GivenName: "Bob", FamilyName: "Example"},
	{Subject: "user-carol", Username: "carol", Password: "carol-pw", Email: "carol@example.test", Name: "Carol Example", GivenName: "Carol", FamilyName: "Example"},
}

// env is what the parent runs or owns: the provider (served in the parent:
// it is idle under load, access tokens live an hour), the upstream child,
// Redis, the BFF listeners and the proxy child.
type env struct {
	tmp       string
	key       string // session encryption key, base64
	op        *devop.Provider
	opURL     string
	opSrv     *http.Server
	upstream  *child
	redis     *redistest.Process // nil when -redis-url is used or Redis is off
	redisURL  string
	pgBase    string // the PostgreSQL server; pgSchema is dropped at close
	pgSchema  string
	listeners map[string]*reservedListener // BFF target name -> listener
	proxy     *child
	fapi      *fapiop.Provider // bff-dpop's provider; nil without it
}

// newEnv starts the provider and the upstream, and reserves a listener for
// each BFF target name.
func newEnv(names []string) (_ *env, err error) {
	e := &env{listeners: map[string]*reservedListener{}}
	defer func() {
		if err != nil {
			e.close()
		}
	}()
	if e.tmp, err = os.MkdirTemp("", "bff-bench-"); err != nil {
		return nil, err
	}
	e.key = base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{0x5a}, 32))
	var redirects, postLogout []string
	for _, n := range names {
		l, err := reserveListener()
		if err != nil {
			return nil, err
		}
		e.listeners[n] = l
		redirects = append(redirects, "http://"+l.addr()+"/bff/callback")
		postLogout = append(postLogout, "http://"+l.addr()+"/")
	}
	opL, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	e.opURL = "http://" + opL.Addr().String()
	e.op, err = devop.New(devop.Config{
		Issuer: e.opURL,
		Users:  benchUsers,
		Clients: []devop.Client{{
			ID: clientID, Secret: clientSecret, RedirectURIs: redirects, PostLogoutRedirectURIs: postLogout,
		}},
		APIScopes:           []string{"orders.read", "profile.read"},
		AccessTokenLifetime: time.Hour,
		IDTokenLifetime:     time.Hour,
		Logger:              quiet,
	})
	if err != nil {
		opL.Close()
		return nil, err
	}
	e.opSrv = &http.Server{Handler: e.op, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = e.opSrv.Serve(opL) }()
	if e.upstream, err = startChild("upstream", nil, nil); err != nil {
		return nil, err
	}
	return e, nil
}

// useRedis sets up Redis: url if given, else a private redis-server.
func (e *env) useRedis(url string) error {
	if url != "" {
		e.redisURL = url
		return nil
	}
	rs, err := redistest.Launch(redistest.LaunchOptions{})
	if errors.Is(err, exec.ErrNotFound) {
		return errNoRedis
	}
	if err != nil {
		return err
	}
	e.redis, e.redisURL = rs, rs.URL()
	return nil
}

// usePostgres makes a schema of the run's own on the server at base (or
// the test server) and returns a URL whose search_path selects it.
func (e *env) usePostgres(base string) (string, error) {
	if base == "" {
		base = pgtest.BaseURL()
	}
	if e.pgSchema != "" {
		return pgtest.WithSearchPath(e.pgBase, e.pgSchema), nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		return "", fmt.Errorf("no PostgreSQL (set -postgres-url): %w", err)
	}
	defer conn.Close(ctx)
	schema := fmt.Sprintf("bffbench_%d", time.Now().UnixNano())
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		return "", err
	}
	e.pgBase, e.pgSchema = base, schema
	return pgtest.WithSearchPath(base, schema), nil
}

func (e *env) close() {
	if e.proxy != nil {
		e.proxy.stop()
	}
	if e.upstream != nil {
		e.upstream.stop()
	}
	if e.opSrv != nil {
		e.opSrv.Close()
	}
	if e.fapi != nil {
		e.fapi.Close()
	}
	for _, l := range e.listeners {
		l.close()
	}
	if e.redis != nil {
		e.redis.Close()
	}
	if e.tmp != "" {
		os.RemoveAll(e.tmp)
	}
	if e.pgSchema != "" {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		if conn, err := pgx.Connect(ctx, e.pgBase); err == nil {
			_, _ = conn.Exec(ctx, "DROP SCHEMA "+e.pgSchema+" CASCADE")
			conn.Close(ctx)
		}
		cancel()
	}
}

// startProxy (re)starts the proxy child with the given BFF instances, each
// on its reserved listener.
func (e *env) startProxy(bffs []bffChild, logLevel string) error {
	if e.proxy != nil {
		e.proxy.stop()
		e.proxy = nil
	}
	files := make([]*os.File, len(bffs))
	for i, b := range bffs {
		files[i] = e.listeners[b.Name].file
	}
	cfg := childConfig{
		Upstream: "http://" + e.upstream.addrs["upstream"], Issuer: e.opURL, Secret: clientSecret,
		Key: e.key, BFFs: bffs, LogLevel: logLevel, BareToken: strings.Repeat("x", 800),
	}
	c, err := startChild("proxy", cfg, files)
	if err != nil {
		return err
	}
	e.proxy = c
	return nil
}

// bffURL is the origin of BFF target name.
func (e *env) bffURL(name string) string { return "http://" + e.listeners[name].addr() }

// signIn signs user in at the BFF through the provider's login form, as a
// browser does, and returns the session cookie's value.
func (e *env) signIn(ctx context.Context, bffURL string, u devop.User) (string, error) {
	return e.signInAt(ctx, e.op, bffURL, u)
}

// signer is a provider whose login form a test browser fills in.
type signer interface {
	SignIn(ctx context.Context, client *http.Client, startURL, username, password string) (*url.URL, error)
}

// signInAt signs in at bffURL through op's login form.
func (e *env) signInAt(ctx context.Context, op signer, bffURL string, u devop.User) (string, error) {
	jar, err := cookiejar.New(nil)
	if err != nil {
		return "", err
	}
	client := &http.Client{Jar: jar, Timeout: 20 * time.Second}
	cb, err := op.SignIn(ctx, client, bffURL+"/bff/login?returnUrl=/", u.Username, u.Password)
	if err != nil {
		return "", err
	}
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := client.Get(cb.String())
	if err != nil {
		return "", err
	}
	drain(resp)
	if resp.StatusCode != http.StatusFound {
		return "", fmt.Errorf("sign in %s: callback answered %s", u.Username, resp.Status)
	}
	base, _ := url.Parse(bffURL)
	for _, c := range jar.Cookies(base) {
		if c.Name == sessionName {
			return c.Value, nil
		}
	}
	return "", errors.New("sign in " + u.Username + ": no session cookie")
}

// call sends one API call as the SPA does and wants 200.
func call(ctx context.Context, client *http.Client, u, cookie string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	req.Header.Set("X-CSRF", "1")
	if cookie != "" {
		req.Header.Set("Cookie", sessionName+"="+cookie)
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	drain(resp)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", req.URL.Path, resp.Status)
	}
	return nil
}

func drain(resp *http.Response) {
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
}
