// Package multi holds end-to-end tests of several BFF instances sharing one
// real Redis or one real PostgreSQL (each test runs on both, as subtests
// "redis" and "postgres"; the outage test on Redis): a session made on one instance works on the others, logout
// and revocation take effect everywhere at once, a token renewal wanted by
// many requests on many instances reaches the provider once, and an outage
// of Redis answers 503 and heals by itself without losing sessions.
//
// Every instance is started by [github.com/bff-project/bff/e2e/harness]
// on its own loopback port, with the development provider and sample APIs.
// The tests need redis-server on PATH (or BFF_TEST_REDIS_URL for the tests
// that do not stop Redis) and PostgreSQL at 127.0.0.1:5432 (or
// BFF_TEST_POSTGRES_URL); without them they skip, unless BFF_TEST_REQUIRE
// lists "redis" or "postgres", in which case they fail.
//
// The package has no non-test code apart from this comment.
package multi
