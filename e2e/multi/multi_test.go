package multi

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/bff-project/bff/e2e/harness"
)

// TestSessionOnEveryInstance signs in on A and uses the session on B and C:
// the same public session ID, the session list, and proxied calls that need
// a token (renewed for an audience, or exchanged) on instances that never
// saw the sign-in.
func TestSessionOnEveryInstance(t *testing.T) { eachStore(t, testSessionOnEveryInstance) }

func testSessionOnEveryInstance(t *testing.T, st shared) {
	c := startCluster(t, clusterOptions{store: st})
	a, b, cc := c.inst[0], c.inst[1], c.inst[2]
	_, cookie := c.login(t, a.URL, harness.UserName, harness.UserPassword)

	want := c.user(t, a.URL, cookie)
	if want.Sub != harness.UserSubject {
		t.Fatalf("sub on A = %q, want %q", want.Sub, harness.UserSubject)
	}
	for _, in := range []*harness.Instance{b, cc} {
		got := c.user(t, in.URL, cookie)
		if got.Session.ID != want.Session.ID || got.Sub != want.Sub {
			t.Errorf("%s/bff/user = sub %q session %q, want %q %q (as on A)", in.URL, got.Sub, got.Session.ID, want.Sub, want.Session.ID)
		}
	}

	r := c.wantStatus(t, http.MethodGet, b.URL+"/bff/sessions", cookie, http.StatusOK, "")
	var list struct {
		Sessions []struct {
			ID      string `json:"id"`
			Current bool   `json:"current"`
		} `json:"sessions"`
	}
	if err := json.Unmarshal([]byte(r.body), &list); err != nil {
		t.Fatalf("%v: %v", r, err)
	}
	if len(list.Sessions) != 1 || list.Sessions[0].ID != want.Session.ID || !list.Sessions[0].Current {
		t.Errorf("GET /bff/sessions on B = %+v, want only the current session %q", list.Sessions, want.Session.ID)
	}

	checkAPI(t, c.call(t, http.MethodGet, cc.URL+"/api/orders/whoami", cookie), "orders-api")
	checkAPI(t, c.call(t, http.MethodGet, b.URL+"/api/profile/whoami", cookie), "profile-api")
	// The audience token C obtained is in the shared session: A uses it.
	before := c.env.OP.Counts()
	checkAPI(t, c.call(t, http.MethodGet, a.URL+"/api/orders/whoami", cookie), "orders-api")
	if got := c.env.OP.Counts(); got != before {
		t.Errorf("provider calls for a token C already stored: %+v, then %+v; want none", before, got)
	}
}

// TestLogoutEverywhere ends sessions on one instance by each of the four
// ways and checks that the others refuse the session at once.
func TestLogoutEverywhere(t *testing.T) { eachStore(t, testLogoutEverywhere) }

func testLogoutEverywhere(t *testing.T, st shared) {
	c := startCluster(t, clusterOptions{store: st})
	a, b, cc := c.inst[0], c.inst[1], c.inst[2]

	// signedIn signs in on A and makes B and C load the session, so that
	// any cache they keep would hold it.
	signedIn := func(t *testing.T) (string, user) {
		t.Helper()
		_, cookie := c.login(t, a.URL, harness.UserName, harness.UserPassword)
		u := c.user(t, a.URL, cookie)
		for _, in := range []*harness.Instance{b, cc} {
			c.user(t, in.URL, cookie)
			checkAPI(t, c.call(t, http.MethodGet, in.URL+"/api/orders/whoami", cookie), "orders-api")
		}
		return cookie, u
	}
	signedOut := func(t *testing.T, cookie string, on ...*harness.Instance) {
		t.Helper()
		for _, in := range on {
			c.wantSoon(t, http.MethodGet, in.URL+"/bff/user", cookie, http.StatusUnauthorized, "unauthenticated")
			c.wantSoon(t, http.MethodGet, in.URL+"/api/orders/whoami", cookie, http.StatusUnauthorized, "unauthenticated")
		}
	}
	sid := func(t *testing.T, u user) string {
		t.Helper()
		s, _ := u.Claims["sid"].(string)
		if s == "" {
			t.Fatalf("ID token claims %v have no sid", u.Claims)
		}
		return s
	}

	t.Run("logout on A", func(t *testing.T) {
		cookie, _ := signedIn(t)
		other, _ := signedIn(t)
		revoked := c.env.OP.Counts().Revocation
		r := c.wantStatus(t, http.MethodPost, a.URL+"/bff/logout", cookie, http.StatusFound, "")
		if r.status != http.StatusFound {
			t.FailNow()
		}
		signedOut(t, cookie, b, cc, a)
		if got := c.env.OP.Counts().Revocation - revoked; got != 1 {
			t.Errorf("revocations at the provider = %d, want 1", got)
		}
		c.user(t, cc.URL, other) // another session of the same user stays
	})

	t.Run("session manager on B", func(t *testing.T) {
		keep, _ := signedIn(t)
		gone, goneUser := signedIn(t)
		u := b.URL + "/bff/sessions/" + goneUser.Session.ID
		c.wantStatus(t, http.MethodDelete, u, keep, http.StatusNoContent, "")
		signedOut(t, gone, cc, a, b)
		c.user(t, cc.URL, keep)
		// Already gone: every instance agrees.
		c.wantStatus(t, http.MethodDelete, cc.URL+"/bff/sessions/"+goneUser.Session.ID, keep, http.StatusNotFound, "not_found")
	})

	t.Run("back-channel from the provider to A", func(t *testing.T) {
		gone, goneUser := signedIn(t)
		keep, keepUser := signedIn(t)
		goneSID := sid(t, goneUser)
		if goneSID == sid(t, keepUser) {
			t.Fatalf("two browsers share provider session %q", goneSID)
		}
		ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
		defer cancel()
		// The provider posts to A, the instance its client registration names.
		if err := c.env.OP.BackChannelLogout(ctx, "", goneSID); err != nil {
			t.Fatalf("provider BackChannelLogout() = %v", err)
		}
		signedOut(t, gone, b, cc, a)
		for _, in := range c.inst {
			c.user(t, in.URL, keep)
		}
	})

	t.Run("back-channel replay on B", func(t *testing.T) {
		gone, goneUser := signedIn(t)
		claims := c.env.OP.LogoutTokenClaims(harness.ClientID, harness.UserSubject, sid(t, goneUser))
		token, err := c.env.OP.SignLogoutToken(claims)
		if err != nil {
			t.Fatal(err)
		}
		if r := c.postLogoutToken(t, a.URL, token); r.status != http.StatusOK {
			t.Fatalf("%v; want 200", r)
		}
		signedOut(t, gone, b, cc)
		for _, in := range []*harness.Instance{b, cc} {
			r := c.postLogoutToken(t, in.URL, token)
			if r.status != http.StatusBadRequest || r.errorCode() != "invalid_request" {
				t.Errorf("replayed logout token: %v; want 400 invalid_request", r)
			}
		}
		// The 400 is for the replay only: B takes a new token for another
		// session.
		victimCookie, victim := signedIn(t)
		fresh, err := c.env.OP.SignLogoutToken(c.env.OP.LogoutTokenClaims(harness.ClientID, "", sid(t, victim)))
		if err != nil {
			t.Fatal(err)
		}
		if r := c.postLogoutToken(t, b.URL, fresh); r.status != http.StatusOK {
			t.Errorf("fresh logout token on B: %v; want 200", r)
		}
		signedOut(t, victimCookie, a, cc)
	})
}
