package cluster

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"

	"github.com/skerrydb/skerry/commands"
)

// metrics is the node's Prometheus registry.
type metrics struct {
	reg   *prometheus.Registry
	stats *commands.Stats
}

func newMetrics(n *Node, stats *commands.Stats) *metrics {
	reg := prometheus.NewRegistry()
	// The scheduler metrics include go_sched_latencies_seconds: how long
	// runnable goroutines waited for a core, which bounds the latency of every
	// request on a busy node.
	reg.MustRegister(collectors.NewGoCollector(collectors.WithGoCollectorRuntimeMetrics(collectors.MetricsScheduler)), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	reg.MustRegister(n.raft.Collectors()...)
	reg.MustRegister(stats.Collectors()...)
	reg.MustRegister(pebbleCollector{n})
	reg.MustRegister(n.exec.metrics.collectors()...)
	reg.MustRegister(n.exec.plain.collector())
	reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: "skerry_expired_keys_total", Help: "Keys deleted by the active expirer.",
	}, func() float64 { return float64(n.expirer.expired.Load()) }))
	reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: "skerry_expiry_stale_entries_total", Help: "Expiry index entries dropped because their key had changed.",
	}, func() float64 { return float64(n.expirer.stale.Load()) }))
	reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: "skerry_gc_collected_members_total", Help: "Member records of deleted, expired or overwritten collections removed by the collector.",
	}, func() float64 { return float64(n.gc.collected.Load()) }))
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "skerry_gc_backlog_members", Help: "Member records of deleted collections still waiting for the collector.",
	}, func() float64 { return float64(n.gc.total.Load()) }))
	reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: "skerry_mvcc_gc_versions_deleted_total", Help: "MVCC write records (old versions, rollback and lock-only records) deleted below the GC safe point.",
	}, func() float64 { return float64(n.vgc.deleted.Load()) }))
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "skerry_gc_safe_point", Help: "The GC safe point (a TSO timestamp) this node last collected up to; 0: none yet.",
	}, func() float64 { return float64(n.exec.safePoint.Load()) }))
	reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: "skerry_combined_commands_total", Help: "Write commands that ran in another command's transaction because they wrote the same keys at the same time.",
	}, func() float64 { return float64(n.exec.comb.combined.Load()) }))
	return &metrics{reg: reg, stats: stats}
}

// RequestRoutes returns how many keyed client commands this node served
// locally, forwarded and redirected (-MOVED) since it started: the
// counters of the skerry_cluster_requests_total metric.
func (n *Node) RequestRoutes() commands.RouteCounts { return n.metrics.stats.Routes() }

// pebbleCollector exports a few Pebble gauges on each scrape.
type pebbleCollector struct{ n *Node }

var (
	pebbleDiskBytes   = prometheus.NewDesc("skerry_pebble_disk_usage_bytes", "Bytes used by Pebble on disk.", nil, nil)
	pebbleReadAmp     = prometheus.NewDesc("skerry_pebble_read_amplification", "Pebble read amplification.", nil, nil)
	pebbleMemtable    = prometheus.NewDesc("skerry_pebble_memtable_bytes", "Bytes in Pebble memtables.", nil, nil)
	pebbleCompactions = prometheus.NewDesc("skerry_pebble_compactions_total", "Pebble compactions.", nil, nil)
	pebbleWALSyncs    = prometheus.NewDesc("skerry_pebble_wal_bytes_written_total", "Bytes written to the Pebble WAL.", nil, nil)
	pebbleWALFsync    = prometheus.NewDesc("skerry_pebble_wal_fsync_seconds", "Duration of each fsync of the Pebble WAL (the system call alone; skerry_raft_batch_commit_seconds is the whole synced commit).", nil, nil)
)

func (p pebbleCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- pebbleDiskBytes
	ch <- pebbleReadAmp
	ch <- pebbleMemtable
	ch <- pebbleCompactions
	ch <- pebbleWALSyncs
	ch <- pebbleWALFsync
}

func (p pebbleCollector) Collect(ch chan<- prometheus.Metric) {
	m := p.n.engine.DB().Metrics()
	ch <- prometheus.MustNewConstMetric(pebbleDiskBytes, prometheus.GaugeValue, float64(m.DiskSpaceUsage()))
	ch <- prometheus.MustNewConstMetric(pebbleReadAmp, prometheus.GaugeValue, float64(m.ReadAmp()))
	ch <- prometheus.MustNewConstMetric(pebbleMemtable, prometheus.GaugeValue, float64(m.MemTable.Size))
	ch <- prometheus.MustNewConstMetric(pebbleCompactions, prometheus.CounterValue, float64(m.Compact.Count))
	ch <- prometheus.MustNewConstMetric(pebbleWALSyncs, prometheus.CounterValue, float64(m.WAL.BytesWritten))
	if h, ok := secondsHistogram(pebbleWALFsync, m.LogWriter.FsyncLatency); ok {
		ch <- h
	}
}

// secondsHistogram exports Pebble's fsync histogram, which observes
// nanoseconds, as desc in seconds (Prometheus's base unit).
func secondsHistogram(desc *prometheus.Desc, src prometheus.Histogram) (prometheus.Metric, bool) {
	var m dto.Metric
	if src == nil || src.Write(&m) != nil || m.GetHistogram() == nil {
		return nil, false
	}
	h := m.GetHistogram()
	buckets := make(map[float64]uint64, len(h.GetBucket()))
	for _, b := range h.GetBucket() {
		buckets[b.GetUpperBound()/1e9] = b.GetCumulativeCount()
	}
	return prometheus.MustNewConstHistogram(desc, h.GetSampleCount(), h.GetSampleSum()/1e9, buckets), true
}

// startStatus serves /metrics, /health and /debug/pprof/.
func (n *Node) startStatus() error {
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(n.metrics.reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("/health", func(w http.ResponseWriter, r *http.Request) {
		if err := n.raft.Err(); err != nil {
			http.Error(w, "unhealthy: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"status":"ok","regions":%s}`+"\n", strconv.Itoa(len(n.raft.Regions())))
	})
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	ln, err := net.Listen("tcp", n.cfg.StatusAddr)
	if err != nil {
		return fmt.Errorf("cluster: status listen %s: %w", n.cfg.StatusAddr, err)
	}
	n.statusLn = ln
	n.status = &http.Server{Handler: mux}
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		if err := n.status.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			n.log.Error("status server stopped", "err", err)
		}
	}()
	return nil
}

// redisConfigParams are the CONFIG GET values derived from the node's
// configuration.
func redisConfigParams(c *Config) map[string]string {
	host, port, _ := net.SplitHostPort(c.Addr)
	maxc := c.MaxClients
	if maxc == 0 {
		maxc = 10000
	}
	bulk := c.ProtoMaxBulkLen
	if bulk == 0 {
		bulk = 512 << 20
	}
	return map[string]string{
		"requirepass":        c.RequirePass,
		"bind":               host,
		"port":               port,
		"dir":                c.DataDir,
		"maxclients":         strconv.Itoa(maxc),
		"proto-max-bulk-len": strconv.FormatInt(bulk, 10),
	}
}
