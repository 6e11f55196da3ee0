// Package storetest is the one conformance suite of session stores: [Run]
// checks the scs.CtxStore contract, each extension of package session the
// store has (Replacer, Index, Locker, ReplayCache, Pinger), and a
// session.Manager on the store under concurrent updates. boltstore and
// redisstore pass it; so must any new backend.
//
// It is imported by tests only. It imports session, scs and the standard
// library's testing, and no backend: each backend's test hands Run its own
// constructor.
package storetest
