package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"runtime"
	"strings"
	"text/tabwriter"
	"time"
)

// apiPath is what every target is asked for, but bff-claims.
const apiPath = "/api/orders/42"

// claimsPath is what bff-claims asks the bolt BFF for: a route like
// apiPath's (same upstream, same token) whose claims rule the user passes.
const claimsPath = "/api/admin/42"

// claimsTarget is the target measuring claimsPath, against "bff".
const claimsTarget = "bff-claims"

// runBench runs the throughput table in e for bffs; skipped says why a
// store was left out ("" if none was).
func runBench(ctx context.Context, o options, e *env, bffs []bffChild, skipped string) error {
	if len(bffs) == 0 && skipped != "" {
		return errors.New(skipped)
	}
	if err := e.startProxy(bffs, o.logLevel); err != nil {
		return err
	}
	targets, err := e.loadTargets(ctx, bffs)
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "bench: %d connections, %s warm-up + %s per run, %d rounds, GOMAXPROCS %d, %d CPUs; proxy child pprof at http://%s/debug/pprof/\n",
		o.c, o.warm, o.d, o.rounds, runtime.GOMAXPROCS(0), runtime.NumCPU(), e.proxy.addrs["stats"])
	totals := make([]*targetTotal, len(targets))
	for i, t := range targets {
		totals[i] = &targetTotal{name: t.name}
	}
	stats := "http://" + e.proxy.addrs["stats"]
	upstream := "http://" + e.upstream.addrs["upstream"] + "/__bench/stats"
	load0 := loadAvg()
	for round := range o.rounds {
		for i, t := range targets {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			prof := ""
			if round == 0 && o.cpuprofile != "" {
				prof = profilePath(o.cpuprofile, t.name)
			}
			r, err := measure(ctx, t, o, stats, upstream, prof)
			if err != nil {
				return err
			}
			totals[i].add(r)
			fmt.Fprintf(os.Stderr, "bench: round %d %-9s %8.0f req/s  p99 %s\n", round+1, t.name, r.rps(), fmtDur(r.load.hist.quantile(0.99)))
		}
	}
	failed := printTable(os.Stdout, o, totals)
	fmt.Printf("\nload average (1 min) %s before, %s after: other processes on this machine compete for its CPUs;\n"+
		"cpu/req and all cpu/req do not depend on that, req/s and latency do.\n", load0, loadAvg())
	if skipped != "" {
		fmt.Println(skipped)
	}
	if failed != nil {
		return failed
	}
	return nil
}

// bffChildren is the BFF instance of each store; Redis is skipped, with a
// message, when no Redis is available.
func (e *env) bffChildren(o options) (out []bffChild, skipped string) {
	var skips []string
	for _, s := range o.stores {
		b := bffChild{Name: targetName(s), Store: s}
		switch s {
		case "bolt":
			b.BoltPath = e.tmp + "/sessions.db"
		case "redis", "redis-nonear":
			if err := e.useRedis(o.redisURL); err != nil {
				skips = append(skips, b.Name+": skipped: "+err.Error())
				continue
			}
			b.Store, b.NoNearCache = "redis", s == "redis-nonear"
			b.RedisURL = e.redisURL
			b.RedisPrefix = fmt.Sprintf("bffbench%d:", time.Now().UnixNano())
		case "postgres":
			url, err := e.usePostgres(o.pgURL)
			if err != nil {
				skips = append(skips, b.Name+": skipped: "+err.Error())
				continue
			}
			b.PostgresURL = url
		}
		out = append(out, b)
	}
	skipped = strings.Join(skips, "\n")
	if _, ok := e.listeners[dpopTarget]; ok {
		b, why := e.dpopChild()
		if why != "" {
			skipped = strings.TrimPrefix(skipped+"\n"+why, "\n")
		} else {
			out = append(out, b)
		}
	}
	return out, skipped
}

