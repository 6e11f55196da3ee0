package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/bff-project/bff/e2e/devop"
	"github.com/bff-project/bff/session"
	"github.com/bff-project/bff/session/boltstore"
	"github.com/bff-project/bff/session/pgstore"
	"github.com/bff-project/bff/session/redisstore"
	"github.com/jackc/pgx/v5"
	"github.com/redis/rueidis"
)

// scaleRedisPrefix is the BFF's default key prefix, used in -scale so that
// the keys read are exactly those a default deployment writes.
const scaleRedisPrefix = "bff:"

// runScale prints the scale figures: a session's size in Redis and
// the time to back-channel-logout one user among many sessions, in e for
// bffs; skipped says why a store was left out ("" if none was).
func runScale(ctx context.Context, o options, e *env, bffs []bffChild, skipped string) error {
	if skipped != "" {
		fmt.Println(skipped)
	}
	// The near-cache changes nothing stored: one Redis row is enough.
	kept := bffs[:0]
	for _, b := range bffs {
		if !b.NoNearCache {
			kept = append(kept, b)
		}
	}
	bffs = kept
	if len(bffs) == 0 {
		return errors.New("no store to measure")
	}
	for i := range bffs {
		bffs[i].RedisPrefix = scaleRedisPrefix
	}
	// Phase 1: a typical session per store, and a logout with (nearly) no
	// other sessions as the baseline.
	err := e.startProxy(bffs, o.logLevel)
	if err != nil {
		return err
	}
	alice := map[string]string{}
	baseline := map[string]time.Duration{}
	for _, b := range bffs {
		if alice[b.Name], err = e.typicalSession(ctx, b.Name); err != nil {
			return err
		}
		if baseline[b.Name], err = e.signInAndLogout(ctx, b.Name, benchUsers[2]); err != nil {
			return err
		}
	}
	e.proxy.stop()
	e.proxy = nil

	// The stores are closed now: measure and fill them directly.
	tmpl, err := e.sessionSize(ctx, bffs, alice)
	if err != nil {
		return err
	}
	fmt.Printf("\n(b) back-channel logout of one user (by sub) among %d other users' sessions\n", o.scaleN)
	created := map[string]int{}
	for _, b := range bffs {
		n, err := e.fill(ctx, b, tmpl, o)
		if err != nil {
			return fmt.Errorf("%s: fill: %w", b.Name, err)
		}
		created[b.Name] = n
	}

	// The store's part of a back-channel logout, measured directly on
	// the filled stores: what grows with their size.
	for _, b := range bffs {
		if err := e.storeLogout(ctx, b, tmpl, created[b.Name]); err != nil {
			return fmt.Errorf("%s: %w", b.Name, err)
		}
	}

	// Phase 2: the same BFFs on the filled stores.
	if err := e.startProxy(bffs, o.logLevel); err != nil {
		return err
	}
	for _, b := range bffs {
		d, err := e.logout(ctx, b.Name, benchUsers[0], alice[b.Name])
		if err != nil {
			return fmt.Errorf("%s: %w", b.Name, err)
		}
		d2, err := e.signInAndLogout(ctx, b.Name, benchUsers[1])
		if err != nil {
			return fmt.Errorf("%s: %w", b.Name, err)
		}
		fmt.Printf("  %-12s whole request among %d sessions: %s (alice), %s (bob); in a near-empty store: %s (carol)\n",
			b.Name, created[b.Name], fmtDur(d), fmtDur(d2), fmtDur(baseline[b.Name]))
	}
	return nil
}

// typicalSession signs alice in at target and calls both audience routes,
// so her session holds ID, access and refresh tokens and two audience
// tokens. It returns her cookie.
func (e *env) typicalSession(ctx context.Context, target string) (string, error) {
	base := e.bffURL(target)
	cookie, err := e.signIn(ctx, base, benchUsers[0])
	if err != nil {
		return "", fmt.Errorf("%s: %w", target, err)
	}
	client := &http.Client{Timeout: 10 * time.Second}
	for _, p := range []string{"/api/orders/1", "/api/profile/1"} {
		if err := call(ctx, client, base+p, cookie); err != nil {
			return "", fmt.Errorf("%s: %w", target, err)
		}
	}
	return cookie, nil
}

// signInAndLogout signs u in at target and times a back-channel logout of
// u.
func (e *env) signInAndLogout(ctx context.Context, target string, u devop.User) (time.Duration, error) {
	cookie, err := e.signIn(ctx, e.bffURL(target), u)
	if err != nil {
		return 0, err
	}
	return e.logout(ctx, target, u, cookie)
}

