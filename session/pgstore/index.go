package pgstore

import (
	"context"
	"time"

	"github.com/bff-project/bff/session"
)

// IndexAdd implements [session.Index].
func (s *Store) IndexAdd(ctx context.Context, kind, value, key string, expiry time.Time) error {
	ctx, cancel := s.call(ctx)
	defer cancel()
	_, err := s.pool.Exec(ctx, `INSERT INTO bff_session_index (kind, value, token, expiry) VALUES ($1, $2, $3, $4)
		ON CONFLICT (kind, value, token) DO UPDATE SET expiry = EXCLUDED.expiry`, kind, value, key, expiry)
	if err != nil {
		return pgErr("index add", err)
	}
	return nil
}

// IndexRemove implements [session.Index].
func (s *Store) IndexRemove(ctx context.Context, kind, value, key string) error {
	ctx, cancel := s.call(ctx)
	defer cancel()
	_, err := s.pool.Exec(ctx, `DELETE FROM bff_session_index WHERE kind = $1 AND value = $2 AND token = $3`, kind, value, key)
	if err != nil {
		return pgErr("index remove", err)
	}
	return nil
}

// DeleteIndexed implements [session.IndexedDeleter]: one statement, one
// commit (one WAL sync) for the session and its index entries.
func (s *Store) DeleteIndexed(ctx context.Context, key string, entries []session.IndexEntry) error {
	ctx, cancel := s.call(ctx)
	defer cancel()
	kinds, values := make([]string, len(entries)), make([]string, len(entries))
	for i, e := range entries {
		kinds[i], values[i] = e.Kind, e.Value
	}
	_, err := s.pool.Exec(ctx, `WITH s AS (DELETE FROM bff_sessions WHERE token = $1)
		DELETE FROM bff_session_index i USING unnest($2::text[], $3::text[]) AS e(kind, value)
		WHERE i.kind = e.kind AND i.value = e.value AND i.token = $1`, key, kinds, values)
	if err != nil {
		return pgErr("delete", err)
	}
	return nil
}

// IndexLookup implements [session.Index]: one primary-key range scan, whose
// cost follows the entries of one (kind, value).
func (s *Store) IndexLookup(ctx context.Context, kind, value string) ([]string, error) {
	ctx, cancel := s.call(ctx)
	defer cancel()
	rows, err := s.pool.Query(ctx, `SELECT token FROM bff_session_index WHERE kind = $1 AND value = $2 AND expiry > now()`, kind, value)
	if err != nil {
		return nil, pgErr("index lookup", err)
	}
	defer rows.Close()
	var keys []string
	for rows.Next() {
		var k string
		if err := rows.Scan(&k); err != nil {
			return nil, pgErr("index lookup", err)
		}
		keys = append(keys, k)
	}
	if err := rows.Err(); err != nil {
		return nil, pgErr("index lookup", err)
	}
	return keys, nil
}

// FirstUse implements [session.ReplayCache]: an insert that takes over an
// expired row, atomic under the primary key.
func (s *Store) FirstUse(ctx context.Context, id string, expiry time.Time) (bool, error) {
	ctx, cancel := s.call(ctx)
	defer cancel()
	tag, err := s.pool.Exec(ctx, `INSERT INTO bff_replay (id, expiry) VALUES ($1, $2)
		ON CONFLICT (id) DO UPDATE SET expiry = EXCLUDED.expiry WHERE bff_replay.expiry <= now()`, id, expiry)
	if err != nil {
		return false, pgErr("replay insert", err)
	}
	return tag.RowsAffected() == 1, nil
}

// Forget implements [session.ReplayCache].
func (s *Store) Forget(ctx context.Context, id string) error {
	ctx, cancel := s.call(ctx)
	defer cancel()
	if _, err := s.pool.Exec(ctx, `DELETE FROM bff_replay WHERE id = $1`, id); err != nil {
		return pgErr("replay delete", err)
	}
	return nil
}
