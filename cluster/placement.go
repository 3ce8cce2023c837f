package cluster

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/skerrydb/skerry/pd/pdclient"
	"github.com/skerrydb/skerry/regionraft"
)

// toPDRegion converts a region descriptor to PD's wire type.
func toPDRegion(r regionraft.Region) pdclient.Region {
	out := pdclient.Region{ID: r.ID, StartKey: r.StartKey, EndKey: r.EndKey,
		Epoch: pdclient.Epoch{ConfVer: r.Epoch.ConfVer, Version: r.Epoch.Version}}
	for _, p := range r.Peers {
		out.Peers = append(out.Peers, toPDPeer(p))
	}
	return out
}

func toPDPeer(p regionraft.Peer) pdclient.Peer {
	return pdclient.Peer{ID: p.ID, StoreID: p.StoreID, Learner: p.Learner}
}

func fromPDPeer(p pdclient.Peer) regionraft.Peer {
	return regionraft.Peer{ID: p.ID, StoreID: p.StoreID, Learner: p.Learner}
}

func fromPDEpoch(e pdclient.Epoch) regionraft.Epoch {
	return regionraft.Epoch{ConfVer: e.ConfVer, Version: e.Version}
}

// placement reports this store and its regions to PD and runs the steps
// PD's schedulers return (DESIGN.md §7): a store heartbeat every
// storeEvery, a region heartbeat for every region led here every
// regionEvery, and at most one step in flight per region.
type placement struct {
	storeID     uint64
	pdc         *pdclient.Client
	raft        *regionraft.Store
	log         *slog.Logger
	storeEvery  time.Duration
	regionEvery time.Duration

	// sizeEvery is how often a region's size is measured (a scan of the
	// region: ApproximateSize reads it all).
	sizeEvery time.Duration

	ops *regionOps // commands per region, for the heartbeat's QPS
	// minStartTS returns the lower bound of this node's transactions'
	// start timestamps for the GC safe point (0: unknown, not reported).
	minStartTS func(ctx context.Context) uint64

	mu      sync.Mutex
	running map[uint64]bool // region -> a step is running
	sizes   map[uint64]regionSize
	wg      sync.WaitGroup
}

type regionSize struct {
	bytes, keys uint64
	at          time.Time
}

func (p *placement) run(ctx context.Context) {
	defer p.wg.Wait()
	rt := time.NewTicker(p.regionEvery)
	defer rt.Stop()
	lastStore := time.Time{}
	for {
		if time.Since(lastStore) >= p.storeEvery {
			lastStore = time.Now()
			// One look at the local replicas serves both: the
			// quarantined ones go into the heartbeat, and every
			// candidate is checked against PD after it. A raft loop
			// that does not answer in time gives none: the heartbeat
			// (liveness) goes anyway.
			lctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			cands, _ := p.raft.StaleCandidates(lctx)
			cancel()
			if err := p.storeHeartbeat(ctx, cands); err != nil && ctx.Err() == nil {
				p.log.Debug("store heartbeat failed", "err", err)
			} else if err == nil {
				p.checkStalePeers(ctx, cands)
			}
		}
		p.regionHeartbeats(ctx)
		select {
		case <-ctx.Done():
			return
		case <-rt.C:
		}
	}
}

