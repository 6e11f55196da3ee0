package oidcclient

import (
	"encoding/base64"
	"errors"
	"testing"
)

func fakeJWT(payload string) string {
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(`{"alg":"RS256"}`)) + "." + enc([]byte(payload)) + ".c2ln"
}

func TestCheckAudience(t *testing.T) {
	for _, tc := range []struct {
		name  string
		token string
		want  []string
		ok    bool
	}{
		{"aud string matches", fakeJWT(`{"aud":"https://orders/"}`), []string{"https://orders/"}, true},
		{"aud array holds it", fakeJWT(`{"aud":["a","https://orders/"]}`), []string{"", "https://orders/"}, true},
		{"resource or audience", fakeJWT(`{"aud":"orders-api"}`), []string{"https://orders/", "orders-api"}, true},
		{"other aud", fakeJWT(`{"aud":"https://profile/"}`), []string{"https://orders/"}, false},
		{"no aud", fakeJWT(`{"sub":"x"}`), []string{"https://orders/"}, false},
		{"opaque token passes", "2YotnFZFEjr1zCsicMWpAA", []string{"https://orders/"}, true},
		{"nothing wanted", fakeJWT(`{"aud":"x"}`), nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckAudience(tc.token, tc.want...)
			if (err == nil) != tc.ok || (err != nil && !errors.Is(err, ErrAudienceMismatch)) {
				t.Errorf("CheckAudience() = %v, want ok %v", err, tc.ok)
			}
		})
	}
}
