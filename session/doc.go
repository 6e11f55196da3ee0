// Package session keeps browser sessions on the server: the [Record] type,
// its encryption at rest ([Cipher]), the [Manager] that ties cookie values
// to records (cache, timeouts, index, locks), the registry of API calls
// that end with their session ([Call]), and the session events: every end
// and visible change is published to all instances ([Event], [Notifier]),
// and code that watches a session ([Manager.Watch], the BFF's event
// streams) is told of changes, of its coming expiry and of its end.
//
// The cookie carries only a random token. The store key is the SHA-256 of
// that token, and the record is sealed with AES-GCM using the store key as
// associated data, so a dump of the store yields neither tokens nor usable
// cookies.
//
// # Stores
//
// The store contract is scs's (github.com/alexedwards/scs/v2): a Manager
// keeps its sealed records in any scs.CtxStore ([ContextStore] adapts one
// without context methods, such as scs's memstore). What the BFF needs
// beyond that is a set of optional interfaces, found by type assertion.
// The backends in session/boltstore, session/redisstore and
// session/pgstore have them all (boltstore and pgstore need no
// FreshFinder: they keep no near-cache);
// for a store that lacks one, the Manager does this:
//
//   - No [Locker]: an in-process [LocalLocker]. Exact for one process,
//     which is what such stores (memory, a file) serve; instances sharing
//     a store without a Locker would each renew a token on their own, and
//     a rotated refresh token could be used twice.
//   - No [Replacer]: [Manager.Update] saves with a find, then a commit,
//     serialised with this Manager's deletes of the same session. Exact in
//     one process; across instances a logout that lands between the find
//     and the commit is undone (the session lives on until its idle end).
//   - No [Index]: [Manager.BySubject] and [Manager.BySID] read every
//     session of a store that can list them (scs.IterableCtxStore or
//     scs.IterableStore), at a cost that follows the size of the store;
//     otherwise they return [ErrNotSupported], and what needs them fails
//     (in the BFF: back-channel logout, the session list and its
//     sign-outs, each answered 503, so the provider retries its logout).
//     Loading, updating and deleting the current session need no index.
//   - No [ReplayCache]: an in-process one for [Manager.FirstUse]. Exact for
//     one process; a replay sent to another instance is not caught.
//   - No [Notifier]: an in-process one. Exact for one process; instances
//     sharing a store without a Notifier learn of each other's session
//     ends only at [Manager.Run]'s sweep (Config.SweepInterval).
//   - No [Pinger]: [Manager.Ping] reads a key no session has.
//   - No [IndexedDeleter]: [Manager.Delete] deletes the session, then
//     removes its index entries, in three store calls.
//   - No [FreshFinder]: FindCtx is taken to be current (a store without a
//     near-cache is).
//   - No io.Closer: [Manager.Close] has nothing to release.
//
// # The decoded-record cache, Exclusive, and a store's near-cache
//
// The Manager keeps the decoded record of the exact bytes last read under
// each key, so that an unchanged session is not decrypted and decoded
// again. It still asks the store for the bytes on every Load, and so sees
// another instance's change at once, unless Config.Exclusive says it is
// the store's only writer (bolt: one process holds the file); then it
// trusts its cache. For Redis, redisstore's near-cache answers that read
// from memory, without a round trip, while Redis has promised to
// invalidate it (client tracking): the Manager may skip Redis only because
// the near-cache proves the value current, never on its own account, so
// Exclusive stays off. Reads that decide a write go past the near-cache
// ([FreshFinder]).
//
// # What it must not import
//
// No store driver (bbolt, scs's boltstore, rueidis, pgx): those live in
// the backend packages, which import this one. No net/http handlers and
// nothing of package bff: the BFF's HTTP surface builds on this package,
// never the other way round.
package session
