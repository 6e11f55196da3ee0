// Command bench measures the BFF's proxy hot path against the floor for
// any Go proxy, and (with -scale) the session store's size and back-channel
// logout figures.
//
//	go run ./e2e/bench                      # every store, 2 rounds of 10s, 32 connections
//	go run ./e2e/bench -stores bolt -c 64 -d 20s -rounds 3
//	go run ./e2e/bench -cpuprofile /tmp/cpu.pprof && go tool pprof -top /tmp/cpu.pprof
//	go run ./e2e/bench -scale               # bytes per session and logout among 100 000 sessions, per store
//
// # What runs where
//
// Three processes share the machine, so the load generator does not share
// a Go runtime with what it measures:
//
//   - the parent: the load generator and the development provider
//     (e2e/devop; idle under load, since access tokens live an hour);
//   - an upstream child ("-serve upstream"): a net/http handler answering
//     200 with 100 bytes of JSON;
//   - a proxy child ("-serve proxy"): the targets, and a stats endpoint on
//     its own loopback port.
//
// The targets are:
//
//   - bare: httputil.ReverseProxy whose Rewrite only calls SetURL(upstream)
//     and sets a fixed "Authorization: Bearer" header (800 bytes, about a
//     real token's size), on a transport tuned like the BFF's
//     (MaxIdleConnsPerHost 256) and with a pooled copy buffer like the
//     BFF's: the floor for any Go proxy;
//   - bff: the real BFF (bff.New, bolt store in a temp dir, log level
//     -log-level in JSON to io.Discard) with a route /api/orders/ to the
//     upstream wanting audience orders-api, and a signed-in session;
//   - bff-redis: the same on Redis (-redis-url, or a private redis-server
//     from PATH started with --save "" --appendonly no; if neither is
//     available the row is skipped with a message), near-cache on;
//   - bff-redis-nonear: the same with session.redis_near_cache off;
//   - bff-postgres: the same on PostgreSQL, in a schema of the run's own
//     (-postgres-url, else $BFF_TEST_POSTGRES_URL, else the local server);
//   - bff-claims: the bff target's BFF and session on /api/admin/42, a
//     route like /api/orders/ (same upstream, same token) whose claims
//     rule (apis[].require: groups contains admins) the user passes: the
//     cost of a rule on the hot path.
//
// Every target but bff-claims gets the same request: GET /api/orders/42
// with X-CSRF: 1 and the session cookie.
//
// # Method
//
// Closed loop: -c connections, each a goroutine with its own keep-alive
// connection over a raw net.Conn (a minimal HTTP/1.1 client, cheaper than
// net/http's), one request at a time. Each run warms up for 2s, then
// measures for -d. Targets alternate (bare, bff, bff-redis, bare, ...) for
// -rounds rounds, which cancels drift; the table sums the rounds. Latency
// goes into a log-linear histogram (1.6% resolution) for p50 and p99.
//
// allocs/req and B/req are the proxy child's runtime.MemStats Mallocs and
// TotalAlloc deltas over the measured window divided by the requests
// served. The upstream runs in its own process, so the figures are the
// proxy's alone (the child's other, idle targets add next to nothing).
// cpu/req is the proxy child's user+system CPU time per request; all
// cpu/req adds the upstream's and the generator's (not redis-server's).
// Neither depends on other processes competing for the CPUs, which req/s
// and latency do (the table prints the load average), so the program also
// prints the bff/bare ratio a CPU-bound idle machine would give:
// bare's all cpu/req over the target's.
//
// While it runs, the proxy child serves net/http/pprof on its stats port
// (printed on stderr), e.g. for an allocation profile:
//
//	go tool pprof -sample_index=alloc_objects 'http://ADDR/debug/pprof/allocs?seconds=8'
//
// -log-level sets the BFF's log level (default info, as in production: one
// JSON access line per request, formatted and then discarded).
//
// The targets checked (PASS/MISS; informational, the exit code is 0 unless
// the run itself failed), issue 19's: throughput at least 0.95 of bare
// with bolt, 0.90 with Redis and its near-cache, 0.75 with PostgreSQL; p99
// at most bare's + 0.5ms with bolt and with Redis; and issue 16's:
// bff-claims throughput at least 0.98 of bff's.
//
// -cpuprofile FILE writes a CPU profile of the proxy child during the
// first round's measured window of bff to FILE, and of the other targets to
// FILE with "-bare" or "-bff-redis" inserted before the extension.
//
// # Scale (-scale)
//
// Prints (a) where the bytes of one typical session go (sign in, call two
// audience routes, so the record holds ID, access and refresh tokens and
// two audience tokens): each part as JSON (record format 1), format 2,
// sealed, and what it takes in each store (Redis MEMORY USAGE and STRLEN,
// the PostgreSQL row, the bolt value); (b) per store, the growth per
// session over -scale-n (default 100 000) other users' sessions (bolt
// file, Redis used_memory, PostgreSQL tables and indexes), the store's part
// of a back-channel logout among them (index lookup and two deletes
// through session.Manager, best of five) and the time of whole
// back-channel logout requests: the sessions are created directly through
// session.Manager.Create (bolt on /dev/shm, then copied to disk for the
// BFF), then a signed logout token for the user is POSTed to
// /bff/backchannel-logout and the request is timed.
package main