// logout POSTs a signed logout token for u's subject and times the
// request; then it checks that cookie no longer works.
func (e *env) logout(ctx context.Context, target string, u devop.User, cookie string) (time.Duration, error) {
	base := e.bffURL(target)
	client := &http.Client{Timeout: time.Minute}
	if err := call(ctx, client, base+"/api/orders/1", cookie); err != nil { // warms the connection
		return 0, fmt.Errorf("before logout: %w", err)
	}
	token, err := e.op.SignLogoutToken(e.op.LogoutTokenClaims(clientID, u.Subject, ""))
	if err != nil {
		return 0, err
	}
	body := url.Values{"logout_token": {token}}.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/bff/backchannel-logout", strings.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	start := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	drain(resp)
	d := time.Since(start)
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("back-channel logout: %s", resp.Status)
	}
	if err := call(ctx, client, base+"/api/orders/1", cookie); err == nil || !strings.Contains(err.Error(), "401") {
		return 0, fmt.Errorf("after logout, the session still answers (%v)", err)
	}
	return d, nil
}

// store is what the parent does with a BFF's store: a Manager on it, a
// look at the sealed bytes, and Close.
type store interface {
	scs.CtxStore
	io.Closer
}

// openStore opens a BFF's closed store from the parent.
func (e *env) openStore(ctx context.Context, b bffChild) (store, error) {
	switch b.Store {
	case "redis":
		return redisstore.Open(ctx, redisstore.Config{URL: b.RedisURL, Prefix: b.RedisPrefix, Timeout: 5 * time.Second, NoNearCache: true})
	case "postgres":
		return pgstore.Open(ctx, pgstore.Config{URL: b.PostgresURL, Timeout: 10 * time.Second, SweepEvery: -1})
	}
	return boltstore.Open(b.BoltPath)
}

func (e *env) manager(backend store) (*session.Manager, error) {
	key, err := base64.StdEncoding.DecodeString(e.key)
	if err != nil {
		return nil, err
	}
	c, err := session.NewCipher([][]byte{key})
	if err != nil {
		return nil, err
	}
	return session.NewManager(session.Config{Store: backend, Cipher: c})
}

// sessionSize prints (a): where the bytes of alice's typical session go,
// and what it costs in each store; it returns her record as the template
// of the sessions fill creates.
func (e *env) sessionSize(ctx context.Context, bffs []bffChild, alice map[string]string) (*session.Record, error) {
	var tmpl *session.Record
	for i, b := range bffs {
		backend, err := e.openStore(ctx, b)
		if err != nil {
			return nil, err
		}
		rec, blob, err := e.aliceRecord(ctx, backend, alice[b.Name])
		if err == nil && i == 0 {
			tmpl = rec.Clone()
			printBreakdown(rec, blob)
		}
		if err == nil {
			err = printStoredSize(ctx, b, backend, session.StoreKey(alice[b.Name]), len(blob))
		}
		backend.Close()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", b.Name, err)
		}
	}
	return tmpl, nil
}

func (e *env) aliceRecord(ctx context.Context, backend store, cookie string) (*session.Record, []byte, error) {
	m, err := e.manager(backend)
	if err != nil {
		return nil, nil, err
	}
	_, rec, err := m.Load(ctx, cookie)
	if err != nil || rec == nil {
		return nil, nil, fmt.Errorf("alice's session not found (%v)", err)
	}
	blob, _, err := backend.FindCtx(ctx, session.StoreKey(cookie))
	return rec, blob, err
}

// printBreakdown prints where a record's bytes go: each part as JSON
// (format 1) and the format written now (2), sealed.
func printBreakdown(rec *session.Record, blob []byte) {
	old, _ := json.Marshal(rec)
	now, _ := session.MarshalRecord(rec)
	tokens := len(rec.IDToken) + len(rec.AccessToken) + len(rec.RefreshToken)
	for _, t := range rec.Tokens {
		tokens += len(t.AccessToken)
	}
	rest := len(old) - tokens - len(rec.Claims)
	fmt.Printf("(a) one typical session (ID, access and refresh tokens, %d API tokens)\n", len(rec.Tokens))
	fmt.Printf("  format 1 (JSON, before): %d B = ID token %d + access token %d + refresh token %d + API tokens %s + claims %d + the rest (keys, times, IDs, user agent, IP) %d\n",
		len(old), len(rec.IDToken), len(rec.AccessToken), len(rec.RefreshToken), audienceSizes(rec), len(rec.Claims), rest)
	fmt.Printf("  format 2 (now): %d B (tokens' base64url decoded and DEFLATE-compressed, claims re-derived from the ID token, the rest JSON)\n", len(now))
	fmt.Printf("  sealed (AES-GCM envelope, +%d B): %d B\n", len(blob)-len(now), len(blob))
}

