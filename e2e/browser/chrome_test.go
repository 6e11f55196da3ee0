package browser

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// Viewport of every tab, and so of every screenshot.
const (
	viewportWidth  = 1100
	viewportHeight = 800
)

// stepTimeout bounds every browser step; the whole suite takes seconds.
const stepTimeout = 15 * time.Second

var updateScreenshots = flag.Bool("screenshots", false, "also write the screenshots to docs/screenshots (the README's)")

// Every run writes its screenshots to e2e/browser/screenshots (ignored by
// git, since they carry timestamps); -screenshots also refreshes the
// committed copies in docs/screenshots. Paths are relative to this
// package's directory, where go test runs.
const (
	screenshotDir     = "screenshots"
	docsScreenshotDir = "../../docs/screenshots"
)

// envRequire lists (comma-separated) the test dependencies that must be
// present; a missing one fails the test instead of skipping it.
const envRequire = "BFF_TEST_REQUIRE"

// chromiumPath returns the Chromium binary on PATH. Without one it skips
// t, or fails it when BFF_TEST_REQUIRE lists "chromium".
func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	const msg = "chromium not on PATH; install it with apt-get install -y chromium"
	if required("chromium") {
		t.Fatalf("%s (%s=%q requires it)", msg, envRequire, os.Getenv(envRequire))
	}
	t.Skip(msg)
	return ""
}

func required(what string) bool {
	for item := range strings.SplitSeq(os.Getenv(envRequire), ",") {
		if strings.EqualFold(strings.TrimSpace(item), what) {
			return true
		}
	}
	return false
}

// tab is one headless Chromium process with a fresh profile and one tab.
type tab struct {
	t    *testing.T
	name string // for messages: "device A"
	ctx  context.Context
	// raw, when set, sees every CDP message from the browser before
	// chromedp decodes it (see [recorder.raw]).
	raw atomic.Pointer[func(msg []byte)]
}

// newTab starts a Chromium process with its own user-data dir (so two tabs
// are two devices: no shared cookies) and opens one blank tab. Everything
// stops when the test ends.
func newTab(t *testing.T, name string) *tab {
	t.Helper()
	exe := chromiumPath(t)
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(exe),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.WindowSize(viewportWidth, viewportHeight),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-default-apps", true),
		chromedp.Flag("no-proxy-server", true),
		// The BFF test servers use httptest's self-signed certificate.
		chromedp.Flag("ignore-certificate-errors", true),
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)

	b := &tab{t: t, name: name}
	// chromedp reports CDP messages it cannot decode; log them while the
	// test runs, drop them after. Chromium 156 sends IPAddressSpace
	// "Loopback", which cdproto v0.0.0-20241022 does not know, in every
	// Network.*ExtraInfo event: those are expected, logged once, and
	// recorded from the raw message instead.
	var mu sync.Mutex
	done, seenLoopback := false, false
	logf := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		msg := fmt.Sprintf(format, args...)
		if strings.Contains(msg, "unknown IPAddressSpace value") {
			if seenLoopback {
				return
			}
			seenLoopback = true
			msg += " (expected with this cdproto; logged once)"
		}
		if !done {
			t.Logf("%s: chromedp: %s", name, msg)
		}
	}
	debugf := func(format string, args ...any) {
		if format != "<- %s" || len(args) != 1 {
			return
		}
		if msg, ok := args[0].([]byte); ok {
			if f := b.raw.Load(); f != nil {
				(*f)(msg)
			}
		}
	}
	ctx, cancel := chromedp.NewContext(allocCtx, chromedp.WithErrorf(logf),
		chromedp.WithDebugf(debugf))
	b.ctx = ctx
	t.Cleanup(func() {
		// Close the browser gracefully (it flushes its profile), then
		// the allocator waits for the process to exit, so TempDir's
		// removal, which runs after this, finds no open files.
		_ = chromedp.Cancel(ctx)
		cancel()
		cancelAlloc()
		mu.Lock()
		done = true
		mu.Unlock()
	})

	// The first Run starts the browser; it must use ctx itself, not a
	// child with a deadline, or the browser would end with that child.
	start := make(chan error, 1)
	go func() { start <- chromedp.Run(ctx, chromedp.EmulateViewport(viewportWidth, viewportHeight)) }()
	select {
	case err := <-start:
		if err != nil {
			t.Fatalf("%s: starting %s: %v", name, exe, err)
		}
	case <-time.After(stepTimeout):
		t.Fatalf("%s: starting %s: no answer after %v", name, exe, stepTimeout)
	}
	return b
}

// sibling opens another tab in b's browser: the same profile and cookies,
// as a user opens a second tab of the app. It closes when the test ends.
func (b *tab) sibling(name string) *tab {
	b.t.Helper()
	ctx, cancel := chromedp.NewContext(b.ctx)
	b.t.Cleanup(cancel)
	s := &tab{t: b.t, name: name, ctx: ctx}
	// The first Run makes the tab; as in newTab, on ctx itself.
	start := make(chan error, 1)
	go func() { start <- chromedp.Run(ctx, chromedp.EmulateViewport(viewportWidth, viewportHeight)) }()
	select {
	case err := <-start:
		if err != nil {
			b.t.Fatalf("%s: opening a tab: %v", name, err)
		}
	case <-time.After(stepTimeout):
		b.t.Fatalf("%s: opening a tab: no answer after %v", name, stepTimeout)
	}
	return s
}

// run runs actions with the step timeout and fails the test on error.
func (b *tab) run(step string, actions ...chromedp.Action) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	if err := chromedp.Run(ctx, actions...); err != nil {
		b.t.Fatalf("%s: %s: %v (page: %s)", b.name, step, err, b.describe())
	}
}

