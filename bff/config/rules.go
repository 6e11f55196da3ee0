package config

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"
)

// This file validates apis[].require: the authorization rules of a route.

// Limits of a rule's acr list. They match what /bff/login accepts as
// acr_values (bff/login_params.go), so that the login URL of a
// step_up_required answer is always one /bff/login takes.
const (
	maxRuleACRValues = 10
	maxRuleACRBytes  = 512 // the values joined with spaces
)

// rules checks the rules of apis[i].
func (v *validator) rules(i int, a APIConfig) {
	if len(a.Require) == 0 {
		return
	}
	if a.Token != "user" && a.Token != "user-optional" {
		v.add(fmt.Sprintf("apis[%d].require", i), "needs a signed-in user: rules hold only on routes whose token is user or user-optional")
	}
	for j, r := range a.Require {
		key := fmt.Sprintf("apis[%d].require[%d]", i, j)
		v.ruleMethods(key, r.Methods, a.Methods)
		v.ruleClaims(key+".claims", r.Claims)
		v.ruleACR(key+".acr", r.ACR)
		v.ruleList(key+".amr", r.AMR, "an amr value")
		switch {
		case r.MaxAge < 0:
			v.add(key+".max_age", "must be positive")
		case r.MaxAge%time.Second != 0:
			v.add(key+".max_age", "must be a whole number of seconds (it is sent as max_age)")
		}
		if r.Claims == nil && r.ACR == nil && r.AMR == nil && r.MaxAge == 0 {
			v.add(key, "needs at least one condition: claims, acr, amr or max_age")
		}
	}
	v.acrOverlaps(i, a.Require)
}

// ruleMethods checks a rule's methods against HTTP method syntax and the
// route's own methods: a rule for a method the route refuses could never
// apply, which is a mistake worth stopping for.
func (v *validator) ruleMethods(key string, methods, route []string) {
	if methods != nil && len(methods) == 0 {
		v.add(key+".methods", "must list at least one method (leave it out for every method)")
	}
	for k, m := range methods {
		mk := fmt.Sprintf("%s.methods[%d]", key, k)
		switch {
		case !isToken(m):
			v.add(mk, "must be an HTTP method such as DELETE")
		case m != strings.ToUpper(m):
			v.add(mk, "must be upper case, such as %s", strings.ToUpper(m))
		case m == http.MethodTrace || m == http.MethodConnect:
			v.add(mk, "is never proxied")
		case slices.Contains(methods[:k], m):
			v.add(mk, "is listed twice")
		case len(route) > 0 && !slices.Contains(route, m) && !(m == http.MethodHead && slices.Contains(route, http.MethodGet)):
			v.add(mk, "is not one of the route's methods (apis[].methods): the rule would never apply")
		}
	}
}

func (v *validator) ruleClaims(key string, claims map[string][]ClaimValue) {
	if claims != nil && len(claims) == 0 {
		v.add(key, "must name at least one claim (leave it out for none)")
	}
	for _, name := range sortedKeys(claims) {
		ck := key + "." + name
		vals := claims[name]
		if strings.TrimSpace(name) == "" || strings.ContainsFunc(name, isControl) {
			ck = key
			v.add(ck, "has an empty or unprintable claim name")
			continue
		}
		if len(vals) == 0 {
			v.add(ck, "must list at least one value")
		}
		for k, cv := range vals {
			if !claimValueOK(cv) {
				v.add(fmt.Sprintf("%s[%d]", ck, k), "%s", errClaimValue.Error())
			}
		}
	}
}

func (v *validator) ruleACR(key string, acr []string) {
	v.ruleList(key, acr, "an acr value")
	if len(acr) > maxRuleACRValues {
		v.add(key, "must list at most %d values", maxRuleACRValues)
	}
	if n := len(strings.Join(acr, " ")); n > maxRuleACRBytes {
		v.add(key, "must be at most %d characters together (they are sent as acr_values)", maxRuleACRBytes)
	}
}

// ruleList checks a list of acr or amr values: not empty, each a visible
// ASCII word without quotes or backslash (they travel space-separated in
// acr_values), none twice.
func (v *validator) ruleList(key string, vals []string, what string) {
	if vals != nil && len(vals) == 0 {
		v.add(key, "must list at least one value (leave it out for none)")
	}
	for k, s := range vals {
		switch {
		case !isScopeToken(s):
			v.add(fmt.Sprintf("%s[%d]", key, k), "must be %s: visible ASCII without spaces, quotes or backslashes", what)
		case slices.Contains(vals[:k], s):
			v.add(fmt.Sprintf("%s[%d]", key, k), "is listed twice")
		}
	}
}

// acrOverlaps reports two rules that apply to one method and have no acr
// value in common: no sign-in could satisfy both, so the route would ask
// for a step-up forever.
func (v *validator) acrOverlaps(i int, rules []RuleConfig) {
	for j, a := range rules {
		for k, b := range rules[:j] {
			if len(a.ACR) == 0 || len(b.ACR) == 0 || !methodsOverlap(a.Methods, b.Methods) {
				continue
			}
			if !slices.ContainsFunc(a.ACR, func(s string) bool { return slices.Contains(b.ACR, s) }) {
				v.add(fmt.Sprintf("apis[%d].require[%d].acr", i, j),
					"has no value in common with apis[%d].require[%d].acr, and both rules apply to some method: no sign-in could satisfy both", i, k)
			}
		}
	}
}

func methodsOverlap(a, b []string) bool {
	if len(a) == 0 || len(b) == 0 {
		return true
	}
	withHead := func(ms []string) []string {
		if slices.Contains(ms, http.MethodGet) {
			return append(slices.Clone(ms), http.MethodHead)
		}
		return ms
	}
	a, b = withHead(a), withHead(b)
	return slices.ContainsFunc(a, func(m string) bool { return slices.Contains(b, m) })
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
