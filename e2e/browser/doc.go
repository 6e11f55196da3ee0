// Package browser holds end-to-end tests that drive a real headless
// Chromium (through github.com/chromedp/chromedp) against the development
// provider, the sample APIs and a BFF serving the demo SPA, all started by
// [github.com/bff-project/bff/e2e/harness] on loopback.
//
// The tests skip when no Chromium is on PATH, unless BFF_TEST_REQUIRE lists
// "chromium", in which case they fail. Every run saves a PNG of each main
// view (signed-out.png, login.png, signed-in.png, session-ended.png) in
// e2e/browser/screenshots/ (not committed); run with -screenshots to also
// refresh the committed copies in docs/screenshots that the README shows:
//
//	go test ./e2e/browser/ -args -screenshots
//
// The package has no non-test code apart from this comment.
package browser
