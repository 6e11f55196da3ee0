// Package redisstore is the shared session store on Redis (one server,
// Sentinel or Cluster; Valkey speaks the same protocol), for several BFF
// instances behind one load balancer.
//
// It owns the key layout under the configured prefix, the URL schemes of
// [Config], the near-cache (nearcache.go: rueidis's client-side cache with
// RESP3 client tracking, its heartbeat, and the reads that must go past
// it), the cross-instance lock and session events over pub/sub
// (notify.go). A [Store] is an scs.CtxStore with every extension of
// package session, and passes session/storetest; [Store.Client] exposes
// the rueidis client to the tools (benchmarks, tests) that need it.
//
// It imports session (for the extension interfaces), scs and rueidis, and
// nothing of the BFF's HTTP side: no net/http, no bff.
package redisstore
