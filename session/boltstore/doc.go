// Package boltstore is the embedded session store: one bbolt file, for a
// BFF that runs as a single process (bbolt lets only one process open the
// file, so a [session.Manager] on it may set Exclusive).
//
// It owns the file's layout: scs boltstore's "scs:session" bucket for the
// sealed sessions (an 8-byte big-endian expiry in Unix nanoseconds, then
// the data), and buckets of its own in the same layout for the index
// ("bff:index") and the replay cache ("bff:replay"). A [Store] is an
// scs.CtxStore with every extension of package session, and passes
// session/storetest.
//
// It imports session (for the extension interfaces), scs and bbolt, and
// nothing of the BFF's HTTP side: no net/http, no bff.
package boltstore
