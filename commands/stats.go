package commands

import (
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Stats counts calls and time per command (INFO commandstats), error
// replies by code (INFO errorstats) and feeds the Prometheus metrics
// skerry_commands_total{cmd,result} and
// skerry_command_duration_seconds{cmd}. Safe for concurrent use.
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
	return []prometheus.Collector{s.total, s.duration}
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
