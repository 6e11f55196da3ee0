package proxy

import (
	"bytes"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
)

// This file attaches DPoP-bound tokens (RFC 9449 section 7): the
// Authorization scheme, a fresh proof per request for the exact upstream
// method and URL, and one answer to an upstream's use_dpop_nonce
// challenge (section 9).

// maxReplayBody is the largest request body kept in memory on a DPoP
// route so that a nonce challenge can be answered by sending the request
// again. A larger (or streamed) body is not kept: the challenge then goes
// back to the browser as the upstream sent it (401 with a DPoP
// WWW-Authenticate), while the nonce is remembered, so the SPA's next try
// carries it and passes.
const maxReplayBody = 64 << 10

// nonceCell is the last DPoP-Nonce an upstream server gave, shared by the
// routes to the same origin.
type nonceCell struct{ v atomic.Pointer[string] }

func (c *nonceCell) get() string {
	if p := c.v.Load(); p != nil {
		return *p
	}
	return ""
}

func (c *nonceCell) set(n string) {
	if n != "" && n != c.get() {
		c.v.Store(&n)
	}
}

// setDPoP sets the DPoP-bound credential on out: "Authorization: DPoP"
// and a proof for out's method and URL with the upstream's last nonce. A
// proof that cannot be made (it cannot happen with a valid key) leaves the
// request without one, and the upstream refuses it.
func (h *Handler) setDPoP(rt *route, out *http.Request, cred Credential) {
	out.Header["Authorization"] = []string{"DPoP " + cred.Token}
	proof, err := cred.Proof.Proof(out.Method, htu(out.URL), rt.nonce.get(), cred.Token)
	if err != nil {
		h.log.Error("proxy: dpop proof failed", "route", rt.Prefix, "err", err)
		return
	}
	out.Header["Dpop"] = []string{proof}
}

// htu is the proof's target URI: the request URL without query and
// fragment.
func htu(u *url.URL) string {
	return u.Scheme + "://" + u.Host + u.EscapedPath()
}

// replayable keeps r's body in memory, when it is small and its length
// known, so that a nonce challenge can be answered by sending it again.
func replayable(r *http.Request) {
	if r.Body == nil || r.Body == http.NoBody || r.ContentLength <= 0 || r.ContentLength > maxReplayBody {
		return
	}
	b, err := io.ReadAll(io.LimitReader(r.Body, r.ContentLength))
	if err != nil {
		// The upstream gets what could be read, and the length check
		// fails it; nothing to replay.
		r.Body = io.NopCloser(io.MultiReader(bytes.NewReader(b), r.Body))
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(b))
	r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
}

// dpopTransport answers an upstream's use_dpop_nonce challenge to a
// DPoP-bound request once, and remembers every nonce an upstream gives.
// Bearer requests pass straight through.
type dpopTransport struct {
	next http.RoundTripper
	rt   *route
	h    *Handler
}

func (t *dpopTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Header["Dpop"] == nil {
		return t.next.RoundTrip(req)
	}
	res, err := t.next.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	nonce := res.Header.Get("Dpop-Nonce")
	t.rt.nonce.set(nonce)
	if res.StatusCode != http.StatusUnauthorized || nonce == "" || !nonceChallenge(res.Header) {
		return res, nil
	}
	retry, ok := t.again(req)
	if !ok {
		return res, nil
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, 64<<10))
	res.Body.Close()
	res, err = t.next.RoundTrip(retry)
	if err == nil {
		t.rt.nonce.set(res.Header.Get("Dpop-Nonce"))
	}
	return res, err
}

// again is req with a new proof carrying the new nonce, or false when its
// body cannot be sent again.
func (t *dpopTransport) again(req *http.Request) (*http.Request, bool) {
	cred := tokenFrom(req.Context())
	if cred.Proof == nil {
		return nil, false
	}
	retry := req.Clone(req.Context())
	if req.Body != nil && req.Body != http.NoBody {
		if req.GetBody == nil {
			return nil, false
		}
		body, err := req.GetBody()
		if err != nil {
			return nil, false
		}
		retry.Body = body
	}
	t.h.setDPoP(t.rt, retry, cred)
	return retry, true
}

// nonceChallenge reports whether a WWW-Authenticate header holds a DPoP
// challenge with error="use_dpop_nonce".
func nonceChallenge(h http.Header) bool {
	for _, v := range h["Www-Authenticate"] {
		if strings.Contains(v, "use_dpop_nonce") && strings.Contains(strings.ToLower(v), "dpop") {
			return true
		}
	}
	return false
}
