package authz

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/bff-project/bff/session"
)

var now = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

func newAuthorizer(t testing.TB, rules ...Rule) *Authorizer {
	t.Helper()
	a, err := New(Config{Routes: [][]Rule{nil, rules}, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatalf("New() = %v", err)
	}
	return a
}

// alice is a signed-in session: password sign-in ten minutes ago.
func alice() *session.Record {
	return &session.Record{
		Subject:  "alice",
		Claims:   []byte(`{"sub":"alice","groups":["staff","admins"],"email_verified":true,"level":3,"dept":"ops","flag":"true","org":{"id":1}}`),
		ACR:      "pwd",
		AMR:      []string{"pwd"},
		AuthTime: now.Add(-10 * time.Minute),
	}
}

func TestCheck(t *testing.T) {
	mfa := func(r *session.Record) { r.ACR, r.AMR = "mfa", []string{"pwd", "otp"} }
	tests := []struct {
		name   string
		rules  []Rule
		method string
		rec    func(*session.Record)
		want   error // nil, ErrForbidden or a *StepUp
	}{
		{"array claim contains a value", []Rule{{Claims: map[string][]any{"groups": {"admins"}}}}, "GET", nil, nil},
		{"array claim lacks every value", []Rule{{Claims: map[string][]any{"groups": {"root", "ops"}}}}, "GET", nil, ErrForbidden},
		{"string claim equals one value", []Rule{{Claims: map[string][]any{"dept": {"sales", "ops"}}}}, "GET", nil, nil},
		{"bool claim", []Rule{{Claims: map[string][]any{"email_verified": {true}}}}, "GET", nil, nil},
		{"number claim, integer config", []Rule{{Claims: map[string][]any{"level": {3}}}}, "GET", nil, nil},
		{"number claim, other number", []Rule{{Claims: map[string][]any{"level": {4.0}}}}, "GET", nil, ErrForbidden},
		{"string true is not true", []Rule{{Claims: map[string][]any{"flag": {true}}}}, "GET", nil, ErrForbidden},
		{"true is not the string true", []Rule{{Claims: map[string][]any{"email_verified": {"true"}}}}, "GET", nil, ErrForbidden},
		{"object claim never matches", []Rule{{Claims: map[string][]any{"org": {"1"}}}}, "GET", nil, ErrForbidden},
		{"absent claim", []Rule{{Claims: map[string][]any{"role": {"x"}}}}, "GET", nil, ErrForbidden},
		{"every claim of a rule must hold", []Rule{{Claims: map[string][]any{"groups": {"admins"}, "dept": {"sales"}}}}, "GET", nil, ErrForbidden},
		{"claims of undecodable JSON", []Rule{{Claims: map[string][]any{"groups": {"admins"}}}}, "GET", func(r *session.Record) { r.Claims = []byte("{") }, ErrForbidden},
		{"rule for another method", []Rule{{Methods: []string{"DELETE"}, Claims: map[string][]any{"groups": {"root"}}}}, "GET", nil, nil},
		{"rule for this method", []Rule{{Methods: []string{"DELETE"}, Claims: map[string][]any{"groups": {"root"}}}}, "DELETE", nil, ErrForbidden},
		{"method without case", []Rule{{Methods: []string{"DELETE"}, Claims: map[string][]any{"groups": {"root"}}}}, "delete", nil, ErrForbidden},
		{"GET rule covers HEAD", []Rule{{Methods: []string{"GET"}, Claims: map[string][]any{"groups": {"root"}}}}, "HEAD", nil, ErrForbidden},
		{"acr met", []Rule{{ACR: []string{"mfa", "pwd"}}}, "GET", nil, nil},
		{"acr not met", []Rule{{ACR: []string{"urn:example:mfa", "mfa"}}}, "POST", nil,
			&StepUp{ACRValues: []string{"urn:example:mfa", "mfa"}, MaxAge: NoMaxAge}},
		{"acr met after step-up", []Rule{{ACR: []string{"urn:example:mfa", "mfa"}}}, "POST", mfa, nil},
		{"amr not met", []Rule{{AMR: []string{"otp"}}}, "GET", nil, &StepUp{MaxAge: NoMaxAge, Reauthenticate: true}},
		{"amr met", []Rule{{AMR: []string{"otp", "pwd"}}}, "GET", mfa, nil},
		{"max_age met", []Rule{{MaxAge: 15 * time.Minute}}, "GET", nil, nil},
		{"max_age not met", []Rule{{MaxAge: 5 * time.Minute}}, "GET", nil, &StepUp{MaxAge: 5 * time.Minute}},
		{"max_age without auth_time", []Rule{{MaxAge: time.Hour}}, "GET", func(r *session.Record) { r.AuthTime = time.Time{} }, &StepUp{MaxAge: time.Hour}},
		{"claims decided before strength", []Rule{{ACR: []string{"mfa"}}, {Claims: map[string][]any{"groups": {"root"}}}}, "GET", nil, ErrForbidden},
		{"step-up satisfies every applying rule", []Rule{
			{ACR: []string{"mfa", "hwk"}, MaxAge: time.Hour},
			{Methods: []string{"POST"}, ACR: []string{"hwk", "mfa"}, MaxAge: 5 * time.Minute},
			{Methods: []string{"DELETE"}, ACR: []string{"hwk"}, MaxAge: time.Minute},
		}, "POST", nil, &StepUp{ACRValues: []string{"mfa", "hwk"}, MaxAge: 5 * time.Minute}},
		{"a rule that holds still shapes the step-up", []Rule{
			{MaxAge: time.Hour},
			{ACR: []string{"mfa"}},
		}, "GET", nil, &StepUp{ACRValues: []string{"mfa"}, MaxAge: time.Hour}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newAuthorizer(t, tt.rules...)
			rec := alice()
			if tt.rec != nil {
				tt.rec(rec)
			}
			err := a.Check(1, tt.method, rec)
			var want *StepUp
			switch {
			case errors.As(tt.want, &want):
				var got *StepUp
				if !errors.As(err, &got) || !reflect.DeepEqual(got, want) {
					t.Errorf("Check() = %#v, want %#v", err, want)
				}
			case err != tt.want:
				t.Errorf("Check() = %v, want %v", err, tt.want)
			}
			if err := a.Check(0, tt.method, rec); err != nil {
				t.Errorf("Check(route without rules) = %v, want nil", err)
			}
		})
	}
}

