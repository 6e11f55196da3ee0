package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"regexp"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// This file holds Load: strict YAML decoding, key checks and Error.

// Error is one configuration problem. Key is the full key path
// ("oidc.client_secret", "apis[1].upstream", "session.encryption_keys[0]"),
// or the environment variable or file the problem comes from. Problem never
// contains a configured value, so it is safe to print and log.
//
// [Load] and [Config.Validate] return every problem at once as an
// [errors.Join] of *Error values; find one with [errors.As].
type Error struct {
	Key     string
	Problem string
	file    bool // the file itself could not be read or parsed
}

// Error returns "config: <key>: <problem>".
func (e *Error) Error() string { return "config: " + e.Key + ": " + e.Problem }

func configErr(key, format string, args ...any) error {
	return &Error{Key: key, Problem: fmt.Sprintf(format, args...)}
}

// Load reads the YAML file at path (none when path is ""), applies the
// BFF_* variables in environ (os.Environ form, "NAME=value"), reads the
// *_file keys and fills in defaults ([Config.SetDefaults]). It does not
// call [Config.Validate].
//
// Decoding is strict: an unknown key, a duplicate key or a value of the wrong
// type is an error naming the key path and line. Any key can be set from the
// environment as BFF_ + its path upper-cased and joined by "_"
// (BFF_OIDC_CLIENT_SECRET, BFF_SESSION_IDLE_TIMEOUT=90s); lists are
// comma-separated, maps are "k=v,k2=v2", and list entries of sections are
// addressed by index (BFF_APIS_0_UPSTREAM), which may extend the list by one
// entry at a time. BFF_* variables that name no key are ignored (see
// [UnknownEnv]). Empty lists and maps are treated as unset.
//
// Load reports every problem it finds, not the first: on error the
// returned Config holds everything that could be read, so that
// [Config.Validate] can report the rest ([Problems] merges both). A
// file that cannot be read or parsed is the one exception: its error comes
// alone, with an empty Config.
//
// After a *_file key is read its value is in the matching field and the
// *_file field is cleared, so the result can be marshalled and loaded again.
// Every error is, or joins, *Error values that never contain a secret.
func Load(path string, environ []string) (Config, error) {
	var cfg Config
	var errs []error
	if path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return Config{}, &Error{Key: path, Problem: err.Error(), file: true}
		}
		if err := decodeYAML(data, path, &cfg); err != nil {
			var ce *Error
			if errors.As(err, &ce) && ce.file {
				return Config{}, err
			}
			errs = append(errs, err)
		}
	}
	if _, err := applyEnv(&cfg, environ); err != nil {
		errs = append(errs, err)
	}
	if err := cfg.ReadSecretFiles(); err != nil {
		errs = append(errs, err)
	}
	normalizeEmpty(reflect.ValueOf(&cfg).Elem())
	cfg.SetDefaults()
	return cfg, errors.Join(errs...)
}

// Problems lists every problem of a configuration: loadErr (from
// [Load]) first, then validation's (each of more, such as
// [Config.Validate]'s error), leaving out a later problem for a key an
// earlier one already named. When the file itself could not be read or
// parsed, only that is reported: whatever else would be missing is missing
// because of it.
func Problems(loadErr error, more ...error) []error {
	problems := flattenErrors(loadErr)
	for _, p := range problems {
		if ce, ok := p.(*Error); ok && ce.file {
			return problems
		}
	}
	named := map[string]bool{}
	for _, p := range problems {
		if ce, ok := p.(*Error); ok {
			named[ce.Key] = true
		}
	}
	for _, err := range more {
		for _, p := range flattenErrors(err) {
			if ce, ok := p.(*Error); ok && named[ce.Key] {
				continue
			}
			problems = append(problems, p)
		}
	}
	return problems
}

