// Package browser holds end-to-end tests that drive a real headless
// Chromium (through github.com/chromedp/chromedp) against the development
// provider, the sample APIs and a BFF serving the demo SPA, all started by
// [github.com/bff-project/bff/e2e/harness] on loopback.
//
// The tests skip when no Chromium is on PATH, unless BFF_TEST_REQUIRE lists
// "chromium", in which case they fail. Run with -screenshots to refresh the
// PNG files in docs/screenshots:
//
//	go test ./e2e/browser/ -args -screenshots
//
// The package has no non-test code apart from this comment.
package browser
