package proxy

import (
	"encoding/json"
	"io"
	"net/http"
	"reflect"
	"strings"
	"testing"
)

const upstreamSecret = "eyJhbGciOiJSUzI1NiJ9.upstream-echoed-token.sig"

// challenger answers every call 401 with the given WWW-Authenticate
// values and a body that echoes something token-like.
func challenger(challenges ...string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for _, c := range challenges {
			w.Header().Add("WWW-Authenticate", c)
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Debug-Token", upstreamSecret)
		w.WriteHeader(http.StatusUnauthorized)
		io.WriteString(w, `{"error":"insufficient_user_authentication","token":"`+upstreamSecret+`"}`)
	})
}

func TestStepUpChallengeAnswered(t *testing.T) {
	tests := []struct {
		name      string
		token     string // route token mode
		challenge []string
		want      *StepUpChallenge // nil: the upstream's 401 passes (filtered)
	}{
		{"acr_values and max_age", TokenUser, []string{`Bearer error="insufficient_user_authentication", error_description="A different authentication level is required", acr_values="urn:example:mfa mfa", max_age=300`},
			&StepUpChallenge{ACRValues: []string{"urn:example:mfa", "mfa"}, MaxAge: 300}},
		{"acr_values only", TokenUser, []string{`Bearer error="insufficient_user_authentication", acr_values="mfa"`},
			&StepUpChallenge{ACRValues: []string{"mfa"}, MaxAge: -1}},
		{"max_age only, quoted, zero", TokenUser, []string{`Bearer error="insufficient_user_authentication", max_age="0"`},
			&StepUpChallenge{MaxAge: 0}},
		{"DPoP scheme, case ignored", TokenUser, []string{`dpop algs="ES256", ERROR=insufficient_user_authentication`},
			&StepUpChallenge{MaxAge: -1}},
		{"second challenge of a value", TokenUser, []string{`Basic realm="x", Bearer realm="api", error="insufficient_user_authentication", acr_values="mfa"`},
			&StepUpChallenge{ACRValues: []string{"mfa"}, MaxAge: -1}},
		{"second header", TokenUser, []string{`Bearer realm="api"`, `Bearer error="insufficient_user_authentication", max_age=60`},
			&StepUpChallenge{MaxAge: 60}},
		{"user-optional route", TokenUserOptional, []string{`Bearer error="insufficient_user_authentication"`},
			&StepUpChallenge{MaxAge: -1}},
		{"unusable acr_values and max_age dropped", TokenUser, []string{`Bearer error="insufficient_user_authentication", acr_values="` + strings.Repeat("a ", 11) + `", max_age=-5`},
			&StepUpChallenge{MaxAge: -1}},
		{"acr value with a quote dropped", TokenUser, []string{`Bearer error="insufficient_user_authentication", acr_values="a\"b"`},
			&StepUpChallenge{MaxAge: -1}},
		{"other error", TokenUser, []string{`Bearer error="invalid_token"`}, nil},
		{"no challenge", TokenUser, nil, nil},
		{"repeated error parameter", TokenUser, []string{`Bearer error="invalid_token", error="insufficient_user_authentication"`}, nil},
		{"unterminated quote", TokenUser, []string{`Bearer error="insufficient_user_authentication", max_age="5`}, nil},
		{"client route", TokenClient, []string{`Bearer error="insufficient_user_authentication"`}, nil},
		{"none route", TokenNone, []string{`Bearer error="insufficient_user_authentication"`}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			backend := newBackend(t, challenger(tt.challenge...))
			var got *StepUpChallenge
			var gotIn *http.Request
			_, front := newFrontend(t, Config{
				Routes: []Route{{Prefix: "/api/pay/", Upstream: backend.URL, Token: tt.token}},
				Tokens: staticTokens("user-token"),
				StepUp: func(w http.ResponseWriter, r *http.Request, c StepUpChallenge) {
					got, gotIn = &c, r
					w.WriteHeader(http.StatusUnauthorized)
					io.WriteString(w, `{"error":"step_up_required"}`)
				},
			})
			req, _ := http.NewRequest(http.MethodPost, front.URL+"/api/pay/orders?x=1", nil)
			req.Header.Set("Referer", front.URL+"/checkout")
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode != http.StatusUnauthorized {
				t.Errorf("status = %d, want 401", res.StatusCode)
			}
			if tt.want == nil {
				if got != nil {
					t.Errorf("StepUp called with %+v, want the upstream's 401 passed on", *got)
				}
				return
			}
			if got == nil || !reflect.DeepEqual(*got, *tt.want) {
				t.Fatalf("StepUp got %+v, want %+v", got, *tt.want)
			}
			// The hook is given the browser's request, not the upstream's.
			if gotIn.URL.Path != "/api/pay/orders" || gotIn.Header.Get("Referer") != front.URL+"/checkout" {
				t.Errorf("StepUp request = %s (Referer %q), want the browser's /api/pay/orders", gotIn.URL.Path, gotIn.Header.Get("Referer"))
			}
			all := string(body) + strings.Join(res.Header.Values("WWW-Authenticate"), " ") + res.Header.Get("X-Debug-Token")
			if strings.Contains(all, upstreamSecret) || strings.Contains(all, "insufficient_user_authentication") {
				t.Errorf("the upstream's answer reached the browser: %q %q", res.Header, body)
			}
		})
	}
}

