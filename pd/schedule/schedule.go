package schedule

import (
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/skerrydb/skerry/pd/meta"
	"github.com/skerrydb/skerry/pd/pdclient"
)

// Config holds the scheduling limits.
type Config struct {
	// MaxReplicas is the number of voters each region should have.
	MaxReplicas int
	// SplitBytes and SplitKeys: a region above either is split (0: never).
	SplitBytes uint64
	SplitKeys  uint64
	// LeaderTolerance and RegionTolerance: balance only when the busiest
	// and idlest stores differ by more than this many leaders / regions.
	LeaderTolerance int
	RegionTolerance int
}

// Store is a store as the schedulers see it.
type Store struct {
	pdclient.Store
	// Down is set when the store has not sent a heartbeat for
	// max-store-down-time.
	Down bool
}

// quarantined reports whether s reported peer p of region id as
// quarantined (pdclient.StoreStats.Quarantined).
func (s *Store) quarantined(id uint64, p pdclient.Peer) bool {
	return slices.Contains(s.Quarantined, pdclient.RegionPeer{RegionID: id, PeerID: p.ID})
}

// quarantinedRegion reports whether s reported any replica of region id
// as quarantined.
func (s *Store) quarantinedRegion(id uint64) bool {
	return slices.ContainsFunc(s.Quarantined, func(q pdclient.RegionPeer) bool { return q.RegionID == id })
}

// Healthy reports whether s may hold replicas: Up and not down.
func (s *Store) Healthy() bool { return s.State == pdclient.StoreUp && !s.Down }

// Cluster is the scheduler's input: every store and region.
type Cluster struct {
	Stores  map[uint64]*Store
	Regions []meta.RegionState
	// RegionCount and LeaderCount, if set, are the number of replicas and
	// leaders per store; otherwise they are counted from Regions. (The
	// replica checker runs on every heartbeat: the caller passes counts it
	// keeps instead of every region.)
	RegionCount, LeaderCount map[uint64]int
	// Pending holds the operators in flight. The balancers count their
	// remaining steps as if done (PD's "operator influence"): a leader
	// transfer takes a second or two to show in the leader's heartbeat,
	// and a balancer blind to it overshoots, moving another leader off
	// the same store, then back, for ever.
	Pending []*Operator
}

// Operator is a sequence of steps for one region, run one at a time.
type Operator struct {
	RegionID uint64
	// Desc names the scheduler that made it (for logs and ctl).
	Desc  string
	Steps []pdclient.Operator
	// Current is the index of the step in flight.
	Current int
	// Created is when PD created it (the caller sets it); operators older
	// than the caller's timeout are dropped.
	Created time.Time
}

// Step returns the step in flight, or nil if all are done.
func (op *Operator) Step() *pdclient.Operator {
	if op.Current >= len(op.Steps) {
		return nil
	}
	s := op.Steps[op.Current]
	return &s
}

// Done reports whether every step is done.
func (op *Operator) Done() bool { return op.Current >= len(op.Steps) }

func (op *Operator) String() string {
	return fmt.Sprintf("%s region %d step %d/%d", op.Desc, op.RegionID, op.Current, len(op.Steps))
}

// FillPeerID gives id to every step's peer on storeID that has ID 0.
func (op *Operator) FillPeerID(storeID, id uint64) {
	for i := range op.Steps {
		if op.Steps[i].Peer.StoreID == storeID && op.Steps[i].Peer.ID == 0 {
			op.Steps[i].Peer.ID = id
		}
	}
}

// NewPeerStores returns the stores of peers that still need an ID.
func (op *Operator) NewPeerStores() []uint64 {
	var out []uint64
	for _, s := range op.Steps {
		if s.Peer.ID == 0 && s.Peer.StoreID != 0 && !slices.Contains(out, s.Peer.StoreID) {
			out = append(out, s.Peer.StoreID)
		}
	}
	return out
}

// StepDone reports whether region r, as its leader reports it, shows step
// done.
func StepDone(step *pdclient.Operator, r *meta.RegionState) bool {
	switch step.Kind {
	case pdclient.OpAddLearner:
		_, ok := r.Region.Peer(step.Peer.ID)
		return ok
	case pdclient.OpPromoteLearner:
		p, ok := r.Region.Peer(step.Peer.ID)
		return ok && !p.Learner
	case pdclient.OpRemovePeer:
		_, ok := r.Region.Peer(step.Peer.ID)
		return !ok
	case pdclient.OpTransferLeader:
		return r.Leader.StoreID == step.Peer.StoreID
	case pdclient.OpSplit:
		return r.Region.Epoch.Version > step.Epoch.Version
	}
	return true
}

// Advance moves op past every step r shows done and stamps the next step
// with r's epoch. It returns whether op is finished.
func Advance(op *Operator, r *meta.RegionState) bool {
	for !op.Done() && StepDone(&op.Steps[op.Current], r) {
		op.Current++
	}
	if !op.Done() && op.Steps[op.Current].Kind != pdclient.OpSplit {
		op.Steps[op.Current].Epoch = r.Region.Epoch
	}
	return op.Done()
}

// step builds one step for r.
func step(kind pdclient.OperatorKind, r *meta.RegionState, p pdclient.Peer) pdclient.Operator {
	return pdclient.Operator{Kind: kind, RegionID: r.Region.ID, Epoch: r.Region.Epoch, Peer: p}
}

