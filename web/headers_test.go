package web

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestSetSecurityHeaders(t *testing.T) {
	tests := []struct {
		name string
		csp  string
		want string
	}{
		{name: "default", csp: "", want: DefaultCSP},
		{name: "custom", csp: "default-src 'none'", want: "default-src 'none'"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			h.Set("X-Frame-Options", "SAMEORIGIN")
			h.Add("Content-Security-Policy", "default-src *")
			h.Set("Content-Type", "application/json")
			SetSecurityHeaders(h, tt.csp)
			checkSecurityHeaders(t, h, tt.want)
			if got := h.Values("Content-Security-Policy"); len(got) != 1 {
				t.Errorf("Content-Security-Policy values = %q, want exactly one", got)
			}
			if got := h.Get("Content-Type"); got != "application/json" {
				t.Errorf("Content-Type = %q, want it left alone", got)
			}
		})
	}
}

// The bff package sets the same headers on its own JSON answers.
func ExampleSetSecurityHeaders() {
	rec := httptest.NewRecorder()
	SetSecurityHeaders(rec.Header(), "")
	fmt.Println(rec.Header().Get("X-Frame-Options"))
	fmt.Println(rec.Header().Get("Content-Security-Policy") == DefaultCSP)
	// Output:
	// DENY
	// true
}

func ExampleNew() {
	h, err := New(Config{}) // the embedded demo SPA with DefaultCSP
	if err != nil {
		panic(err)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/some/client/route", nil))
	fmt.Println(rec.Code, rec.Header().Get("Content-Type"), rec.Header().Get("Cache-Control"))
	// Output:
	// 200 text/html; charset=utf-8 no-cache
}
