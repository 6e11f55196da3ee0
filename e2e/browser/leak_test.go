package browser

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"sync"

	"github.com/chromedp/cdproto/cdp"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// seen is one thing the browser received or sent: a URL, a header set, a
// body or a storage snapshot, with where it came from.
type seen struct {
	what string // "request URL", "response headers", "body", ...
	url  string // the request's URL, for messages and the one exception
	text string
}

// recorder records every request and response of one tab through the CDP
// Network domain, with the bodies of responses from the origins it is told
// to read, for a search for tokens at the end.
type recorder struct {
	tab     *tab
	origins []string // bodies are fetched for responses from these

	mu      sync.Mutex
	items   []seen
	urls    map[network.RequestID]string
	bodyErr []string
	wg      sync.WaitGroup
}

// record starts recording b's network traffic. Call it before the first
// navigation.
func record(b *tab, origins ...string) *recorder {
	b.t.Helper()
	r := &recorder{tab: b, origins: origins, urls: map[network.RequestID]string{}}
	chromedp.ListenTarget(b.ctx, r.event)
	raw := r.raw
	b.raw.Store(&raw)
	b.run("enable network events", network.Enable())
	return r
}

func (r *recorder) add(what, u, text string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.items = append(r.items, seen{what: what, url: u, text: text})
}

// headerText is h as JSON, without escaping & (URLs stay searchable).
func headerText(h network.Headers) string {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(h)
	return strings.TrimSpace(b.String())
}

// location returns the Location header in headers recorded by headerText.
func location(text string) string {
	var h map[string]any
	if json.Unmarshal([]byte(text), &h) != nil {
		return ""
	}
	for k, v := range h {
		if s, ok := v.(string); ok && strings.EqualFold(k, "Location") {
			return s
		}
	}
	return ""
}

// event runs on chromedp's event loop: it must not block, so bodies are
// fetched on their own goroutines.
func (r *recorder) event(ev any) {
	switch ev := ev.(type) {
	case *network.EventRequestWillBeSent:
		// A redirect's response arrives only here, with its Location.
		if rr := ev.RedirectResponse; rr != nil {
			r.add("redirect response headers", rr.URL, headerText(rr.Headers))
		}
		r.add("request URL", ev.Request.URL, ev.Request.URL)
		r.add("request headers", ev.Request.URL, headerText(ev.Request.Headers))
	case *network.EventResponseReceived:
		r.add("response headers", ev.Response.URL, headerText(ev.Response.Headers))
		r.mu.Lock()
		r.urls[ev.RequestID] = ev.Response.URL
		r.mu.Unlock()
	case *network.EventLoadingFinished:
		r.mu.Lock()
		u, ok := r.urls[ev.RequestID]
		r.mu.Unlock()
		if ok && r.wantBody(u) {
			r.wg.Add(1)
			go r.fetchBody(ev.RequestID, u)
		}
	}
}

// raw records the Network.*ExtraInfo events, which carry the headers as
// sent and received (Cookie, Set-Cookie), from the undecoded CDP message:
// chromedp cannot decode them from this Chromium (see newTab).
func (r *recorder) raw(msg []byte) {
	if !bytes.Contains(msg, []byte(`ExtraInfo"`)) {
		return
	}
	var m struct {
		Method string `json:"method"`
		Params struct {
			Headers network.Headers `json:"headers"`
		} `json:"params"`
	}
	if json.Unmarshal(msg, &m) != nil {
		return
	}
	switch m.Method {
	case "Network.requestWillBeSentExtraInfo":
		r.add("raw request headers", "", headerText(m.Params.Headers))
	case "Network.responseReceivedExtraInfo":
		r.add("raw response headers", "", headerText(m.Params.Headers))
	}
}

func (r *recorder) wantBody(u string) bool {
	for _, o := range r.origins {
		if strings.HasPrefix(u, o+"/") || u == o {
			return true
		}
	}
	return false
}

func (r *recorder) fetchBody(id network.RequestID, u string) {
	defer r.wg.Done()
	c := chromedp.FromContext(r.tab.ctx)
	ctx, cancel := context.WithTimeout(r.tab.ctx, stepTimeout)
	defer cancel()
	body, err := network.GetResponseBody(id).Do(cdp.WithExecutor(ctx, c.Target))
	if err != nil {
		r.mu.Lock()
		r.bodyErr = append(r.bodyErr, fmt.Sprintf("%s: %v", u, err))
		r.mu.Unlock()
		return
	}
	r.add("body", u, string(body))
}

