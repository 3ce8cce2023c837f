package schedule

import (
	"slices"

	"github.com/skerrydb/skerry/pd/meta"
	"github.com/skerrydb/skerry/pd/pdclient"
)

// StepReady reports whether step may be handed to r's leader now: a
// learner is promoted only once it is no longer pending (caught up).
func StepReady(step *pdclient.Operator, r *meta.RegionState) bool {
	if step.Kind == pdclient.OpPromoteLearner {
		return !containsPeer(r.PendingPeers, step.Peer.ID)
	}
	return true
}

// quorumSafe reports whether removing one voter leaves enough healthy
// voters for a quorum of the remaining ones.
func quorumSafe(votersAfter, healthyAfter int) bool {
	return votersAfter > 0 && healthyAfter >= votersAfter/2+1
}

// CheckReplicas returns the operator that brings r closer to MaxReplicas
// healthy voters, or nil if r is fine or nothing can be done now.
func CheckReplicas(cfg Config, c *Cluster, r *meta.RegionState) *Operator {
	regionCount, _ := c.counts()
	var voters, healthy, unhealthy []pdclient.Peer
	for _, p := range r.Region.Peers {
		if p.Learner {
			continue
		}
		voters = append(voters, p)
		if c.peerHealthy(r, p) {
			healthy = append(healthy, p)
		} else {
			unhealthy = append(unhealthy, p)
		}
	}
	mk := func(desc string, steps ...pdclient.Operator) *Operator {
		return &Operator{RegionID: r.Region.ID, Desc: desc, Steps: steps}
	}
	// Learners first: drop broken or surplus ones, promote caught-up ones.
	for _, l := range r.Region.Peers {
		if !l.Learner {
			continue
		}
		if !c.peerHealthy(r, l) || len(healthy) >= cfg.MaxReplicas {
			return mk("replica-remove-learner", step(pdclient.OpRemovePeer, r, l))
		}
		if containsPeer(r.PendingPeers, l.ID) {
			return nil // still catching up
		}
		return mk("replica-promote", step(pdclient.OpPromoteLearner, r, l))
	}
	// A quarantined voter (its store reports that a snapshot replaced its
	// data half-way: it drops every message) is removed first, even
	// before a replacement exists: its store is alive, and the add below
	// puts the fresh replica back there, as a newer peer that replaces
	// the broken one (regionraft destroys it). Replaced elsewhere, the
	// broken replica would stay on its store for good. A down voter, by
	// contrast, stays until replaced: its store may come back.
	for _, p := range unhealthy {
		if c.quarantinedVoter(r, p) {
			if !quorumSafe(len(voters)-1, len(healthy)) {
				return nil
			}
			if steps := c.removeSteps(r, p, nil); steps != nil {
				return mk("replica-remove-quarantined", steps...)
			}
		}
	}
	if len(healthy) < cfg.MaxReplicas {
		target := c.quarantinedStore(r)
		if target == 0 {
			target = c.leastLoaded(r, regionCount)
		}
		if target != 0 {
			np := pdclient.Peer{StoreID: target, Learner: true}
			voter := pdclient.Peer{StoreID: target}
			return mk("replica-add", step(pdclient.OpAddLearner, r, np), step(pdclient.OpPromoteLearner, r, voter))
		}
	}
	// Remove an unhealthy voter once it is replaced (or surplus).
	if len(unhealthy) > 0 && (len(healthy) >= cfg.MaxReplicas || len(voters) > cfg.MaxReplicas) {
		if quorumSafe(len(voters)-1, len(healthy)) {
			if steps := c.removeSteps(r, unhealthy[0], nil); steps != nil {
				return mk("replica-remove-down", steps...)
			}
		}
		return nil
	}
	// Remove a surplus healthy voter: the one on the fullest store.
	if len(voters) > cfg.MaxReplicas && quorumSafe(len(voters)-1, len(healthy)-1) {
		victims := slices.Clone(healthy)
		slices.SortStableFunc(victims, func(a, b pdclient.Peer) int {
			// Prefer a non-leader, then the fullest store.
			if (a.ID == r.Leader.ID) != (b.ID == r.Leader.ID) {
				if a.ID == r.Leader.ID {
					return 1
				}
				return -1
			}
			return regionCount[b.StoreID] - regionCount[a.StoreID]
		})
		if steps := c.removeSteps(r, victims[0], nil); steps != nil {
			return mk("replica-remove-extra", steps...)
		}
	}
	return nil
}

