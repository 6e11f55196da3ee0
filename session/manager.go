package session

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/alexedwards/scs/v2"
)

// ErrNotFound is returned by [Manager.Update] when the session no longer
// exists (expired, signed out, or never existed).
var ErrNotFound = errors.New("session: not found")

// saveTimeout bounds the save at the end of [Manager.Update], which runs on
// a context of its own. The stores bound each call themselves (Redis by its
// read and write timeouts); this is the backstop.
const saveTimeout = 5 * time.Second

// Config configures a [Manager].
type Config struct {
	// Store keeps the sealed sessions: any scs store with context methods
	// (wrap one without them in [ContextStore]). The package doc says
	// which optional interfaces it may add and what the Manager does
	// without each. Required.
	Store scs.CtxStore
	// Cipher seals records. Required.
	Cipher *Cipher
	// IdleTimeout ends a session unused for this long. Default 2h.
	IdleTimeout time.Duration
	// Lifetime ends a session this long after it was created. Default 24h.
	Lifetime time.Duration
	// TouchInterval is the least time between two writes of LastSeenAt by
	// API calls ([Manager.LoadCall]), so that calls do not all turn into
	// writes. Default 1m.
	TouchInterval time.Duration
	// ExpiryWarning is how long before its end a watched session is told
	// [NoticeExpiring]. Default 2m, at most half of IdleTimeout; negative:
	// never.
	ExpiryWarning time.Duration
	// SweepInterval is how often [Manager.Run] re-reads every session with
	// API calls in flight or watchers here: the safety net for missed
	// events and for calls of sessions that expired. Default 30s.
	SweepInterval time.Duration
	// LockTTL bounds how long one holder keeps a session's lock (it must
	// outlast a provider call). Default 30s.
	LockTTL time.Duration
	// CacheSize bounds the decoded-record cache. Default 10000.
	CacheSize int
	// Exclusive declares this Manager the backend's only writer (bolt: the
	// file lock admits one process), so a cached record is served without
	// reading the store. Never set it for a store shared by instances.
	Exclusive bool
	// Now returns the current time. Default time.Now.
	Now func() time.Time
	// Observe, when set, is called after every store call with the call's
	// context, the operation ("find", "commit", "replace", "delete",
	// "index_add", "index_remove", "index_lookup", "all", "lock",
	// "first_use", "forget", "ping", "publish", "subscribe"), its duration (for "lock", the wait
	// included) and its error, for metrics and traces. It must be fast and
	// safe for concurrent use. Default: none.
	Observe func(ctx context.Context, op string, d time.Duration, err error)
}

// Manager creates, loads, updates and deletes sessions, and ends the API
// calls bound to them (calls.go). It is the only user of its store: callers
// reach the store's replay cache and health through it too. It is safe for
// concurrent use.
type Manager struct {
	cfg      Config
	cipher   atomic.Pointer[Cipher] // cfg.Cipher until SetCipher
	store    *backend
	cache    recordCache
	calls    calls    // API calls under way, by store key
	watch    watchers // watched sessions (event streams), by store key
	touching sync.Map // store key -> struct{}: a LastSeenAt write under way
}

