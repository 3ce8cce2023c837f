package regionraft

import "github.com/prometheus/client_golang/prometheus"

// Metrics are the Store's prometheus collectors. They are not registered
// anywhere; the caller registers Store.Collectors() on its own registry.
type Metrics struct {
	// ProposeApplySeconds: Propose call to acknowledgement (committed,
	// applied, durable).
	ProposeApplySeconds prometheus.Histogram
	// BatchCommitSeconds: one engine batch commit of a loop round (one fsync
	// when sync).
	BatchCommitSeconds prometheus.Histogram
	// EntriesPerBatch: log entries appended (all regions) per batch commit.
	EntriesPerBatch prometheus.Histogram
	// BatchCommits counts engine batch commits, by sync=true|false.
	BatchCommits *prometheus.CounterVec
	// AppliedEntries counts applied log entries (all regions).
	AppliedEntries prometheus.Counter
	// Proposals counts proposals by result: ok, error.
	Proposals *prometheus.CounterVec
	// proposalsOK and proposalsErr are Proposals' two children, looked up
	// once rather than per acknowledgement.
	proposalsOK, proposalsErr prometheus.Counter
	// batchCommitsSync and batchCommitsNoSync are BatchCommits' two
	// children, looked up once rather than per round.
	batchCommitsSync, batchCommitsNoSync prometheus.Counter
	// BatchedCommands counts commands proposed packed with others in one
	// batch entry (ProposeEpoch calls of a region in one loop round).
	BatchedCommands prometheus.Counter
	// Regions is the number of regions with a peer on this store.
	Regions prometheus.Gauge
	// Leaders is the number of those regions led by this store.
	Leaders prometheus.Gauge
	// Snapshots counts region snapshots by direction (sent, received) and
	// result (ok, error).
	Snapshots *prometheus.CounterVec
	// PeerTicks counts raft ticks, one per awake peer per TickInterval
	// (hibernated peers are not ticked).
	PeerTicks prometheus.Counter
	// Hibernated is the number of local peers currently hibernated.
	Hibernated prometheus.Gauge
	// Wakes counts hibernated peers woken (traffic, a message, a check).
	Wakes prometheus.Counter
	// FollowerReads counts FollowerReadBarrier calls answered by a
	// follower or learner (not the leader), by result: ok, error.
	FollowerReads *prometheus.CounterVec
	// LeaseReads counts leader reads served under the leader lease,
	// without a ReadIndex round.
	LeaseReads prometheus.Counter
}

func newMetrics() *Metrics {
	m := &Metrics{
		ProposeApplySeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "skerry_raft_propose_apply_seconds", Help: "Propose to acknowledgement latency.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2, 18),
		}),
		BatchCommitSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "skerry_raft_batch_commit_seconds", Help: "Raft loop engine batch commit (fsync) latency.",
			Buckets: prometheus.ExponentialBuckets(0.00005, 2, 18),
		}),
		EntriesPerBatch: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "skerry_raft_entries_per_batch", Help: "Log entries appended per engine batch.",
			Buckets: prometheus.ExponentialBuckets(1, 2, 14),
		}),
		BatchCommits: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "skerry_raft_batch_commits_total", Help: "Engine batch commits of the raft loop.",
		}, []string{"sync"}),
		AppliedEntries: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "skerry_raft_applied_entries_total", Help: "Applied raft log entries.",
		}),
		Proposals: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "skerry_raft_proposals_total", Help: "Proposals by result.",
		}, []string{"result"}),
		Regions: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "skerry_raft_regions", Help: "Regions with a peer on this store.",
		}),
		Leaders: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "skerry_raft_leaders", Help: "Regions led by this store.",
		}),
		Snapshots: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "skerry_raft_snapshots_total", Help: "Region snapshots by direction and result.",
		}, []string{"direction", "result"}),
		PeerTicks: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "skerry_raft_peer_ticks_total", Help: "Raft ticks of awake peers.",
		}),
		Hibernated: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "skerry_raft_hibernated_peers", Help: "Local peers hibernated (not ticking).",
		}),
		Wakes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "skerry_raft_peer_wakes_total", Help: "Hibernated peers woken.",
		}),
		FollowerReads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "skerry_region_follower_reads_total", Help: "Read barriers passed (or failed) on a follower replica, by result.",
		}, []string{"result"}),
		LeaseReads: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "skerry_raft_lease_reads_total", Help: "Leader reads served under the leader lease, without a ReadIndex round.",
		}),
		BatchedCommands: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "skerry_raft_batched_commands_total", Help: "Commands proposed packed with others in one raft entry.",
		}),
	}
	m.proposalsOK = m.Proposals.WithLabelValues("ok")
	m.proposalsErr = m.Proposals.WithLabelValues("error")
	m.batchCommitsSync = m.BatchCommits.WithLabelValues("true")
	m.batchCommitsNoSync = m.BatchCommits.WithLabelValues("false")
	return m
}

func (m *Metrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{m.ProposeApplySeconds, m.BatchCommitSeconds, m.EntriesPerBatch,
		m.BatchCommits, m.AppliedEntries, m.Proposals, m.Regions, m.Leaders, m.Snapshots,
		m.PeerTicks, m.Hibernated, m.Wakes, m.FollowerReads, m.LeaseReads, m.BatchedCommands}
}
