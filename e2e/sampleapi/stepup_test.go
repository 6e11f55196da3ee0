package sampleapi

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// TestStepUpChallenge: on a configured path a token whose acr or
// auth_time does not do gets the RFC 9470 challenge; one that does, and
// other paths, get the answer.
func TestStepUpChallenge(t *testing.T) {
	e := newTestEnv(t)
	h, err := New(Config{Name: "payments", Issuer: e.p.Issuer(), Audience: "orders-api", StepUp: []StepUp{
		{PathPrefix: "/pay", ACRValues: []string{"urn:example:mfa", "mfa"}},
		{PathPrefix: "/settings", MaxAge: 5 * time.Minute},
	}})
	if err != nil {
		t.Fatal(err)
	}
	e.api = httptest.NewServer(h)
	t.Cleanup(e.api.Close)
	token := func(acr string, authAge time.Duration) string {
		now := time.Now()
		return e.signed(map[string]any{"iss": e.p.Issuer(), "aud": "orders-api", "sub": "alice", "exp": now.Add(time.Minute).Unix(),
			"iat": now.Unix(), "acr": acr, "auth_time": now.Add(-authAge).Unix()})
	}
	tests := []struct {
		name, path, token string
		wantStatus        int
		wantChallenge     string
	}{
		{"weak acr", "/pay/1", token("pwd", 0), http.StatusUnauthorized,
			`Bearer error="insufficient_user_authentication", error_description="A stronger or more recent sign-in is required", acr_values="urn:example:mfa mfa"`},
		{"strong acr", "/pay/1", token("mfa", time.Hour), http.StatusOK, ""},
		{"old sign-in", "/settings", token("mfa", 10*time.Minute), http.StatusUnauthorized,
			`Bearer error="insufficient_user_authentication", error_description="A stronger or more recent sign-in is required", max_age=300`},
		{"recent sign-in", "/settings", token("pwd", time.Minute), http.StatusOK, ""},
		{"other path", "/orders", token("pwd", time.Hour), http.StatusOK, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := e.call(http.MethodGet, tt.path, tt.token)
			if resp.StatusCode != tt.wantStatus {
				t.Fatalf("status = %d %v, want %d", resp.StatusCode, body, tt.wantStatus)
			}
			if got := resp.Header.Get("WWW-Authenticate"); got != tt.wantChallenge {
				t.Errorf("WWW-Authenticate = %q, want %q", got, tt.wantChallenge)
			}
			if tt.wantStatus == http.StatusOK && body["acr"] == nil {
				t.Errorf("answer %v does not say the token's acr", body)
			}
		})
	}
}
