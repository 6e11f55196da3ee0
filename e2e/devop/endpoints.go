package devop

import (
	"bytes"
	"context"
	"encoding/json"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

var (
	tokenPath      = op.DefaultEndpoints.Token.Relative()
	revocationPath = op.DefaultEndpoints.Revocation.Relative()
	endSessionPath = op.DefaultEndpoints.EndSession.Relative()
	authorizePath  = op.DefaultEndpoints.Authorization.Relative()
)

const (
	loginPath     = "/login"
	loggedOutPath = "/logged-out"

	authMethodBasic = "client_secret_basic"
	authMethodPost  = "client_secret_post"

	maxFormBytes = 64 << 10
)

// requestParams are the parameters op does not read itself but devop's
// storage needs: the audience (audience and resource values) of the access
// token, the raw audience, resource and scope values (for [Config.Like])
// and whether the client asked for a scope. Middleware puts them in the
// request context; storage reads them with paramsFrom.
type requestParams struct {
	audience       []string // audience and resource values
	audienceParam  []string // audience values only
	resource       []string
	scope          []string
	scopeRequested bool
	accessType     string // Google's access_type
}

type paramsKey struct{}

func withParams(ctx context.Context, form url.Values) context.Context {
	p := requestParams{
		audienceParam:  fields(form["audience"]),
		resource:       fields(form["resource"]),
		scope:          strings.Fields(form.Get("scope")),
		scopeRequested: strings.TrimSpace(form.Get("scope")) != "",
		accessType:     form.Get("access_type"),
	}
	p.audience = fields(append(slices.Clone(p.audienceParam), p.resource...))
	return context.WithValue(ctx, paramsKey{}, p)
}

// fields splits space-separated values and drops duplicates.
func fields(values []string) []string {
	var out []string
	for _, v := range values {
		for _, a := range strings.Fields(v) {
			if !slices.Contains(out, a) {
				out = append(out, a)
			}
		}
	}
	return out
}

func paramsFrom(ctx context.Context) requestParams {
	p, _ := ctx.Value(paramsKey{}).(requestParams)
	return p
}

func (p *Provider) serveAuthorize(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	p.op.ServeHTTP(w, r.WithContext(withParams(r.Context(), r.Form)))
}

func (p *Provider) serveToken(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		writeOAuthError(w, http.StatusBadRequest, "invalid_request", "cannot parse form")
		return
	}
	grant := r.PostForm.Get("grant_type")
	p.mu.Lock()
	switch oidc.GrantType(grant) {
	case oidc.GrantTypeCode:
		p.counts.Code++
	case oidc.GrantTypeRefreshToken:
		p.counts.Refresh++
	case oidc.GrantTypeClientCredentials:
		p.counts.ClientCredentials++
	case oidc.GrantTypeTokenExchange:
		p.counts.TokenExchange++
	}
	down := p.down
	p.mu.Unlock()
	if down {
		writeOAuthError(w, http.StatusServiceUnavailable, "temporarily_unavailable", "provider is down")
		return
	}
	if code, desc := p.store.like.checkToken(r.Form); code != "" {
		writeOAuthError(w, http.StatusBadRequest, code, desc)
		return
	}
	if oidc.GrantType(grant) == oidc.GrantTypeTokenExchange {
		adaptTokenExchange(r, p.store.like.mode != LikeKeycloak)
	}
	rec := &recorder{header: http.Header{}, status: http.StatusOK}
	p.op.ServeHTTP(rec, r.WithContext(withParams(r.Context(), r.Form)))
	body := rec.body.Bytes()
	if rec.status == http.StatusOK {
		body = p.store.grantResponseScope(body)
		p.recordIssued(body)
	}
	maps.Copy(w.Header(), rec.header)
	w.Header().Del("Content-Length")
	w.WriteHeader(rec.status)
	_, _ = w.Write(body)
}

// adaptTokenExchange fits a token-exchange request to what op reads: op
// takes the access token's aud from audience only, so resource values are
// added to it (unless resource is to be ignored, as Keycloak does), and op
// authenticates the client with HTTP basic only, so client_secret_post
// credentials are moved into the header.
func adaptTokenExchange(r *http.Request, readResource bool) {
	for _, res := range r.Form["resource"] {
		if readResource && !slices.Contains(r.Form["audience"], res) {
			r.Form["audience"] = append(r.Form["audience"], res)
		}
	}
	if _, _, ok := r.BasicAuth(); !ok && r.Form.Get("client_id") != "" {
		r.SetBasicAuth(url.QueryEscape(r.Form.Get("client_id")), url.QueryEscape(r.Form.Get("client_secret")))
	}
}

func (p *Provider) recordIssued(body []byte) {
	var resp struct {
		AccessToken  string `json:"access_token"`
		RefreshToken string `json:"refresh_token"`
		IDToken      string `json:"id_token"`
	}
	if json.Unmarshal(body, &resp) != nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, t := range []string{resp.AccessToken, resp.RefreshToken, resp.IDToken} {
		if t != "" {
			p.issued = append(p.issued, t)
		}
	}
}

func (p *Provider) serveRevocation(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	p.counts.Revocation++
	down := p.down
	p.mu.Unlock()
	if down {
		writeOAuthError(w, http.StatusServiceUnavailable, "temporarily_unavailable", "provider is down")
		return
	}
	p.op.ServeHTTP(w, r)
}

func (p *Provider) serveEndSession(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	p.counts.EndSession++
	p.mu.Unlock()
	p.op.ServeHTTP(w, r)
}

func writeOAuthError(w http.ResponseWriter, status int, code, desc string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": code, "error_description": desc})
}

// recorder holds op's token response, so its scope field can be set to
// what was granted and the issued tokens recorded before it is sent.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header         { return r.header }
func (r *recorder) WriteHeader(code int)        { r.status = code }
func (r *recorder) Write(b []byte) (int, error) { return r.body.Write(b) }
