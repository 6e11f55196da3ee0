package browser

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/bff-project/bff/bff"
	"github.com/bff-project/bff/bff/config"
	"github.com/bff-project/bff/e2e/harness"
)

// TestStepUpJourney walks the demo SPA's step-up in a real browser: a
// call to an API that needs a second factor answers step_up_required, the
// SPA offers the stronger sign-in, the provider's form says a second
// factor is asked for, and back in the app the SPA retries the call,
// which now passes with a token of acr mfa; the session shows the new
// strength. No token reaches the browser on the way.
func TestStepUpJourney(t *testing.T) {
	chromiumPath(t) // skip before starting servers
	env := harness.Start(t, harness.Options{Config: func(c *bff.Config) {
		c.APIs = append(c.APIs, config.APIConfig{Prefix: "/api/payments/", Upstream: c.APIs[0].Upstream, StripPrefix: true,
			Audience: "orders-api", Scopes: []string{"orders.read"}, Require: []config.RuleConfig{{ACR: []string{"mfa"}}}})
	}})
	app := env.Default.URL
	b := newTab(t, "step-up")
	rec := record(b, app, env.OPURL)
	console := watchConsole(b)
	signIn(b, app, env.OPURL, false)
	if got := b.text("#session-info"); !strings.Contains(got, "password (pwd)") {
		t.Errorf("#session-info = %q, want the sign-in strength password (pwd)", got)
	}

	b.waitFor("the payments button", `!!document.querySelector('.api-call[data-prefix="/api/payments/"]')`, stepTimeout)
	b.click(`.api-call[data-prefix="/api/payments/"]`)
	b.waitFor("the step-up offer", `!document.querySelector("#step-up").hidden`, stepTimeout)
	if got := b.attrs("#api-result", "data-status"); len(got) != 1 || got[0] != "401" {
		t.Errorf("#api-result data-status = %q, want 401", got)
	}
	if got := b.text("#step-up-text"); !strings.Contains(got, "level mfa") {
		t.Errorf("#step-up-text = %q, want it to name level mfa", got)
	}
	b.screenshot("step-up.png")
	if b.text("#user-name") == "" {
		t.Error("the step_up_required answer signed the SPA out")
	}

	b.click("#step-up-go")
	b.waitFor("the provider's login form", fmt.Sprintf(
		`location.origin === %q && !!document.querySelector("#username")`, env.OPURL), stepTimeout)
	if got := b.text("#second-factor"); !strings.Contains(got, "second factor") {
		t.Errorf("the login form does not say a second factor is asked for: %q", got)
	}
	b.run("type the credentials",
		chromedp.SendKeys("#username", harness.UserName, chromedp.ByQuery),
		chromedp.SendKeys("#password", harness.UserPassword, chromedp.ByQuery))
	b.click("#submit")
	b.waitState(app, "signed-in", stepTimeout)
	b.waitFor("the retried call", `document.querySelector("#api-result").dataset.status === "200"`, stepTimeout)
	var got whoami
	if err := json.Unmarshal([]byte(b.text("#api-result")), &got); err != nil || got.ACR != "mfa" || got.Sub != harness.UserSubject {
		t.Errorf("#api-result = %q (%v), want the API's answer for %s with acr mfa", b.text("#api-result"), err, harness.UserSubject)
	}
	b.waitFor("the new strength", `document.querySelector("#session-info").textContent.includes("second factor (mfa)")`, stepTimeout)
	var pending bool
	b.eval("pending step-up", `sessionStorage.getItem("bff-demo-step-up") !== null`, &pending)
	if pending {
		t.Error("the retried call is still remembered for after a step-up")
	}
	console.check()
	rec.snapshot("after step-up")

	t.Run("NoTokenReachesTheBrowser", func(t *testing.T) {
		found, _ := rec.search(env.OP.IssuedTokens(), func(seen) bool { return false })
		for _, f := range found {
			t.Errorf("token #%d reached the browser: %s of %s", f.token, f.item.what, f.item.url)
		}
	})
}
