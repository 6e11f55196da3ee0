package authz

import (
	"errors"
	"fmt"
	"math"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/bff-project/bff/session"
)

// Rule is one authorization rule of a route (config apis[].require[]).
type Rule struct {
	// Methods the rule applies to; empty: every method. A rule for GET
	// applies to HEAD too.
	Methods []string
	// Claims maps a claim name to its accepted values: strings, bools or
	// numbers (any Go integer or float type).
	Claims map[string][]any
	// ACR lists acceptable acr values, preferred first.
	ACR []string
	// AMR lists methods the sign-in must all have used.
	AMR []string
	// MaxAge bounds the time since the user authenticated; 0: no bound.
	MaxAge time.Duration
}

// ErrForbidden is the error of a call a claims rule refuses.
var ErrForbidden = errors.New("authz: the session's claims do not satisfy the route's rules")

// NoMaxAge is StepUp.MaxAge when no max_age is asked for.
const NoMaxAge time.Duration = -1

// StepUp is the error of a call whose session's sign-in is not strong or
// recent enough for the route: a new sign-in must reach it. It carries no
// claim or token: only what to ask the provider for.
type StepUp struct {
	// ACRValues are the acr values the new sign-in may have, preferred
	// first; empty when any will do.
	ACRValues []string
	// MaxAge bounds the age of the new sign-in's authentication (whole
	// seconds); NoMaxAge when there is no bound.
	MaxAge time.Duration
	// Reauthenticate asks for a fresh login (prompt=login): an amr
	// condition failed, and OpenID Connect has no parameter to ask for
	// authentication methods.
	Reauthenticate bool
}

func (e *StepUp) Error() string {
	return "authz: the route needs a stronger or more recent sign-in"
}

// Config configures an [Authorizer].
type Config struct {
	// Routes are the rules of each route, by route index (proxy.Route.Index);
	// nil or empty: the route has none.
	Routes [][]Rule
	// Now returns the current time. Default time.Now.
	Now func() time.Time
}

// Authorizer checks calls against their route's rules. It is safe for
// concurrent use; a nil *Authorizer allows every call.
type Authorizer struct {
	routes []*policy // by route index; nil: no rules
	claims claimCache
	now    func() time.Time
}

// policy is one route's compiled rules.
type policy struct {
	rules []rule
}

type rule struct {
	methods []string // upper case; nil: all
	claims  []claimCond
	acr     []string
	amr     []string
	maxAge  time.Duration
}

type claimCond struct {
	index  int   // in the claim cache's names
	values []any // string, bool or float64
}

