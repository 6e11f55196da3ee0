package bff

import (
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"strings"

	"github.com/bff-project/bff/bff/authz"
	"github.com/bff-project/bff/bff/oidcclient"
	"github.com/bff-project/bff/bff/tokens"
	"github.com/bff-project/bff/proxy"
)

// HTTPError is an error with two audiences: Code, Status and Description go
// to the client (fixed, safe text), Err goes to the log only.
type HTTPError struct {
	Status      int    // HTTP status; 0 means 500
	Code        string // the contract's "error" field, e.g. "csrf"
	Description string // short human text for the client
	Err         error  // the cause, logged, never sent
	// StepUp, on a step_up_required answer, is what a new sign-in must
	// reach: the answer then also carries acr_values, max_age and the
	// login_url that asks for it (stepup.go).
	StepUp *authz.StepUp
}

func (e *HTTPError) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %v", e.Code, e.Err)
	}
	return e.Code
}

func (e *HTTPError) Unwrap() error { return e.Err }

// HTTPStatus lets other packages (the proxy) find the status without
// importing this one.
func (e *HTTPError) HTTPStatus() int {
	if e.Status == 0 {
		return http.StatusInternalServerError
	}
	return e.Status
}

func errorf(status int, code, description string, cause error) *HTTPError {
	return &HTTPError{Status: status, Code: code, Description: description, Err: cause}
}

// Errors every endpoint shares.
var (
	errUnauthenticated = errorf(http.StatusUnauthorized, "unauthenticated", "Sign in first.", nil)
	errCSRF            = errorf(http.StatusForbidden, "csrf", "This request must come from the application itself (X-CSRF header missing or cross-site).", nil)
	errStoreDown       = func(cause error) *HTTPError {
		return errorf(http.StatusServiceUnavailable, "session_store_unavailable", "Sessions are temporarily unavailable. Try again shortly.", cause)
	}
	errProviderDown = func(cause error) *HTTPError {
		return errorf(http.StatusServiceUnavailable, "provider_unavailable", "The sign-in service is temporarily unavailable. Try again shortly.", cause)
	}
)

type errorBody struct {
	Error       string `json:"error"`
	Description string `json:"error_description"`
	RequestID   string `json:"request_id,omitempty"`
	// The step_up_required fields (DESIGN's proxied-call row).
	ACRValues string `json:"acr_values,omitempty"`
	MaxAge    *int64 `json:"max_age,omitempty"`
	LoginURL  string `json:"login_url,omitempty"`
}

// handlerFunc is a handler that returns its error instead of answering
// it (tailscale's tsweb.ReturnHandler): [Server.serve] turns the error into
// the answer and the log line, in one place.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

// serve adapts h to an http.Handler.
func (s *Server) serve(h handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			s.writeError(w, r, err)
		}
	})
}

// writeError answers err: JSON for API calls and fetch, a small HTML page
// for top-level navigations (login, callback, logout). The cause is logged
// with the request ID the user sees.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	he := httpError(err)
	status := he.HTTPStatus()
	id := requestID(r.Context())
	if id == "" {
		id = w.Header().Get("X-Request-Id")
	}
	level := slog.LevelInfo
	if status >= 500 {
		level = slog.LevelError
	}
	attrs := []any{"request_id", id, "status", status, "error", he.Code, "path", r.URL.Path}
	if he.Err != nil {
		attrs = append(attrs, "cause", he.Err.Error())
	}
	s.log.Log(r.Context(), level, "request failed", attrs...)

	body := errorBody{Error: he.Code, Description: he.Description, RequestID: id}
	if he.StepUp != nil {
		s.addStepUp(&body, r, he.StepUp)
	}
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	if wantsHTML(r) {
		h.Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(status)
		_ = errorPage.Execute(w, map[string]any{"Status": status, "Code": he.Code, "Description": he.Description, "RequestID": id, "LoginURL": body.LoginURL})
		return
	}
	writeJSON(w, status, body)
}

// wantsHTML reports whether the request is a browser navigation rather than
// a script's call.
func wantsHTML(r *http.Request) bool {
	if m := r.Header.Get("Sec-Fetch-Mode"); m != "" {
		return m == "navigate"
	}
	return strings.Contains(r.Header.Get("Accept"), "text/html")
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

var errorPage = template.Must(template.New("error").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>Sign-in problem</title></head>
<body style="font-family:system-ui,sans-serif;max-width:36rem;margin:4rem auto;padding:0 1rem;color:#1f2933">
<h1 style="font-size:1.4rem">{{.Description}}</h1>
{{if .LoginURL}}<p><a href="{{.LoginURL}}">Sign in again</a></p>{{end}}
<p><a href="/">Back to the application</a></p>
<p style="color:#616e7c;font-size:.85rem">Error {{.Status}} · {{.Code}} · request {{.RequestID}}</p>
</body></html>
`))

// httpError is the answer to err: its own when it is an *HTTPError, else
// the one the other packages' errors stand for.
func httpError(err error) *HTTPError {
	var he *HTTPError
	var te *oidcclient.TokenError
	var su *authz.StepUp
	switch {
	case errors.As(err, &he):
		return he
	case errors.Is(err, authz.ErrForbidden):
		return errorf(http.StatusForbidden, "forbidden", "You are not allowed to do this.", err)
	case errors.As(err, &su):
		return errStepUp(su, err)
	case errors.Is(err, tokens.ErrUnauthenticated):
		return errUnauthenticated
	case errors.Is(err, tokens.ErrSessionEnded):
		return errorf(http.StatusUnauthorized, "unauthenticated", "Your session has ended. Please sign in again.", err)
	case errors.Is(err, tokens.ErrExchangeRefused):
		return errorf(http.StatusForbidden, "token_exchange_refused",
			"The identity provider refused an access token for this API.", err)
	case errors.Is(err, tokens.ErrTokenRefused):
		return errorf(http.StatusForbidden, "token_refused",
			"The identity provider refused an access token for this API (its resource or scopes). Your session is kept.", err)
	case errors.Is(err, oidcclient.ErrAudienceMismatch):
		return errorf(http.StatusForbidden, "token_audience_mismatch",
			"The identity provider's access token for this API is meant for another audience, so it was not sent.", err)
	case errors.Is(err, oidcclient.ErrScopeMismatch):
		return errorf(http.StatusForbidden, "token_scope_mismatch",
			"The identity provider's access token for this API lacks a scope the API needs, so it was not sent.", err)
	case errors.As(err, &te), errors.Is(err, proxy.ErrEmptyToken):
		return errorf(http.StatusBadGateway, "token_unavailable", "An access token for this API could not be obtained.", err)
	case errors.Is(err, oidcclient.ErrUnavailable):
		return errProviderDown(err)
	case errors.Is(err, tokens.ErrStore):
		return errStoreDown(err)
	}
	return errorf(http.StatusInternalServerError, "server_error", "Something went wrong.", err)
}
