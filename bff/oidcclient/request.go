package oidcclient

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// This file holds the one request every client-authenticated endpoint
// (token, PAR, revocation, introspection) gets. It is written here rather
// than left to x/oauth2 because a request must be built anew per attempt:
// a DPoP-Nonce challenge (RFC 9449 section 8) is answered by sending the
// request again with a new proof carrying the nonce and a new client
// assertion (providers refuse an assertion's jti twice), and x/oauth2 can
// neither add a header per request nor send a request again.

// maxAnswer bounds what is read of a provider's answer.
const maxAnswer = 1 << 20

// answer is a provider's answer to a call.
type answer struct {
	status int
	body   []byte
}

// call POSTs form to endpoint with the client's authentication and, when
// key is set, a DPoP proof with the last nonce the server gave. A
// use_dpop_nonce challenge is answered once. A provider that cannot be
// reached, or answers 5xx, is ErrUnavailable; any other answer is
// returned for the caller to read. form is not modified.
func (c *Client) call(ctx context.Context, m *metadata, endpoint string, form url.Values, key *DPoPKey) (*answer, error) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	origin := originOf(endpoint)
	for attempt := 0; ; attempt++ {
		a, nonce, err := c.post(ctx, m, endpoint, maps.Clone(form), key, c.nonces.get(origin))
		c.nonces.set(origin, nonce)
		if err != nil {
			return nil, err
		}
		if attempt == 0 && key != nil && nonce != "" && a.status >= 400 && errorCode(a.body) == "use_dpop_nonce" {
			continue
		}
		return a, nil
	}
}

// post makes one attempt; nonce is the DPoP-Nonce the answer carried.
func (c *Client) post(ctx context.Context, m *metadata, endpoint string, form url.Values, key *DPoPKey, lastNonce string) (*answer, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, nil)
	if err != nil {
		return nil, "", fmt.Errorf("oidcclient: %w", err)
	}
	if err := c.auth.authenticate(req, form, m); err != nil {
		return nil, "", err
	}
	if key != nil {
		proof, err := key.Proof(http.MethodPost, htu(req.URL), lastNonce, "")
		if err != nil {
			return nil, "", err
		}
		req.Header.Set("DPoP", proof)
	}
	body := form.Encode()
	req.Body = io.NopCloser(strings.NewReader(body))
	req.ContentLength = int64(len(body))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	resp, err := c.tlsHTTP.Do(req)
	if err != nil {
		// The error text holds the URL only; never the form.
		return nil, "", fmt.Errorf("%w: %s unreachable", ErrUnavailable, endpointName(endpoint))
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		return nil, "", fmt.Errorf("%w: %s: reading the answer failed", ErrUnavailable, endpointName(endpoint))
	}
	if resp.StatusCode >= http.StatusInternalServerError {
		return nil, "", fmt.Errorf("%w: %s answered %d", ErrUnavailable, endpointName(endpoint), resp.StatusCode)
	}
	return &answer{status: resp.StatusCode, body: b}, resp.Header.Get("DPoP-Nonce"), nil
}

// htu is a DPoP proof's htu for u: without query and fragment (RFC 9449
// section 4.2).
func htu(u *url.URL) string {
	v := *u
	v.RawQuery, v.Fragment, v.RawFragment, v.User = "", "", "", nil
	return v.String()
}

func originOf(endpoint string) string {
	u, err := url.Parse(endpoint)
	if err != nil {
		return endpoint
	}
	return strings.ToLower(u.Scheme + "://" + u.Host)
}

// endpointName is the endpoint's path, for errors that must not hold a
// query (none of these endpoints has one, but a misconfigured one might).
func endpointName(endpoint string) string {
	if u, err := url.Parse(endpoint); err == nil {
		return u.Host + u.Path
	}
	return "provider endpoint"
}

// errorCode is the "error" member of an OAuth error answer (RFC 6749 5.2).
func errorCode(body []byte) string {
	var e struct {
		Error string `json:"error"`
	}
	_ = json.Unmarshal(body, &e)
	return e.Error
}

// tokenAnswer is a token endpoint's success answer (RFC 6749 5.1).
type tokenAnswer struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	RefreshToken string `json:"refresh_token"`
	IDToken      string `json:"id_token"`
	Scope        string `json:"scope"`
	expiry       time.Time
}

// token calls the token endpoint with form and reads a token answer. A
// refusal is ErrInvalidGrant or *TokenError, with the error code only:
// the provider's description and body are never kept.
func (c *Client) token(ctx context.Context, m *metadata, form url.Values, key *DPoPKey) (*tokenAnswer, error) {
	a, err := c.call(ctx, m, m.endpoint.TokenURL, form, key)
	if err != nil {
		return nil, err
	}
	if a.status != http.StatusOK {
		return nil, refusal(a)
	}
	var t struct {
		tokenAnswer
		ExpiresIn json.RawMessage `json:"expires_in"`
	}
	if err := json.Unmarshal(a.body, &t); err != nil || t.AccessToken == "" {
		return nil, fmt.Errorf("%w: token endpoint answered 200 without an access token", ErrUnavailable)
	}
	out := t.tokenAnswer
	// expires_in is a number; some providers send it as a string. Without
	// one the token is renewed in five minutes, never trusted forever.
	secs, err := strconv.ParseInt(strings.Trim(string(t.ExpiresIn), `"`), 10, 64)
	if err != nil || secs <= 0 {
		secs = 300
	}
	out.expiry = time.Now().Add(time.Duration(secs) * time.Second)
	if out.TokenType == "" {
		out.TokenType = "Bearer"
	}
	return &out, nil
}

// refusal maps a 4xx answer: invalid_grant is ErrInvalidGrant, any other
// code a *TokenError.
func refusal(a *answer) error {
	code := errorCode(a.body)
	if code == "invalid_grant" {
		return ErrInvalidGrant
	}
	if !validCode(code) {
		code = ""
	}
	return &TokenError{Code: code, Status: a.status}
}

// validCode keeps a provider's error code only when it looks like one
// (RFC 6749 5.2: %x20-21 / %x23-5B / %x5D-7E), so a log line never gets
// arbitrary text.
func validCode(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-' || r == '.') {
			return false
		}
	}
	return true
}
