package pgstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// migrations are the schema's versions, in order; migration i takes the
// schema from version i to i+1. Append only: a released migration never
// changes. Each is idempotent on its own (IF NOT EXISTS) so that a schema
// made by hand from these statements is taken as it is.
var migrations = []string{
	// 1: sessions (scs postgresstore's columns), the index, the replay cache.
	`CREATE TABLE IF NOT EXISTS bff_sessions (
		token  TEXT PRIMARY KEY,
		data   BYTEA NOT NULL,
		expiry TIMESTAMPTZ NOT NULL
	);
	CREATE INDEX IF NOT EXISTS bff_sessions_expiry_idx ON bff_sessions (expiry);
	CREATE TABLE IF NOT EXISTS bff_session_index (
		kind   TEXT NOT NULL,
		value  TEXT NOT NULL,
		token  TEXT NOT NULL,
		expiry TIMESTAMPTZ NOT NULL,
		PRIMARY KEY (kind, value, token)
	);
	CREATE INDEX IF NOT EXISTS bff_session_index_expiry_idx ON bff_session_index (expiry);
	CREATE TABLE IF NOT EXISTS bff_replay (
		id     TEXT PRIMARY KEY,
		expiry TIMESTAMPTZ NOT NULL
	);
	CREATE INDEX IF NOT EXISTS bff_replay_expiry_idx ON bff_replay (expiry);`,
}

// SchemaVersion is the schema version this build writes and reads.
var SchemaVersion = len(migrations)

// ErrSchemaOutdated is returned (wrapped) by [Open] with migration off when
// the database's schema is older than [SchemaVersion], and by [Check].
var ErrSchemaOutdated = errors.New("session: postgres: schema is not current")

// migrateLockID is the advisory lock that serialises migrations of
// instances starting at once (per database; the schema name is mixed in).
const migrateLockName = "bff:migrate"

// Migrate brings the schema in the connection's current schema (the
// search_path) to [SchemaVersion], in one transaction under an advisory
// lock, and reports the version it found. A schema newer than this build
// is left as it is: migrations only add, so older builds keep working
// during a rolling upgrade.
func Migrate(ctx context.Context, url string) (from int, err error) {
	pool, err := newPool(ctx, url)
	if err != nil {
		return 0, err
	}
	defer pool.Close()
	return migrate(ctx, pool)
}

func migrate(ctx context.Context, pool *pgxpool.Pool) (from int, err error) {
	err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		var schema string
		if err := tx.QueryRow(ctx, `SELECT current_schema()`).Scan(&schema); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, lockID(schema, migrateLockName)); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS bff_schema_version (version INTEGER NOT NULL)`); err != nil {
			return err
		}
		if from, err = readVersion(ctx, tx); err != nil {
			return err
		}
		for v := from; v < len(migrations); v++ {
			if _, err := tx.Exec(ctx, migrations[v]); err != nil {
				return fmt.Errorf("migration %d: %w", v+1, err)
			}
		}
		if from >= len(migrations) {
			return nil
		}
		if _, err := tx.Exec(ctx, `DELETE FROM bff_schema_version`); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO bff_schema_version (version) VALUES ($1)`, len(migrations))
		return err
	})
	if err != nil {
		return from, fmt.Errorf("session: postgres: migrate: %w", err)
	}
	return from, nil
}

// Check reports the schema's version and, when it is older than
// [SchemaVersion] (or missing), an error wrapping [ErrSchemaOutdated].
func Check(ctx context.Context, url string) (int, error) {
	pool, err := newPool(ctx, url)
	if err != nil {
		return 0, err
	}
	defer pool.Close()
	return check(ctx, pool)
}

func check(ctx context.Context, pool *pgxpool.Pool) (int, error) {
	var exists bool
	err := pool.QueryRow(ctx, `SELECT to_regclass('bff_schema_version') IS NOT NULL`).Scan(&exists)
	if err != nil {
		return 0, fmt.Errorf("session: postgres: schema check: %w", err)
	}
	v := 0
	if exists {
		if v, err = readVersion(ctx, pool); err != nil {
			return 0, fmt.Errorf("session: postgres: schema check: %w", err)
		}
	}
	if v < SchemaVersion {
		return v, fmt.Errorf("%w: version %d, this build needs %d; run `bff migrate -config FILE` (session.postgres_migrate is off)", ErrSchemaOutdated, v, SchemaVersion)
	}
	return v, nil
}

type querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

func readVersion(ctx context.Context, q querier) (int, error) {
	var v int
	err := q.QueryRow(ctx, `SELECT COALESCE(MAX(version), 0) FROM bff_schema_version`).Scan(&v)
	return v, err
}
