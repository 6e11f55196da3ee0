package bff

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// loginCookieRequest returns a callback request carrying the cookies that
// writing flows with keys set.
func loginCookieRequest(t *testing.T, keys [][]byte, flows map[string]loginFlow) *http.Request {
	t.Helper()
	l := newLoginFlows(keys)
	r := httptest.NewRequest(http.MethodGet, "https://app.example/bff/login", nil)
	sess, existing := l.read(r)
	for k, v := range flows {
		existing[k] = v
	}
	w := httptest.NewRecorder()
	if err := l.write(w, r, sess, existing); err != nil {
		t.Fatalf("write() = %v", err)
	}
	cb := httptest.NewRequest(http.MethodGet, "https://app.example/bff/callback", nil)
	for _, c := range w.Result().Cookies() {
		cb.AddCookie(c)
	}
	return cb
}

// A sign-in cannot be finished once its flow is older than loginFlowTTL,
// even when the cookie itself is still valid.
func TestLoginFlowsReadDropsExpiredFlows(t *testing.T) {
	key := bytes.Repeat([]byte{7}, 32)
	tests := []struct {
		name      string
		age       time.Duration
		wantFound bool
	}{
		{"fresh", 0, true},
		{"one minute before the limit", loginFlowTTL - time.Minute, true},
		{"just expired", loginFlowTTL + time.Second, false},
		{"a day old", 24 * time.Hour, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			now := time.Now()
			r := loginCookieRequest(t, [][]byte{key}, map[string]loginFlow{
				"old":   {Verifier: "v1", Nonce: "n1", ReturnURL: "/", Created: now.Add(-tt.age)},
				"other": {Verifier: "v2", Nonce: "n2", ReturnURL: "/x", Created: now},
			})
			_, flows := newLoginFlows([][]byte{key}).read(r)
			f, found := flows["old"]
			if found != tt.wantFound {
				t.Errorf("read() found flow %v, want %v", found, tt.wantFound)
			}
			if found && (f.Verifier != "v1" || f.Nonce != "n1" || f.ReturnURL != "/") {
				t.Errorf("read() flow = %+v, want verifier v1, nonce n1, return URL /", f)
			}
			if _, ok := flows["other"]; !ok {
				t.Errorf("read() lost the fresh flow next to the old one")
			}
		})
	}
}

func TestLoginFlowsReadRefusesForeignCookies(t *testing.T) {
	oldKey, newKey := bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32)
	flow := map[string]loginFlow{"st": {Verifier: "v", Nonce: "n", ReturnURL: "/", Created: time.Now()}}
	tests := []struct {
		name      string
		writeKeys [][]byte
		readKeys  [][]byte
		tamper    bool
		wantFound bool
	}{
		{name: "same key", writeKeys: [][]byte{oldKey}, readKeys: [][]byte{oldKey}, wantFound: true},
		{name: "written under old, read under [new, old]", writeKeys: [][]byte{oldKey}, readKeys: [][]byte{newKey, oldKey}, wantFound: true},
		{name: "written under old, read under new only", writeKeys: [][]byte{oldKey}, readKeys: [][]byte{newKey}},
		{name: "tampered", writeKeys: [][]byte{oldKey}, readKeys: [][]byte{oldKey}, tamper: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := loginCookieRequest(t, tt.writeKeys, flow)
			if tt.tamper {
				c, err := r.Cookie(loginCookieName)
				if err != nil {
					t.Fatal(err)
				}
				v := []byte(c.Value)
				i := len(v) / 2
				if v[i] == 'A' {
					v[i] = 'B'
				} else {
					v[i] = 'A'
				}
				r.Header.Set("Cookie", loginCookieName+"="+string(v))
			}
			_, flows := newLoginFlows(tt.readKeys).read(r)
			if _, found := flows["st"]; found != tt.wantFound {
				t.Errorf("read() found flow %v, want %v", found, tt.wantFound)
			}
		})
	}
}

// At most maxLoginFlows sign-ins are kept; the oldest goes first.
func TestLoginFlowsWriteDropsOldest(t *testing.T) {
	key := bytes.Repeat([]byte{3}, 32)
	now := time.Now()
	flows := map[string]loginFlow{}
	for i := range maxLoginFlows + 1 {
		flows[string(rune('a'+i))] = loginFlow{Verifier: "v", Created: now.Add(time.Duration(i) * time.Second)}
	}
	_, got := newLoginFlows([][]byte{key}).read(loginCookieRequest(t, [][]byte{key}, flows))
	if len(got) != maxLoginFlows {
		t.Errorf("read() = %d flows, want %d", len(got), maxLoginFlows)
	}
	if _, ok := got["a"]; ok {
		t.Errorf("the oldest flow survived")
	}
}

// Whatever the return URLs of the flows already under way, the login cookie
// fits a browser's limit for name and value together, and keeps the newest
// flow: a cookie the browser drops would lose the sign-in just started.
func TestLoginFlowsCookieFitsBrowsers(t *testing.T) {
	l := newLoginFlows([][]byte{bytes.Repeat([]byte{1}, 32)})
	state := func(c byte) string { return strings.Repeat(string(c), 43) }
	for n := 500; n <= maxReturnURL; n++ {
		r := httptest.NewRequest(http.MethodGet, "/bff/login", nil)
		sess, _ := l.read(r)
		now := time.Now()
		flows := map[string]loginFlow{}
		for i := range maxLoginFlows - 1 {
			flows[state(byte('a'+i))] = loginFlow{Verifier: state('v'), Nonce: state('n'),
				ReturnURL: "/" + strings.Repeat("x", n-1), Created: now.Add(time.Duration(i-maxLoginFlows) * time.Second)}
		}
		flows[state('z')] = loginFlow{Verifier: state('v'), Nonce: state('n'), ReturnURL: "/app", Created: now}
		w := httptest.NewRecorder()
		if err := l.write(w, r, sess, flows); err != nil {
			t.Fatalf("return URLs of %d bytes: write() = %v", n, err)
		}
		cookies := w.Result().Cookies()
		if len(cookies) != 1 || cookies[0].Name != loginCookieName {
			t.Fatalf("return URLs of %d bytes: cookies %v, want the login cookie", n, cookies)
		}
		if size := len(cookies[0].Name) + len(cookies[0].Value); size > maxCookieBytes {
			t.Errorf("return URLs of %d bytes: cookie name and value are %d bytes, browsers drop more than %d", n, size, maxCookieBytes)
		}
		if _, ok := flows[state('z')]; !ok {
			t.Errorf("return URLs of %d bytes: the newest flow was dropped", n)
		}
	}
}