// decodeYAML checks the document's shape against Config (to name every bad
// key without quoting values, which yaml.v3's own errors do) and decodes
// what fits: on problems, it still decodes every well-formed key, so that
// validation can go on.
func decodeYAML(data []byte, name string, cfg *Config) (err error) {
	defer func() {
		if r := recover(); r != nil { // yaml.v3 must never take the process down
			err = &Error{Key: name, Problem: "invalid YAML", file: true}
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil // empty file or only comments
		}
		return &Error{Key: name, Problem: cleanYAMLError(err), file: true}
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return &Error{Key: name, Problem: "only one YAML document is allowed", file: true}
	}
	c := nodeChecker{file: name, seen: map[aliasKey]bool{}}
	c.check(&doc, reflect.TypeFor[Config](), "")
	if len(c.errs) > 0 {
		// Decode leniently: unknown keys are skipped and ill-typed values
		// left zero (yaml.v3 goes on after a type error). The checker has
		// named both.
		_ = doc.Decode(cfg)
		return errors.Join(c.errs...)
	}
	strict := yaml.NewDecoder(bytes.NewReader(data))
	strict.KnownFields(true)
	if err := strict.Decode(cfg); err != nil && !errors.Is(err, io.EOF) {
		return configErr(name, "%s", cleanYAMLError(err))
	}
	return nil
}

// quotedValue is a value yaml.v3 quotes in its errors: in backticks, or
// in single quotes (an alias's anchor name, which is whatever followed the
// "*" of an unquoted value such as a secret).
var quotedValue = regexp.MustCompile("`[^`]*`|'[^']*'")

// cleanYAMLError makes a yaml.v3 error one line and drops the values it
// quotes (they may be secrets).
func cleanYAMLError(err error) string {
	s := quotedValue.ReplaceAllString(err.Error(), "value")
	s = strings.TrimPrefix(s, "yaml: ")
	s = strings.TrimPrefix(s, "unmarshal errors:\n")
	lines := strings.Split(s, "\n")
	for i := range lines {
		lines[i] = strings.TrimSpace(lines[i])
	}
	return strings.Join(lines, "; ")
}

type aliasKey struct {
	n *yaml.Node
	t reflect.Type
}

// nodeChecker walks a YAML node tree alongside a Go type, collecting a
// *Error for each unknown key, duplicate key or ill-typed value.
type nodeChecker struct {
	file string
	seen map[aliasKey]bool // aliased nodes already checked (bounds alias bombs)
	errs []error
}

func (c *nodeChecker) add(key string, n *yaml.Node, format string, args ...any) {
	if key == "" {
		key = c.file
	}
	c.errs = append(c.errs, configErr(key, "%s (%s line %d)", fmt.Sprintf(format, args...), c.file, n.Line))
}

func (c *nodeChecker) check(n *yaml.Node, t reflect.Type, key string) {
	for n.Kind == yaml.DocumentNode || n.Kind == yaml.AliasNode {
		if n.Kind == yaml.DocumentNode {
			if len(n.Content) == 0 {
				return
			}
			n = n.Content[0]
			continue
		}
		n = n.Alias
		if n == nil || c.seen[aliasKey{n, t}] {
			return
		}
		c.seen[aliasKey{n, t}] = true
	}
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" {
		return // null leaves the zero value
	}
	if reflect.PointerTo(t).Implements(unmarshalerType) {
		// A type that reads itself (ClaimValue) says what is wrong; its
		// errors quote no value.
		if err := n.Decode(reflect.New(t).Interface()); err != nil {
			c.add(key, n, "%s", cleanYAMLError(err))
		}
		return
	}
	switch {
	case t.Kind() == reflect.Struct:
		if n.Kind != yaml.MappingNode {
			c.add(key, n, "must be a mapping")
			return
		}
		c.checkStruct(n, t, key)
	case t.Kind() == reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			c.add(key, n, "must be a list")
			return
		}
		for i, e := range n.Content {
			c.check(e, t.Elem(), fmt.Sprintf("%s[%d]", key, i))
		}
	case t.Kind() == reflect.Map:
		if n.Kind != yaml.MappingNode {
			c.add(key, n, "must be a mapping")
			return
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			if k.Kind != yaml.ScalarNode {
				c.add(key, k, "keys must be strings")
				continue
			}
			c.check(n.Content[i+1], t.Elem(), joinKey(key, k.Value))
		}
	default:
		if n.Kind != yaml.ScalarNode {
			c.add(key, n, "must be %s", describeType(t))
			return
		}
		if err := n.Decode(reflect.New(t).Interface()); err != nil {
			c.add(key, n, "must be %s", describeType(t))
		}
	}
}

