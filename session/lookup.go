package session

import (
	"context"
	"errors"
	"fmt"
)

// Entry is one session found by [Manager.BySubject] or [Manager.BySID].
type Entry struct {
	Key    string
	Record *Record
}

// BySubject lists the live sessions of one user. With a store that has no
// [Index] it reads every session of an iterable store, and otherwise
// returns [ErrNotSupported].
func (m *Manager) BySubject(ctx context.Context, sub string) ([]Entry, error) {
	return m.lookup(ctx, BySubject, sub)
}

// BySID lists the live sessions made in one provider session; without an
// [Index], as [Manager.BySubject].
func (m *Manager) BySID(ctx context.Context, sid string) ([]Entry, error) {
	return m.lookup(ctx, BySID, sid)
}

// lookup resolves index entries and drops the stale ones it meets, which
// keeps the index consistent with expiry without a full scan.
func (m *Manager) lookup(ctx context.Context, kind, value string) ([]Entry, error) {
	if m.store.index == nil {
		return m.scan(ctx, kind, value)
	}
	iv := indexValue(value)
	keys, err := m.store.indexLookup(ctx, kind, iv)
	if err != nil {
		return nil, fmt.Errorf("session: index lookup: %w", err)
	}
	now := m.cfg.Now()
	var out []Entry
	for _, key := range keys {
		rec, stored, err := m.findStored(ctx, key, false)
		if err != nil {
			return nil, err
		}
		if rec == nil {
			if !stored {
				_ = m.store.indexRemove(ctx, kind, iv, key)
			}
			continue
		}
		if !m.live(rec, now) {
			m.forget(ctx, key, rec)
			continue
		}
		out = append(out, Entry{Key: key, Record: rec})
	}
	return out, nil
}

// scan is lookup for a store without an Index: it opens every stored
// session, so its cost follows the size of the store. That suits the small
// stores (memory, tests) that lack an index; a large one needs an Index.
func (m *Manager) scan(ctx context.Context, kind, value string) ([]Entry, error) {
	epoch := m.cache.epoch()
	all, err := m.store.all(ctx)
	if errors.Is(err, ErrNotSupported) {
		return nil, fmt.Errorf("session: lookup by %s: %w", kind, ErrNotSupported)
	}
	if err != nil {
		return nil, fmt.Errorf("session: list: %w", err)
	}
	now := m.cfg.Now()
	var out []Entry
	for key, b := range all {
		rec := m.decode(key, b, epoch)
		if rec == nil || !matches(rec, kind, value) {
			continue
		}
		if !m.live(rec, now) {
			m.forget(ctx, key, rec)
			continue
		}
		out = append(out, Entry{Key: key, Record: rec})
	}
	return out, nil
}

// matches is what the index would say: sessions without a sid are never
// listed under one.
func matches(rec *Record, kind, value string) bool {
	switch kind {
	case BySubject:
		return rec.Subject == value
	case BySID:
		return rec.SID != "" && rec.SID == value
	}
	return false
}
