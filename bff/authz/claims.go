package authz

import (
	"encoding/json"
	"runtime"
	"sync"
	"weak"

	"github.com/bff-project/bff/session"
)

// claimSet is a record's decoded claims that some rule names, by the
// claim cache's index: string, bool, float64, []any, or nil when absent
// (or of a type no rule can match, such as an object).
type claimSet []any

// claimCache decodes each record's claims once. A session record is
// immutable and shared by every call of its session until it is replaced
// (a renewal, a visit written down), so its identity is the cache key: a
// weak pointer, which neither keeps the record alive nor can be confused
// with a later record at the same address; a cleanup drops the entry once
// the record is gone. A hit costs a weak-pointer lookup and a map read, no
// allocation.
type claimCache struct {
	names []string       // the claims some rule names
	index map[string]int // name -> position in names
	sets  sync.Map       // weak.Pointer[session.Record] -> claimSet
}

// add returns name's index, adding it when new. Used while compiling only.
func (c *claimCache) add(name string) int {
	if i, ok := c.index[name]; ok {
		return i
	}
	c.index[name] = len(c.names)
	c.names = append(c.names, name)
	return len(c.names) - 1
}

// of returns rec's claim set, decoding it on first use.
func (c *claimCache) of(rec *session.Record) claimSet {
	wp := weak.Make(rec)
	if v, ok := c.sets.Load(wp); ok {
		return v.(claimSet)
	}
	set := c.decode(rec.Claims)
	if _, loaded := c.sets.LoadOrStore(wp, set); !loaded {
		runtime.AddCleanup(rec, func(wp weak.Pointer[session.Record]) { c.sets.Delete(wp) }, wp)
	}
	return set
}

// decode picks the named claims out of the ID token's claims. Claims that
// do not decode are absent: a rule never holds on what it cannot read.
func (c *claimCache) decode(raw json.RawMessage) claimSet {
	set := make(claimSet, len(c.names))
	var all map[string]json.RawMessage
	if json.Unmarshal(raw, &all) != nil {
		return set
	}
	for i, name := range c.names {
		v, ok := all[name]
		if !ok {
			continue
		}
		var x any
		if json.Unmarshal(v, &x) == nil {
			set[i] = x
		}
	}
	return set
}

// match reports whether a claim's value is, or (an array) contains, one of
// the accepted values. Values compare with their JSON type: the string
// "true" is not true, "1" is not 1.
func (c *claimCond) match(v any) bool {
	switch x := v.(type) {
	case nil:
		return false
	case []any:
		for _, e := range x {
			if c.accepts(e) {
				return true
			}
		}
		return false
	}
	return c.accepts(v)
}

func (c *claimCond) accepts(v any) bool {
	for _, w := range c.values {
		// w is a string, bool or float64, so == never compares two
		// uncomparable values (an object or array claim just differs).
		if v == w {
			return true
		}
	}
	return false
}