func (c *nodeChecker) checkStruct(n *yaml.Node, t reflect.Type, key string) {
	fields := yamlFields(t)
	lines := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			c.add(key, k, "keys must be strings")
			continue
		}
		if k.ShortTag() == "!!merge" {
			if v.Kind == yaml.SequenceNode {
				for _, m := range v.Content {
					c.check(m, t, key)
				}
			} else {
				c.check(v, t, key)
			}
			continue
		}
		child := joinKey(key, k.Value)
		if line, dup := lines[k.Value]; dup {
			c.add(child, k, "duplicate key (first at line %d)", line)
			continue
		}
		lines[k.Value] = k.Line
		ft, ok := fields[k.Value]
		if !ok {
			c.add(child, k, "unknown key")
			continue
		}
		c.check(v, ft, child)
	}
}

func joinKey(parent, name string) string {
	if parent == "" {
		return name
	}
	return parent + "." + name
}

var (
	durationType    = reflect.TypeFor[time.Duration]()
	unmarshalerType = reflect.TypeFor[yaml.Unmarshaler]()
)

func describeType(t reflect.Type) string {
	switch {
	case t.Kind() == reflect.Pointer:
		return describeType(t.Elem())
	case t == durationType:
		return `a duration such as "90s" or "8h"`
	case t.Kind() == reflect.Bool:
		return "true or false"
	case t.Kind() >= reflect.Int && t.Kind() <= reflect.Int64:
		return "an integer"
	case t.Kind() == reflect.String:
		return "a string"
	}
	return "a " + t.Kind().String()
}

// yamlName is a struct field's YAML key, or "" when the field is not part of
// the file format.
func yamlName(f reflect.StructField) string {
	if !f.IsExported() {
		return ""
	}
	name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
	if name == "-" || name == "" {
		return ""
	}
	return name
}

func yamlFields(t reflect.Type) map[string]reflect.Type {
	m := make(map[string]reflect.Type, t.NumField())
	for i := range t.NumField() {
		if name := yamlName(t.Field(i)); name != "" {
			m[name] = t.Field(i).Type
		}
	}
	return m
}

// normalizeEmpty sets empty slices and maps to nil, so "scopes: []" means
// unset and a marshalled config loads back equal. Fields tagged
// config:"keepempty" are left alone: there an empty list is a mistake
// (a rule's "acr: []" would otherwise read as no condition) that
// Validate reports.
func normalizeEmpty(v reflect.Value) {
	switch v.Kind() {
	case reflect.Struct:
		for i := range v.NumField() {
			f := v.Type().Field(i)
			if yamlName(f) != "" && f.Tag.Get("config") != "keepempty" {
				normalizeEmpty(v.Field(i))
			}
		}
	case reflect.Slice, reflect.Map:
		if v.Len() == 0 {
			v.SetZero()
			return
		}
		if v.Kind() == reflect.Slice && v.Type().Elem().Kind() == reflect.Struct {
			for i := range v.Len() {
				normalizeEmpty(v.Index(i))
			}
		}
	}
}

// flattenErrors lists the leaves of a tree of joined errors.
func flattenErrors(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, flattenErrors(e)...)
		}
		return out
	}
	return []error{err}
}
