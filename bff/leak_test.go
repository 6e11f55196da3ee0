package bff_test

import (
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/bff-project/bff/e2e/harness"
)

// secretSet is named secret values to look for.
type secretSet map[string]string

func (s secretSet) add(name, value string) {
	if value != "" {
		s[name] = value
	}
}

// addToken adds a token and, for a JWT, its payload and signature parts, so
// that a token cut up or re-encoded around its dots is still found.
func (s secretSet) addToken(name, tok string) {
	s.add(name, tok)
	parts := strings.Split(tok, ".")
	if len(parts) == 3 {
		s.add(name+" payload", parts[1])
		s.add(name+" signature", parts[2])
	}
}

// findIn returns the names of the secrets that occur in text.
func (s secretSet) findIn(text string) []string {
	var found []string
	for name, v := range s {
		if strings.Contains(text, v) {
			found = append(found, name)
		}
	}
	return found
}

// keySecrets are the encryption key as configured and its raw bytes in the
// encodings a careless handler might print.
func keySecrets(s secretSet, name, key string) {
	s.add(name, key)
	raw, err := base64.StdEncoding.DecodeString(key)
	if err != nil {
		return
	}
	s.add(name+" raw", string(raw))
	s.add(name+" base64url", base64.RawURLEncoding.EncodeToString(raw))
	s.add(name+" hex", hex.EncodeToString(raw))
}

// No response the browser gets, and no log line, holds a token, the PKCE
// verifier, the client secret or the encryption key; the log holds neither
// the session cookie nor the authorization code.
func TestNoSecretsReachBrowserOrLog(t *testing.T) {
	env, rec := start(t, nil)
	bffURL := env.Default.URL
	b := env.NewBrowser()
	s := signInAs(t, b, bffURL, "/deep/path?x=1", harness.UserName, harness.UserPassword)
	b.User(t, bffURL, http.StatusOK)
	for _, api := range []string{"/api/orders/whoami", "/api/profile/whoami"} {
		if resp, body := b.Call(t, http.MethodGet, bffURL+api, nil); resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s = %d %s, want 200", api, resp.StatusCode, body)
		}
	}
	if resp, body := b.Call(t, http.MethodGet, bffURL+"/bff/sessions", nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /bff/sessions = %d %s, want 200", resp.StatusCode, body)
	}
	// The event stream over the session's life: on connect, after a
	// keepalive, at the end.
	events := harness.OpenEvents(t, &http.Client{Jar: b.Client.Jar, Transport: b.Client.Transport}, harness.EventsRequest(t, bffURL+"/bff/events"))
	var stream strings.Builder
	record := func(ev harness.Event) harness.Event {
		stream.WriteString(ev.Name + " " + ev.ID + " " + ev.Data + "\n")
		return ev
	}
	for ev := events.Next(t); ev.Name != "session"; ev = events.Next(t) {
		record(ev)
	}
	if resp, body := b.Call(t, http.MethodPost, bffURL+"/bff/keepalive", nil); resp.StatusCode != http.StatusNoContent {
		t.Fatalf("POST /bff/keepalive = %d %s, want 204", resp.StatusCode, body)
	}
	u := b.User(t, bffURL, http.StatusOK)
	sid, _ := u.Claims["sid"].(string)
	cookie := b.Cookie(bffURL, sessionCookie)
	// Not /bff/logout: its redirect carries the ID token as id_token_hint,
	// the one exception the protocol demands.
	if resp, _ := b.Call(t, http.MethodDelete, bffURL+"/bff/sessions/"+u.Session.ID, nil); resp.StatusCode != http.StatusNoContent {
		t.Fatalf("DELETE /bff/sessions/{id} = %d, want 204", resp.StatusCode)
	}
	for ev := record(events.Next(t)); ev.Name != "ended"; ev = record(events.Next(t)) {
	}

	issued := env.OP.IssuedTokens()
	codes, verifiers := rec.seen()
	// Sign-in gives access, refresh and ID tokens; the profile API's token
	// exchange gives at least one more. Without them this test proves
	// nothing.
	if len(issued) < 4 || len(verifiers) != 1 || len(codes) != 1 {
		t.Fatalf("observed %d issued tokens, %d verifiers, %d codes; want >= 4, 1, 1", len(issued), len(verifiers), len(codes))
	}
	if got, want := codes[0], s.callback.Query().Get("code"); got != want {
		t.Fatalf("code sent to the token endpoint = %q, want the callback's %q", got, want)
	}

	browserSecrets := secretSet{}
	for i, tok := range issued {
		browserSecrets.addToken("issued token "+strconv.Itoa(i), tok)
	}
	browserSecrets.add("PKCE code_verifier", verifiers[0])
	browserSecrets.add("client secret", harness.ClientSecret)
	keySecrets(browserSecrets, "encryption key", env.Key)

	// Events say times, acr and reasons: not the provider's sid either.
	eventSecrets := secretSet{}
	for k, v := range browserSecrets {
		eventSecrets.add(k, v)
	}
	eventSecrets.add("provider sid", sid)
	eventSecrets.add("session cookie", cookie)
	if found := eventSecrets.findIn(stream.String()); len(found) > 0 {
		t.Errorf("event stream contains %v:\n%s", found, stream.String())
	}

	seen := b.Seen()
	if len(seen) < 8 {
		t.Fatalf("browser saw %d responses, want the whole sign-in and the calls", len(seen))
	}
	for _, r := range seen {
		var text strings.Builder
		for name, values := range r.Header {
			text.WriteString(name + ": " + strings.Join(values, "\n") + "\n")
		}
		text.WriteString(r.Body)
		if found := browserSecrets.findIn(text.String()); len(found) > 0 {
			t.Errorf("response %d %s contains %v", r.Status, r.URL, found)
		}
	}

	logs := env.Logs.String()
	if !strings.Contains(logs, "signed in") {
		t.Fatalf("BFF log has no sign-in line; is the logger wired?\n%s", logs)
	}
	logSecrets := secretSet{}
	for k, v := range browserSecrets {
		logSecrets.add(k, v)
	}
	logSecrets.add("session cookie", cookie)
	if c := responseCookie(s.login, loginCookie); c != nil {
		logSecrets.add("login cookie", c.Value)
	}
	logSecrets.add("authorization code", codes[0])
	if found := logSecrets.findIn(logs); len(found) > 0 {
		t.Errorf("BFF log contains %v", found)
	}
}
