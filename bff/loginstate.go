package bff

import (
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/json"
	"net/http"
	"time"

	"github.com/gorilla/securecookie"
	"github.com/gorilla/sessions"
)

const (
	loginCookieName = "__Host-bff-login"
	// loginFlowTTL bounds how long a sign-in may take at the provider.
	loginFlowTTL = 10 * time.Minute
	// maxLoginFlows is how many sign-ins (tabs) may be under way at once in
	// one browser; the oldest is dropped beyond it.
	maxLoginFlows = 5
	// maxCookieBytes is the most name and value of a cookie may take
	// together in every browser (RFC 6265 §6.1, Chromium, Firefox).
	maxCookieBytes = 4096
)

// loginFlow is what the callback needs to finish one sign-in. It lives in
// the encrypted, authenticated login cookie, keyed by its state.
type loginFlow struct {
	Verifier  string    `json:"v"`
	Nonce     string    `json:"n"`
	ReturnURL string    `json:"r"`
	Created   time.Time `json:"t"`
	// DPoPJKT is the thumbprint of the sign-in's DPoP key (public; the
	// key is made again at the callback from the verifier), "" without
	// DPoP.
	DPoPJKT string `json:"j,omitempty"`
	// Prev is the store key of the session this browser had when the
	// sign-in started, to end at the callback: the provider's redirect back
	// is a cross-site navigation, which brings no SameSite=Strict cookie.
	Prev string `json:"p,omitempty"`
	// What the sign-in asked the provider for, which the callback checks
	// the ID token against (checkStrength): acr_values (space-separated),
	// max_age in seconds, and whether prompt=login asked for a fresh
	// login.
	ACRValues      string `json:"a,omitempty"`
	MaxAge         *int64 `json:"m,omitempty"`
	Reauthenticate bool   `json:"l,omitempty"`
}

// loginFlows keeps login-flow state in a short-lived cookie made with
// gorilla/sessions: HMAC-SHA256 then AES-256 (securecookie), with keys
// derived from the session encryption keys, so rotation works the same way.
type loginFlows struct {
	store *sessions.CookieStore
}

func newLoginFlows(encryptionKeys [][]byte) *loginFlows {
	var pairs [][]byte
	for _, k := range encryptionKeys {
		hashKey, _ := hkdf.Key(sha256.New, k, nil, "bff login cookie hmac", 64)
		blockKey, _ := hkdf.Key(sha256.New, k, nil, "bff login cookie aes", 32)
		pairs = append(pairs, hashKey, blockKey)
	}
	store := sessions.NewCookieStore(pairs...)
	store.Options = &sessions.Options{
		Path:     "/",
		MaxAge:   int(loginFlowTTL / time.Second),
		Secure:   true,
		HttpOnly: true,
		// Lax: the provider's redirect back is a cross-site top-level GET.
		SameSite: http.SameSiteLaxMode,
	}
	// securecookie also rejects cookies older than MaxAge by their signed
	// timestamp, so an old cookie cannot be replayed after it expires.
	store.MaxAge(store.Options.MaxAge)
	// Browsers drop a cookie whose name and value together pass 4096
	// bytes; securecookie bounds the value alone. A cookie the browser
	// drops would lose the newest sign-in while write thinks it saved it.
	for _, c := range store.Codecs {
		if sc, ok := c.(*securecookie.SecureCookie); ok {
			sc.MaxLength(maxCookieBytes - len(loginCookieName))
		}
	}
	return &loginFlows{store: store}
}

// read returns the flows in the request's login cookie. A missing, expired
// or tampered cookie gives no flows: the callback then fails as "no such
// sign-in", which is what it is.
func (l *loginFlows) read(r *http.Request) (*sessions.Session, map[string]loginFlow) {
	sess, err := l.store.New(r, loginCookieName)
	flows := map[string]loginFlow{}
	if err != nil {
		return sess, flows
	}
	if raw, ok := sess.Values["f"].(string); ok {
		_ = json.Unmarshal([]byte(raw), &flows)
	}
	now := time.Now()
	for state, f := range flows {
		if now.Sub(f.Created) > loginFlowTTL {
			delete(flows, state)
		}
	}
	return sess, flows
}

// write saves flows, dropping the oldest beyond maxLoginFlows, or deletes
// the cookie when none are left. When the flows do not fit in one cookie
// (long return URLs), it drops the oldest until they do: the newest sign-in
// must always start, whatever earlier tabs (or a cross-site link) left.
func (l *loginFlows) write(w http.ResponseWriter, r *http.Request, sess *sessions.Session, flows map[string]loginFlow) error {
	for len(flows) > maxLoginFlows {
		dropOldest(flows)
	}
	if len(flows) == 0 {
		sess.Options = &sessions.Options{Path: "/", MaxAge: -1, Secure: true, HttpOnly: true, SameSite: http.SameSiteLaxMode}
		sess.Values = map[any]any{}
		return l.store.Save(r, w, sess)
	}
	for {
		raw, err := json.Marshal(flows)
		if err != nil {
			return err
		}
		sess.Values["f"] = string(raw)
		// Save fails before setting any header when the encoded value
		// exceeds the cookie's limit.
		err = l.store.Save(r, w, sess)
		if err == nil || len(flows) <= 1 {
			return err
		}
		dropOldest(flows)
	}
}

func dropOldest(flows map[string]loginFlow) {
	oldest := ""
	for state, f := range flows {
		if oldest == "" || f.Created.Before(flows[oldest].Created) {
			oldest = state
		}
	}
	delete(flows, oldest)
}