// CheckSplit returns a split operator for r if it is above a threshold.
func CheckSplit(cfg Config, r *meta.RegionState) *Operator {
	if (cfg.SplitBytes > 0 && r.ApproxBytes >= cfg.SplitBytes) || (cfg.SplitKeys > 0 && r.ApproxKeys >= cfg.SplitKeys) {
		return &Operator{RegionID: r.Region.ID, Desc: "split-size", Steps: []pdclient.Operator{step(pdclient.OpSplit, r, r.Leader)}}
	}
	return nil
}

// quiet reports whether r is stable enough to be balanced: known leader,
// no down or pending peer, no learner.
func quiet(r *meta.RegionState) bool {
	if r.Leader.ID == 0 || len(r.DownPeers) > 0 || len(r.PendingPeers) > 0 {
		return false
	}
	return !slices.ContainsFunc(r.Region.Peers, func(p pdclient.Peer) bool { return p.Learner })
}

// byCount returns the healthy stores sorted by count ascending (ID on
// ties).
func byCount(stores []*Store, count map[uint64]int) []*Store {
	out := slices.Clone(stores)
	slices.SortStableFunc(out, func(a, b *Store) int {
		if d := count[a.ID] - count[b.ID]; d != 0 {
			return d
		}
		return cmpU64(a.ID, b.ID)
	})
	return out
}

// BalanceLeaders returns one leader transfer from the store leading the
// most regions to one leading the fewest, or nil. busy reports regions
// that already have an operator.
func BalanceLeaders(cfg Config, c *Cluster, busy func(regionID uint64) bool) *Operator {
	_, leaders := c.counts()
	stores := byCount(c.healthyStores(), leaders)
	if len(stores) < 2 {
		return nil
	}
	src := stores[len(stores)-1]
	for _, dst := range stores[:len(stores)-1] {
		if leaders[src.ID]-leaders[dst.ID] <= cfg.LeaderTolerance {
			return nil
		}
		for i := range c.Regions {
			r := &c.Regions[i]
			if r.Leader.StoreID != src.ID || busy(r.Region.ID) || !quiet(r) {
				continue
			}
			if p, ok := r.Region.StorePeer(dst.ID); ok && !p.Learner {
				return &Operator{RegionID: r.Region.ID, Desc: "balance-leader",
					Steps: []pdclient.Operator{step(pdclient.OpTransferLeader, r, p)}}
			}
		}
	}
	return nil
}

// BalanceRegions returns one replica move from the store with the most
// regions to one with the fewest, or nil.
func BalanceRegions(cfg Config, c *Cluster, busy func(regionID uint64) bool) *Operator {
	regions, _ := c.counts()
	stores := byCount(c.healthyStores(), regions)
	if len(stores) < 2 {
		return nil
	}
	src := stores[len(stores)-1]
	for _, dst := range stores[:len(stores)-1] {
		if regions[src.ID]-regions[dst.ID] <= cfg.RegionTolerance {
			return nil
		}
		for i := range c.Regions {
			r := &c.Regions[i]
			from, onSrc := r.Region.StorePeer(src.ID)
			if !onSrc || busy(r.Region.ID) || !quiet(r) {
				continue
			}
			if _, onDst := r.Region.StorePeer(dst.ID); onDst {
				continue
			}
			allHealthy := !slices.ContainsFunc(r.Region.Peers, func(p pdclient.Peer) bool { return !c.peerHealthy(r, p) })
			if !allHealthy {
				continue // the replica checker handles it first
			}
			newVoter := pdclient.Peer{StoreID: dst.ID}
			steps := []pdclient.Operator{
				step(pdclient.OpAddLearner, r, pdclient.Peer{StoreID: dst.ID, Learner: true}),
				step(pdclient.OpPromoteLearner, r, newVoter),
			}
			rm := c.removeSteps(r, from, &newVoter)
			if rm == nil {
				continue
			}
			return &Operator{RegionID: r.Region.ID, Desc: "balance-region", Steps: append(steps, rm...)}
		}
	}
	return nil
}
