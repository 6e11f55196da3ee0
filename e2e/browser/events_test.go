package browser

import (
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/bff-project/bff/bff"
	"github.com/bff-project/bff/e2e/devop"
	"github.com/bff-project/bff/e2e/harness"
)

// openApp opens the app in t and waits for the signed-in view.
func openApp(b *tab, app string) {
	b.t.Helper()
	b.run("open the app", chromedp.Navigate(app+"/"))
	b.waitState(app, "signed-in", stepTimeout)
	b.markDocument()
}

// wantSignedOut waits for b's open page (no reload) to show the
// signed-out view for reason, as its event stream told it.
func wantSignedOut(b *tab, reason string, start time.Time) {
	b.t.Helper()
	b.waitFor(b.name+" to show signed-out without a reload",
		`window.__e2eOld === true && document.body.dataset.state === "signed-out"`, endWait)
	b.t.Logf("%s showed signed-out %v after the end", b.name, time.Since(start).Round(10*time.Millisecond))
	checkSessionEnded(b)
	checkEndedReason(b, reason)
}

// TestTabsHearSignOut: signing out in tab A shows the signed-out screen,
// with why, in tab B of the same browser, without a reload.
func TestTabsHearSignOut(t *testing.T) {
	chromiumPath(t)
	env := harness.Start(t, harness.Options{})
	app := env.Default.URL
	a := newTab(t, "tab A")
	signIn(a, app, env.OPURL, false)
	b := a.sibling("tab B")
	console := watchConsole(b)
	openApp(b, app)

	start := time.Now()
	a.click("#sign-out")
	wantSignedOut(b, "logout", start)
	console.check()
}

// TestExpiryBannerInEveryTab: before the idle timeout every open tab shows
// "you will be signed out in N s"; "Stay signed in" in one tab hides it in
// all (keepalive, then a session event); left alone, the session expires
// and every tab shows why.
func TestExpiryBannerInEveryTab(t *testing.T) {
	chromiumPath(t)
	env := harness.Start(t, harness.Options{Config: func(c *bff.Config) {
		c.Session.IdleTimeout, c.Session.ExpiryWarning = 8*time.Second, 6*time.Second
	}})
	app := env.Default.URL
	a := newTab(t, "tab A")
	signIn(a, app, env.OPURL, false)
	a.markDocument()
	b := a.sibling("tab B")
	openApp(b, app)
	banner := `!document.querySelector("#expiring-banner").hidden`
	for _, tb := range []*tab{a, b} {
		tb.waitFor(tb.name+"'s expiry banner", banner, stepTimeout)
	}
	if got := b.text("#expiring-text"); len(got) < len("You will be signed out in") || got[:len("You will be signed out in")] != "You will be signed out in" {
		t.Errorf("banner text = %q, want \"You will be signed out in N s.\"", got)
	}
	b.screenshot("expiring.png")

	a.click("#expiring-stay")
	for _, tb := range []*tab{a, b} {
		tb.waitFor(tb.name+"'s banner to go after stay signed in", "!("+banner+")", stepTimeout)
		tb.waitFor(tb.name+" still signed in", `window.__e2eOld === true && document.body.dataset.state === "signed-in"`, time.Second)
	}
	// Left alone now: warned again, then signed out, in both.
	start := time.Now()
	for _, tb := range []*tab{a, b} {
		tb.waitFor(tb.name+"'s expiry banner again", banner, stepTimeout)
	}
	for _, tb := range []*tab{a, b} {
		tb.waitFor(tb.name+" to show signed-out", `document.body.dataset.state === "signed-out"`, stepTimeout)
		checkEndedReason(tb, "expired")
	}
	t.Logf("expired %v after the second warning", time.Since(start).Round(10*time.Millisecond))
}

// TestFrontchannelLogoutInFrame: the development provider's front-channel
// logout page, on the provider's origin, frames the BFF's
// /bff/frontchannel-logout with iss and sid in a cross-site iframe, as
// Entra ID does; the session ends and the app's open tab shows why.
func TestFrontchannelLogoutInFrame(t *testing.T) {
	chromiumPath(t)
	env := harness.Start(t, harness.Options{Config: func(c *bff.Config) { c.OIDC.FrontchannelLogout = new(true) }})
	app := env.Default.URL
	a := newTab(t, "app")
	signIn(a, app, env.OPURL, false)
	a.markDocument()
	var u harness.User
	if got := a.fetchJSON("/bff/user", &u); got != http.StatusOK {
		t.Fatalf("GET /bff/user = %d", got)
	}
	sid, _ := u.Claims["sid"].(string)

	op := a.sibling("provider page")
	console := watchConsole(op)
	start := time.Now()
	op.run("open the provider's front-channel logout page",
		chromedp.Navigate(env.OPURL+devop.FrontChannelLogoutPath+"?sid="+url.QueryEscape(sid)))
	wantSignedOut(a, "frontchannel", start)
	if got := a.fetchJSON("/bff/user", nil); got != http.StatusUnauthorized {
		t.Errorf("GET /bff/user after the front-channel logout = %d, want 401", got)
	}
	console.check() // no framing refused by the page's CSP
}
