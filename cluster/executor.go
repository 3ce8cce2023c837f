package cluster

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/skerrydb/skerry/cluster/rpc"
	"github.com/skerrydb/skerry/commands"
	"github.com/skerrydb/skerry/commands/keyspace"
	"github.com/skerrydb/skerry/mvcc"
	"github.com/skerrydb/skerry/mvcc/engine"
	"github.com/skerrydb/skerry/mvcc/keys"
	"github.com/skerrydb/skerry/mvcc/txn"
	"github.com/skerrydb/skerry/pd/pdclient"
	"github.com/skerrydb/skerry/regionraft"
)

// ErrNoRegion is returned when no local region covers a command's keys.
var ErrNoRegion = errors.New("cluster: no region serves the key")

// ErrCrossRegion answers a command whose keys live in different regions.
var ErrCrossRegion = commands.ErrCrossRegion

// oracle hands out timestamps (pdclient.Client).
type oracle interface {
	GetTS(ctx context.Context) (uint64, error)
}

// raftStore is the part of regionraft.Store the executor uses.
type raftStore interface {
	ProposeEpoch(ctx context.Context, regionID uint64, epoch regionraft.Epoch, cmd []byte) error
	Epoch(regionID uint64) (regionraft.Epoch, bool)
	ReadBarrier(ctx context.Context, regionID uint64) error
	WriteBarrier(ctx context.Context, regionID uint64) error
	FollowerReadBarrier(ctx context.Context, regionID uint64) error
	RegionForKeys(keys [][]byte) (uint64, bool)
	Leader(regionID uint64) (regionraft.Peer, bool)
}

// executor runs command bodies on this node: it is the local fast path of
// DESIGN.md §3 (latch -> timestamp -> run -> one-phase commit through Raft).
// It implements commands.Store.
type executor struct {
	engine engine.Engine
	oracle oracle
	raft   raftStore
	locks  *mvcc.LockTable
	cache  *mvcc.VersionCache
	// plain lets writes replace keys known to hold no collection and no
	// expiry without reading them (plainkeys.go); nil: always read.
	plain   *plainKeys
	latches *txn.Latches
	metrics *execMetrics
	comb    combiner
	// route finds the node serving keys of a region with no local peer
	// (PD's region map); nil: none known.
	route func(lks [][]byte) (node uint64, err error)
	// leaderOf asks PD which node leads a region whose local peer knows
	// no leader (0: PD does not know either); nil: not asked.
	leaderOf func(region uint64) (node uint64)
	// Distributed transactions (dtxn.go, txnkv.go): this node's store id,
	// how to run a transactional action on another store, and how to
	// find a region this node has no peer of. nil remote/pdRegion: a
	// single node, every region is here.
	self     uint64
	remote   func(ctx context.Context, store uint64, req *rpc.TxnKVRequest) (*rpc.TxnKVResponse, error)
	pdRegion pdRegionFunc
	// dtxnHook, set by tests only, runs when a distributed transaction
	// reaches a phase ("prewritten", "primary-committed"); an error stops
	// it there as a coordinator crash would (no rollback, no secondaries).
	dtxnHook func(phase string) error
	// kvRequestHook, set by tests only, sees every TxnKV request this
	// node sends as a coordinator (atomic: set while workers run).
	kvRequestHook atomic.Pointer[func(*rpc.TxnKVRequest)]
	// ops counts commands per region for the leader's heartbeat (QPS).
	ops    *regionOps
	dstats dtxnStats
	// active tracks the transactions running here, for the GC safe point.
	active txnTracker
	// safePoint is the GC safe point the version collector last used
	// (0: none), pdSafePoint PD's as last read: a distributed transaction
	// that started at or below PD's was not held back by this node's
	// reports (cut off from PD), may have lost versions it read, and must
	// not commit. (The collector here stays below the node's own running
	// transactions, so safePoint never passes them.)
	safePoint   atomic.Uint64
	pdSafePoint atomic.Uint64
}