func audienceSizes(rec *session.Record) string {
	var parts []string
	for _, t := range rec.Tokens {
		parts = append(parts, strconv.Itoa(len(t.AccessToken)))
	}
	return strings.Join(parts, "+")
}

// printStoredSize prints what the session takes in b's store.
func printStoredSize(ctx context.Context, b bffChild, backend store, key string, sealed int) error {
	switch r := backend.(type) {
	case *redisstore.Store:
		c, err := r.Client()
		if err != nil {
			return err
		}
		return printRedisSize(ctx, c, b.RedisPrefix+"s:"+key)
	case *pgstore.Store:
		conn, err := pgx.Connect(ctx, b.PostgresURL)
		if err != nil {
			return err
		}
		defer conn.Close(ctx)
		var row, data int
		err = conn.QueryRow(ctx, `SELECT pg_column_size(s.*), pg_column_size(data) FROM bff_sessions s WHERE token = $1`, key).Scan(&row, &data)
		if err != nil {
			return err
		}
		fmt.Printf("  %-12s row %d B (data %d B as stored, TOAST-compressed if it pays); table and index pages per session: see (b)\n", b.Name+":", row, data)
	default:
		fmt.Printf("  %-12s value %d B (8 B expiry + sealed record) in a B+tree page; file growth per session: see (b)\n", b.Name+":", sealed+8)
	}
	return nil
}

func printRedisSize(ctx context.Context, c rueidis.Client, key string) error {
	usage, err := c.Do(ctx, c.B().MemoryUsage().Key(key).Samples(0).Build()).AsInt64()
	if err != nil {
		return fmt.Errorf("MEMORY USAGE: %w", err)
	}
	strlen, err := c.Do(ctx, c.B().Strlen().Key(key).Build()).AsInt64()
	if err != nil {
		return fmt.Errorf("STRLEN: %w", err)
	}
	var index int64
	keys, err := c.Do(ctx, c.B().Keys().Pattern(scaleRedisPrefix+"i:*").Build()).AsStrSlice()
	if err != nil {
		return err
	}
	for _, k := range keys {
		n, _ := c.Do(ctx, c.B().MemoryUsage().Key(k).Samples(0).Build()).AsInt64()
		index += n
	}
	fmt.Printf("  %-12s MEMORY USAGE %d B, STRLEN %d B (target <= 4096 B: %s); its %d index sets (by sub, by sid) %d B\n",
		"bff-redis:", usage, strlen, passMiss(usage <= 4096), len(keys), index)
	return nil
}

// fill creates up to o.scaleN sessions of other users, copies of tmpl, in
// b's store through session.Manager.Create, within o.scaleTime. A bolt
// file is filled on /dev/shm (each bolt commit fsyncs) and copied back.
func (e *env) fill(ctx context.Context, b bffChild, tmpl *session.Record, o options) (int, error) {
	switch b.Store {
	case "bolt":
		return e.fillBolt(ctx, b, tmpl, o)
	case "postgres":
		return e.fillPostgres(ctx, b, tmpl, o)
	}
	backend, err := e.openStore(ctx, b)
	if err != nil {
		return 0, err
	}
	defer backend.Close()
	c, err := backend.(*redisstore.Store).Client()
	if err != nil {
		return 0, err
	}
	before, _ := usedMemory(ctx, c)
	n, d, err := e.create(ctx, backend, tmpl, o)
	after, _ := usedMemory(ctx, c)
	if n > 0 {
		fmt.Printf("  Redis: %d sessions created in %s; used_memory grew %d B per session (blob, key, indexes)\n",
			n, d.Round(time.Millisecond), (after-before)/int64(n))
	}
	return n, err
}

func usedMemory(ctx context.Context, c rueidis.Client) (int64, error) {
	info, err := c.Do(ctx, c.B().Info().Section("memory").Build()).ToString()
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "used_memory:"); ok {
			return strconv.ParseInt(v, 10, 64)
		}
	}
	return 0, errors.New("INFO memory: no used_memory")
}

func (e *env) fillBolt(ctx context.Context, b bffChild, tmpl *session.Record, o options) (int, error) {
	dir := "/dev/shm"
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		dir = ""
	}
	tmpDir, err := os.MkdirTemp(dir, "bff-bench-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(tmpDir)
	fast := filepath.Join(tmpDir, "sessions.db")
	if err := copyFile(b.BoltPath, fast); err != nil {
		return 0, err
	}
	bk := b
	bk.BoltPath = fast
	backend, err := e.openStore(ctx, bk)
	if err != nil {
		return 0, err
	}
	n, d, err := e.create(ctx, backend, tmpl, o)
	if cerr := backend.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return n, err
	}
	st, _ := os.Stat(fast)
	fmt.Printf("  bolt: %d sessions created in %s (file on %s, %d MiB: %d B per session), copied to %s\n",
		n, d.Round(time.Millisecond), filepath.Dir(fast), st.Size()>>20, st.Size()/int64(max(n, 1)), filepath.Dir(b.BoltPath))
	return n, copyFile(fast, b.BoltPath)
}