// NewManager returns a Manager for cfg.
func NewManager(cfg Config) (*Manager, error) {
	if cfg.Store == nil || cfg.Cipher == nil {
		return nil, errors.New("session: Store and Cipher are required")
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = 2 * time.Hour
	}
	if cfg.Lifetime <= 0 {
		cfg.Lifetime = 24 * time.Hour
	}
	if cfg.TouchInterval <= 0 {
		cfg.TouchInterval = time.Minute
	}
	if cfg.LockTTL <= 0 {
		cfg.LockTTL = 30 * time.Second
	}
	if cfg.CacheSize <= 0 {
		cfg.CacheSize = 10000
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.ExpiryWarning == 0 {
		cfg.ExpiryWarning = min(2*time.Minute, cfg.IdleTimeout/2)
	}
	cfg.ExpiryWarning = max(cfg.ExpiryWarning, 0)
	if cfg.SweepInterval <= 0 {
		cfg.SweepInterval = 30 * time.Second
	}
	m := &Manager{
		cfg:   cfg,
		store: newBackend(cfg.Store, cfg.Observe),
		cache: recordCache{max: cfg.CacheSize},
		watch: newWatchers(cfg.IdleTimeout, cfg.ExpiryWarning),
	}
	m.cipher.Store(cfg.Cipher)
	return m, nil
}

// SetCipher replaces the cipher records are sealed and opened with, for a
// key rotation without a restart: records written from now on are sealed
// with c's first key, and every key of c opens. Records sealed with a key
// c lacks no longer open (their users are signed out), so add keys before
// dropping one. The decoded-record cache is emptied, so that no record
// sealed with a dropped key is served from it. It is safe for concurrent
// use.
func (m *Manager) SetCipher(c *Cipher) {
	if c != nil {
		m.cipher.Store(c)
		m.cache.clear()
	}
}

// IdleTimeout returns the configured idle timeout.
func (m *Manager) IdleTimeout() time.Duration { return m.cfg.IdleTimeout }

// StoreKey derives the store key from a cookie token: base64url(SHA-256).
func StoreKey(token string) string {
	sum := sha256.Sum256([]byte(token))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// indexValue hashes a subject or sid so that the index, which is not
// encrypted, does not list who is signed in.
func indexValue(v string) string {
	sum := sha256.Sum256([]byte(v))
	return base64.RawURLEncoding.EncodeToString(sum[:18])
}

func randomString(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic("session: crypto/rand failed: " + err.Error())
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// Create stores rec as a new session and returns the cookie token for it. It
// always makes a fresh token (no session fixation) and sets rec's ID and
// times.
func (m *Manager) Create(ctx context.Context, rec *Record) (token Secret, err error) {
	now := m.cfg.Now()
	return m.create(ctx, rec, now, now.Add(m.cfg.Lifetime))
}

// Continue is [Manager.Create] for a sign-in that continues the session
// prev, a step-up by the same user: the new session gets a new ID and a
// new cookie token like any sign-in (no fixation), but keeps prev's
// CreatedAt and ExpiresAt, so that a step-up never extends a session's
// absolute lifetime. A prev past its absolute end is not continued:
// Continue then does what Create does. Ending prev is the caller's job.
func (m *Manager) Continue(ctx context.Context, rec, prev *Record) (token Secret, err error) {
	now := m.cfg.Now()
	if prev == nil || !now.Before(prev.ExpiresAt) || prev.ExpiresAt.After(now.Add(m.cfg.Lifetime)) {
		return m.Create(ctx, rec)
	}
	return m.create(ctx, rec, prev.CreatedAt, prev.ExpiresAt)
}

func (m *Manager) create(ctx context.Context, rec *Record, created, expires time.Time) (Secret, error) {
	rec.ID = randomString(16)
	rec.CreatedAt = created
	rec.LastSeenAt = m.cfg.Now()
	rec.ExpiresAt = expires
	tok := randomString(32)
	key := StoreKey(tok)
	if err := m.save(ctx, key, rec, true); err != nil {
		return "", err
	}
	expiry := rec.ExpiresAt
	if err := m.store.indexAdd(ctx, BySubject, indexValue(rec.Subject), key, expiry); err != nil {
		return "", fmt.Errorf("session: index: %w", err)
	}
	if rec.SID != "" {
		if err := m.store.indexAdd(ctx, BySID, indexValue(rec.SID), key, expiry); err != nil {
			return "", fmt.Errorf("session: index: %w", err)
		}
	}
	return Secret(tok), nil
}

// Load returns the live session for a cookie token, or a nil record when
// there is none (unknown, expired, tampered). The record is shared: do not
// modify it. Load only reads: it never extends the idle timeout (reading
// who is signed in is no activity). API calls do, through
// [Manager.LoadCall], and so does [Manager.Touch].
func (m *Manager) Load(ctx context.Context, token string) (key string, rec *Record, err error) {
	if token == "" {
		return "", nil, nil
	}
	key = StoreKey(token)
	rec, err = m.LoadKey(ctx, key)
	return key, rec, err
}

// LoadKey is [Manager.Load] for a store key (the [StoreKey] of a session
// cookie's value) the caller already has.
func (m *Manager) LoadKey(ctx context.Context, key string) (*Record, error) {
	rec, err := m.find(ctx, key)
	if err != nil || rec == nil {
		return nil, err
	}
	if !m.live(rec, m.cfg.Now()) {
		m.forget(ctx, key, rec)
		return nil, nil
	}
	return rec, nil
}

func (m *Manager) live(rec *Record, now time.Time) bool {
	return now.Before(rec.IdleExpiresAt(m.cfg.IdleTimeout))
}

// touchIfDue records an API call's visit: it writes LastSeenAt when the
// last write is TouchInterval old, once per key at a time (concurrent
// calls of the same session go on without waiting for it).
func (m *Manager) touchIfDue(ctx context.Context, key string, rec *Record) {
	now := m.cfg.Now()
	if now.Sub(rec.LastSeenAt) < m.cfg.TouchInterval {
		return
	}
	if _, busy := m.touching.LoadOrStore(key, struct{}{}); busy {
		return
	}
	defer m.touching.Delete(key)
	_, _ = m.Update(ctx, key, func(r *Record) (bool, error) {
		if now.Sub(r.LastSeenAt) < m.cfg.TouchInterval {
			return false, nil
		}
		r.LastSeenAt = now
		return true, nil
	})
}

// Touch marks the session under key as in use now, extending its idle
// timeout (never its lifetime), whenever it was last touched: the user
// asked to stay signed in. It returns the record as stored, or
// [ErrNotFound] when the session is gone.
func (m *Manager) Touch(ctx context.Context, key string) (*Record, error) {
	now := m.cfg.Now()
	return m.Update(ctx, key, func(r *Record) (bool, error) {
		r.LastSeenAt = now
		return true, nil
	})
}

// find reads and decrypts the record under key. The decoded record is
// reused while the stored bytes are unchanged, so the hot path skips
// decryption and JSON decoding, yet a change made by another instance is
// seen at once.
func (m *Manager) find(ctx context.Context, key string) (*Record, error) {
	rec, _, err := m.findStored(ctx, key, false)
	return rec, err
}

// findFresh is find for a read that decides a write: past the store's
// near-cache, if it has one ([FreshFinder]), and past an exclusive
// Manager's trust in its own cache, which is exact anyway.
func (m *Manager) findFresh(ctx context.Context, key string) (*Record, error) {
	rec, _, err := m.findStored(ctx, key, true)
	return rec, err
}

// findStored is find that also tells whether anything is stored under key:
// a record no configured key opens is stored yet unreadable (nil, true).
// Such a record is as good as gone for the user, who is simply signed out,
// but it must not be unindexed: an instance started with the wrong keys
// would otherwise hide live sessions from logout for good.
func (m *Manager) findStored(ctx context.Context, key string, fresh bool) (rec *Record, stored bool, err error) {
	if m.cfg.Exclusive {
		if rec := m.cache.lookup(key); rec != nil {
			return rec, true, nil
		}
	}
	epoch := m.cache.epoch()
	var b []byte
	var found bool
	if fresh {
		b, found, err = m.store.findFresh(ctx, key)
	} else {
		b, found, err = m.store.find(ctx, key)
	}
	if err != nil {
		return nil, false, fmt.Errorf("session: find: %w", err)
	}
	if !found {
		m.cache.drop(key)
		return nil, false, nil
	}
	return m.decode(key, b, epoch), true, nil
}

// decode opens the bytes b read under key, through the cache; nil when no
// configured key opens them. epoch is the cache's, taken before the read.
func (m *Manager) decode(key string, b []byte, epoch cacheEpoch) *Record {
	if rec := m.cache.get(key, b); rec != nil {
		return rec
	}
	plain, err := m.cipher.Load().Open(b, []byte(key))
	if err != nil {
		return nil
	}
	rec, err := UnmarshalRecord(plain)
	if err != nil {
		return nil
	}
	m.cache.putRead(key, b, rec, epoch)
	return rec
}

// save writes rec under key: a new session when create is set, otherwise
// only over one still stored ([ErrNotFound] if it was deleted meanwhile).
func (m *Manager) save(ctx context.Context, key string, rec *Record, create bool) error {
	plain, err := MarshalRecord(rec)
	if err != nil {
		return err
	}
	b := m.cipher.Load().Seal(plain, []byte(key))
	expiry := rec.IdleExpiresAt(m.cfg.IdleTimeout)
	epoch := m.cache.epoch()
	if create {
		if err := m.store.commit(ctx, key, b, expiry); err != nil {
			return fmt.Errorf("session: commit: %w", err)
		}
	} else {
		replaced, err := m.store.replace(ctx, key, b, expiry)
		if err != nil {
			return fmt.Errorf("session: replace: %w", err)
		}
		if !replaced {
			m.cache.remove(key)
			return ErrNotFound
		}
	}
	m.cache.putWritten(key, b, rec.Clone(), epoch) // rec stays the caller's; Load must not serve it
	return nil
}

// Lock takes the session's cross-instance lock. Most callers want
// [Manager.Update], which takes it for them.
func (m *Manager) Lock(ctx context.Context, key string) (unlock func(), err error) {
	return m.store.lock(ctx, "lock:"+key, m.cfg.LockTTL)
}

// Update changes a session under its lock: it re-reads the record, passes a
// private copy to fn, and saves it when fn reports a change, even along
// with an error (which Update then returns). fn may call the provider:
// every other request that wants to change this session, on any instance,
// waits meanwhile. Delete does not wait: a session deleted while fn ran
// stays deleted, and Update returns [ErrNotFound], as it does for a
// session that was gone to begin with. Otherwise it returns the record as
// stored after fn.
func (m *Manager) Update(ctx context.Context, key string, fn func(*Record) (changed bool, err error)) (*Record, error) {
	unlock, err := m.Lock(ctx, key)
	if err != nil {
		return nil, err
	}
	defer unlock()
	rec, err := m.findFresh(ctx, key)
	if err != nil {
		return nil, err
	}
	if rec == nil || !m.live(rec, m.cfg.Now()) {
		return nil, ErrNotFound
	}
	old := rec
	rec = rec.Clone()
	changed, err := fn(rec)
	if changed {
		// Saved even when fn also failed: a refresh token that rotated
		// before a later step failed must not be lost. fn may have used up
		// ctx's deadline doing so (a slow provider), so the save gets
		// time of its own.
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), saveTimeout)
		defer cancel()
		if serr := m.save(sctx, key, rec, false); serr != nil {
			return nil, serr
		}
		if visibleChange(old, rec) {
			m.publish(sctx, Event{Kind: EventChanged, Key: key})
		}
	}
	if err != nil {
		return nil, err
	}
	return rec, nil
}

// Live reports whether the session under key exists and has not expired,
// without recording a visit; err is for store failures only.
func (m *Manager) Live(ctx context.Context, key string) (bool, error) {
	rec, err := m.find(ctx, key)
	if err != nil {
		return false, err
	}
	return rec != nil && m.live(rec, m.cfg.Now()), nil
}

// visibleChange reports whether what a session's watchers are told about
// (its times and claims) differs between two versions of its record.
func visibleChange(a, b *Record) bool {
	return !a.LastSeenAt.Equal(b.LastSeenAt) || !a.ExpiresAt.Equal(b.ExpiresAt) || !bytes.Equal(a.Claims, b.Claims)
}

// Delete ends the session under key, if any, for reason (one of the
// Reason* constants), and returns the record it had, so the caller can
// revoke its tokens. It is not an error when the session is already gone.
// Once the store has dropped it, Delete ends this instance's API calls
// bound to it and tells its watchers, then publishes the end: every
// instance that hears it (see [Manager.Run]) does the same.
func (m *Manager) Delete(ctx context.Context, key, reason string) (*Record, error) {
	rec, err := m.findFresh(ctx, key)
	if err != nil {
		return nil, err
	}
	if rec != nil {
		if done, err := m.store.deleteIndexed(ctx, key, indexEntries(rec)); done {
			if err != nil {
				return nil, fmt.Errorf("session: delete: %w", err)
			}
			m.cache.remove(key)
			m.ended(ctx, key, reason)
			return rec, nil
		}
	}
	if err := m.store.delete(ctx, key); err != nil {
		return nil, fmt.Errorf("session: delete: %w", err)
	}
	m.cache.remove(key)
	if rec != nil {
		m.unindex(ctx, key, rec)
	}
	// Last: a call that binds before this and loads the session while
	// it is still stored (or, for an exclusive Manager, cached) is ended.
	m.ended(ctx, key, reason)
	return rec, nil
}

// ended ends key's calls and watchers here at once, then tells the other
// instances. The event comes back here too, and finds nothing left to end.
func (m *Manager) ended(ctx context.Context, key, reason string) {
	ev := Event{Kind: EventEnded, Key: key, Reason: reason}
	m.dispatch(ev)
	m.publish(context.WithoutCancel(ctx), ev)
}

// forget deletes an expired session found on the way, and publishes its
// end; failures only leave work for the store's own expiry.
func (m *Manager) forget(ctx context.Context, key string, rec *Record) {
	_ = m.store.delete(ctx, key)
	m.cache.remove(key)
	m.unindex(ctx, key, rec)
	m.ended(ctx, key, ReasonExpired)
}

// indexEntries are the index entries of rec, hashed as the index holds
// them.
func indexEntries(rec *Record) []IndexEntry {
	entries := []IndexEntry{{BySubject, indexValue(rec.Subject)}}
	if rec.SID != "" {
		entries = append(entries, IndexEntry{BySID, indexValue(rec.SID)})
	}
	return entries
}

func (m *Manager) unindex(ctx context.Context, key string, rec *Record) {
	_ = m.store.indexRemove(ctx, BySubject, indexValue(rec.Subject), key)
	if rec.SID != "" {
		_ = m.store.indexRemove(ctx, BySID, indexValue(rec.SID), key)
	}
}