func newExecutor(e engine.Engine, o oracle, r raftStore, locks *mvcc.LockTable, cache *mvcc.VersionCache) *executor {
	return &executor{engine: e, oracle: o, raft: r, locks: locks, cache: cache, latches: txn.NewLatches(1 << 16), metrics: newExecMetrics(),
		ops: newRegionOps()}
}

// newTxn opens a transaction at ts over r (the engine, or a snapshot of
// it) for a caller holding the latches of every key it will read (nil
// keys: all of them).
func (x *executor) newTxn(r engine.Reader, ts uint64) (*mvcc.Reader, *txn.Txn) {
	rd := mvcc.NewReaderWithLocks(r, ts, x.locks)
	rd.ShareIterator() // the caller holds the latches; localTxn.end closes it
	t := txn.New(rd, pdclient.PhysicalMs(ts))
	t.UseCache(x.cache)
	return rd, t
}

// execMetrics times the waits of the local path.
type execMetrics struct {
	latchWait prometheus.Histogram
	tsoWait   prometheus.Histogram
}

func newExecMetrics() *execMetrics {
	buckets := prometheus.ExponentialBuckets(1e-6, 4, 12) // 1µs .. ~4s
	return &execMetrics{
		latchWait: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "skerry_latch_wait_seconds",
			Help: "Time a command waited for its keys' latches.", Buckets: buckets}),
		tsoWait: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "skerry_tso_wait_seconds",
			Help: "Time a command waited for its timestamp from PD (batched).", Buckets: buckets}),
	}
}

func (m *execMetrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{m.latchWait, m.tsoWait}
}

func (x *executor) acquire(lks [][]byte, shared bool) txn.Guard {
	start := time.Now()
	acquire := x.latches.Acquire
	if shared {
		acquire = x.latches.AcquireShared
	}
	g := acquire(lks)
	x.metrics.latchWait.Observe(time.Since(start).Seconds())
	return g
}

func (x *executor) timestamp(ctx context.Context) (uint64, error) {
	start := time.Now()
	ts, err := x.oracle.GetTS(ctx)
	x.metrics.tsoWait.Observe(time.Since(start).Seconds())
	if err == nil {
		x.active.observe(ts)
	}
	return ts, err
}

// minStartTS is txnTracker.minStartTS after taking a fresh timestamp, so
// that an idle node reports a recent bound; 0 when PD gave none.
func (x *executor) minStartTS(ctx context.Context) uint64 {
	if _, err := x.timestamp(ctx); err != nil {
		return 0
	}
	return x.active.minStartTS()
}

// latchKeys maps Redis keys to latch keys; nil stays nil (whole keyspace).
// Latches are per key name, across databases: COPY ... DB and MOVE touch
// the same name in another database, and a name's slot (hence its region)
// does not depend on the database.
func latchKeys(db int, ks [][]byte) [][]byte {
	if ks == nil {
		return nil
	}
	out := make([][]byte, len(ks))
	for i, k := range ks {
		out[i] = keys.MetaKey(0, k)
	}
	return out
}

// region returns the id of the region that serves every given latch key.
// Keys of one region this node has no peer of are served where PD says
// that region lives (commands.NotLocalError); keys of several regions get
// ErrCrossRegion (or ErrNoRegion on a node without PD routing), which
// UpdateBatch and View turn into a distributed transaction (dtxn.go).
func (x *executor) region(lks [][]byte) (uint64, error) {
	id, ok := x.raft.RegionForKeys(lks)
	if !ok {
		if x.route != nil {
			// Unknown to PD yet (no heartbeat since the region was
			// created or moved) gives Node 0: retried after a backoff.
			node, err := x.route(lks)
			if err != nil {
				return 0, err
			}
			return 0, &commands.NotLocalError{Node: node, Cause: ErrNoRegion}
		}
		return 0, ErrNoRegion
	}
	if lks == nil && !x.wholeKeyspace(id) {
		// A keyless command (KEYS, DBSIZE, SCAN, FLUSHDB, an EXEC that
		// holds one) walks the whole keyspace: once it is split, that is
		// a distributed transaction over every region.
		return 0, ErrCrossRegion
	}
	return id, nil
}

