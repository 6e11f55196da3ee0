package bff_test

import (
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/bff-project/bff/bff"
	"github.com/bff-project/bff/e2e/harness"
)

// TestRulesLeakNothing: along a session's rules and step-ups (a claims
// rule refusing, an acr rule and an API's RFC 9470 challenge asking for a
// step-up, the step-up sign-in, the retried calls), no answer to the
// browser and no log line holds a token, the verifier, the client secret
// or the key, and the refusals hold none of the user's claims.
func TestRulesLeakNothing(t *testing.T) {
	rec := &providerRecorder{base: &http.Transport{}}
	e := startStepUp(t, harness.Options{Config: func(c *bff.Config) { c.HTTPClient = &http.Client{Transport: rec} }})
	alice, bob := e.NewBrowser(), e.NewBrowser()
	alice.Login(t, e.url, harness.UserName, harness.UserPassword)
	bob.Login(t, e.url, harness.OtherName, harness.OtherPass)

	var refusals []string
	refuse := func(b *harness.Browser, method, path string, want int) {
		status, _, body := e.call(t, b, method, path, "/page")
		if status != want {
			t.Fatalf("%s %s = %d %s, want %d", method, path, status, body, want)
		}
		refusals = append(refusals, body)
	}
	refuse(bob, "GET", "/api/admin/x", http.StatusForbidden)
	refuse(alice, "DELETE", "/api/staff/x", http.StatusForbidden)
	refuse(alice, "POST", "/api/pay/x", http.StatusUnauthorized)
	refuse(alice, "GET", "/api/payments/challenge/x", http.StatusUnauthorized)
	_, a, _ := e.call(t, alice, "POST", "/api/pay/x", "")
	if resp, body := alice.SignInAt(t, e.url, a.LoginURL, harness.UserName, harness.UserPassword); resp.StatusCode != http.StatusFound {
		t.Fatalf("step-up callback = %d %s", resp.StatusCode, body)
	}
	for _, p := range []string{"/api/pay/x", "/api/payments/challenge/x", "/api/admin/x"} {
		if status, _, body := e.call(t, alice, "POST", p, ""); status != http.StatusOK {
			t.Fatalf("POST %s after step-up = %d %s", p, status, body)
		}
	}

	secrets := secretSet{}
	issued := e.OP.IssuedTokens()
	codes, verifiers := rec.seen()
	if len(issued) < 6 || len(codes) != 3 {
		t.Fatalf("observed %d issued tokens and %d codes, want >= 6 and 3 sign-ins", len(issued), len(codes))
	}
	for i, tok := range issued {
		secrets.addToken("issued token "+strconv.Itoa(i), tok)
	}
	for i, v := range verifiers {
		secrets.add("verifier "+strconv.Itoa(i), v)
	}
	secrets.add("client secret", harness.ClientSecret)
	keySecrets(secrets, "encryption key", e.Key)
	for _, b := range []*harness.Browser{alice, bob} {
		for _, r := range b.Seen() {
			var text strings.Builder
			for name, values := range r.Header {
				text.WriteString(name + ": " + strings.Join(values, "\n") + "\n")
			}
			text.WriteString(r.Body)
			if found := secrets.findIn(text.String()); len(found) > 0 {
				t.Errorf("response %d %s contains %v", r.Status, r.URL, found)
			}
		}
	}
	for i, c := range codes {
		secrets.add("code "+strconv.Itoa(i), c)
	}
	if found := secrets.findIn(e.Logs.String()); len(found) > 0 {
		t.Errorf("BFF log contains %v", found)
	}
	// A refusal says what to do, never what the session holds.
	for _, body := range refusals {
		for _, claim := range []string{"admins", "staff", "alice@example.test", "bob@example.test", harness.UserSubject, harness.OtherSubject, `"pwd"`} {
			if strings.Contains(body, claim) {
				t.Errorf("refusal %s shows the claim value %q", body, claim)
			}
		}
	}
}
