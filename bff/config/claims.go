package config

import (
	"errors"
	"math"
	"reflect"
	"strings"

	"gopkg.in/yaml.v3"
)

// This file holds ClaimValue, the typed values of apis[].require[].claims.

// ClaimValue is one value a claims rule accepts: a string, a boolean or a
// number. In YAML it is a scalar whose type is YAML's: true is a boolean,
// "true" a string, 42 and 4.2 numbers. A claim matches a value only of the
// same type, so an ID token's "true" never passes for true.
type ClaimValue struct {
	// Value is a string, a bool or a number (float64 when read from YAML or
	// the environment; any Go integer or float type in code).
	Value any
}

// errClaimValue is the problem of a value that is no scalar of the three
// types. It quotes nothing: config values are never quoted in errors.
var errClaimValue = errors.New("must be a string, a boolean or a number")

// claimTypeError is errClaimValue as yaml.v3 wants it from an
// unmarshaler: a *yaml.TypeError lets the decoder go on with the other
// keys (any other error ends decoding), so Load can report every problem.
func claimTypeError() error { return &yaml.TypeError{Errors: []string{errClaimValue.Error()}} }

// UnmarshalYAML reads a scalar: !!str, !!bool, !!int or !!float.
func (v *ClaimValue) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return claimTypeError()
	}
	switch n.ShortTag() {
	case "!!str":
		v.Value = n.Value
	case "!!bool":
		var b bool
		if err := n.Decode(&b); err != nil {
			return claimTypeError()
		}
		v.Value = b
	case "!!int", "!!float":
		var f float64
		if err := n.Decode(&f); err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return claimTypeError()
		}
		v.Value = f
	default:
		return claimTypeError()
	}
	return nil
}

// MarshalYAML writes the value back as the scalar it was read from.
func (v ClaimValue) MarshalYAML() (any, error) { return v.Value, nil }

// parseClaimValue reads an environment value the way YAML reads a plain
// scalar: true/false are booleans, numbers are numbers, anything else is
// a string.
func parseClaimValue(s string) (ClaimValue, error) {
	var v ClaimValue
	err := v.UnmarshalYAML(&yaml.Node{Kind: yaml.ScalarNode, Value: s})
	return v, err
}

// claimValueOK reports whether v holds one of the three types (a value
// built in code may hold anything).
func claimValueOK(v ClaimValue) bool {
	switch x := v.Value.(type) {
	case string, bool:
		return true
	case float64:
		return !math.IsNaN(x) && !math.IsInf(x, 0)
	case float32:
		return !math.IsNaN(float64(x)) && !math.IsInf(float64(x), 0)
	}
	k := reflect.ValueOf(v.Value).Kind()
	return k >= reflect.Int && k <= reflect.Uint64
}

var claimsType = reflect.TypeFor[map[string][]ClaimValue]()

// setClaimsFromEnv parses "name=value,name=value2,other=true" into a claims
// map: a name given again adds a value.
func setClaimsFromEnv(f reflect.Value, value, envName string) error {
	m := map[string][]ClaimValue{}
	for i, item := range splitList(value) {
		k, raw, ok := strings.Cut(item, "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" {
			return configErr(envName, "entry %d is not claim=value", i+1)
		}
		cv, err := parseClaimValue(strings.TrimSpace(raw))
		if err != nil {
			return configErr(envName, "entry %d: %v", i+1, errClaimValue)
		}
		m[k] = append(m[k], cv)
	}
	f.Set(reflect.ValueOf(m))
	return nil
}
