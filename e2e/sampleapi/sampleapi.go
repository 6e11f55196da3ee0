// Package sampleapi is a small API that checks access tokens the way a
// real resource server should, for tests and the demo: it validates the
// JWT access token's signature against the provider's JWKS, its issuer, its
// audience and its expiry with github.com/coreos/go-oidc/v3/oidc, and
// requires a scope. A token bound to a DPoP key (cnf.jkt, RFC 9449) is
// accepted only as "Authorization: DPoP" with a valid proof by that key for
// the request (method, URL, iat, unused jti, ath), so a stolen token alone
// is refused. It answers with what it saw, never with the token. It can
// ask for a stronger sign-in on chosen paths (RFC 9470, Config.StepUp).
package sampleapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
)

// Config configures the API.
type Config struct {
	// Name is shown in answers as "api", e.g. "orders"; required.
	Name string
	// Issuer is the provider's issuer URL; required. Discovery is fetched on
	// the first request that carries a token, and again after a failure, so
	// the provider may start after the API.
	Issuer string
	// Audience must be one of the token's aud values; required.
	Audience string
	// RequiredScope must be in the token's scope claim (space-separated
	// string, RFC 9068) or scp claim (space-separated string as Entra
	// writes it, or array as Okta does); "" requires none.
	RequiredScope string
	// HTTPClient fetches discovery and keys; nil means http.DefaultClient.
	HTTPClient *http.Client
	// DPoPNonce requires a nonce of the API's own in DPoP proofs (RFC 9449
	// section 9): a proof without it is answered 401 use_dpop_nonce with a
	// DPoP-Nonce header.
	DPoPNonce bool
	// StepUp makes the API ask for a stronger sign-in on some paths, as
	// RFC 9470 describes: a token whose acr, or auth_time, does not do gets
	// 401 with WWW-Authenticate: Bearer (or DPoP)
	// error="insufficient_user_authentication" and the acr_values and
	// max_age it wants. Default none.
	StepUp []StepUp
}

// StepUp is one path prefix of the API that needs a stronger sign-in.
type StepUp struct {
	// PathPrefix selects the paths (as the API sees them); "" for all.
	PathPrefix string
	// ACRValues are the acr values accepted, preferred first; none: any.
	ACRValues []string
	// MaxAge bounds the time since the user authenticated (the token's
	// auth_time, in whole seconds); 0: no bound.
	MaxAge time.Duration
}

// handler is the API. It is safe for concurrent use.
type handler struct {
	cfg Config

	mu       sync.Mutex
	verifier *oidc.IDTokenVerifier
	proofs   proofs
}

