package devop

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// BackChannelLogoutEvent is the events member of a logout token
// (OpenID Connect Back-Channel Logout 1.0, section 2.4).
const BackChannelLogoutEvent = "http://schemas.openid.net/event/backchannel-logout"

// FrontChannelLogoutPath is the provider's page that signs a provider
// session out of its clients by OpenID Connect Front-Channel Logout 1.0:
// GET it with ?sid=<the provider's sid> and it frames each client's
// FrontChannelLogoutURI with iss and sid, in hidden iframes, as a provider
// does on its logout page. It ends no session of its own.
const FrontChannelLogoutPath = "/frontchannel-logout"

func (p *Provider) serveFrontChannelLogout(w http.ResponseWriter, r *http.Request) {
	sid := r.URL.Query().Get("sid")
	p.store.mu.Lock()
	var frames strings.Builder
	for _, c := range p.store.clients {
		if c.cfg.FrontChannelLogoutURI == "" {
			continue
		}
		src := c.cfg.FrontChannelLogoutURI + "?" + url.Values{"iss": {p.issuer}, "sid": {sid}}.Encode()
		fmt.Fprintf(&frames, `<iframe class="rp" hidden src="%s"></iframe>`, html.EscapeString(src))
	}
	p.store.mu.Unlock()
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = io.WriteString(w, `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Signing out</title></head>`+
		`<body><h1 id="signing-out">Signing you out of your applications…</h1>`+frames.String()+`</body></html>`)
}

// SignLogoutToken signs claims as they are with the provider's current
// signing key (RS256, kid and typ "logout+jwt" headers). It adds nothing,
// so tests can build malformed logout tokens.
func (p *Provider) SignLogoutToken(claims map[string]any) (string, error) {
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", fmt.Errorf("devop: logout token: %w", err)
	}
	return p.store.key.sign(payload, "logout+jwt")
}

// LogoutTokenClaims returns the claims of a valid logout token for
// clientID: iss, aud, iat, exp (2 minutes), jti, events, and sub and sid
// when not empty.
func (p *Provider) LogoutTokenClaims(clientID, sub, sid string) map[string]any {
	now := time.Now()
	c := map[string]any{
		"iss":    p.issuer,
		"aud":    clientID,
		"iat":    now.Unix(),
		"exp":    now.Add(2 * time.Minute).Unix(),
		"jti":    rand.Text(),
		"events": map[string]any{BackChannelLogoutEvent: map[string]any{}},
	}
	if sub != "" {
		c["sub"] = sub
	}
	if sid != "" {
		c["sid"] = sid
	}
	return c
}

// BackChannelLogout sends an OpenID Connect Back-Channel Logout 1.0 logout
// token for sub and/or sid (at least one is required) to every client with
// a BackChannelLogoutURI, as a form POST with the logout_token field. It
// tries every client and returns the first error; a non-2xx answer is an
// error. It does not revoke any token: it only notifies the clients. With
// Config.Like "entra", which has no back-channel logout, it sends nothing
// and returns an error.
func (p *Provider) BackChannelLogout(ctx context.Context, sub, sid string) error {
	if sub == "" && sid == "" {
		return errors.New("devop: back-channel logout: sub or sid is required")
	}
	if !p.store.like.backChannelLogout() {
		return fmt.Errorf("devop: back-channel logout: not supported with Like %q", p.store.like.mode)
	}
	p.store.mu.Lock()
	targets := map[string]string{}
	for id, c := range p.store.clients {
		if c.cfg.BackChannelLogoutURI != "" {
			targets[id] = c.cfg.BackChannelLogoutURI
		}
	}
	p.store.mu.Unlock()
	var first error
	for id, uri := range targets {
		if err := p.sendLogoutToken(ctx, id, uri, sub, sid); err != nil && first == nil {
			first = err
		}
	}
	return first
}

func (p *Provider) sendLogoutToken(ctx context.Context, clientID, uri, sub, sid string) error {
	token, err := p.SignLogoutToken(p.LogoutTokenClaims(clientID, sub, sid))
	if err != nil {
		return err
	}
	body := url.Values{"logout_token": {token}}.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, uri, strings.NewReader(body))
	if err != nil {
		return fmt.Errorf("devop: back-channel logout to %s: %w", clientID, err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := p.httpClient.Do(req)
	if err != nil {
		return fmt.Errorf("devop: back-channel logout to %s: %w", clientID, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("devop: back-channel logout to %s: status %s", clientID, resp.Status)
	}
	return nil
}

// serveFrontChannelDiscovery serves op's discovery document with
// frontchannel_logout_supported and frontchannel_logout_session_supported
// (OpenID Connect Front-Channel Logout 1.0, section 3), which op does not
// write, for providers that offer front-channel but no back-channel logout
// (Config.Like "entra").
func (p *Provider) serveFrontChannelDiscovery(w http.ResponseWriter, r *http.Request) {
	rec := &recorder{header: http.Header{}, status: http.StatusOK}
	p.op.ServeHTTP(rec, r)
	var doc map[string]any
	if rec.status != http.StatusOK || json.Unmarshal(rec.body.Bytes(), &doc) != nil {
		http.Error(w, "discovery unavailable", http.StatusInternalServerError)
		return
	}
	doc["frontchannel_logout_supported"] = true
	doc["frontchannel_logout_session_supported"] = true
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(doc)
}