// wholeKeyspace reports whether the region spans every key.
func (x *executor) wholeKeyspace(id uint64) bool {
	ri, ok := x.raft.(regionInfo)
	if !ok {
		return true // a store without ranges has one region
	}
	r, ok := ri.Region(id)
	return ok && len(r.StartKey) == 0 && len(r.EndKey) == 0
}

// notLocal turns the errors that mean "another node leads this region"
// into commands.NotLocalError, so the command is forwarded there. Both
// come before anything of the command was committed: a follower refuses
// reads and proposals, and a dropped proposal was never applied.
func (x *executor) notLocal(region uint64, err error) error {
	var nl *regionraft.NotLeaderError
	switch {
	case errors.As(err, &nl):
		node := nl.Leader.StoreID
		if node == 0 && x.leaderOf != nil {
			// This peer lost touch with its leader (or is campaigning), but
			// the leader may still be reachable over the internal RPC:
			// PD's map, fed by the leader's heartbeats, names it.
			node = x.leaderOf(region)
		}
		return &commands.NotLocalError{Node: node, Cause: err}
	case errors.Is(err, regionraft.ErrOutcomeUnknown):
		return err // it may have been applied: never run it again
	case errors.Is(err, regionraft.ErrProposalDropped), errors.Is(err, regionraft.ErrReadDropped):
		leader, _ := x.raft.Leader(region)
		return &commands.NotLocalError{Node: leader.StoreID, Cause: err}
	case errors.As(err, new(*regionraft.EpochNotMatchError)), errors.Is(err, regionraft.ErrRegionNotFound):
		// The region split or moved under the command, which was not
		// applied: run it again from the start (Node 0: here, after a
		// short backoff, with the new regions).
		return &commands.NotLocalError{Cause: err}
	}
	return err
}

// barrierMode is what a local transaction's reads wait for (begin).
type barrierMode int

const (
	barrierLeader     barrierMode = iota // ReadBarrier: linearizable on the leader
	barrierAnyReplica                    // FollowerReadBarrier (READONLY connections)
	barrierWrite                         // WriteBarrier: the transaction proposes, or checks at commit
)

// localTxn is a transaction running on this node's fast path, holding the
// latches of its keys.
type localTxn struct {
	guard  txn.Guard
	region uint64
	epoch  regionraft.Epoch // the region's, when the command was routed
	ts     uint64
	rd     *mvcc.Reader
	t      *txn.Txn
	// active and tok: the registration with the GC safe point's tracker.
	active *txnTracker
	tok    txnToken
	// snap is the engine snapshot a replica read runs on; nil otherwise.
	snap engine.Snapshot
	// writeBarrier: the reads passed only WriteBarrier; if the
	// transaction proposes nothing, ReadBarrier must pass before its
	// reply.
	writeBarrier bool
}

// end releases the reader's iterator and snapshot, then the latches.
func (lt *localTxn) end() {
	lt.rd.Close()
	if lt.snap != nil {
		lt.snap.Close()
	}
	lt.active.end(lt.tok)
	lt.guard.Release()
}

