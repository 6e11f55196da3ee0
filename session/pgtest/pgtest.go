// Package pgtest gives tests a PostgreSQL database: the one named by
// BFF_TEST_POSTGRES_URL, or the local server (127.0.0.1:5432, trust auth,
// database test, user postgres). Each caller gets a schema of its own,
// dropped when the test ends, so tests sharing one server never see each
// other's rows. It is imported only by _test.go files and e2e programs,
// never by the production binary.
//
// When no server answers, a test is skipped with a message saying so,
// unless BFF_TEST_REQUIRE (a comma-separated list such as
// "redis,postgres") contains "postgres": then it fails, so CI cannot pass
// by skipping.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Environment variables.
const (
	EnvURL     = "BFF_TEST_POSTGRES_URL"
	EnvRequire = "BFF_TEST_REQUIRE"
)

// DefaultURL is the local server of the development machines and CI.
const DefaultURL = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

// BaseURL is BFF_TEST_POSTGRES_URL, or DefaultURL.
func BaseURL() string {
	if u := os.Getenv(EnvURL); u != "" {
		return u
	}
	return DefaultURL
}

var unsafe = regexp.MustCompile(`[^a-z0-9_]+`)

// Schema creates a schema of its own for t on the test server and returns
// a URL whose search_path selects it; t.Cleanup drops it with everything
// in it. It skips t (or fails it, when BFF_TEST_REQUIRE lists postgres)
// when no server answers.
func Schema(t testing.TB) string {
	t.Helper()
	base := BaseURL()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		unavailable(t, fmt.Sprintf("no PostgreSQL at %s (%v); set %s", redact(base), err, EnvURL))
	}
	defer conn.Close(ctx)
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	name := strings.ToLower(t.Name())
	name = unsafe.ReplaceAllString(name, "_")
	if len(name) > 40 {
		name = name[:40]
	}
	schema := "bfftest_" + name + "_" + hex.EncodeToString(b)
	if _, err := conn.Exec(ctx, `CREATE SCHEMA `+pgx.Identifier{schema}.Sanitize()); err != nil {
		t.Fatalf("pgtest: create schema: %v", err)
	}
	t.Cleanup(func() { Drop(t, base, schema) })
	return WithSearchPath(base, schema)
}

// Drop drops schema and everything in it.
func Drop(t testing.TB, base, schema string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Logf("pgtest: cleanup: %v", err)
		return
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `DROP SCHEMA IF EXISTS `+pgx.Identifier{schema}.Sanitize()+` CASCADE`); err != nil {
		t.Logf("pgtest: drop schema: %v", err)
	}
}

// WithSearchPath returns base with its search_path set to schema.
func WithSearchPath(base, schema string) string {
	u, err := url.Parse(base)
	if err != nil || u.Scheme == "" {
		return base + " search_path=" + schema
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

func redact(s string) string {
	if u, err := url.Parse(s); err == nil && u.User != nil {
		u.User = url.User(u.User.Username())
		return u.String()
	}
	return s
}

// unavailable skips t, or fails it when BFF_TEST_REQUIRE names postgres.
func unavailable(t testing.TB, why string) {
	t.Helper()
	if Required() {
		t.Fatalf("pgtest: %s, but %s=%q requires postgres", why, EnvRequire, os.Getenv(EnvRequire))
	}
	t.Skipf("pgtest: %s", why)
}

// Required reports whether BFF_TEST_REQUIRE lists "postgres".
func Required() bool {
	list := strings.Split(os.Getenv(EnvRequire), ",")
	for i := range list {
		list[i] = strings.ToLower(strings.TrimSpace(list[i]))
	}
	return slices.Contains(list, "postgres")
}
