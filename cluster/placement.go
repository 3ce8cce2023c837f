package cluster

import (
	"context"
	"log/slog"
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
	return pdclient.Peer{ID: p.ID, StoreID: p.StoreID}
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

	// onStep runs a step PD returned for a region led here.
	onStep func(ctx context.Context, r regionraft.Region, op pdclient.Operator)
}

func (p *placement) run(ctx context.Context) {
	rt := time.NewTicker(p.regionEvery)
	defer rt.Stop()
	lastStore := time.Time{}
	for {
		if time.Since(lastStore) >= p.storeEvery {
			lastStore = time.Now()
			if err := p.storeHeartbeat(ctx); err != nil && ctx.Err() == nil {
				p.log.Debug("store heartbeat failed", "err", err)
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

func (p *placement) storeHeartbeat(ctx context.Context) error {
	regions := p.raft.Regions()
	leaders := 0
	for _, r := range regions {
		if l, ok := p.raft.Leader(r.ID); ok && l.StoreID == p.storeID {
			leaders++
		}
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	return p.pdc.StoreHeartbeat(ctx, pdclient.StoreStats{StoreID: p.storeID, RegionCount: len(regions), LeaderCount: leaders})
}

func (p *placement) regionHeartbeats(ctx context.Context) {
	for _, r := range p.raft.Regions() {
		l, ok := p.raft.Leader(r.ID)
		if !ok || l.StoreID != p.storeID {
			continue
		}
		hb := pdclient.RegionHeartbeat{Region: toPDRegion(r), Leader: toPDPeer(l)}
		hctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		op, err := p.pdc.RegionHeartbeat(hctx, hb)
		cancel()
		if err != nil {
			if ctx.Err() == nil {
				p.log.Debug("region heartbeat failed", "region", r.ID, "err", err)
			}
			continue
		}
		if op != nil && p.onStep != nil {
			p.onStep(ctx, r, *op)
		}
	}
}
