package commands

import (
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Stats counts calls and time per command (INFO commandstats), error
// replies by code (INFO errorstats) and feeds the Prometheus metrics
// skerry_commands_total{cmd,result} and
// skerry_command_duration_seconds{cmd}, and counts where keyed client
// commands were served (skerry_cluster_requests_total{route}). Safe for
// concurrent use.
type Stats struct {
	mu     sync.Mutex
	cmds   map[string]*CommandStat
	errs   map[string]int64
	errTot int64

	total    *prometheus.CounterVec
	duration *prometheus.HistogramVec
	// labelled children per command, created once: Record allocates
	// nothing after a command's first call.
	obs map[string]*commandObservers

	routes [numRoutes]atomic.Int64
}

type commandObservers struct {
	ok, failed, rejected prometheus.Counter
	duration             prometheus.Observer
}

// CommandStat is one row of INFO commandstats.
type CommandStat struct {
	Calls, Usec, RejectedCalls, FailedCalls int64
}

// NewStats returns empty counters.
func NewStats() *Stats {
	return &Stats{
		cmds: map[string]*CommandStat{},
		errs: map[string]int64{},
		obs:  map[string]*commandObservers{},
		total: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "skerry_commands_total",
			Help: "Commands processed, by command and result (ok, error, rejected).",
		}, []string{"cmd", "result"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "skerry_command_duration_seconds",
			Help:    "Command latency from dispatch to reply, by command.",
			Buckets: prometheus.ExponentialBuckets(0.00005, 2, 18),
		}, []string{"cmd"}),
	}
}

// Collectors returns the Prometheus collectors of the per-command metrics,
// for the node's registry.
func (s *Stats) Collectors() []prometheus.Collector {
	return []prometheus.Collector{s.total, s.duration, routeCollector{s}}
}

// observers returns the cached labelled metrics of name; s.mu held.
func (s *Stats) observers(name string) *commandObservers {
	o := s.obs[name]
	if o == nil {
		o = &commandObservers{
			ok:       s.total.WithLabelValues(name, "ok"),
			failed:   s.total.WithLabelValues(name, "error"),
			rejected: s.total.WithLabelValues(name, "rejected"),
			duration: s.duration.WithLabelValues(name),
		}
		s.obs[name] = o
	}
	return o
}

func (s *Stats) stat(name string) *CommandStat {
	st := s.cmds[name]
	if st == nil {
		st = &CommandStat{}
		s.cmds[name] = st
	}
	return st
}

// Record adds one call of name.
func (s *Stats) Record(name string, d time.Duration, failed bool) {
	s.mu.Lock()
	st := s.stat(name)
	st.Calls++
	st.Usec += d.Microseconds()
	if failed {
		st.FailedCalls++
	}
	o := s.observers(name)
	s.mu.Unlock()
	if failed {
		o.failed.Inc()
	} else {
		o.ok.Inc()
	}
	o.duration.Observe(d.Seconds())
}

// Reject counts a call refused before it ran (arity, auth, unknown).
func (s *Stats) Reject(name string) {
	s.mu.Lock()
	s.stat(name).RejectedCalls++
	o := s.observers(name)
	s.mu.Unlock()
	o.rejected.Inc()
}

// RecordError counts an error reply by its code (the first word of msg),
// as INFO errorstats does.
func (s *Stats) RecordError(msg string) {
	code, _, _ := strings.Cut(msg, " ")
	s.mu.Lock()
	s.errs[code]++
	s.errTot++
	s.mu.Unlock()
}

// Snapshot returns a copy of the counters.
func (s *Stats) Snapshot() map[string]CommandStat {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]CommandStat, len(s.cmds))
	for k, v := range s.cmds {
		out[k] = *v
	}
	return out
}

// ErrorSnapshot returns the error reply counts by code and their total.
func (s *Stats) ErrorSnapshot() (map[string]int64, int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]int64, len(s.errs))
	for k, v := range s.errs {
		out[k] = v
	}
	return out, s.errTot
}

// Reset clears the INFO counters (CONFIG RESETSTAT). Prometheus counters
// are monotonic and are not reset.
func (s *Stats) Reset() {
	s.mu.Lock()
	s.cmds = map[string]*CommandStat{}
	s.errs = map[string]int64{}
	s.errTot = 0
	s.mu.Unlock()
}

// Route says where a keyed client command was served: the label of
// skerry_cluster_requests_total.
type Route int

// The routes, in label order. Never renumber: RouteCounts indexes by them.
const (
	// RouteLocal: this node led the keys' region and ran the command (or
	// the node is alone). Errors count too: routing was not the problem.
	RouteLocal Route = iota
	// RouteForwarded: another node led the keys, and this node sent the
	// command there over the internal RPC (once per client command,
	// however many attempts it took).
	RouteForwarded
	// RouteRedirected: another node led the keys and this node answered
	// -MOVED (redirect mode).
	RouteRedirected
	numRoutes
)

var routeNames = [numRoutes]string{"local", "forwarded", "redirected"}

// String returns the route's label value.
func (r Route) String() string { return routeNames[r] }

// RouteCounts is how many keyed client commands took each route, indexed
// by Route.
type RouteCounts [numRoutes]int64

// Total is the number of commands counted.
func (c RouteCounts) Total() int64 { return c[RouteLocal] + c[RouteForwarded] + c[RouteRedirected] }

// Sub returns c - o, the counts of a window between two readings.
func (c RouteCounts) Sub(o RouteCounts) RouteCounts {
	for i := range c {
		c[i] -= o[i]
	}
	return c
}

// RecordRoute counts one keyed client command served by route r.
func (s *Stats) RecordRoute(r Route) { s.routes[r].Add(1) }

// Routes returns the route counters (what skerry_cluster_requests_total
// exports). They are monotonic: CONFIG RESETSTAT leaves them.
func (s *Stats) Routes() RouteCounts {
	var c RouteCounts
	for i := range c {
		c[i] = s.routes[i].Load()
	}
	return c
}

var routeDesc = prometheus.NewDesc("skerry_cluster_requests_total",
	"Keyed client commands by where they were served: local (this node leads the keys' region), "+
		"forwarded to the leader's node, or redirected with -MOVED.", []string{"route"}, nil)

// routeCollector exports the route counters on each scrape, so the hot
// path pays one atomic add and no label lookup.
type routeCollector struct{ s *Stats }

func (r routeCollector) Describe(ch chan<- *prometheus.Desc) { ch <- routeDesc }

func (r routeCollector) Collect(ch chan<- prometheus.Metric) {
	for i, n := range r.s.Routes() {
		ch <- prometheus.MustNewConstMetric(routeDesc, prometheus.CounterValue, float64(n), routeNames[i])
	}
}