// loadTargets signs a user in at each BFF and makes one API call, which
// obtains the audience token, so that the measured calls all hit a fresh
// token.
func (e *env) loadTargets(ctx context.Context, bffs []bffChild) ([]loadTarget, error) {
	bare := e.proxy.addrs["bare"]
	var cookie string
	var out []loadTarget
	client := &http.Client{Timeout: 10 * time.Second}
	for _, b := range bffs {
		base := e.bffURL(b.Name)
		var op signer = e.op
		if b.DPoP {
			op = e.fapi
		}
		c, err := e.signInAt(ctx, op, base, benchUsers[0])
		if err != nil {
			return nil, fmt.Errorf("%s: %w", b.Name, err)
		}
		if err := call(ctx, client, base+apiPath, c); err != nil {
			return nil, fmt.Errorf("%s: first API call: %w", b.Name, err)
		}
		cookie = sessionName + "=" + c
		addr := e.listeners[b.Name].addr()
		out = append(out, loadTarget{name: b.Name, addr: addr, req: buildRequest(addr, apiPath, cookie)})
		if b.Name == "bff" {
			if err := call(ctx, client, base+claimsPath, c); err != nil {
				return nil, fmt.Errorf("%s: first call to the route with a claims rule: %w", b.Name, err)
			}
			out = append(out, loadTarget{name: claimsTarget, addr: addr, req: buildRequest(addr, claimsPath, sessionName+"="+c)})
		}
	}
	// The bare proxy gets the same headers (the cookie of the last BFF).
	return append([]loadTarget{{name: "bare", addr: bare, req: buildRequest(bare, apiPath, cookie)}}, out...), nil
}

// runResult is one measured run of one target.
type runResult struct {
	load    *loadResult
	elapsed time.Duration
	before  childStats // proxy child
	after   childStats
	// others is the CPU time the upstream child and this process (the
	// generator) spent in the window.
	others time.Duration
}

func (r *runResult) rps() float64 { return float64(r.load.ok) / r.elapsed.Seconds() }

