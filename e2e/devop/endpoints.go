package devop

import (
	"bytes"
	"context"
	"encoding/json"
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
// token and whether the client asked for a scope. Middleware puts them in
// the request context; storage reads them with paramsFrom.
type requestParams struct {
	audience       []string
	scopeRequested bool
}

type paramsKey struct{}

func withParams(ctx context.Context, form url.Values) context.Context {
	var aud []string
	for _, v := range append(slices.Clone(form["audience"]), form["resource"]...) {
		for _, a := range strings.Fields(v) {
			if !slices.Contains(aud, a) {
				aud = append(aud, a)
			}
		}
	}
	return context.WithValue(ctx, paramsKey{}, requestParams{
		audience:       aud,
		scopeRequested: strings.TrimSpace(form.Get("scope")) != "",
	})
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
	if oidc.GrantType(grant) == oidc.GrantTypeTokenExchange {
		adaptTokenExchange(r)
	}
	rec := &recorder{ResponseWriter: w, status: http.StatusOK}
	p.op.ServeHTTP(rec, r.WithContext(withParams(r.Context(), r.Form)))
	if rec.status == http.StatusOK {
		p.recordIssued(rec.body.Bytes())
	}
}

// adaptTokenExchange fits a token-exchange request to what op reads: op
// takes the access token's aud from audience only, so resource values are
// added to it, and op authenticates the client with HTTP basic only, so
// client_secret_post credentials are moved into the header.
func adaptTokenExchange(r *http.Request) {
	for _, res := range r.Form["resource"] {
		if !slices.Contains(r.Form["audience"], res) {
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

// recorder copies a token response so the issued tokens can be recorded.
type recorder struct {
	http.ResponseWriter
	status int
	body   bytes.Buffer
}

func (r *recorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	r.body.Write(b)
	return r.ResponseWriter.Write(b)
}