// snapshot records what the page's own storage holds: document.cookie,
// localStorage, sessionStorage, the IndexedDB database names and the
// Cache Storage names. It returns document.cookie.
func (r *recorder) snapshot(label string) string {
	r.tab.t.Helper()
	var s struct {
		Origin  string            `json:"origin"`
		Cookie  string            `json:"cookie"`
		Local   map[string]string `json:"local"`
		Session map[string]string `json:"session"`
		IDB     []string          `json:"idb"`
		Caches  []string          `json:"caches"`
	}
	r.tab.eval("read storage", `(async () => {
		const dump = (s) => { const o = {}; for (let i = 0; i < s.length; i++) { const k = s.key(i); o[k] = s.getItem(k); } return o; };
		let idb = [], cacheNames = [];
		try { idb = (await indexedDB.databases()).map((d) => d.name + "@" + d.version); } catch (e) { idb = ["error: " + e]; }
		try { cacheNames = await caches.keys(); } catch (e) { cacheNames = ["error: " + e]; }
		return {origin: location.origin, cookie: document.cookie, local: dump(localStorage), session: dump(sessionStorage), idb, caches: cacheNames};
	})()`, &s)
	all, _ := json.Marshal(s)
	r.add("storage "+label, s.Origin, string(all))
	return s.Cookie
}

// finding is one place a token turned up.
type finding struct {
	item  seen
	token int // index into the tokens searched for
}

// search waits for pending bodies and returns every item holding one of
// tokens, raw or URL-encoded. In items from allowHint (the RP-initiated
// logout redirect) the id_token_hint parameter is removed first; the
// removed values are returned as hints.
func (r *recorder) search(tokens []string, allowHint func(seen) bool) (found []finding, hints []string) {
	r.wg.Wait()
	r.mu.Lock()
	items := append([]seen(nil), r.items...)
	r.mu.Unlock()
	for _, it := range items {
		text := it.text
		if allowHint(it) {
			var hs []string
			text, hs = stripHint(text)
			hints = append(hints, hs...)
		}
		for i, tok := range tokens {
			if tok == "" {
				continue
			}
			if strings.Contains(text, tok) || strings.Contains(text, url.QueryEscape(tok)) {
				found = append(found, finding{item: it, token: i})
			}
		}
	}
	return found, hints
}

// stripHint removes the values of id_token_hint query parameters from
// text (a URL, or headers holding one in Location).
func stripHint(text string) (string, []string) {
	const param = "id_token_hint="
	var hints []string
	var b strings.Builder
	for {
		i := strings.Index(text, param)
		if i < 0 {
			b.WriteString(text)
			return b.String(), hints
		}
		i += len(param)
		b.WriteString(text[:i])
		j := strings.IndexAny(text[i:], "&\"# ")
		if j < 0 {
			j = len(text) - i
		}
		v := text[i : i+j]
		if dec, err := url.QueryUnescape(v); err == nil {
			v = dec
		}
		hints = append(hints, v)
		b.WriteString("[removed]")
		text = text[i+j:]
	}
}

// bodies returns the recorded bodies of responses from URLs with prefix.
func (r *recorder) bodies(prefix string) []string {
	r.wg.Wait()
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, it := range r.items {
		if it.what == "body" && strings.HasPrefix(it.url, prefix) {
			out = append(out, it.text)
		}
	}
	return out
}

// bodyErrors returns the bodies that could not be read.
func (r *recorder) bodyErrors() []string {
	r.wg.Wait()
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.bodyErr...)
}

// has reports whether an item of kind what contains s.
func (r *recorder) has(what, s string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, it := range r.items {
		if it.what == what && strings.Contains(it.text, s) {
			return true
		}
	}
	return false
}

// consoleProblems records uncaught exceptions, console.error calls and
// browser-reported security (CSP) and JavaScript problems in b.
type consoleProblems struct {
	b   *tab
	mu  sync.Mutex
	out []string
}

func watchConsole(b *tab) *consoleProblems {
	b.t.Helper()
	p := &consoleProblems{b: b}
	chromedp.ListenTarget(b.ctx, func(ev any) {
		var msg string
		switch ev := ev.(type) {
		case *runtime.EventExceptionThrown:
			msg = "uncaught: " + ev.ExceptionDetails.Text
			if ex := ev.ExceptionDetails.Exception; ex != nil {
				msg += " " + ex.Description
			}
		case *runtime.EventConsoleAPICalled:
			if ev.Type != runtime.APITypeError {
				return
			}
			var args []string
			for _, a := range ev.Args {
				args = append(args, string(a.Value)+a.Description)
			}
			msg = "console.error: " + strings.Join(args, " ")
		case *cdplog.EventEntryAdded:
			if ev.Entry.Source != cdplog.SourceSecurity && ev.Entry.Source != cdplog.SourceJavascript {
				return
			}
			msg = fmt.Sprintf("%s %s: %s (%s)", ev.Entry.Source, ev.Entry.Level, ev.Entry.Text, ev.Entry.URL)
		default:
			return
		}
		p.mu.Lock()
		p.out = append(p.out, msg)
		p.mu.Unlock()
	})
	b.run("enable console events", runtime.Enable(), cdplog.Enable())
	return p
}

// check fails the test for every problem the page reported.
func (p *consoleProblems) check() {
	p.b.t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, msg := range p.out {
		p.b.t.Errorf("%s: the page reported %s", p.b.name, msg)
	}
}