// measure runs one target: warm-up, then the measured window, reading the
// proxy child's counters at both ends. stats is the child's stats base URL.
func measure(ctx context.Context, t loadTarget, o options, stats, upstream, prof string) (*runResult, error) {
	lr, err := startLoad(t, o.c, time.Now().Add(o.warm+o.d+30*time.Second))
	if err != nil {
		return nil, err
	}
	defer lr.stop()
	if err := sleep(ctx, o.warm); err != nil {
		return nil, err
	}
	r := &runResult{}
	if r.before, err = getStats(stats + "/stats"); err != nil {
		return nil, err
	}
	upBefore, err := getStats(upstream)
	if err != nil {
		return nil, err
	}
	genBefore := readStats().CPU
	if prof != "" {
		if err := post(stats + "/profile/start?path=" + url.QueryEscape(prof)); err != nil {
			return nil, fmt.Errorf("cpu profile: %w", err)
		}
	}
	start := time.Now()
	lr.phase.Store(phaseMeasure)
	err = sleep(ctx, o.d)
	lr.phase.Store(phaseDone)
	r.elapsed = time.Since(start)
	if err != nil {
		return nil, err
	}
	genAfter := readStats().CPU
	if r.after, err = getStats(stats + "/stats"); err != nil {
		return nil, err
	}
	upAfter, err := getStats(upstream)
	if err != nil {
		return nil, err
	}
	r.others = genAfter - genBefore + upAfter.CPU - upBefore.CPU
	if prof != "" {
		if err := post(stats + "/profile/stop"); err != nil {
			return nil, fmt.Errorf("cpu profile: %w", err)
		}
		fmt.Fprintf(os.Stderr, "bench: wrote CPU profile of %s to %s\n", t.name, prof)
	}
	lr.stop()
	r.load = lr.result()
	if r.load.ok == 0 {
		return nil, fmt.Errorf("%s: no successful response (last status %d, last error %v)", t.name, r.load.status, r.load.lastErr)
	}
	return r, nil
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

var statsClient = &http.Client{Timeout: 30 * time.Second}

func getStats(base string) (childStats, error) {
	var s childStats
	resp, err := statsClient.Get(base)
	if err != nil {
		return s, fmt.Errorf("child stats: %w", err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(&s); err != nil {
		return s, fmt.Errorf("child stats: %w", err)
	}
	return s, nil
}

func post(u string) error {
	resp, err := statsClient.Post(u, "", nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
		return fmt.Errorf("%s: %s", resp.Status, strings.TrimSpace(string(b)))
	}
	return nil
}

// targetTotal sums a target's rounds.
type targetTotal struct {
	name          string
	hist          hist
	ok, bad, ioer uint64
	elapsed       time.Duration
	mallocs, by   uint64
	cpu, others   time.Duration
	lastErr       error
	status        int
}

func (t *targetTotal) add(r *runResult) {
	t.hist.merge(&r.load.hist)
	t.ok += r.load.ok
	t.bad += r.load.bad
	t.ioer += r.load.ioErrors
	t.elapsed += r.elapsed
	t.mallocs += r.after.Mallocs - r.before.Mallocs
	t.by += r.after.TotalAlloc - r.before.TotalAlloc
	t.cpu += r.after.CPU - r.before.CPU
	t.others += r.others
	if r.load.lastErr != nil {
		t.lastErr = r.load.lastErr
	}
	if r.load.status != 0 {
		t.status = r.load.status
	}
}

func (t *targetTotal) rps() float64 { return float64(t.ok) / t.elapsed.Seconds() }

func (t *targetTotal) perReq(v uint64) float64 { return float64(v) / float64(max(t.ok, 1)) }

// cpuPerReq is the proxy child's CPU time per request.
func (t *targetTotal) cpuPerReq() time.Duration { return time.Duration(t.perReq(uint64(t.cpu))) }

// allCPUPerReq adds the upstream's and the generator's.
func (t *targetTotal) allCPUPerReq() time.Duration {
	return time.Duration(t.perReq(uint64(t.cpu + t.others)))
}

// printTable prints the table and the targets' verdicts. It returns an
// error when a target answered anything but 2xx or lost connections: then
// the figures are not to be trusted.
func printTable(w io.Writer, o options, totals []*targetTotal) error {
	fmt.Fprintf(w, "\n%d connections, %s per run after %s warm-up, %d rounds alternating, GOMAXPROCS %d\n\n",
		o.c, o.d, o.warm, o.rounds, runtime.GOMAXPROCS(0))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "target\treq/s\tp50\tp99\tallocs/req\tB/req\tcpu/req\tall cpu/req\t")
	var errs []error
	for _, t := range totals {
		fmt.Fprintf(tw, "%s\t%.0f\t%s\t%s\t%.1f\t%.0f\t%s\t%s\t\n", t.name, t.rps(),
			fmtDur(t.hist.quantile(0.5)), fmtDur(t.hist.quantile(0.99)),
			t.perReq(t.mallocs), t.perReq(t.by), fmtDur(t.cpuPerReq()), fmtDur(t.allCPUPerReq()))
		if t.bad > 0 || t.ioer > 0 {
			errs = append(errs, fmt.Errorf("%s: %d non-2xx responses (last %d), %d connection errors (last: %v)",
				t.name, t.bad, t.status, t.ioer, t.lastErr))
		}
	}
	tw.Flush()
	fmt.Fprintln(w)
	bare := totals[0]
	byName := map[string]*targetTotal{}
	for _, t := range totals[1:] {
		byName[t.name] = t
		if t.name == dpopTarget || t.name == claimsTarget {
			continue
		}
		for _, v := range verdicts(bare, t) {
			fmt.Fprintln(w, v)
		}
	}
	if d, b := byName[dpopTarget], byName["bff"]; d != nil && b != nil && d.rps() > 0 {
		fmt.Fprintf(w, "%s/bff cost ratio (cpu/req, a DPoP proof per request)  %.3f;  all cpu/req %.3f;  throughput bff/%s %.3f\n",
			dpopTarget, float64(d.cpuPerReq())/float64(b.cpuPerReq()), float64(d.allCPUPerReq())/float64(b.allCPUPerReq()),
			dpopTarget, b.rps()/d.rps())
	}
	if c, b := byName[claimsTarget], byName["bff"]; c != nil && b != nil && c.rps() > 0 {
		for _, v := range claimsVerdicts(b, c) {
			fmt.Fprintln(w, v)
		}
	}
	return errors.Join(errs...)
}

// claimsVerdicts compares the route with a claims rule with the same
// route without one, on the same BFF in the same run: the target
// is a throughput ratio of at least 0.98.
func claimsVerdicts(bff, t *targetTotal) []string {
	const minRatio = 0.98
	ratio := t.rps() / bff.rps()
	out := []string{fmt.Sprintf("%s/bff throughput ratio  %.3f  (target >= %.2f)  %s", t.name, ratio, minRatio, passMiss(ratio >= minRatio))}
	if all := t.allCPUPerReq(); all > 0 {
		est := float64(bff.allCPUPerReq()) / float64(all)
		out = append(out, fmt.Sprintf("%s/bff ratio if CPU-bound on an idle machine (all cpu/req)  %.3f  %s", t.name, est, passMiss(est >= minRatio)))
	}
	if cpu := t.cpuPerReq(); cpu > 0 {
		out = append(out, fmt.Sprintf("%s/bff proxy cpu/req ratio  %.3f  (%s vs %s)", t.name, float64(bff.cpuPerReq())/float64(cpu), fmtDur(cpu), fmtDur(bff.cpuPerReq())))
	}
	return out
}

// targets are the issue's: the least BFF/bare throughput ratio and the
// most p99 over bare (0: none) of each target.
var targets = map[string]struct {
	ratio float64
	p99   time.Duration
}{
	"bff":              {0.95, 500 * time.Microsecond},
	"bff-redis":        {0.90, 500 * time.Microsecond},
	"bff-redis-nonear": {0, 0},
	"bff-postgres":     {0.75, 0},
}

// verdicts compares t with bare against the targets.
func verdicts(bare, t *targetTotal) []string {
	ratio := t.rps() / bare.rps()
	delta := t.hist.quantile(0.99) - bare.hist.quantile(0.99)
	want := targets[t.name]
	verdict := func(ok bool, target string) string {
		if target == "" {
			return "(no target)"
		}
		return "(target " + target + ")  " + passMiss(ok)
	}
	ratioTarget, p99Target := "", ""
	if want.ratio > 0 {
		ratioTarget = fmt.Sprintf(">= %.2f", want.ratio)
	}
	if want.p99 > 0 {
		p99Target = "<= +" + fmtDur(want.p99)
	}
	out := []string{fmt.Sprintf("%-17s throughput/bare %.3f  %s", t.name, ratio, verdict(ratio >= want.ratio, ratioTarget))}
	if all := t.allCPUPerReq(); all > 0 {
		est := float64(bare.allCPUPerReq()) / float64(all)
		out = append(out, fmt.Sprintf("%-17s if CPU-bound on an idle machine (all cpu/req) %.3f  %s", t.name, est, verdict(est >= want.ratio, ratioTarget)))
	}
	out = append(out, fmt.Sprintf("%-17s p99 over bare   %s  %s", t.name, fmtSigned(delta), verdict(delta <= want.p99, p99Target)))
	return out
}

// loadAvg is the 1-minute load average, or "?" where /proc is missing.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if f := strings.Fields(string(b)); err == nil && len(f) > 0 {
		return f[0]
	}
	return "?"
}

func passMiss(ok bool) string {
	if ok {
		return "PASS"
	}
	return "MISS"
}

// fmtDur prints a duration with three significant digits in a fixed unit.
func fmtDur(d time.Duration) string {
	switch {
	case d < 10*time.Microsecond:
		return fmt.Sprintf("%.2fµs", float64(d)/1e3)
	case d < time.Millisecond:
		return fmt.Sprintf("%.0fµs", float64(d)/1e3)
	case d < 10*time.Millisecond:
		return fmt.Sprintf("%.2fms", float64(d)/1e6)
	case d < time.Second:
		return fmt.Sprintf("%.1fms", float64(d)/1e6)
	}
	return fmt.Sprintf("%.2fs", d.Seconds())
}

func fmtSigned(d time.Duration) string {
	if d < 0 {
		return "-" + fmtDur(-d)
	}
	return "+" + fmtDur(d)
}
