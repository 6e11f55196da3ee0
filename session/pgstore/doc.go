// Package pgstore is the shared session store on PostgreSQL, for teams
// that run several BFF instances and have a database but no Redis.
//
// It owns the schema (schema.go: created or migrated at start-up, or by
// `bff migrate`), the session table (the layout of scs's postgresstore:
// token, data, expiry), the index and replay tables, the cross-instance
// locks (advisory locks, lock.go), the sweep of expired rows in batches
// (sweep.go) and session events between instances over LISTEN/NOTIFY
// (notify.go). A [Store] is an scs.CtxStore with every extension of
// package session and passes session/storetest.
//
// It imports session (for the extension interfaces), scs and pgx, and
// nothing of the BFF's HTTP side: no net/http, no bff.
package pgstore
