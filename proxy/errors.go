package proxy

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"strconv"
)

// StatusClientClosedRequest is the status recorded (never sent) when the
// client went away before the upstream answered (nginx's 499).
const StatusClientClosedRequest = 499

// apiError is a precomputed JSON error response in the contract shape
// {"error": code, "error_description": text}.
type apiError struct {
	status int
	body   []byte
	length string // Content-Length value
}

func newAPIError(status int, code, description string) apiError {
	body, err := json.Marshal(struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}{code, description})
	if err != nil {
		panic(err) // unreachable: two strings always marshal
	}
	return apiError{status: status, body: body, length: strconv.Itoa(len(body))}
}

var (
	errNotFound         = newAPIError(http.StatusNotFound, "not_found", "no API route matches this path")
	errInvalidPath      = newAPIError(http.StatusBadRequest, "invalid_path", "the request path is not allowed (dot segments, encoded slashes or backslashes, double encoding or control characters)")
	errUpgrade          = newAPIError(http.StatusBadRequest, "unsupported_upgrade", "only WebSocket upgrades (GET with Upgrade: websocket) are proxied")
	errMethodNotAllowed = newAPIError(http.StatusMethodNotAllowed, "method_not_allowed", "this method is not allowed on this API route")
	errBadGateway       = newAPIError(http.StatusBadGateway, "bad_gateway", "the API is unavailable")
	errTokenUnavailable = newAPIError(http.StatusBadGateway, "bad_gateway", "could not obtain an access token for the API")
	errGatewayTimeout   = newAPIError(http.StatusGatewayTimeout, "gateway_timeout", "the API did not answer in time")
)

func writeError(w http.ResponseWriter, e apiError) {
	if ow, ok := w.(*observedWriter); ok && ow.hijacked {
		return // the connection belongs to a protocol switch now
	}
	h := w.Header()
	h["Content-Type"] = []string{"application/json"}
	h["Cache-Control"] = []string{"no-store"}
	h["X-Content-Type-Options"] = []string{"nosniff"}
	h["Content-Length"] = []string{e.length}
	w.WriteHeader(e.status)
	_, _ = w.Write(e.body) // the client is gone if this fails; nothing to do
}

// errorHandler maps upstream failures like Caddy's statusError: timeout
// 504, client gone 499 (nothing written), anything else 502. The cause goes
// to the log only: it may name internal hosts.
func (h *Handler) errorHandler(rt *route) func(http.ResponseWriter, *http.Request, error) {
	return func(w http.ResponseWriter, r *http.Request, err error) {
		if su, ok := err.(*stepUpError); ok {
			h.stepUpRequired(w, r, su.c)
			return
		}
		ctx := r.Context() // r is the outbound request; its context is the client's
		attrs := []slog.Attr{
			slog.String("route", rt.Prefix),
			slog.String("method", r.Method),
			slog.String("path", r.URL.Path),
			slog.Any("err", err),
		}
		switch ctxErr := ctx.Err(); {
		case errors.Is(ctxErr, context.Canceled):
			if ow, ok := w.(*observedWriter); ok {
				ow.setStatus(StatusClientClosedRequest)
			}
			h.log.LogAttrs(ctx, slog.LevelDebug, "proxy: client went away", attrs...)
		case ctxErr != nil || isTimeout(err):
			h.log.LogAttrs(ctx, slog.LevelError, "proxy: upstream timeout", attrs...)
			writeError(w, errGatewayTimeout)
		default:
			h.log.LogAttrs(ctx, slog.LevelError, "proxy: upstream failed", attrs...)
			writeError(w, errBadGateway)
		}
	}
}

func isTimeout(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// tokenFailed answers a request whose token could not be had.
func (h *Handler) tokenFailed(w http.ResponseWriter, r *http.Request, rt *route, err error) {
	ctx := r.Context()
	if h.tokenError != nil {
		h.tokenError(w, r, err) // it logs what it needs: its errors, its policy
		return
	}
	if ctx.Err() != nil {
		if ow, ok := w.(*observedWriter); ok {
			ow.setStatus(StatusClientClosedRequest)
		}
		h.log.LogAttrs(ctx, slog.LevelDebug, "proxy: client went away", slog.String("route", rt.Prefix), slog.Any("err", err))
		return
	}
	h.log.LogAttrs(ctx, slog.LevelError, "proxy: token source failed", slog.String("route", rt.Prefix), slog.Any("err", err))
	writeError(w, errTokenUnavailable)
}

// stepUpRequired answers an upstream's step-up challenge with
// Config.StepUp, given the browser's request (out is the upstream one).
func (h *Handler) stepUpRequired(w http.ResponseWriter, out *http.Request, c StepUpChallenge) {
	in := out
	if ow, ok := w.(*observedWriter); ok && ow.in != nil {
		in = ow.in
	}
	if h.stepUp != nil {
		h.stepUp(w, in, c)
		return
	}
	writeStepUp(w, c)
}
