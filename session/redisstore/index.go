package redisstore

import (
	"context"
	"time"

	"github.com/redis/rueidis"

	"github.com/bff-project/bff/session"
)

func (r *Store) indexKey(kind, value string) string {
	return r.prefix + "i:" + kind + ":" + value
}

// indexAddScript adds a member scored by its expiry, drops members expired
// by ARGV[3] (now), and sets the set's own expiry to its highest score, so
// the set lives exactly as long as its longest-lived entry. A script rather
// than PEXPIREAT GT, because GT never applies to a key without a TTL (a new
// set) and needs Redis 7.
var indexAddScript = rueidis.NewLuaScript(`
redis.call('ZADD', KEYS[1], ARGV[1], ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[3])
local top = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
if top[2] == nil then
  return 0
end
redis.call('PEXPIREAT', KEYS[1], string.format('%.0f', tonumber(top[2])))
return 1
`)

// IndexAdd implements [session.Index]: the entry is a member of a sorted set per
// (kind, value), scored by its expiry in Unix ms.
func (r *Store) IndexAdd(ctx context.Context, kind, value, key string, expiry time.Time) error {
	k := r.indexKey(kind, value)
	if err := r.script(ctx, indexAddScript, []string{k}, []string{ms(expiry), key, ms(time.Now())}).Error(); err != nil {
		return redisErr("index add", err)
	}
	return nil
}

// IndexRemove implements [session.Index].
func (r *Store) IndexRemove(ctx context.Context, kind, value, key string) error {
	err := r.do(ctx, func(b rueidis.Builder) rueidis.Completed {
		return b.Zrem().Key(r.indexKey(kind, value)).Member(key).Build()
	}).Error()
	if err != nil {
		return redisErr("index remove", err)
	}
	return nil
}

// DeleteIndexed implements [session.IndexedDeleter]: DEL and the ZREMs
// in one round trip.
func (r *Store) DeleteIndexed(ctx context.Context, key string, entries []session.IndexEntry) error {
	c, err := r.conn.get()
	if err != nil {
		return redisErr("del", err)
	}
	k := r.sessionKey(key)
	r.near.wrote(k)
	cmds := make(rueidis.Commands, 0, 1+len(entries))
	cmds = append(cmds, c.B().Del().Key(k).Build())
	for _, e := range entries {
		cmds = append(cmds, c.B().Zrem().Key(r.indexKey(e.Kind, e.Value)).Member(key).Build())
	}
	for _, res := range c.DoMulti(ctx, cmds...) {
		if err := res.Error(); err != nil {
			return redisErr("del", err)
		}
	}
	return nil
}

// indexLookupScript drops the expired members, then lists the rest, in one
// round trip.
var indexLookupScript = rueidis.NewLuaScript(`
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
return redis.call('ZRANGE', KEYS[1], 0, -1)
`)

// IndexLookup implements [session.Index]; its cost follows the entries of one
// (kind, value), never the size of the store.
func (r *Store) IndexLookup(ctx context.Context, kind, value string) ([]string, error) {
	k := r.indexKey(kind, value)
	keys, err := r.script(ctx, indexLookupScript, []string{k}, []string{ms(time.Now())}).AsStrSlice()
	if err != nil && !rueidis.IsRedisNil(err) {
		return nil, redisErr("index lookup", err)
	}
	return keys, nil
}
