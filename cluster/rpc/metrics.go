package rpc

import "github.com/prometheus/client_golang/prometheus"

// Drop reasons of skerry_rpc_raft_messages_dropped_total.
const (
	dropQueueFull   = "queue_full"
	dropUnreachable = "unreachable"
	dropFiltered    = "filtered"
	dropClosed      = "closed"
)

// clientMetrics are a Client's collectors (not registered anywhere).
type clientMetrics struct {
	raftSent       prometheus.Counter
	raftDropped    *prometheus.CounterVec
	dropQueueFull  prometheus.Counter
	dropFiltered   prometheus.Counter
	dropUnreach    prometheus.Counter
	dropClosed     prometheus.Counter
	raftBatches    prometheus.Counter
	raftBytes      prometheus.Counter
	streamOpens    *prometheus.CounterVec
	snapshotBytes  prometheus.Counter
	snapshots      *prometheus.CounterVec
	forwards       *prometheus.CounterVec
	forwardSeconds prometheus.Histogram
}

func newClientMetrics() *clientMetrics {
	m := &clientMetrics{
		raftSent: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "skerry_rpc_raft_messages_sent_total", Help: "Raft messages written to a peer stream.",
		}),
		raftDropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "skerry_rpc_raft_messages_dropped_total",
			Help: "Raft messages dropped before sending, by reason: queue_full, unreachable, filtered, closed.",
		}, []string{"reason"}),
		raftBatches: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "skerry_rpc_raft_batches_sent_total", Help: "Raft stream messages (batches) sent.",
		}),
		raftBytes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "skerry_rpc_raft_bytes_sent_total", Help: "Encoded bytes of raft batches sent.",
		}),
		streamOpens: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "skerry_rpc_raft_stream_opens_total", Help: "Raft stream open attempts by result: ok, error.",
		}, []string{"result"}),
		snapshotBytes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "skerry_rpc_snapshot_bytes_sent_total", Help: "Snapshot data bytes sent.",
		}),
		snapshots: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "skerry_rpc_snapshots_sent_total", Help: "Snapshots sent by result: ok, error.",
		}, []string{"result"}),
		forwards: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "skerry_rpc_forward_requests_total",
			Help: "Forwarded commands by result: ok, remote_error, unreachable, error.",
		}, []string{"result"}),
		forwardSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "skerry_rpc_forward_duration_seconds", Help: "Forwarded command round-trip latency.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2, 18),
		}),
	}
	m.dropQueueFull = m.raftDropped.WithLabelValues(dropQueueFull)
	m.dropFiltered = m.raftDropped.WithLabelValues(dropFiltered)
	m.dropUnreach = m.raftDropped.WithLabelValues(dropUnreachable)
	m.dropClosed = m.raftDropped.WithLabelValues(dropClosed)
	return m
}

func (m *clientMetrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{m.raftSent, m.raftDropped, m.raftBatches, m.raftBytes, m.streamOpens,
		m.snapshotBytes, m.snapshots, m.forwards, m.forwardSeconds}
}

// serverMetrics are a Server's collectors (not registered anywhere).
type serverMetrics struct {
	raftReceived  prometheus.Counter
	raftBatches   prometheus.Counter
	raftBytes     prometheus.Counter
	snapshotBytes prometheus.Counter
	snapshots     *prometheus.CounterVec
	forwards      *prometheus.CounterVec
}

func newServerMetrics() *serverMetrics {
	return &serverMetrics{
		raftReceived: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "skerry_rpc_raft_messages_received_total", Help: "Raft messages received and stepped.",
		}),
		raftBatches: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "skerry_rpc_raft_batches_received_total", Help: "Raft stream messages (batches) received.",
		}),
		raftBytes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "skerry_rpc_raft_bytes_received_total", Help: "Encoded bytes of raft batches received.",
		}),
		snapshotBytes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "skerry_rpc_snapshot_bytes_received_total", Help: "Snapshot data bytes received.",
		}),
		snapshots: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "skerry_rpc_snapshots_received_total", Help: "Snapshots received by result: ok, error.",
		}, []string{"result"}),
		forwards: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "skerry_rpc_forward_served_total", Help: "Forwarded commands served by result: ok, error.",
		}, []string{"result"}),
	}
}

func (m *serverMetrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{m.raftReceived, m.raftBatches, m.raftBytes, m.snapshotBytes, m.snapshots, m.forwards}
}

func result(err error) string {
	if err != nil {
		return "error"
	}
	return "ok"
}
