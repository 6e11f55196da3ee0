package web

import (
	"mime"
	"net/http"
	"strings"
)

// wantsData reports whether r is a script's call for data rather than a
// navigation: it carries the BFF's anti-forgery header (only the app's
// scripts send it), or its Accept header asks for JSON and not HTML.
func wantsData(r *http.Request) bool {
	if len(r.Header["X-Csrf"]) > 0 {
		return true
	}
	json, html := false, false
	for _, v := range r.Header.Values("Accept") {
		for part := range strings.SplitSeq(v, ",") {
			mt, _, err := mime.ParseMediaType(strings.TrimSpace(part))
			if err != nil {
				continue
			}
			switch {
			case mt == "text/html" || mt == "application/xhtml+xml":
				html = true
			case mt == "application/json" || strings.HasSuffix(mt, "+json"):
				json = true
			}
		}
	}
	return json && !html
}

// notFoundJSON is the answer of the contract's JSON error shape.
const notFoundJSON = `{"error":"not_found","error_description":"Nothing is served at this path."}` + "\n"

func writeNotFoundJSON(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusNotFound)
	_, _ = w.Write([]byte(notFoundJSON))
}
