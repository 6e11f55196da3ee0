package proxy_test

import (
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"net/netip"

	"github.com/bff-project/bff/proxy"
)

// A BFF mounts the Handler on its API prefixes, behind its anti-forgery
// middleware, and gives it a TokenSource backed by the session.
func ExampleNew() {
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%s %s", r.URL.Path, r.Header.Get("Authorization"))
	}))
	defer api.Close()

	h, err := proxy.New(proxy.Config{
		Routes: []proxy.Route{{
			Prefix:      "/api/orders/",
			Upstream:    api.URL + "/v1",
			StripPrefix: true,
			Audience:    "orders-api",
			Scopes:      []string{"orders.read"},
		}},
		Tokens: proxy.TokenSourceFunc(func(r *http.Request, route *proxy.Route) (proxy.Credential, error) {
			// bff: the session's token for this audience (and, when it is
			// DPoP-bound, Proof: the session's key).
			return proxy.Credential{Token: "token-for-" + route.Audience}, nil
		}),
		TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")},
	})
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	for _, rt := range h.Routes() {
		mux.Handle(rt.Prefix, h)
	}

	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest("GET", "/api/orders/42", nil))
	fmt.Println(rec.Code, rec.Body.String())
	// Output: 200 /v1/42 Bearer token-for-orders-api
}