// New compiles the rules of every route, reporting every problem at once
// (the configuration has been validated; this catches rules built in
// code). It returns nil, and no error, when no route has rules.
func New(cfg Config) (*Authorizer, error) {
	a := &Authorizer{routes: make([]*policy, len(cfg.Routes)), now: cfg.Now, claims: claimCache{index: map[string]int{}}}
	if a.now == nil {
		a.now = time.Now
	}
	var errs []error
	some := false
	for i, rules := range cfg.Routes {
		if len(rules) == 0 {
			continue
		}
		p := &policy{}
		for j, r := range rules {
			cr, err := a.compile(r)
			if err != nil {
				errs = append(errs, fmt.Errorf("authz: route %d rule %d: %w", i, j, err))
			}
			p.rules = append(p.rules, cr)
		}
		a.routes[i] = p
		some = true
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if !some {
		return nil, nil
	}
	return a, nil
}

func (a *Authorizer) compile(r Rule) (rule, error) {
	cr := rule{acr: slices.Clone(r.ACR), amr: slices.Clone(r.AMR), maxAge: r.MaxAge}
	var errs []error
	for _, m := range r.Methods {
		cr.methods = append(cr.methods, strings.ToUpper(m))
	}
	if slices.Contains(cr.methods, http.MethodGet) && !slices.Contains(cr.methods, http.MethodHead) {
		cr.methods = append(cr.methods, http.MethodHead)
	}
	names := make([]string, 0, len(r.Claims))
	for name := range r.Claims {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		c := claimCond{index: a.claims.add(name)}
		for _, v := range r.Claims[name] {
			nv, ok := normalize(v)
			if !ok {
				errs = append(errs, fmt.Errorf("claim %s: a value is not a string, a bool or a number", name))
				continue
			}
			c.values = append(c.values, nv)
		}
		if len(c.values) == 0 {
			errs = append(errs, fmt.Errorf("claim %s: no accepted value", name))
		}
		cr.claims = append(cr.claims, c)
	}
	if r.MaxAge < 0 {
		errs = append(errs, errors.New("max_age is negative"))
	}
	if len(cr.claims) == 0 && len(cr.acr) == 0 && len(cr.amr) == 0 && r.MaxAge == 0 {
		errs = append(errs, errors.New("no condition"))
	}
	return cr, errors.Join(errs...)
}

// normalize gives a configured claim value the type encoding/json decodes
// claims into: string, bool or float64.
func normalize(v any) (any, bool) {
	switch x := v.(type) {
	case string, bool:
		return x, true
	case float64:
		return x, !math.IsNaN(x) && !math.IsInf(x, 0)
	case float32:
		return normalize(float64(x))
	}
	rv := reflect.ValueOf(v)
	switch {
	case rv.CanInt():
		return float64(rv.Int()), true
	case rv.CanUint():
		return float64(rv.Uint()), true
	}
	return nil, false
}

// Applies reports whether some rule of the route applies to method: an
// anonymous call on a user-optional route must then sign in.
func (a *Authorizer) Applies(route int, method string) bool {
	p := a.policy(route)
	if p == nil {
		return false
	}
	for i := range p.rules {
		if p.rules[i].applies(method) {
			return true
		}
	}
	return false
}

func (a *Authorizer) policy(route int) *policy {
	if a == nil || route < 0 || route >= len(a.routes) {
		return nil
	}
	return a.routes[route]
}

// Check decides a call with method on route for the session rec: nil,
// [ErrForbidden] (a claims condition failed), or a [*StepUp] (the
// sign-in is too weak or too old). Claims conditions are decided first:
// no sign-in can fix them.
func (a *Authorizer) Check(route int, method string, rec *session.Record) error {
	p := a.policy(route)
	if p == nil {
		return nil
	}
	var claims claimSet
	tooWeak := false
	for i := range p.rules {
		r := &p.rules[i]
		if !r.applies(method) {
			continue
		}
		if len(r.claims) > 0 {
			if claims == nil {
				claims = a.claims.of(rec)
			}
			for _, c := range r.claims {
				if !c.match(claims[c.index]) {
					return ErrForbidden
				}
			}
		}
		if !tooWeak && !r.strongEnough(rec, a.now) {
			tooWeak = true
		}
	}
	if tooWeak {
		return p.stepUp(method)
	}
	return nil
}

func (r *rule) applies(method string) bool {
	if r.methods == nil {
		return true
	}
	for _, m := range r.methods {
		// Without case: a server that reads "delete" as DELETE must not
		// get it past a rule for DELETE.
		if strings.EqualFold(m, method) {
			return true
		}
	}
	return false
}

func (r *rule) strongEnough(rec *session.Record, now func() time.Time) bool {
	if len(r.acr) > 0 && !slices.Contains(r.acr, rec.ACR) {
		return false
	}
	for _, m := range r.amr {
		if !slices.Contains(rec.AMR, m) {
			return false
		}
	}
	if r.maxAge > 0 && (rec.AuthTime.IsZero() || now().Sub(rec.AuthTime) > r.maxAge) {
		return false
	}
	return true
}

// stepUp is what a new sign-in must achieve to satisfy every rule that
// applies to method: an acr value all of them accept (in the first one's
// order of preference), the shortest max_age, and a fresh login when one
// asks for authentication methods.
func (p *policy) stepUp(method string) *StepUp {
	s := &StepUp{MaxAge: NoMaxAge}
	var acr []string
	acrSet := false
	for i := range p.rules {
		r := &p.rules[i]
		if !r.applies(method) {
			continue
		}
		if len(r.acr) > 0 {
			if !acrSet {
				acr, acrSet = slices.Clone(r.acr), true
			} else {
				acr = slices.DeleteFunc(acr, func(v string) bool { return !slices.Contains(r.acr, v) })
			}
		}
		if r.maxAge > 0 && (s.MaxAge == NoMaxAge || r.maxAge < s.MaxAge) {
			s.MaxAge = r.maxAge
		}
		if len(r.amr) > 0 {
			s.Reauthenticate = true
		}
	}
	s.ACRValues = acr
	return s
}
