package bff

import (
	"bytes"
	"cmp"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// ConfigError is one configuration problem. Key is the full key path
// ("oidc.client_secret", "apis[1].upstream", "session.encryption_keys[0]"),
// or the environment variable or file the problem comes from. Problem never
// contains a configured value, so it is safe to print and log.
//
// [LoadConfig] and [Config.Validate] return every problem at once as an
// [errors.Join] of *ConfigError values; find one with [errors.As].
type ConfigError struct {
	Key     string
	Problem string
}

// Error returns "config: <key>: <problem>".
func (e *ConfigError) Error() string { return "config: " + e.Key + ": " + e.Problem }

func configErr(key, format string, args ...any) error {
	return &ConfigError{Key: key, Problem: fmt.Sprintf(format, args...)}
}

// redactedValue replaces secrets in [Config.Redacted] and in logs.
const redactedValue = "[redacted]"

// LoadConfig reads the YAML file at path (none when path is ""), applies the
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
// entry at a time. BFF_CONFIG and BFF_TEST_* are ignored; any other unknown
// BFF_* variable is an error. Empty lists and maps are treated as unset.
//
// After a *_file key is read its value is in the matching field and the
// *_file field is cleared, so the result can be marshalled and loaded again.
// Every error is, or joins, *ConfigError values that never contain a secret.
func LoadConfig(path string, environ []string) (Config, error) {
	var cfg Config
	if path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return Config{}, fmt.Errorf("config: %w", err)
		}
		if err := decodeYAML(data, path, &cfg); err != nil {
			return Config{}, err
		}
	}
	if err := applyEnv(&cfg, environ); err != nil {
		return Config{}, err
	}
	if err := cfg.ReadSecretFiles(); err != nil {
		return Config{}, err
	}
	normalizeEmpty(reflect.ValueOf(&cfg).Elem())
	cfg.SetDefaults()
	return cfg, nil
}

// decodeYAML checks the document's shape against Config (to name every bad
// key without quoting values, which yaml.v3's own errors do) and then decodes
// it strictly.
func decodeYAML(data []byte, name string, cfg *Config) (err error) {
	defer func() {
		if r := recover(); r != nil { // yaml.v3 must never take the process down
			err = configErr(name, "invalid YAML")
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil // empty file or only comments
		}
		return configErr(name, "%s", cleanYAMLError(err))
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return configErr(name, "only one YAML document is allowed")
	}
	c := nodeChecker{file: name, seen: map[aliasKey]bool{}}
	c.check(&doc, reflect.TypeFor[Config](), "")
	if len(c.errs) > 0 {
		return errors.Join(c.errs...)
	}
	strict := yaml.NewDecoder(bytes.NewReader(data))
	strict.KnownFields(true)
	if err := strict.Decode(cfg); err != nil && !errors.Is(err, io.EOF) {
		return configErr(name, "%s", cleanYAMLError(err))
	}
	return nil
}

var quotedValue = regexp.MustCompile("`[^`]*`")

// cleanYAMLError makes a yaml.v3 error one line and drops the values it
// quotes between backticks (they may be secrets).
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
// *ConfigError for each unknown key, duplicate key or ill-typed value.
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

var durationType = reflect.TypeFor[time.Duration]()