// storeHeartbeat reports this store to PD, with the quarantined replicas
// among cands (regionraft.Store.StaleCandidates).
func (p *placement) storeHeartbeat(ctx context.Context, cands []regionraft.LocalPeer) error {
	regions := p.raft.Regions()
	leaders := 0
	for _, r := range regions {
		if l, ok := p.raft.Leader(r.ID); ok && l.StoreID == p.storeID {
			leaders++
		}
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	stats := pdclient.StoreStats{StoreID: p.storeID, RegionCount: len(regions), LeaderCount: leaders}
	if p.minStartTS != nil {
		stats.MinStartTS = p.minStartTS(ctx)
	}
	// PD replaces quarantined replicas (regionraft.Store.ReceiveSnapshot):
	// they drop every message, and nothing else would ever end that.
	for _, c := range cands {
		if c.Quarantined {
			stats.Quarantined = append(stats.Quarantined, pdclient.RegionPeer{RegionID: c.Region.ID, PeerID: c.Self.ID})
		}
	}
	slices.SortFunc(stats.Quarantined, func(a, b pdclient.RegionPeer) int { return cmp.Compare(a.RegionID, b.RegionID) })
	return p.pdc.StoreHeartbeat(ctx, stats)
}

// checkStalePeers asks PD about every local replica that knows no leader
// or is quarantined, and destroys those PD's region no longer includes
// under a newer configuration (regionraft.DestroyStalePeer): replicas
// removed while this store was down or cut off, which would otherwise
// stay for good, campaigning in vain and blocking their key range here.
func (p *placement) checkStalePeers(ctx context.Context, cands []regionraft.LocalPeer) {
	for _, c := range cands {
		hctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		r, _, err := p.pdc.GetRegionByID(hctx, c.Region.ID)
		if err != nil {
			cancel()
			continue // unknown to PD (not reported yet) or PD unreachable: keep it
		}
		current := regionraft.Region{ID: r.ID, StartKey: r.StartKey, EndKey: r.EndKey, Epoch: fromPDEpoch(r.Epoch)}
		for _, q := range r.Peers {
			current.Peers = append(current.Peers, fromPDPeer(q))
		}
		destroyed, err := p.raft.DestroyStalePeer(hctx, c.Region.ID, c.Self.ID, current)
		cancel()
		switch {
		case err != nil:
			p.log.Warn("stale peer check failed", "region", c.Region.ID, "peer", c.Self.ID, "err", err)
		case destroyed:
			p.log.Info("destroyed a replica removed from its region", "region", c.Region.ID, "peer", c.Self.ID,
				"quarantined", c.Quarantined)
		}
	}
}

func (p *placement) regionHeartbeats(ctx context.Context) {
	for _, r := range p.raft.Regions() {
		l, term, ok := p.raft.LeaderTerm(r.ID)
		if !ok || l.StoreID != p.storeID {
			continue
		}
		hb := pdclient.RegionHeartbeat{Region: toPDRegion(r), Leader: toPDPeer(l), Term: term}
		if p.ops != nil {
			hb.QPS = p.ops.rate(r.ID, time.Now())
		}
		hb.ApproxBytes, hb.ApproxKeys = p.size(r.ID)
		hctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		op, err := p.pdc.RegionHeartbeat(hctx, hb)
		cancel()
		if err != nil {
			if ctx.Err() == nil {
				p.log.Debug("region heartbeat failed", "region", r.ID, "err", err)
			}
			continue
		}
		if op != nil {
			p.start(ctx, r, *op)
		}
	}
}

// size returns the region's last measured size, measuring it again when
// older than sizeEvery.
func (p *placement) size(regionID uint64) (bytes, keys uint64) {
	p.mu.Lock()
	if p.sizes == nil {
		p.sizes = map[uint64]regionSize{}
	}
	sz, ok := p.sizes[regionID]
	p.mu.Unlock()
	if ok && time.Since(sz.at) < p.sizeEvery {
		return sz.bytes, sz.keys
	}
	b, k, err := p.raft.ApproximateSize(regionID)
	if err != nil {
		return sz.bytes, sz.keys
	}
	p.mu.Lock()
	p.sizes[regionID] = regionSize{bytes: b, keys: k, at: time.Now()}
	p.mu.Unlock()
	return b, k
}

// start runs op on its own goroutine unless a step of the region runs.
func (p *placement) start(ctx context.Context, r regionraft.Region, op pdclient.Operator) {
	p.mu.Lock()
	if p.running == nil {
		p.running = map[uint64]bool{}
	}
	if p.running[r.ID] {
		p.mu.Unlock()
		return
	}
	p.running[r.ID] = true
	p.mu.Unlock()
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		defer func() { p.mu.Lock(); delete(p.running, r.ID); p.mu.Unlock() }()
		sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		if err := p.runStep(sctx, r, op); err != nil && ctx.Err() == nil {
			p.log.Info("placement step failed", "region", r.ID, "step", op.Kind.String(), "err", err)
		}
	}()
}

// errStaleStep: the step was issued for an older epoch of the region.
var errStaleStep = errors.New("cluster: placement step for an older region epoch")

func (p *placement) runStep(ctx context.Context, r regionraft.Region, op pdclient.Operator) error {
	if e := fromPDEpoch(op.Epoch); e.ConfVer < r.Epoch.ConfVer || e.Version < r.Epoch.Version {
		return errStaleStep
	}
	peer := fromPDPeer(op.Peer)
	switch op.Kind {
	case pdclient.OpAddLearner:
		if _, ok := r.PeerByID(peer.ID); ok {
			return nil // done already
		}
		peer.Learner = true
		return p.raft.ChangePeers(ctx, r.ID, []regionraft.PeerChange{{Type: regionraft.AddLearner, Peer: peer}})
	case pdclient.OpPromoteLearner:
		if cur, ok := r.PeerByID(peer.ID); ok && !cur.Learner {
			return nil
		}
		peer.Learner = false
		return p.raft.ChangePeers(ctx, r.ID, []regionraft.PeerChange{{Type: regionraft.AddVoter, Peer: peer}})
	case pdclient.OpRemovePeer:
		if _, ok := r.PeerByID(peer.ID); !ok {
			return nil
		}
		return p.raft.ChangePeers(ctx, r.ID, []regionraft.PeerChange{{Type: regionraft.RemovePeer, Peer: peer}})
	case pdclient.OpTransferLeader:
		return p.raft.TransferLeader(ctx, r.ID, peer.ID)
	case pdclient.OpSplit:
		return p.split(ctx, r, op.SplitKeys)
	}
	return fmt.Errorf("cluster: unknown placement step %d", op.Kind)
}

// split splits r at key (or at a key the store picks) with IDs from PD,
// and reports both halves.
func (p *placement) split(ctx context.Context, r regionraft.Region, at [][]byte) error {
	var key []byte
	if len(at) > 0 {
		key = at[0]
	} else {
		k, err := p.raft.SplitKey(r.ID)
		if err != nil {
			return err
		}
		key = k
	}
	newID, peerIDs, err := p.pdc.AskSplit(ctx, toPDRegion(r))
	if err != nil {
		return err
	}
	left, right, err := p.raft.Split(ctx, r.ID, r.Epoch, key, newID, peerIDs)
	if err != nil {
		return err
	}
	return p.pdc.ReportSplit(ctx, toPDRegion(left), toPDRegion(right))
}
