// Package redisstore is the shared session store on Redis (one server,
// Sentinel or Cluster), for several BFF instances behind one load
// balancer.
//
// It owns the key layout under the configured prefix, the URL schemes of
// [Config], the pipelined read batcher (batch.go), the cross-instance
// lock and the session events between instances (pub/sub, notify.go). A [Store] is an scs.CtxStore with every extension of package
// session, and passes session/storetest; [Store.Client] exposes the
// go-redis client to the tools (metrics, benchmarks) that need it.
//
// It imports session (for the extension interfaces), scs and go-redis,
// and nothing of the BFF's HTTP side: no net/http, no bff.
package redisstore