func describeType(t reflect.Type) string {
	switch {
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
// unset and a marshalled config loads back equal.
func normalizeEmpty(v reflect.Value) {
	switch v.Kind() {
	case reflect.Struct:
		for i := range v.NumField() {
			if yamlName(v.Type().Field(i)) != "" {
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

// ReadSecretFiles reads each *_file key (oidc.client_secret_file,
// session.redis_url_file, session.encryption_keys_file) into its matching
// field and clears the *_file field. Trailing white space is trimmed; the
// keys file holds one key per line, ignoring blank lines and "#" comments.
// Setting both a value and its file is an error. [LoadConfig] calls it; call
// it yourself for a Config built in code. Calling it again does nothing.
func (c *Config) ReadSecretFiles() error {
	var errs []error
	readSecret := func(value, file *string, key string) {
		if *file == "" {
			return
		}
		if *value != "" {
			errs = append(errs, configErr(key+"_file", "set %s or %s_file, not both", key, key))
			return
		}
		data, err := os.ReadFile(*file)
		if err != nil {
			errs = append(errs, configErr(key+"_file", "%v", err))
			return
		}
		s := strings.TrimRight(string(data), " \t\r\n")
		if s == "" {
			errs = append(errs, configErr(key+"_file", "file %s is empty", *file))
			return
		}
		*value, *file = s, ""
	}
	readSecret(&c.OIDC.ClientSecret, &c.OIDC.ClientSecretFile, "oidc.client_secret")
	readSecret(&c.Session.RedisURL, &c.Session.RedisURLFile, "session.redis_url")
	readSecret(&c.Session.RedisPassword, &c.Session.RedisPasswordFile, "session.redis_password")

	if file := c.Session.EncryptionKeysFile; file != "" {
		const key = "session.encryption_keys_file"
		data, err := os.ReadFile(file)
		switch {
		case len(c.Session.EncryptionKeys) > 0:
			errs = append(errs, configErr(key, "set session.encryption_keys or session.encryption_keys_file, not both"))
		case err != nil:
			errs = append(errs, configErr(key, "%v", err))
		default:
			var keys []string
			for line := range strings.Lines(string(data)) {
				line = strings.TrimSpace(line)
				if line != "" && !strings.HasPrefix(line, "#") {
					keys = append(keys, line)
				}
			}
			if len(keys) == 0 {
				errs = append(errs, configErr(key, "file %s holds no keys", file))
				break
			}
			c.Session.EncryptionKeys, c.Session.EncryptionKeysFile = keys, ""
		}
	}
	return errors.Join(errs...)
}

// SetDefaults fills every unset field with its documented default. It is
// idempotent and never shares slices with the Config it was copied from.
func (c *Config) SetDefaults() {
	setString := func(p *string, v string) {
		if *p == "" {
			*p = v
		}
	}
	setDuration := func(p *time.Duration, v time.Duration) {
		if *p == 0 {
			*p = v
		}
	}
	setInt := func(p *int, v int) {
		if *p == 0 {
			*p = v
		}
	}
	setString(&c.Listen, "127.0.0.1:8080")

	o := &c.OIDC
	switch {
	case len(o.Scopes) == 0:
		o.Scopes = []string{"openid", "profile", "email", "offline_access"}
	case !slices.Contains(o.Scopes, "openid"):
		o.Scopes = append([]string{"openid"}, o.Scopes...)
	}
	setString(&o.TokenEndpointAuthMethod, "client_secret_basic")
	setString(&o.PostLogoutRedirectURL, "/")
	setDuration(&o.RefreshSkew, 60*time.Second)
	setDuration(&o.Timeout, 10*time.Second)

	s := &c.Session
	setString(&s.Store, "bolt")
	setString(&s.Path, "bff-sessions.db")
	setString(&s.RedisPrefix, "bff:")
	setDuration(&s.RedisTimeout, 500*time.Millisecond)
	setDuration(&s.IdleTimeout, 2*time.Hour)
	setDuration(&s.Lifetime, 24*time.Hour)
	setString(&s.SameSite, "strict")

	c.APIs = slices.Clone(c.APIs)
	for i := range c.APIs {
		a := &c.APIs[i]
		setString(&a.Token, "user")
		setString(&a.Exchange, "refresh")
		setDuration(&a.Timeout, 30*time.Second)
	}

	setString(&c.Log.Format, "json")
	setString(&c.Log.Level, "info")

	setDuration(&c.Server.ReadHeaderTimeout, 10*time.Second)
	setDuration(&c.Server.IdleTimeout, 120*time.Second)
	setInt(&c.Server.MaxHeaderBytes, 64<<10)
	setDuration(&c.Server.ShutdownTimeout, 20*time.Second)

	setInt(&c.RateLimit.LoginPerMinute, 30)
	setInt(&c.RateLimit.Burst, 10)
}

// Redacted returns a copy of c that is safe to print: the client secret, the
// encryption keys, a Redis URL with credentials or query and an upstream URL
// with credentials are replaced by "[redacted]". Slices it changes are
// copied; c is not modified.
func (c Config) Redacted() Config {
	if c.OIDC.ClientSecret != "" {
		c.OIDC.ClientSecret = redactedValue
	}
	if c.Session.RedisPassword != "" {
		c.Session.RedisPassword = redactedValue
	}
	if c.Session.RedisURL != "" && urlHasSecret(c.Session.RedisURL) {
		c.Session.RedisURL = redactedValue
	}
	if len(c.Session.EncryptionKeys) > 0 {
		keys := make([]string, len(c.Session.EncryptionKeys))
		for i := range keys {
			keys[i] = redactedValue
		}
		c.Session.EncryptionKeys = keys
	}
	c.APIs = slices.Clone(c.APIs)
	for i := range c.APIs {
		if urlHasSecret(c.APIs[i].Upstream) {
			c.APIs[i].Upstream = redactedValue
		}
	}
	return c
}

// ParseEncryptionKey decodes a session encryption key: base64 (standard or
// URL alphabet, padded or not) of exactly 32 bytes. Its errors never contain
// the key.
func ParseEncryptionKey(s string) ([]byte, error) {
	for _, enc := range []*base64.Encoding{
		base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding,
	} {
		b, err := enc.Strict().DecodeString(s)
		if err != nil {
			continue
		}
		if len(b) != 32 {
			return nil, fmt.Errorf("bff: encryption key decodes to %d bytes, want 32", len(b))
		}
		return b, nil
	}
	return nil, errors.New("bff: encryption key is not base64")
}

// GenerateKey returns a new random session encryption key: 32 bytes from
// crypto/rand in standard base64, the form [ParseEncryptionKey] reads.
func GenerateKey() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("bff: generate key: %w", err)
	}
	return base64.StdEncoding.EncodeToString(b), nil
}

// errNoSuchKey means an environment variable names no config key.
var errNoSuchKey = errors.New("no such key")

func applyEnv(cfg *Config, environ []string) error {
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
		if errors.Is(err, errNoSuchKey) {
			err = configErr(v.name, "unknown environment variable")
		}
		if err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
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
	case t.Kind() >= reflect.Int && t.Kind() <= reflect.Int64:
		n, err := strconv.ParseInt(value, 10, t.Bits())
		if err != nil {
			return configErr(envName, "must be an integer")
		}
		f.SetInt(n)
	case t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.String:
		f.Set(reflect.ValueOf(splitList(value)).Convert(t))
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