import (
	"context"

	"errors"
	"flag"
	"fmt"
	"github.com/bff-project/bff/session/pgtest"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"
)

type options struct {
	c          int
	d, warm    time.Duration
	rounds     int
	stores     []string
	redisURL   string
	pgURL      string
	cpuprofile string
	logLevel   string
	scale      bool
	dpop       bool
	scaleN     int
	scaleTime  time.Duration
}

func main() {
	serve := flag.String("serve", "", "internal: run as a child process (upstream or proxy)")
	var o options
	var stores string
	flag.IntVar(&o.c, "c", 32, "connections (closed loop, one request at a time each)")
	flag.DurationVar(&o.d, "d", 10*time.Second, "measured duration per target and round")
	flag.DurationVar(&o.warm, "warmup", 2*time.Second, "warm-up before each measured run")
	flag.IntVar(&o.rounds, "rounds", 2, "rounds; targets alternate within each")
	flag.StringVar(&stores, "stores", defaultStores, "BFF session stores to measure, comma-separated: bolt, redis (near-cache on), redis-nonear (off), postgres")
	flag.StringVar(&stores, "store", defaultStores, "alias of -stores")
	flag.StringVar(&o.redisURL, "redis-url", "", "Redis for the redis stores (default: a private redis-server from PATH)")
	flag.StringVar(&o.pgURL, "postgres-url", "", "PostgreSQL for the postgres store; a schema of the run's own is made and dropped (default: $BFF_TEST_POSTGRES_URL, else "+pgtest.DefaultURL+")")
	flag.StringVar(&o.cpuprofile, "cpuprofile", "", "write a CPU profile of the proxy child during the first bff run to `file`")
	flag.StringVar(&o.logLevel, "log-level", "info", "BFF log level (its lines are formatted, then discarded)")
	flag.BoolVar(&o.dpop, "dpop", true, "also measure bff-dpop: a BFF whose route's token is DPoP-bound (a proof signed per request), on e2e/fapiop (needs node and its modules; skipped with a message otherwise)")
	flag.BoolVar(&o.scale, "scale", false, "print the session size and back-channel logout figures instead")
	flag.IntVar(&o.scaleN, "scale-n", 100000, "other users' sessions for -scale")
	flag.DurationVar(&o.scaleTime, "scale-budget", 3*time.Minute, "longest time -scale spends creating sessions per store")
	flag.Parse()

	if *serve != "" {
		if err := serveChild(*serve); err != nil {
			fmt.Fprintln(os.Stderr, "bench child:", err)
			os.Exit(1)
		}
		return
	}
	var err error
	if o.stores, err = parseStores(stores); err == nil {
		err = validate(o)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		stop()
		os.Exit(1)
	}
}

// run starts the environment for o's stores and runs the throughput
// table in it or, with -scale, the scale figures.
func run(ctx context.Context, o options) error {
	var names []string
	for _, s := range o.stores {
		names = append(names, targetName(s))
	}
	if o.dpop && !o.scale {
		names = append(names, dpopTarget)
	}
	e, err := newEnv(names)
	if err != nil {
		return err
	}
	defer e.close()
	bffs, skipped := e.bffChildren(o)
	if o.scale {
		return runScale(ctx, o, e, bffs, skipped)
	}
	return runBench(ctx, o, e, bffs, skipped)
}

// defaultStores is every store: the table in one run.
const defaultStores = "bolt,redis,redis-nonear,postgres"

// parseStores parses -stores: a comma-separated subset of bolt, redis,
// redis-nonear and postgres.
func parseStores(s string) ([]string, error) {
	var out []string
	for _, p := range strings.Split(s, ",") {
		p = strings.ToLower(strings.TrimSpace(p))
		switch p {
		case "":
			continue
		case "bolt", "redis", "redis-nonear", "postgres":
			if !slices.Contains(out, p) {
				out = append(out, p)
			}
		default:
			return nil, fmt.Errorf("-stores: unknown store %q (want bolt, redis, redis-nonear, postgres)", p)
		}
	}
	if len(out) == 0 {
		return nil, errors.New("-stores: no store")
	}
	return out, nil
}

func validate(o options) error {
	switch {
	case o.c < 1:
		return errors.New("-c must be at least 1")
	case o.d <= 0 || o.warm < 0:
		return errors.New("-d must be positive and -warmup not negative")
	case o.rounds < 1:
		return errors.New("-rounds must be at least 1")
	case o.scaleN < 0:
		return errors.New("-scale-n must not be negative")
	}
	return nil
}

// targetName is the table row of a store's BFF.
func targetName(store string) string {
	if store == "bolt" {
		return "bff"
	}
	return "bff-" + store
}

// profilePath is where -cpuprofile puts target's profile: bff gets file
// itself, the others file with "-<target>" before the extension.
func profilePath(file, target string) string {
	if file == "" || target == "bff" {
		return file
	}
	dot := strings.LastIndexByte(file, '.')
	if dot <= strings.LastIndexByte(file, '/') {
		return file + "-" + target
	}
	return file[:dot] + "-" + target + file[dot:]
}
