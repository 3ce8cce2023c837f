package cluster

import (
	"context"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/skerrydb/skerry/mvcc"
	"github.com/skerrydb/skerry/mvcc/engine"
	"github.com/skerrydb/skerry/mvcc/keys"
	"github.com/skerrydb/skerry/regionraft"
)

// versionStore is the part of regionraft.Store the version collector
// uses.
type versionStore interface {
	Regions() []regionraft.Region
	Leader(regionID uint64) (regionraft.Peer, bool)
	ProposeEpoch(ctx context.Context, regionID uint64, epoch regionraft.Epoch, cmd []byte) error
}

// versionGC collects old MVCC versions (DESIGN.md §5): every period it
// reads PD's GC safe point, lowers it to below the oldest transaction
// running on this node (this node's own report may not have reached PD
// yet), and walks each region this node leads with mvcc.GC in batches of
// at most batch deletions, each proposed through Raft as an ordinary
// modification list. The deletions are of versions no reader at or above
// the safe point can see, so they need no latch, and a batch proposed
// twice (or by a deposed leader, or on a region that split meanwhile:
// the epoch refuses it) is harmless. Between batches it waits pause, so a
// large backlog never crowds out commands.
type versionGC struct {
	engine    engine.Engine
	raft      versionStore
	storeID   uint64
	safePoint func(ctx context.Context) (uint64, error) // PD's
	oracle    oracle
	active    *txnTracker
	// used is where the safe point in use is published, pdSeen where
	// PD's is (the executor's: distributed transactions at or below PD's
	// refuse to commit).
	used   *atomic.Uint64
	pdSeen *atomic.Uint64
	period time.Duration
	batch  int
	pause  time.Duration
	log    *slog.Logger

	deleted atomic.Int64 // write records deleted (skerry_mvcc_gc_versions_deleted_total)
}

// Default batch and pause of the version collector.
const (
	versionGCBatch = 256
	versionGCPause = 2 * time.Millisecond
)

func (g *versionGC) run(ctx context.Context) {
	runPeriodically(ctx, g.period, g.log, "mvcc garbage collection round failed", g.round)
}

// round collects every region led here up to the current safe point.
func (g *versionGC) round(ctx context.Context) error {
	sp, err := g.currentSafePoint(ctx)
	if err != nil || sp == 0 {
		return err
	}
	for _, r := range g.raft.Regions() {
		if err := g.collectRegion(ctx, r, sp); err != nil {
			if isNotLocal(err) || ctx.Err() != nil {
				continue
			}
			g.log.Debug("mvcc gc of a region stopped", "region", r.ID, "err", err)
		}
	}
	return nil
}

// currentSafePoint is PD's safe point, kept below every transaction
// running here, and never below one used before.
func (g *versionGC) currentSafePoint(ctx context.Context) (uint64, error) {
	sp, err := g.safePoint(ctx)
	if err != nil {
		return 0, err
	}
	storeMax(g.pdSeen, sp)
	// A fresh timestamp first, so that an idle node's bound is recent.
	ts, err := g.oracle.GetTS(ctx)
	if err != nil {
		return 0, err
	}
	g.active.observe(ts)
	if low := g.active.minStartTS(); low != 0 && low-1 < sp {
		sp = low - 1
	}
	return storeMax(g.used, sp), nil
}

// storeMax raises a to v unless it is already higher, and returns a.
func storeMax(a *atomic.Uint64, v uint64) uint64 {
	for {
		cur := a.Load()
		if v <= cur {
			return cur
		}
		if a.CompareAndSwap(cur, v) {
			return v
		}
	}
}

// collectRegion walks region r while this node leads it.
func (g *versionGC) collectRegion(ctx context.Context, r regionraft.Region, sp uint64) error {
	start := r.StartKey
	var end []byte
	if len(r.EndKey) > 0 {
		end = r.EndKey
	}
	for {
		if l, ok := g.raft.Leader(r.ID); !ok || l.StoreID != g.storeID {
			return nil
		}
		snap := g.engine.NewSnapshot()
		mods, resume, err := mvcc.GC(mvcc.NewReader(snap, sp), start, end, sp, g.batch)
		snap.Close()
		if err != nil {
			return err
		}
		if len(mods) > 0 {
			if err := g.raft.ProposeEpoch(ctx, r.ID, r.Epoch, mvcc.EncodeModifies(mods)); err != nil {
				return err
			}
			n := 0
			for _, m := range mods {
				if _, _, err := keys.DecodeWriteKey(m.Key); err == nil {
					n++
				}
			}
			g.deleted.Add(int64(n))
		}
		if resume == nil {
			return nil
		}
		start = resume
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(g.pause):
		}
	}
}
