package bff

import (
	"net/http"
	"strconv"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metrics are the server's Prometheus series. Labels name classes, routes
// and outcomes only: never a user, session or token.
type metrics struct {
	registry *prometheus.Registry
	// counters caches requests' children by class and status, sparing the
	// hot path the label hashing of WithLabelValues.
	counters        sync.Map                 // requestKey -> prometheus.Counter
	requests        *prometheus.CounterVec   // class, code
	proxyDuration   *prometheus.HistogramVec // route
	upstreamErrors  *prometheus.CounterVec   // route, status
	refreshes       *prometheus.CounterVec   // result
	logins          *prometheus.CounterVec   // result
	logouts         *prometheus.CounterVec   // kind
	revocations     *prometheus.CounterVec   // result
	backchannel     *prometheus.CounterVec   // result
	sessionsCreated prometheus.Counter
	sessionsEnded   *prometheus.CounterVec   // reason
	storeDuration   *prometheus.HistogramVec // op
	storeErrors     *prometheus.CounterVec   // op
	rateLimited     prometheus.Counter
}

func newMetrics(version string) *metrics {
	r := prometheus.NewRegistry()
	f := func(c prometheus.Collector) { r.MustRegister(c) }
	m := &metrics{
		registry: r,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bff_http_requests_total", Help: "HTTP requests by route class (bff, api, static, health) and status code.",
		}, []string{"class", "code"}),
		proxyDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "bff_proxy_request_duration_seconds", Help: "Proxied API call latency by route prefix.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"route"}),
		upstreamErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bff_upstream_errors_total", Help: "Proxied calls answered by the BFF with 502/504 (or 499 client gone), by route prefix.",
		}, []string{"route", "code"}),
		refreshes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bff_token_refreshes_total", Help: "Token renewals by result: ok, failed, invalid_grant, coalesced (served by another caller's renewal).",
		}, []string{"result"}),
		logins: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bff_logins_total", Help: "Sign-ins by stage: started, ok, failed.",
		}, []string{"result"}),
		logouts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bff_logouts_total", Help: "Sign-outs by kind: user, session_manager, backchannel.",
		}, []string{"kind"}),
		revocations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bff_token_revocations_total", Help: "Refresh-token revocations at the provider by result: ok, failed, skipped.",
		}, []string{"result"}),
		backchannel: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bff_backchannel_logouts_total", Help: "Back-channel logout requests by result: ok, invalid.",
		}, []string{"result"}),
		sessionsCreated: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "bff_sessions_created_total", Help: "Sessions created at sign-in.",
		}),
		sessionsEnded: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bff_sessions_ended_total", Help: "Sessions ended by reason: logout, revoked, backchannel, frontchannel, refresh_failed, replaced, step_up.",
		}, []string{"reason"}),
		storeDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "bff_session_store_duration_seconds", Help: "Session store call latency by operation.",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .5, 1},
		}, []string{"op"}),
		storeErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bff_session_store_errors_total", Help: "Session store call failures by operation.",
		}, []string{"op"}),
		rateLimited: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "bff_rate_limited_total", Help: "Sign-in starts and callbacks refused by the per-address rate limit.",
		}),
	}
	build := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "bff_build_info", Help: "Always 1; the version label names the build.", ConstLabels: prometheus.Labels{"version": version},
	})
	build.Set(1)
	for _, c := range []prometheus.Collector{m.requests, m.proxyDuration, m.upstreamErrors, m.refreshes, m.logins,
		m.logouts, m.revocations, m.backchannel, m.sessionsCreated, m.sessionsEnded, m.storeDuration, m.storeErrors,
		m.rateLimited, build, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})} {
		f(c)
	}
	return m
}

type requestKey struct {
	class  string
	status int
}

// request counts one request.
func (m *metrics) request(class string, status int) {
	k := requestKey{class, status}
	c, ok := m.counters.Load(k)
	if !ok {
		c, _ = m.counters.LoadOrStore(k, m.requests.WithLabelValues(class, strconv.Itoa(status)))
	}
	c.(prometheus.Counter).Inc()
}

func (m *metrics) handler() http.Handler {
	// OpenMetrics when the scraper asks for it: exemplars (the trace of a
	// slow request) exist only there.
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{EnableOpenMetrics: true})
}
