package config

import (
	"cmp"
	"errors"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
)

// This file applies BFF_* environment variables to a Config, for Load.

// errNoSuchKey means an environment variable names no config key.
var errNoSuchKey = errors.New("no such key")

// UnknownEnv lists the BFF_* variables in environ that name no config key
// (BFF_CONFIG and BFF_TEST_* aside). They are not errors: Kubernetes puts
// BFF_SERVICE_HOST, BFF_PORT, BFF_PORT_8080_TCP_ADDR and more into every
// pod of a namespace with a Service named bff, and they must not stop
// start-up. cmd/bff warns about them once and `bff check` lists them, so a
// misspelt real key is still seen.
func UnknownEnv(environ []string) []string {
	var cfg Config
	unknown, _ := applyEnv(&cfg, environ)
	return unknown
}

// applyEnv sets the keys BFF_* variables name, and returns the variables
// that name none.
func applyEnv(cfg *Config, environ []string) (unknown []string, err error) {
	type envVar struct{ name, value string }
	var vars []envVar
	for _, e := range environ {
		name, value, ok := strings.Cut(e, "=")
		if !ok || !strings.HasPrefix(name, "BFF_") || name == "BFF_CONFIG" || strings.HasPrefix(name, "BFF_TEST_") {
			continue
		}
		vars = append(vars, envVar{name, value})
	}
	// Natural order, so BFF_APIS_2_* is applied before BFF_APIS_10_* and a
	// list grows one entry at a time. Stable: the last duplicate wins.
	slices.SortStableFunc(vars, func(a, b envVar) int { return naturalCompare(a.name, b.name) })
	var errs []error
	for _, v := range vars {
		err := setFromEnv(reflect.ValueOf(cfg).Elem(), strings.TrimPrefix(v.name, "BFF_"), v.value, v.name)
		switch {
		case errors.Is(err, errNoSuchKey):
			if !slices.Contains(unknown, v.name) {
				unknown = append(unknown, v.name)
			}
		case err != nil:
			errs = append(errs, err)
		}
	}
	return unknown, errors.Join(errs...)
}

// setFromEnv sets the field of struct v that rest (an upper-cased key path
// joined by "_") names.
func setFromEnv(v reflect.Value, rest, value, envName string) error {
	t := v.Type()
	for i := range t.NumField() {
		name := strings.ToUpper(yamlName(t.Field(i)))
		if name == "" {
			continue
		}
		f := v.Field(i)
		if rest == name && !isSection(f.Type()) {
			return setLeaf(f, value, envName)
		}
		after, ok := strings.CutPrefix(rest, name+"_")
		if !ok {
			continue
		}
		var err error
		switch {
		case f.Kind() == reflect.Struct:
			err = setFromEnv(f, after, value, envName)
		case f.Kind() == reflect.Slice && f.Type().Elem().Kind() == reflect.Struct:
			err = setListEntry(f, after, value, envName)
		default:
			continue
		}
		if !errors.Is(err, errNoSuchKey) {
			return err
		}
	}
	return errNoSuchKey
}

func isSection(t reflect.Type) bool {
	return t.Kind() == reflect.Struct || (t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Struct)
}

// setListEntry handles "<index>_<key>" for a list of sections. The index may
// address an existing entry or append one right after the last.
func setListEntry(list reflect.Value, rest, value, envName string) error {
	digits, sub, ok := strings.Cut(rest, "_")
	if !ok || digits == "" || strings.Trim(digits, "0123456789") != "" || len(digits) > 6 {
		return errNoSuchKey
	}
	idx, _ := strconv.Atoi(digits)
	if idx > list.Len() {
		return configErr(envName, "index %d skips entries: the list has %d, add entries in order", idx, list.Len())
	}
	elem := reflect.New(list.Type().Elem()).Elem()
	if idx < list.Len() {
		elem.Set(list.Index(idx))
	}
	if err := setFromEnv(elem, sub, value, envName); err != nil {
		return err
	}
	if idx == list.Len() {
		list.Set(reflect.Append(list, elem))
	} else {
		list.Index(idx).Set(elem)
	}
	return nil
}

// setLeaf parses an environment value into f. Errors never quote the value.
func setLeaf(f reflect.Value, value, envName string) error {
	t := f.Type()
	switch {
	case t == durationType:
		d, err := time.ParseDuration(value)
		if err != nil {
			return configErr(envName, "must be %s", describeType(t))
		}
		f.SetInt(int64(d))
	case t.Kind() == reflect.String:
		f.SetString(value)
	case t.Kind() == reflect.Bool:
		b, err := strconv.ParseBool(value)
		if err != nil {
			return configErr(envName, "must be true or false")
		}
		f.SetBool(b)
	case t.Kind() == reflect.Pointer && t.Elem().Kind() == reflect.Bool:
		b, err := strconv.ParseBool(value)
		if err != nil {
			return configErr(envName, "must be true or false")
		}
		f.Set(reflect.ValueOf(&b))
	case t.Kind() >= reflect.Int && t.Kind() <= reflect.Int64:
		n, err := strconv.ParseInt(value, 10, t.Bits())
		if err != nil {
			return configErr(envName, "must be an integer")
		}
		f.SetInt(n)
	case t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.String:
		f.Set(reflect.ValueOf(splitList(value)).Convert(t))
	case t == claimsType:
		return setClaimsFromEnv(f, value, envName)
	case t.Kind() == reflect.Map && t.Key().Kind() == reflect.String && t.Elem().Kind() == reflect.String:
		m := reflect.MakeMap(t)
		for i, item := range splitList(value) {
			k, v, ok := strings.Cut(item, "=")
			k = strings.TrimSpace(k)
			if !ok || k == "" {
				return configErr(envName, "entry %d is not key=value", i+1)
			}
			m.SetMapIndex(reflect.ValueOf(k), reflect.ValueOf(strings.TrimSpace(v)))
		}
		f.Set(m)
	default:
		return configErr(envName, "cannot be set from the environment")
	}
	return nil
}

// splitList splits a comma-separated value, trimming spaces and dropping
// empty items; it returns nil for no items.
func splitList(s string) []string {
	var out []string
	for item := range strings.SplitSeq(s, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}

// naturalCompare orders strings with runs of digits compared as numbers.
func naturalCompare(a, b string) int {
	for a != "" && b != "" {
		da, db := leadingDigits(a), leadingDigits(b)
		if da != "" && db != "" {
			na, nb := strings.TrimLeft(da, "0"), strings.TrimLeft(db, "0")
			if c := cmp.Compare(len(na), len(nb)); c != 0 {
				return c
			}
			if c := strings.Compare(na, nb); c != 0 {
				return c
			}
			a, b = a[len(da):], b[len(db):]
			continue
		}
		if a[0] != b[0] {
			return cmp.Compare(int(a[0]), int(b[0]))
		}
		a, b = a[1:], b[1:]
	}
	return cmp.Compare(len(a), len(b))
}

func leadingDigits(s string) string {
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	return s[:i]
}