// begin is the common start of every local transaction: latch the keys,
// find their region, pass its read barrier and take one timestamp. The
// caller must call lt.end when it gets no error. anyReplica (reads of
// READONLY connections only) lets a follower replica pass the barrier
// (regionraft.FollowerReadBarrier: ReadIndex from the leader, then wait
// to apply up to it), so the read is served here, still linearizable; a
// follower that cannot (no leader known, read index lost) answers
// NotLocalError and the read goes to the leader as before.
func (x *executor) begin(ctx context.Context, db int, ks [][]byte, mode barrierMode) (lt localTxn, err error) {
	anyReplica := mode == barrierAnyReplica
	lks := latchKeys(db, ks)
	// Reads share their keys' latches with each other: 50 clients reading
	// one hot key (a leaderboard's ZRANGE) ran one at a time before.
	lt.guard = x.acquire(lks, mode != barrierWrite)
	defer func() {
		if err != nil {
			if lt.active != nil {
				lt.active.end(lt.tok)
			}
			lt.guard.Release()
		}
	}()
	if lt.region, err = x.region(lks); err != nil {
		return lt, err
	}
	x.ops.add(lt.region)
	var ok bool
	if lt.epoch, ok = x.raft.Epoch(lt.region); !ok {
		return lt, &commands.NotLocalError{Cause: regionraft.ErrRegionNotFound}
	}
	barrier := x.raft.ReadBarrier
	switch mode {
	case barrierAnyReplica:
		barrier = x.raft.FollowerReadBarrier
	case barrierWrite:
		barrier, lt.writeBarrier = x.raft.WriteBarrier, true
	}
	if err = barrier(ctx, lt.region); err != nil {
		return lt, x.notLocal(lt.region, err)
	}
	lt.active, lt.tok = &x.active, x.active.begin()
	if lt.ts, err = x.timestamp(ctx); err != nil {
		return lt, fmt.Errorf("cluster: timestamp: %w", err)
	}
	if !anyReplica {
		lt.rd, lt.t = x.newTxn(x.engine, lt.ts)
		if mode == barrierWrite && x.plain != nil {
			lt.t.UsePlainCheck(x.plain.check(lt.region))
		}
		return lt, nil
	}
	// A follower's latches do not hold back the applies of the leader's
	// writes: read one point-in-time view (taken after the barrier, so it
	// holds everything up to the read index), in which the region's data
	// are still whole: not removed with a destroyed peer, nor half
	// replaced by an incoming snapshot.
	snap := x.engine.NewSnapshot()
	if err = replicaServes(snap, lt.region, lks); err != nil {
		snap.Close()
		return lt, err
	}
	lt.snap = snap
	lt.rd, lt.t = x.newTxn(snap, lt.ts)
	return lt, nil
}

// replicaServes checks in snap that this store still holds region's data
// for every latch key: its descriptor is there and covers them, and no
// snapshot is replacing them. Otherwise the command runs again from the
// start (NotLocalError, Node 0) with the regions as they are now.
func replicaServes(snap engine.Snapshot, region uint64, lks [][]byte) error {
	v, err := snap.Get(keys.RegionStateKey(region))
	if err != nil {
		if errors.Is(err, engine.ErrNotFound) {
			return &commands.NotLocalError{Cause: regionraft.ErrRegionNotFound}
		}
		return err
	}
	r, err := regionraft.DecodeRegion(v)
	if err != nil {
		return err
	}
	for _, k := range lks {
		if !r.ContainsKey(k) {
			return &commands.NotLocalError{Cause: regionraft.ErrRegionNotFound}
		}
	}
	switch _, err := snap.Get(keys.RaftSnapshotPendingKey(region)); {
	case err == nil:
		return &commands.NotLocalError{Cause: regionraft.ErrRegionNotFound}
	case !errors.Is(err, engine.ErrNotFound):
		return err
	}
	return nil
}

// Update implements commands.Store. Concurrent Updates of the same keys
// are combined (see combiner): one of them runs them all in one
// transaction and one Raft proposal, in arrival order.
func (x *executor) Update(ctx context.Context, db int, ks [][]byte, fn func(keyspace.Txn) error) error {
	if len(ks) == 0 {
		// A keyless command (FLUSHDB...) is not combined; it is a batch
		// of one, so a split keyspace takes the distributed path.
		errs, err := x.UpdateBatch(ctx, db, ks, []func(keyspace.Txn) error{fn})
		if err == nil && errs[0] != nil {
			err = errs[0]
		}
		return err
	}
	return x.comb.update(ctx, x, db, ks, fn)
}

