package session

import (
	"context"
	"time"

	"github.com/alexedwards/scs/v2"
)

// ContextStore adapts an scs store that takes no context (scs's memstore
// and most of its stores) to the scs.CtxStore a [Manager] needs; its
// methods ignore the context. A store that is already a CtxStore is
// returned as it is.
//
// The adapter passes on scs.IterableStore (as scs.IterableCtxStore, whose
// AllCtx returns [ErrNotSupported] when s cannot list its sessions) and
// nothing else: a store with any of this package's extensions implements
// CtxStore itself.
func ContextStore(s scs.Store) scs.CtxStore {
	if cs, ok := s.(scs.CtxStore); ok {
		return cs
	}
	return ctxStore{s}
}

type ctxStore struct{ scs.Store }

func (s ctxStore) FindCtx(_ context.Context, key string) ([]byte, bool, error) {
	return s.Find(key)
}

func (s ctxStore) CommitCtx(_ context.Context, key string, b []byte, expiry time.Time) error {
	return s.Commit(key, b, expiry)
}

func (s ctxStore) DeleteCtx(_ context.Context, key string) error { return s.Delete(key) }

func (s ctxStore) AllCtx(context.Context) (map[string][]byte, error) {
	if it, ok := s.Store.(scs.IterableStore); ok {
		return it.All()
	}
	return nil, ErrNotSupported
}