// counts returns the region and leader count of every store, with the
// remaining steps of the pending operators counted as done.
func (c *Cluster) counts() (regions, leaders map[uint64]int) {
	if c.RegionCount != nil && c.LeaderCount != nil {
		regions, leaders = c.RegionCount, c.LeaderCount
	} else {
		regions, leaders = CountRegions(c.Regions)
	}
	if len(c.Pending) == 0 {
		return regions, leaders
	}
	regions, leaders = maps.Clone(regions), maps.Clone(leaders)
	leaderOf := make(map[uint64]uint64, len(c.Regions))
	for i := range c.Regions {
		if r := &c.Regions[i]; r.Leader.ID != 0 {
			leaderOf[r.Region.ID] = r.Leader.StoreID
		}
	}
	for _, op := range c.Pending {
		for _, st := range op.Steps[min(op.Current, len(op.Steps)):] {
			switch st.Kind {
			case pdclient.OpAddLearner:
				regions[st.Peer.StoreID]++
			case pdclient.OpRemovePeer:
				regions[st.Peer.StoreID]--
			case pdclient.OpTransferLeader:
				if from, ok := leaderOf[op.RegionID]; ok && from != st.Peer.StoreID {
					leaders[from]--
					leaders[st.Peer.StoreID]++
					leaderOf[op.RegionID] = st.Peer.StoreID
				}
			}
		}
	}
	return regions, leaders
}

// CountRegions returns the number of replicas and leaders per store.
func CountRegions(rs []meta.RegionState) (regions, leaders map[uint64]int) {
	regions, leaders = map[uint64]int{}, map[uint64]int{}
	c := struct{ Regions []meta.RegionState }{rs}
	for i := range c.Regions {
		r := &c.Regions[i]
		for _, p := range r.Region.Peers {
			regions[p.StoreID]++
		}
		if r.Leader.ID != 0 {
			leaders[r.Leader.StoreID]++
		}
	}
	return regions, leaders
}

// healthyStores returns the healthy stores by ID.
func (c *Cluster) healthyStores() []*Store {
	var out []*Store
	for _, s := range c.Stores {
		if s.Healthy() {
			out = append(out, s)
		}
	}
	slices.SortFunc(out, func(a, b *Store) int { return cmpU64(a.ID, b.ID) })
	return out
}

// HealthyCount returns how many stores are healthy.
func (c *Cluster) HealthyCount() int { return len(c.healthyStores()) }

func cmpU64(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// peerHealthy reports whether p of r is on a healthy store, not reported
// down by the leader, and not quarantined by its store.
func (c *Cluster) peerHealthy(r *meta.RegionState, p pdclient.Peer) bool {
	s, ok := c.Stores[p.StoreID]
	if !ok || !s.Healthy() || s.quarantined(r.Region.ID, p) {
		return false
	}
	return !containsPeer(r.DownPeers, p.ID)
}

// quarantinedVoter reports whether p of r is a quarantined replica on an
// otherwise healthy store.
func (c *Cluster) quarantinedVoter(r *meta.RegionState, p pdclient.Peer) bool {
	s, ok := c.Stores[p.StoreID]
	return ok && s.Healthy() && s.quarantined(r.Region.ID, p) && !containsPeer(r.DownPeers, p.ID)
}

// quarantinedStore returns a healthy store without a peer of r that still
// reports a quarantined replica of r (removed from r already, and waiting
// to be replaced by a newer peer), or 0.
func (c *Cluster) quarantinedStore(r *meta.RegionState) uint64 {
	for _, s := range c.healthyStores() {
		if _, has := r.Region.StorePeer(s.ID); !has && s.quarantinedRegion(r.Region.ID) {
			return s.ID
		}
	}
	return 0
}

func containsPeer(ps []pdclient.Peer, id uint64) bool {
	return slices.ContainsFunc(ps, func(p pdclient.Peer) bool { return p.ID == id })
}

// leastLoaded returns the healthy store without a replica of r that has
// the fewest regions (lowest ID on ties), or 0.
func (c *Cluster) leastLoaded(r *meta.RegionState, regionCount map[uint64]int) uint64 {
	var best uint64
	for _, s := range c.healthyStores() {
		if _, has := r.Region.StorePeer(s.ID); has {
			continue
		}
		if best == 0 || regionCount[s.ID] < regionCount[best] {
			best = s.ID
		}
	}
	return best
}

// removeSteps returns the steps that remove p from r: a leader transfer
// first when p leads (to a healthy voter other than p), then the removal.
// It returns nil if p leads and no voter can take over.
func (c *Cluster) removeSteps(r *meta.RegionState, p pdclient.Peer, extraVoter *pdclient.Peer) []pdclient.Operator {
	var steps []pdclient.Operator
	if r.Leader.ID == p.ID {
		var to *pdclient.Peer
		for _, v := range r.Region.Peers {
			if v.ID != p.ID && !v.Learner && c.peerHealthy(r, v) && !containsPeer(r.PendingPeers, v.ID) {
				to = &v
				break
			}
		}
		if to == nil && extraVoter != nil {
			to = extraVoter
		}
		if to == nil {
			return nil
		}
		steps = append(steps, step(pdclient.OpTransferLeader, r, *to))
	}
	return append(steps, step(pdclient.OpRemovePeer, r, p))
}