// UpdateBatch implements commands.Store. A lock met, or keys in several
// regions, take the slow path (dtxn.go).
func (x *executor) UpdateBatch(ctx context.Context, db int, ks [][]byte, fns []func(keyspace.Txn) error) ([]error, error) {
	errs, err := x.updateBatchLocal(ctx, db, ks, fns)
	if err != nil && slowPath(err) {
		return x.updateBatchSlow(ctx, db, ks, fns, err)
	}
	return errs, err
}

// updateBatchLocal is UpdateBatch on the local fast path.
func (x *executor) updateBatchLocal(ctx context.Context, db int, ks [][]byte, fns []func(keyspace.Txn) error) ([]error, error) {
	lt, err := x.begin(ctx, db, ks, barrierWrite)
	if err != nil {
		return nil, err
	}
	defer lt.end()
	errs := make([]error, len(fns))
	for i, fn := range fns {
		sp := lt.t.Savepoint()
		if errs[i] = fn(lt.t); errs[i] != nil {
			if errors.Is(errs[i], commands.ErrAbortBatch) || isLocked(errs[i]) {
				return errs, errs[i] // nothing is committed
			}
			lt.t.RollbackTo(sp)
		}
	}
	return errs, x.commit(ctx, lt)
}

// commit replicates lt's writes in one phase and records the new versions
// in the cache. lt still holds the latches of every key it touched.
func (x *executor) commit(ctx context.Context, lt localTxn) error {
	t, ts := lt.t, lt.ts
	if t.Empty() {
		if !lt.writeBarrier {
			return nil
		}
		// Nothing to propose proves this node still leads: confirm it
		// now, after the reads (no other leader can have committed in
		// between if a quorum still follows this one), before the reply.
		if err := x.raft.ReadBarrier(ctx, lt.region); err != nil {
			return x.notLocal(lt.region, err)
		}
		return nil
	}
	// One timestamp serves as start and commit: the latches guarantee no
	// other writer of these keys ran in between, and any reader that
	// obtains a later timestamp waits on the same latches
	// (docs/decisions/0001).
	muts := t.Mutations()
	mods, err := mvcc.OnePCLatched(lt.rd, muts, ts)
	if err != nil {
		return err
	}
	if x.plain != nil {
		x.plain.note(muts) // before anyone can see them, latched
	}
	// Nothing more is read: do not pin the engine's view while waiting
	// for the fsync.
	if err := lt.rd.Close(); err != nil {
		return err
	}
	// The epoch makes a command routed before a split fail instead of
	// writing keys its region no longer holds (checked again at apply).
	if err := x.raft.ProposeEpoch(ctx, lt.region, lt.epoch, mvcc.EncodeModifies(mods)); err != nil {
		for _, m := range muts { // the outcome is unknown
			x.cache.Invalidate(m.Key)
		}
		return x.notLocal(lt.region, err)
	}
	// Applied, and still latched: these are the newest versions.
	for _, m := range muts {
		x.cache.Put(m.Key, ts, m.Value, !m.Delete)
	}
	return nil
}

// View implements commands.Store. A lock met, or keys in several
// regions, take the slow path (dtxn.go). A read marked
// commands.ReplicaRead (a READONLY connection's) may be served by a local
// follower replica.
func (x *executor) View(ctx context.Context, db int, ks [][]byte, fn func(keyspace.Txn) error) error {
	err := x.viewLocal(ctx, db, ks, fn)
	if err != nil && slowPath(err) {
		return x.viewSlow(ctx, db, ks, fn, err)
	}
	return err
}

// viewLocal is View on the local fast path.
func (x *executor) viewLocal(ctx context.Context, db int, ks [][]byte, fn func(keyspace.Txn) error) error {
	mode := barrierLeader
	if commands.ReplicaRead(ctx) {
		mode = barrierAnyReplica
	}
	lt, err := x.begin(ctx, db, ks, mode)
	if err != nil {
		return err
	}
	defer lt.end()
	if err := fn(lt.t); err != nil {
		return err
	}
	if !lt.t.Empty() {
		return errors.New("cluster: read-only command wrote")
	}
	return nil
}
