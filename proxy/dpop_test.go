package proxy

import (
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
)

// textProver makes readable stand-in proofs: what a proof covers, so the
// upstream can check the proxy asked for the right one. Real proofs are
// tested end to end (e2e/fapi).
type textProver struct{}

func (textProver) Proof(method, htu, nonce, accessToken string) (string, error) {
	return method + " " + htu + " nonce=" + nonce + " ath=" + accessToken, nil
}

// nonceUpstream asks for a nonce once (RFC 9449 section 9) and then
// accepts proofs that carry it; it records what it saw.
type nonceUpstream struct {
	mu     sync.Mutex
	seen   []string // "METHOD auth | proof | body"
	issued bool
}

func (u *nonceUpstream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	u.mu.Lock()
	defer u.mu.Unlock()
	proof := r.Header.Get("DPoP")
	u.seen = append(u.seen, r.Method+" "+r.Header.Get("Authorization")+" | "+proof+" | "+string(body))
	if !strings.Contains(proof, "nonce=n1") {
		u.issued = true
		w.Header().Set("DPoP-Nonce", "n1")
		w.Header().Set("WWW-Authenticate", `DPoP error="use_dpop_nonce"`)
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	w.Header().Set("DPoP-Nonce", "n1")
	w.Write([]byte("ok"))
}

func (u *nonceUpstream) requests() []string {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]string(nil), u.seen...)
}

// A DPoP-bound credential goes as "Authorization: DPoP" with a proof for
// the exact upstream method and URL (without query); an upstream's nonce
// challenge is answered once and the nonce remembered; a small body is
// sent again; a streamed one is not, and the challenge reaches the client
// (the nonce remembered for its next try); DPoP-Nonce never reaches the
// browser, nor does a browser's own DPoP header reach the upstream.
func TestDPoPCredential(t *testing.T) {
	up := &nonceUpstream{}
	be := newBackend(t, up)
	_, fe := newFrontend(t, Config{
		Routes: []Route{{Prefix: "/api/orders/", Upstream: be.URL + "/v1", StripPrefix: true}},
		Tokens: TokenSourceFunc(func(*http.Request, *Route) (Credential, error) {
			return Credential{Token: "at-1", Proof: textProver{}}, nil
		}),
	})
	send := func(method, path string, body io.Reader, length int64) (*http.Response, string) {
		t.Helper()
		req, _ := http.NewRequest(method, fe.URL+path, body)
		if length != 0 {
			req.ContentLength = length
		}
		req.Header.Set("DPoP", "browser-proof")
		res, err := fe.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return res, readAll(t, res)
	}

	res, body := send(http.MethodGet, "/api/orders/42?x=1", nil, 0)
	want := []string{
		"GET DPoP at-1 | GET " + be.URL + "/v1/42 nonce= ath=at-1 | ",
		"GET DPoP at-1 | GET " + be.URL + "/v1/42 nonce=n1 ath=at-1 | ",
	}
	if res.StatusCode != http.StatusOK || body != "ok" || strings.Join(up.requests(), "\n") != strings.Join(want, "\n") {
		t.Fatalf("GET = %d %q; upstream saw\n%s\nwant\n%s", res.StatusCode, body, strings.Join(up.requests(), "\n"), strings.Join(want, "\n"))
	}
	if res.Header.Get("DPoP-Nonce") != "" {
		t.Errorf("DPoP-Nonce reached the browser: %q", res.Header.Get("DPoP-Nonce"))
	}

	// The nonce is remembered: one upstream request. (A body sent again
	// after a challenge needs an upstream that has not challenged yet:
	// the next two routes.)
	res, _ = send(http.MethodPost, "/api/orders/42", strings.NewReader("a=1"), 0)
	if n := len(up.requests()); res.StatusCode != http.StatusOK || n != 3 {
		t.Errorf("POST with the remembered nonce = %d after %d upstream requests, want 200 after 3", res.StatusCode, n)
	}

	up2 := &nonceUpstream{}
	be2 := newBackend(t, up2)
	_, fe2 := newFrontend(t, Config{
		Routes: []Route{{Prefix: "/api/x/", Upstream: be2.URL}},
		Tokens: TokenSourceFunc(func(*http.Request, *Route) (Credential, error) {
			return Credential{Token: "at-2", Proof: textProver{}}, nil
		}),
	})
	fe = fe2
	res, body = send(http.MethodPost, "/api/x/small", strings.NewReader("a=1"), 0)
	seen := up2.requests()
	if res.StatusCode != http.StatusOK || len(seen) != 2 || !strings.HasSuffix(seen[1], "| a=1") {
		t.Errorf("small POST after a challenge = %d %q; upstream saw %q, want 200 and the body sent twice", res.StatusCode, body, seen)
	}

	up3 := &nonceUpstream{}
	be3 := newBackend(t, up3)
	_, fe3 := newFrontend(t, Config{
		Routes: []Route{{Prefix: "/api/y/", Upstream: be3.URL}},
		Tokens: TokenSourceFunc(func(*http.Request, *Route) (Credential, error) {
			return Credential{Token: "at-3", Proof: textProver{}}, nil
		}),
	})
	fe = fe3
	res, _ = send(http.MethodPost, "/api/y/stream", io.MultiReader(strings.NewReader("chunk")), -1)
	if res.StatusCode != http.StatusUnauthorized || !strings.Contains(res.Header.Get("WWW-Authenticate"), "use_dpop_nonce") || len(up3.requests()) != 1 {
		t.Errorf("streamed POST challenged = %d %q after %d upstream requests, want the 401 challenge after 1",
			res.StatusCode, res.Header.Get("WWW-Authenticate"), len(up3.requests()))
	}
	res, _ = send(http.MethodPost, "/api/y/stream", io.MultiReader(strings.NewReader("chunk")), -1)
	if res.StatusCode != http.StatusOK {
		t.Errorf("streamed POST again = %d, want 200 (the nonce was remembered)", res.StatusCode)
	}
}

// A bearer route never sends the browser's DPoP header nor a DPoP scheme.
func TestBearerCredentialDropsBrowserDPoP(t *testing.T) {
	rec := &recorder{}
	be := newBackend(t, rec)
	_, fe := newFrontend(t, Config{Routes: []Route{{Prefix: "/api/a/", Upstream: be.URL}}, Tokens: staticTokens("tok")})
	req, _ := http.NewRequest(http.MethodGet, fe.URL+"/api/a/1", nil)
	req.Header.Set("DPoP", "browser-proof")
	res, err := fe.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	readAll(t, res)
	got := rec.last(t)
	if got.Header.Get("DPoP") != "" || got.Header.Get("Authorization") != "Bearer tok" {
		t.Errorf("upstream saw DPoP %q, Authorization %q; want none and Bearer tok", got.Header.Get("DPoP"), got.Header.Get("Authorization"))
	}
}