// storeLogout times what a back-channel logout asks of the store, among n
// other sessions: the index lookup of a user with two sessions and the
// deletion of both (each: read, delete, two index entries), through
// session.Manager as the BFF does it. The rest of the request (the logout
// token's signature, its jti in the replay cache, revoking the refresh
// tokens at the provider) does not depend on the store's size.
func (e *env) storeLogout(ctx context.Context, b bffChild, tmpl *session.Record, n int) error {
	backend, err := e.openStore(ctx, b)
	if err != nil {
		return err
	}
	defer backend.Close()
	m, err := e.manager(backend)
	if err != nil {
		return err
	}
	var best time.Duration
	for round := range 5 {
		sub := fmt.Sprintf("bench-logout-%d", round)
		for range 2 {
			rec := tmpl.Clone()
			rec.Subject, rec.SID = sub, rand.Text()
			if _, err := m.Create(ctx, rec); err != nil {
				return err
			}
		}
		start := time.Now()
		entries, err := m.BySubject(ctx, sub)
		if err != nil {
			return err
		}
		for _, en := range entries {
			if _, err := m.Delete(ctx, en.Key, session.ReasonBackchannel); err != nil {
				return err
			}
		}
		d := time.Since(start)
		if len(entries) != 2 {
			return fmt.Errorf("BySubject found %d sessions, want 2", len(entries))
		}
		if round == 0 || d < best {
			best = d
		}
	}
	fmt.Printf("  %-12s store part (lookup + 2 deletes) among %d sessions: %s (best of 5; target < 2ms: %s)\n",
		b.Name, n, fmtDur(best), passMiss(best < 2*time.Millisecond))
	return nil
}

// fillPostgres fills b's schema and prints the bytes per session: the
// growth of the session and index tables with their indexes.
func (e *env) fillPostgres(ctx context.Context, b bffChild, tmpl *session.Record, o options) (int, error) {
	backend, err := e.openStore(ctx, b)
	if err != nil {
		return 0, err
	}
	defer backend.Close()
	conn, err := pgx.Connect(ctx, b.PostgresURL)
	if err != nil {
		return 0, err
	}
	defer conn.Close(ctx)
	size := func() int64 {
		var n int64
		_ = conn.QueryRow(ctx, `SELECT pg_total_relation_size('bff_sessions') + pg_total_relation_size('bff_session_index')`).Scan(&n)
		return n
	}
	before := size()
	n, d, err := e.create(ctx, backend, tmpl, o)
	if _, verr := conn.Exec(ctx, `VACUUM ANALYZE bff_sessions, bff_session_index`); verr != nil && err == nil {
		err = verr
	}
	if n > 0 {
		fmt.Printf("  PostgreSQL: %d sessions created in %s; tables and indexes grew %d B per session (row, index entries, page fill)\n",
			n, d.Round(time.Millisecond), (size()-before)/int64(n))
	}
	return n, err
}

// create makes copies of tmpl for other users with 16 goroutines.
func (e *env) create(ctx context.Context, backend store, tmpl *session.Record, o options) (int, time.Duration, error) {
	m, err := e.manager(backend)
	if err != nil {
		return 0, 0, err
	}
	ctx, cancel := context.WithTimeout(ctx, o.scaleTime)
	defer cancel()
	var next, done atomic.Int64
	var wg sync.WaitGroup
	var mu sync.Mutex
	var first error
	start := time.Now()
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := next.Add(1); i <= int64(o.scaleN) && ctx.Err() == nil; i = next.Add(1) {
				rec := tmpl.Clone()
				rec.Subject = fmt.Sprintf("bench-user-%06d", i)
				rec.SID = rand.Text()
				if _, err := m.Create(ctx, rec); err != nil {
					if ctx.Err() == nil {
						mu.Lock()
						first = cmpOr(first, err)
						mu.Unlock()
						cancel()
					}
					return
				}
				done.Add(1)
			}
		}()
	}
	wg.Wait()
	d := time.Since(start)
	if int(done.Load()) < o.scaleN && first == nil {
		fmt.Printf("  note: -scale-budget %s ran out after %d of %d sessions\n", o.scaleTime, done.Load(), o.scaleN)
	}
	return int(done.Load()), d, first
}

func cmpOr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

func copyFile(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	if err := out.Sync(); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