// eval evaluates a JavaScript expression (awaiting a promise) into out.
func (b *tab) eval(step, expr string, out any) {
	b.t.Helper()
	b.run(step, chromedp.Evaluate(expr, out, awaitPromise))
}

func awaitPromise(p *runtime.EvaluateParams) *runtime.EvaluateParams {
	return p.WithAwaitPromise(true)
}

// waitFor polls a boolean JavaScript expression until it is true, for at
// most timeout. Errors while a navigation replaces the document count as
// false, so it works across page loads.
func (b *tab) waitFor(what, expr string, timeout time.Duration) {
	b.t.Helper()
	deadline := time.Now().Add(timeout)
	var lastErr error
	for {
		ctx, cancel := context.WithTimeout(b.ctx, 2*time.Second)
		var ok bool
		lastErr = chromedp.Run(ctx, chromedp.Evaluate(expr, &ok))
		cancel()
		if lastErr == nil && ok {
			return
		}
		if time.Now().After(deadline) {
			b.t.Fatalf("%s: waiting %v for %s: timed out (last error: %v; page: %s)", b.name, timeout, what, lastErr, b.describe())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// waitState waits for the SPA at origin to show state (body[data-state]).
// A fresh document is one loaded since markDocument: a page left over
// from before a navigation does not count.
func (b *tab) waitState(origin, state string, timeout time.Duration) {
	b.t.Helper()
	b.waitFor(fmt.Sprintf("the SPA to show %q", state), fmt.Sprintf(
		`location.origin === %q && !window.__e2eOld && document.body && document.body.dataset.state === %q`,
		origin, state), timeout)
}

// markDocument marks the current document, so that waitState and waitFor
// expressions using window.__e2eOld can tell it from the next one.
func (b *tab) markDocument() {
	b.t.Helper()
	var ignored bool
	b.eval("mark document", `window.__e2eOld = true`, &ignored)
}

// text returns the trimmed textContent of the first element matching sel.
func (b *tab) text(sel string) string {
	b.t.Helper()
	var s string
	b.eval("read "+sel, fmt.Sprintf(`(document.querySelector(%q)?.textContent ?? "<no element>").trim()`, sel), &s)
	return s
}

// click waits for sel to be visible and clicks it like a user.
func (b *tab) click(sel string) {
	b.t.Helper()
	b.run("click "+sel, chromedp.Click(sel, chromedp.ByQuery, chromedp.NodeVisible))
}

// describe summarises the page for failure messages.
func (b *tab) describe() string {
	ctx, cancel := context.WithTimeout(b.ctx, 2*time.Second)
	defer cancel()
	var s string
	err := chromedp.Run(ctx, chromedp.Evaluate(
		`location.href + " state=" + (document.body && document.body.dataset.state) + " text=" + JSON.stringify((document.body ? document.body.innerText : "").slice(0, 300))`, &s))
	if err != nil {
		return "<unavailable: " + err.Error() + ">"
	}
	return s
}

// cookie returns the named cookie the browser holds for url, or "".
func (b *tab) cookie(url, name string) string {
	b.t.Helper()
	var cookies []*network.Cookie
	b.run("get cookies", chromedp.ActionFunc(func(ctx context.Context) error {
		var err error
		cookies, err = network.GetCookies().WithUrls([]string{url}).Do(ctx)
		return err
	}))
	for _, c := range cookies {
		if c.Name == name {
			return c.Value
		}
	}
	return ""
}

// screenshot captures the viewport, checks it is a PNG of the viewport's
// size and writes it to e2e/browser/screenshots/name (and, with
// -screenshots, docs/screenshots/name).
func (b *tab) screenshot(name string) {
	b.t.Helper()
	var buf []byte
	b.run("screenshot "+name, chromedp.CaptureScreenshot(&buf))
	cfg, err := png.DecodeConfig(bytes.NewReader(buf))
	if err != nil {
		b.t.Fatalf("screenshot %s: not a PNG: %v", name, err)
	}
	if cfg.Width != viewportWidth || cfg.Height != viewportHeight {
		b.t.Errorf("screenshot %s is %dx%d, want %dx%d", name, cfg.Width, cfg.Height, viewportWidth, viewportHeight)
	}
	dirs := []string{screenshotDir}
	if *updateScreenshots {
		dirs = append(dirs, docsScreenshotDir)
	}
	for _, dir := range dirs {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			b.t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), buf, 0o644); err != nil {
			b.t.Fatal(err)
		}
	}
}

// fetchJSON calls path on the page's origin like the SPA does (same-origin
// fetch with X-CSRF: 1) and returns the status and decoded body.
func (b *tab) fetchJSON(path string, out any) int {
	b.t.Helper()
	var res struct {
		Status int             `json:"status"`
		Body   json.RawMessage `json:"body"`
	}
	b.eval("fetch "+path, fmt.Sprintf(`fetch(%q, {headers: {"X-CSRF": "1"}, cache: "no-store"})
		.then(async (r) => ({status: r.status, body: await r.json().catch(() => null)}))`, path), &res)
	if out != nil && len(res.Body) > 0 && string(res.Body) != "null" {
		if err := json.Unmarshal(res.Body, out); err != nil {
			b.t.Fatalf("%s: %s: %s is not JSON: %v", b.name, path, res.Body, err)
		}
	}
	return res.Status
}

// attr returns every value of attribute attr on elements matching sel.
func (b *tab) attrs(sel, attr string) []string {
	b.t.Helper()
	var out []string
	b.eval("read "+sel, fmt.Sprintf(`[...document.querySelectorAll(%q)].map((e) => e.getAttribute(%q) ?? "")`, sel, attr), &out)
	slices.Sort(out)
	return out
}