func TestNilAuthorizer(t *testing.T) {
	a, err := New(Config{Routes: [][]Rule{nil, {}}})
	if a != nil || err != nil {
		t.Fatalf("New(no rules) = %v, %v; want nil, nil", a, err)
	}
	if err := a.Check(1, "GET", alice()); err != nil {
		t.Errorf("nil Check() = %v, want nil", err)
	}
	if a.Applies(1, "GET") {
		t.Error("nil Applies() = true, want false")
	}
}

func TestApplies(t *testing.T) {
	a := newAuthorizer(t, Rule{Methods: []string{"POST"}, ACR: []string{"mfa"}})
	for method, want := range map[string]bool{"POST": true, "post": true, "GET": false} {
		if got := a.Applies(1, method); got != want {
			t.Errorf("Applies(%s) = %v, want %v", method, got, want)
		}
	}
	if a.Applies(0, "POST") || a.Applies(7, "POST") {
		t.Error("Applies() on a route without rules = true")
	}
}

func TestNewReportsEveryProblem(t *testing.T) {
	_, err := New(Config{Routes: [][]Rule{
		{{Methods: []string{"GET"}}},
		{{Claims: map[string][]any{"g": {[]string{"x"}}}}, {MaxAge: -time.Second}},
	}})
	for _, want := range []string{"route 0 rule 0: no condition", "route 1 rule 0: claim g", "route 1 rule 1: max_age is negative"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("New() = %v, want a problem %q", err, want)
		}
	}
}