// TestStepUpDefaultAnswer: without Config.StepUp the proxy answers the
// contract's body itself, without the upstream's.
func TestStepUpDefaultAnswer(t *testing.T) {
	backend := newBackend(t, challenger(`Bearer error="insufficient_user_authentication", acr_values="mfa", max_age=0`))
	obs := newObservations()
	_, front := newFrontend(t, Config{
		Routes:  []Route{{Prefix: "/api/pay/", Upstream: backend.URL}},
		Tokens:  staticTokens("user-token"),
		Observe: obs.observe,
	})
	res, body := rawGet(t, front.Listener.Addr().String(), "/api/pay/1")
	if res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("status = %d, want 401", res.StatusCode)
	}
	var got map[string]any
	if err := json.Unmarshal([]byte(body), &got); err != nil {
		t.Fatalf("body %q: %v", body, err)
	}
	want := map[string]any{"error": "step_up_required", "error_description": "This API needs a stronger or more recent sign-in.", "acr_values": "mfa", "max_age": 0.0}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("body = %v, want %v", got, want)
	}
	if ct := res.Header.Get("Content-Type"); ct != "application/json" || res.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("Content-Type, Cache-Control = %q, %q; want application/json, no-store", ct, res.Header.Get("Cache-Control"))
	}
	if o := <-obs.ch; o.status != http.StatusUnauthorized || o.route != "/api/pay/" {
		t.Errorf("observed %+v, want /api/pay/ 401", o)
	}
}

func TestParseChallenges(t *testing.T) {
	tests := []struct {
		in   string
		want []challenge
	}{
		{`Bearer`, []challenge{{"Bearer", map[string]string{}}}},
		{`Bearer realm="a\"b", error=x`, []challenge{{"Bearer", map[string]string{"realm": `a"b`, "error": "x"}}}},
		{`Basic realm="x",Bearer error="e" , DPoP algs="ES256 PS256"`, []challenge{
			{"Basic", map[string]string{"realm": "x"}}, {"Bearer", map[string]string{"error": "e"}}, {"DPoP", map[string]string{"algs": "ES256 PS256"}}}},
		{`Newauth realm="apps", type=1, title="Login to \"apps\"", Basic realm="simple"`, []challenge{
			{"Newauth", map[string]string{"realm": "apps", "type": "1", "title": `Login to "apps"`}}, {"Basic", map[string]string{"realm": "simple"}}}},
		{`Bearer error="x", error="y"`, nil},
		{`Bearer a="b", c="d`, nil},
		{`Bearer a=`, nil},
		{`=x`, nil},
		{``, nil},
	}
	for _, tt := range tests {
		if got := parseChallenges(tt.in); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("parseChallenges(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

// FuzzParseChallenges: any value parses without panicking, and a challenge
// made of a parsed one's parts parses back to it.
func FuzzParseChallenges(f *testing.F) {
	for _, s := range []string{
		`Bearer error="insufficient_user_authentication", acr_values="a b", max_age=5`,
		`Basic dXNlcjpwYXNz==`, `Bearer realm="a\\"`, `,,, Bearer ,,`, `DPoP algs="ES256", Bearer`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		for _, c := range parseChallenges(v) {
			if c.scheme == "" || strings.ContainsAny(c.scheme, " ,=\"") {
				t.Fatalf("parseChallenges(%q) gave scheme %q", v, c.scheme)
			}
			var b strings.Builder
			b.WriteString(c.scheme)
			sep := " "
			for k, val := range c.params {
				b.WriteString(sep + k + `="` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(val) + `"`)
				sep = ", "
			}
			again := parseChallenges(b.String())
			if len(again) != 1 || !reflect.DeepEqual(again[0], c) {
				t.Fatalf("parseChallenges(%q) = %v, want [%v]", b.String(), again, c)
			}
		}
	})
}