// New checks cfg and returns the API handler. It does not contact the
// provider.
func New(cfg Config) (http.Handler, error) {
	var errs []error
	if cfg.Name == "" {
		errs = append(errs, errors.New("sampleapi: Name is required"))
	}
	if cfg.Issuer == "" {
		errs = append(errs, errors.New("sampleapi: Issuer is required"))
	}
	if cfg.Audience == "" {
		errs = append(errs, errors.New("sampleapi: Audience is required"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = http.DefaultClient
	}
	mux := http.NewServeMux()
	h := &handler{cfg: cfg}
	mux.HandleFunc("/", h.serve)
	return mux, nil
}

// tokenVerifier returns the cached verifier, fetching discovery first if
// needed. A failed fetch is not cached.
func (h *handler) tokenVerifier(ctx context.Context) (*oidc.IDTokenVerifier, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.verifier != nil {
		return h.verifier, nil
	}
	ctx, cancel := context.WithTimeout(oidc.ClientContext(context.WithoutCancel(ctx), h.cfg.HTTPClient), 10*time.Second)
	defer cancel()
	p, err := oidc.NewProvider(ctx, h.cfg.Issuer)
	if err != nil {
		return nil, fmt.Errorf("sampleapi: discovery: %w", err)
	}
	// go-oidc's ID token verifier checks what an access token JWT needs
	// too: signature (JWKS, refetched on unknown kid), iss, aud, exp.
	h.verifier = p.Verifier(&oidc.Config{ClientID: h.cfg.Audience})
	return h.verifier, nil
}

type answer struct {
	API string `json:"api"`
	// Scheme is how the token came: Bearer or DPoP (proof checked).
	Scheme   string   `json:"scheme"`
	Sub      string   `json:"sub"`
	ACR      string   `json:"acr,omitempty"`
	Audience []string `json:"audience"`
	Scopes   []string `json:"scopes"`
	Method   string   `json:"method"`
	Path     string   `json:"path"`
	Query    string   `json:"query"`
}

func (h *handler) serve(w http.ResponseWriter, r *http.Request) {
	scheme, raw := authorization(r)
	if raw == "" {
		unauthorized(w, "missing bearer token")
		return
	}
	v, err := h.tokenVerifier(r.Context())
	if err != nil {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{
			"error": "temporarily_unavailable", "error_description": "provider discovery failed"})
		return
	}
	tok, err := v.Verify(r.Context(), raw)
	if err != nil {
		unauthorized(w, describe(err))
		return
	}
	var claims struct {
		Scope    string    `json:"scope"`
		Scp      scopeList `json:"scp"`
		ACR      string    `json:"acr"`
		AuthTime int64     `json:"auth_time"`
		Cnf      struct {
			JKT string `json:"jkt"`
		} `json:"cnf"`
	}
	if err := tok.Claims(&claims); err != nil {
		unauthorized(w, "malformed claims")
		return
	}
	switch {
	case claims.Cnf.JKT != "" && scheme != "DPoP":
		// RFC 9449 section 7.2: a bound token without its proof is a
		// stolen one, as far as the API can tell.
		unauthorized(w, "token is DPoP-bound: DPoP proof required")
		return
	case scheme == "DPoP" && claims.Cnf.JKT == "":
		unauthorized(w, "token is not DPoP-bound")
		return
	case scheme == "DPoP":
		if err := h.proofs.check(r, raw, claims.Cnf.JKT, requestURL(r), h.cfg.DPoPNonce); err != nil {
			h.proofs.dpopChallenge(w, err)
			return
		}
	}
	scopes := slices.Concat(strings.Fields(claims.Scope), claims.Scp)
	if h.cfg.RequiredScope != "" && !slices.Contains(scopes, h.cfg.RequiredScope) {
		w.Header().Set("WWW-Authenticate", `Bearer error="insufficient_scope"`)
		writeJSON(w, http.StatusForbidden, map[string]string{
			"error": "insufficient_scope", "error_description": "the token lacks scope " + h.cfg.RequiredScope})
		return
	}
	if challenge := h.stepUp(scheme, r.URL.Path, claims.ACR, claims.AuthTime); challenge != "" {
		w.Header().Set("WWW-Authenticate", challenge)
		writeJSON(w, http.StatusUnauthorized, map[string]string{
			"error": "insufficient_user_authentication", "error_description": "a stronger or more recent sign-in is required"})
		return
	}
	if strings.HasSuffix(r.URL.Path, "/events") && r.Method == http.MethodGet {
		streamEvents(w, r)
		return
	}
	if scopes == nil {
		scopes = []string{}
	}
	writeJSON(w, http.StatusOK, answer{
		API: h.cfg.Name, Scheme: scheme, Sub: tok.Subject, ACR: claims.ACR, Audience: tok.Audience, Scopes: scopes,
		Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery,
	})
}

// stepUp is the RFC 9470 challenge (in the token's scheme, Bearer or
// DPoP) for a call to path with a token of acr and auth_time, or "" when
// the token will do.
func (h *handler) stepUp(scheme, path, acr string, authTime int64) string {
	for _, su := range h.cfg.StepUp {
		if !strings.HasPrefix(path, su.PathPrefix) {
			continue
		}
		acrOK := len(su.ACRValues) == 0 || slices.Contains(su.ACRValues, acr)
		ageOK := su.MaxAge <= 0 || (authTime > 0 && time.Since(time.Unix(authTime, 0)) <= su.MaxAge)
		if acrOK && ageOK {
			continue
		}
		c := scheme + ` error="insufficient_user_authentication", error_description="A stronger or more recent sign-in is required"`
		if len(su.ACRValues) > 0 {
			c += `, acr_values="` + strings.Join(su.ACRValues, " ") + `"`
		}
		if su.MaxAge > 0 {
			c += fmt.Sprintf(", max_age=%d", int64(su.MaxAge/time.Second))
		}
		return c
	}
	return ""
}

// scopeList is a scope claim that is either a space-separated string or a
// JSON array of strings.
type scopeList []string

func (l *scopeList) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		*l = strings.Fields(s)
		return nil
	}
	var a []string
	if err := json.Unmarshal(b, &a); err != nil {
		return fmt.Errorf("sampleapi: scp is neither a string nor an array of strings")
	}
	*l = a
	return nil
}

// describe gives a fixed, token-free reason for a failed verification.
func describe(err error) string {
	var expired *oidc.TokenExpiredError
	switch {
	case errors.As(err, &expired):
		return "token is expired"
	case strings.Contains(err.Error(), "audience"):
		return "token audience is not accepted"
	case strings.Contains(err.Error(), "different provider"):
		return "token issuer is not accepted"
	case strings.Contains(err.Error(), "signature"):
		return "token signature is invalid"
	}
	return "token is invalid"
}

// streamEvents sends three server-sent events 100ms apart, flushing each.
func streamEvents(w http.ResponseWriter, r *http.Request) {
	rc := http.NewResponseController(w)
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for n := 1; n <= 3; n++ {
		if n > 1 {
			select {
			case <-r.Context().Done():
				return
			case <-t.C:
			}
		}
		if _, err := fmt.Fprintf(w, "data: %d\n\n", n); err != nil {
			return
		}
		if err := rc.Flush(); err != nil {
			return
		}
	}
}

func unauthorized(w http.ResponseWriter, desc string) {
	w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
	writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "invalid_token", "error_description": desc})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
