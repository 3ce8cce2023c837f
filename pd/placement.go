package pd

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/skerrydb/skerry/pd/meta"
	"github.com/skerrydb/skerry/pd/pdclient"
	"github.com/skerrydb/skerry/pd/schedule"
)

// Balancer tolerances: balance only when the busiest and idlest stores
// differ by more than this many leaders / replicas.
const (
	leaderTolerance = 1
	regionTolerance = 1
)

// placement is the PD leader's view of stores and regions and its
// operators. Every metadata write is a transaction guarded by the
// leader's election key. All methods lock mu; etcd writes happen under it
// so that etcd receives changes in the order memory sees them.
type placement struct {
	cfg   Config
	kv    clientv3.KV
	guard clientv3.Cmp
	ids   *idAllocator

	mu     sync.Mutex
	stores map[uint64]*pdclient.Store
	tree   *meta.Tree
	ops    map[uint64]*schedule.Operator
	// regionCount and leaderCount cache schedule.CountRegions(tree);
	// nil after any change.
	regionCount, leaderCount map[uint64]int
}

// loadPlacement loads the persisted stores and regions. Every store
// starts as just heard from: a new leader gives stores a full
// max-store-down-time to heartbeat.
func loadPlacement(ctx context.Context, cfg Config, kv clientv3.KV, guard clientv3.Cmp, ids *idAllocator) (*placement, error) {
	p := &placement{cfg: cfg, kv: kv, guard: guard, ids: ids,
		stores: map[uint64]*pdclient.Store{}, tree: meta.NewTree(), ops: map[uint64]*schedule.Operator{}}
	now := cfg.Now()
	resp, err := kv.Get(ctx, storeKeyPrefix, clientv3.WithPrefix())
	if err != nil {
		return nil, fmt.Errorf("pd: load stores: %w", err)
	}
	for _, item := range resp.Kvs {
		var st pdclient.Store
		if err := json.Unmarshal(item.Value, &st); err != nil || st.ID == 0 {
			return nil, fmt.Errorf("%w: %s: %v", ErrCorrupt, item.Key, err)
		}
		st.LastHeartbeat = now
		p.stores[st.ID] = &st
	}
	resp, err = kv.Get(ctx, regionKeyPrefix, clientv3.WithPrefix())
	if err != nil {
		return nil, fmt.Errorf("pd: load regions: %w", err)
	}
	for _, item := range resp.Kvs {
		var r pdclient.Region
		if err := json.Unmarshal(item.Value, &r); err != nil {
			return nil, fmt.Errorf("%w: %s: %v", ErrCorrupt, item.Key, err)
		}
		if err := p.tree.Load(r); err != nil {
			return nil, fmt.Errorf("%w: %s: %w", ErrCorrupt, item.Key, err)
		}
	}
	return p, nil
}

// write commits ops if this member still holds the election key.
func (p *placement) write(ctx context.Context, ops ...clientv3.Op) error {
	resp, err := p.kv.Txn(ctx).If(p.guard).Then(ops...).Commit()
	if err != nil {
		return fmt.Errorf("pd: write metadata: %w", err)
	}
	if !resp.Succeeded {
		return errLostElection
	}
	return nil
}

func putStoreOp(st pdclient.Store) (clientv3.Op, error) {
	st.LastHeartbeat, st.RegionCount, st.LeaderCount = time.Time{}, 0, 0
	b, err := json.Marshal(st)
	if err != nil {
		return clientv3.Op{}, fmt.Errorf("pd: encode store: %w", err)
	}
	return clientv3.OpPut(storeKey(st.ID), string(b)), nil
}

func putRegionOp(r pdclient.Region) (clientv3.Op, error) {
	b, err := json.Marshal(r)
	if err != nil {
		return clientv3.Op{}, fmt.Errorf("pd: encode region: %w", err)
	}
	return clientv3.OpPut(regionKey(r.ID), string(b)), nil
}

func (p *placement) schedConfig() schedule.Config {
	return schedule.Config{MaxReplicas: p.cfg.MaxReplicas, SplitBytes: p.cfg.SplitBytes, SplitKeys: p.cfg.SplitKeys,
		LeaderTolerance: leaderTolerance, RegionTolerance: regionTolerance}
}

// counts returns the cached replica and leader counts per store.
func (p *placement) counts() (regions, leaders map[uint64]int) {
	if p.regionCount == nil {
		p.regionCount, p.leaderCount = schedule.CountRegions(p.tree.All())
	}
	return p.regionCount, p.leaderCount
}

// cluster returns the schedulers' input; regions only if withRegions.
func (p *placement) cluster(withRegions bool) *schedule.Cluster {
	now := p.cfg.Now()
	c := &schedule.Cluster{Stores: map[uint64]*schedule.Store{}}
	for id, st := range p.stores {
		c.Stores[id] = &schedule.Store{Store: *st, Down: now.Sub(st.LastHeartbeat) > p.cfg.MaxStoreDownTime}
	}
	if withRegions {
		c.Regions = p.tree.All()
	}
	c.RegionCount, c.LeaderCount = p.counts()
	return c
}

// paused reports whether replica scheduling waits for more stores.
func (p *placement) paused(c *schedule.Cluster) bool {
	return c.HealthyCount() < p.cfg.MaxReplicas
}

func (p *placement) putStore(ctx context.Context, st pdclient.Store) error {
	if st.ID == 0 {
		return fmt.Errorf("%w: store ID 0", pdclient.ErrInvalidArgument)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.cfg.Now()
	if old, ok := p.stores[st.ID]; ok {
		if old.State == pdclient.StoreTombstone {
			return fmt.Errorf("%w: store %d is a tombstone", pdclient.ErrInvalidArgument, st.ID)
		}
		st.State, st.RegionCount, st.LeaderCount = old.State, old.RegionCount, old.LeaderCount
	} else {
		st.State = pdclient.StoreUp
	}
	st.LastHeartbeat = now
	op, err := putStoreOp(st)
	if err != nil {
		return err
	}
	if err := p.write(ctx, op); err != nil {
		return err
	}
	p.stores[st.ID] = &st
	return nil
}

func (p *placement) getStore(id uint64) (pdclient.Store, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	st, ok := p.stores[id]
	if !ok {
		return pdclient.Store{}, fmt.Errorf("%w: %d", pdclient.ErrStoreNotFound, id)
	}
	return *st, nil
}

func (p *placement) getStores() []pdclient.Store {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]pdclient.Store, 0, len(p.stores))
	for _, st := range p.stores {
		out = append(out, *st)
	}
	slices.SortFunc(out, func(a, b pdclient.Store) int { return cmp.Compare(a.ID, b.ID) })
	return out
}

func (p *placement) setStoreState(ctx context.Context, id uint64, state pdclient.StoreState) error {
	if state < pdclient.StoreUp || state > pdclient.StoreTombstone {
		return fmt.Errorf("%w: store state %d", pdclient.ErrInvalidArgument, state)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.setStoreStateLocked(ctx, id, state)
}

func (p *placement) setStoreStateLocked(ctx context.Context, id uint64, state pdclient.StoreState) error {
	old, ok := p.stores[id]
	if !ok {
		return fmt.Errorf("%w: %d", pdclient.ErrStoreNotFound, id)
	}
	if old.State == state {
		return nil
	}
	if old.State == pdclient.StoreTombstone {
		return fmt.Errorf("%w: store %d is a tombstone", pdclient.ErrInvalidArgument, id)
	}
	if state == pdclient.StoreTombstone {
		if n, _ := p.counts(); n[id] > 0 {
			return fmt.Errorf("%w: store %d still holds %d replicas", pdclient.ErrInvalidArgument, id, n[id])
		}
	}
	st := *old
	st.State = state
	op, err := putStoreOp(st)
	if err != nil {
		return err
	}
	if err := p.write(ctx, op); err != nil {
		return err
	}
	p.stores[id] = &st
	p.cfg.Logger.Info("pd: store state changed", zap.Uint64("store", id), zap.Stringer("from", old.State), zap.Stringer("to", state))
	return nil
}

func (p *placement) storeHeartbeat(stats pdclient.StoreStats) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	st, ok := p.stores[stats.StoreID]
	if !ok {
		return fmt.Errorf("%w: %d", pdclient.ErrStoreNotFound, stats.StoreID)
	}
	if st.State == pdclient.StoreTombstone {
		return fmt.Errorf("%w: store %d is a tombstone", pdclient.ErrInvalidArgument, st.ID)
	}
	st.LastHeartbeat = p.cfg.Now()
	st.RegionCount, st.LeaderCount = stats.RegionCount, stats.LeaderCount
	if !slices.Equal(st.Quarantined, stats.Quarantined) {
		p.cfg.Logger.Warn("pd: store reports quarantined replicas", zap.Uint64("store", st.ID), zap.Any("replicas", stats.Quarantined))
	}
	st.Quarantined = slices.Clone(stats.Quarantined)
	return nil
}

// update records st in the tree and persists what changed. Operators of
// regions st replaced are dropped.
func (p *placement) update(ctx context.Context, st meta.RegionState) error {
	changed, removed, err := p.tree.Update(st)
	if err != nil {
		return err
	}
	if !changed && len(removed) == 0 {
		return nil
	}
	p.regionCount, p.leaderCount = nil, nil
	op, err := putRegionOp(st.Region)
	if err != nil {
		return err
	}
	ops := []clientv3.Op{op}
	for _, r := range removed {
		ops = append(ops, clientv3.OpDelete(regionKey(r.ID)))
		delete(p.ops, r.ID)
	}
	return p.write(ctx, ops...)
}

func (p *placement) regionHeartbeat(ctx context.Context, hb pdclient.RegionHeartbeat) (*pdclient.Operator, error) {
	if hb.Leader.ID != 0 {
		if _, ok := hb.Region.Peer(hb.Leader.ID); !ok {
			return nil, fmt.Errorf("%w: leader %d is not a peer of region %d", pdclient.ErrInvalidArgument, hb.Leader.ID, hb.Region.ID)
		}
	}
	st := meta.RegionState{RegionInfo: pdclient.RegionInfo{Region: hb.Region, Leader: hb.Leader},
		ApproxBytes: hb.ApproxBytes, ApproxKeys: hb.ApproxKeys, DownPeers: hb.DownPeers, PendingPeers: hb.PendingPeers,
		Term: hb.Term, QPS: hb.QPS}
	p.mu.Lock()
	defer p.mu.Unlock()
	if old, ok := p.tree.GetByID(hb.Region.ID); ok && hb.Term != 0 && hb.Term < old.Term {
		// Sent by a leader of an older term (a transfer or election
		// overtook it in flight): taking it would move the leader back in
		// the map, and the balancer would act on that. It gets no step.
		return nil, nil
	}
	if old, ok := p.tree.GetByID(hb.Region.ID); !ok || old.Leader != hb.Leader {
		p.regionCount, p.leaderCount = nil, nil
	}
	if err := p.update(ctx, st); err != nil {
		return nil, err
	}
	cur, _ := p.tree.GetByID(hb.Region.ID)
	return p.dispatch(ctx, &cur)
}

// dispatch returns the step to hand to r's leader now, advancing,
// expiring or creating r's operator. mu is held.
func (p *placement) dispatch(ctx context.Context, r *meta.RegionState) (*pdclient.Operator, error) {
	now := p.cfg.Now()
	id := r.Region.ID
	op := p.ops[id]
	if op != nil {
		if now.Sub(op.Created) > p.cfg.OperatorTimeout {
			p.cfg.Logger.Warn("pd: operator timed out", zap.Stringer("op", op))
			delete(p.ops, id)
			op = nil
		} else if schedule.Advance(op, r) {
			delete(p.ops, id)
			op = nil
		}
	}
	if op == nil {
		c := p.cluster(false)
		if !p.paused(c) {
			op = schedule.CheckReplicas(p.schedConfig(), c, r)
		}
		if op == nil {
			op = schedule.CheckSplit(p.schedConfig(), r)
		}
		if op == nil {
			return nil, nil
		}
		if err := p.addLocked(ctx, op, now); err != nil {
			return nil, err
		}
	}
	step := op.Step()
	if step == nil || !schedule.StepReady(step, r) {
		return nil, nil
	}
	return step, nil
}

// addLocked gives op's new peers their IDs and makes it r's operator.
func (p *placement) addLocked(ctx context.Context, op *schedule.Operator, now time.Time) error {
	for _, store := range op.NewPeerStores() {
		id, err := p.ids.alloc(ctx)
		if err != nil {
			return err
		}
		op.FillPeerID(store, id)
	}
	op.Created = now
	p.ops[op.RegionID] = op
	p.cfg.Logger.Info("pd: operator added", zap.Stringer("op", op))
	return nil
}

// runSchedulers retires drained Offline stores, drops timed-out
// operators, and runs the balancers once.
func (p *placement) runSchedulers(ctx context.Context) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.cfg.Now()
	counts, _ := p.counts()
	for id, st := range p.stores {
		if st.State == pdclient.StoreOffline && counts[id] == 0 {
			if err := p.setStoreStateLocked(ctx, id, pdclient.StoreTombstone); err != nil {
				p.cfg.Logger.Warn("pd: retire store", zap.Uint64("store", id), zap.Error(err))
			}
		}
	}
	for id, op := range p.ops {
		if now.Sub(op.Created) > p.cfg.OperatorTimeout {
			p.cfg.Logger.Warn("pd: operator timed out", zap.Stringer("op", op))
			delete(p.ops, id)
		}
	}
	c := p.cluster(true)
	if p.paused(c) {
		return
	}
	for _, op := range p.ops {
		c.Pending = append(c.Pending, op)
	}
	busy := func(id uint64) bool { return p.ops[id] != nil }
	for _, balance := range []func(schedule.Config, *schedule.Cluster, func(uint64) bool) *schedule.Operator{
		schedule.BalanceLeaders, schedule.BalanceRegions,
	} {
		if op := balance(p.schedConfig(), c, busy); op != nil {
			if err := p.addLocked(ctx, op, now); err != nil {
				p.cfg.Logger.Warn("pd: add operator", zap.Error(err))
			}
		}
	}
}

// addOperator validates an administrative step and makes it region
// regionID's operator, replacing any in flight.
func (p *placement) addOperator(ctx context.Context, regionID uint64, step pdclient.Operator) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	r, ok := p.tree.GetByID(regionID)
	if !ok {
		return fmt.Errorf("%w: %d", pdclient.ErrRegionNotFound, regionID)
	}
	step.RegionID, step.Epoch = regionID, r.Region.Epoch
	bad := func(why string) error {
		return fmt.Errorf("%w: %s for region %d: %s", pdclient.ErrInvalidArgument, step.Kind, regionID, why)
	}
	find := func() (pdclient.Peer, bool) {
		if step.Peer.ID != 0 {
			return r.Region.Peer(step.Peer.ID)
		}
		return r.Region.StorePeer(step.Peer.StoreID)
	}
	switch step.Kind {
	case pdclient.OpTransferLeader:
		peer, ok := find()
		if !ok || peer.Learner {
			return bad("target is not a voter")
		}
		step.Peer = peer
	case pdclient.OpPromoteLearner:
		peer, ok := find()
		if !ok || !peer.Learner {
			return bad("peer is not a learner")
		}
		step.Peer = peer
	case pdclient.OpRemovePeer:
		peer, ok := find()
		if !ok {
			return bad("no such peer")
		}
		step.Peer = peer
	case pdclient.OpAddLearner:
		st, ok := p.stores[step.Peer.StoreID]
		if !ok || st.State != pdclient.StoreUp {
			return bad("store is not Up")
		}
		if _, has := r.Region.StorePeer(st.ID); has {
			return bad("store already holds a replica")
		}
		step.Peer = pdclient.Peer{StoreID: st.ID, Learner: true}
	case pdclient.OpSplit:
		for _, k := range step.SplitKeys {
			if !r.Region.Contains(k) || bytes.Equal(k, r.Region.StartKey) {
				return bad(fmt.Sprintf("split key %q is not inside the region", k))
			}
		}
	default:
		return bad("unknown kind")
	}
	op := &schedule.Operator{RegionID: regionID, Desc: "admin-" + step.Kind.String(), Steps: []pdclient.Operator{step}}
	return p.addLocked(ctx, op, p.cfg.Now())
}

func (p *placement) getRegion(key []byte) (pdclient.RegionInfo, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	st, ok := p.tree.Get(key)
	if !ok {
		return pdclient.RegionInfo{}, fmt.Errorf("%w: key %q", pdclient.ErrRegionNotFound, key)
	}
	return st.RegionInfo, nil
}

func (p *placement) getRegionByID(id uint64) (pdclient.RegionInfo, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	st, ok := p.tree.GetByID(id)
	if !ok {
		return pdclient.RegionInfo{}, fmt.Errorf("%w: %d", pdclient.ErrRegionNotFound, id)
	}
	return st.RegionInfo, nil
}

func (p *placement) scanRegions(start, end []byte, limit int) []pdclient.RegionInfo {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.tree.Scan(start, end, limit)
}

func (p *placement) askSplit(ctx context.Context, region pdclient.Region) (uint64, []uint64, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	known, ok := p.tree.GetByID(region.ID)
	if !ok {
		return 0, nil, fmt.Errorf("%w: %d", pdclient.ErrRegionNotFound, region.ID)
	}
	if region.Epoch.Version < known.Region.Epoch.Version {
		return 0, nil, fmt.Errorf("%w: region %d version %d < %d", pdclient.ErrStaleRegion, region.ID, region.Epoch.Version, known.Region.Epoch.Version)
	}
	ids := make([]uint64, 1+len(region.Peers))
	for i := range ids {
		id, err := p.ids.alloc(ctx)
		if err != nil {
			return 0, nil, err
		}
		ids[i] = id
	}
	return ids[0], ids[1:], nil
}

func (p *placement) reportSplit(ctx context.Context, left, right pdclient.Region) error {
	if len(left.EndKey) == 0 || !bytes.Equal(left.EndKey, right.StartKey) {
		return fmt.Errorf("%w: split halves %d and %d do not meet", pdclient.ErrInvalidArgument, left.ID, right.ID)
	}
	for _, r := range []*pdclient.Region{&left, &right} {
		if err := meta.Validate(r); err != nil {
			return err
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	// Leaders known before the split carry over to the half that keeps
	// the leader's peer (looked up first: the first update may replace
	// the parent).
	var leaders []pdclient.Peer
	for _, r := range []pdclient.Region{left, right} {
		if old, ok := p.tree.GetByID(r.ID); ok && old.Leader.ID != 0 {
			leaders = append(leaders, old.Leader)
		}
	}
	for _, r := range []pdclient.Region{left, right} {
		st := meta.RegionState{RegionInfo: pdclient.RegionInfo{Region: r}}
		for _, l := range leaders {
			if _, ok := r.Peer(l.ID); ok {
				st.Leader = l
			}
		}
		if err := p.update(ctx, st); err != nil {
			return err
		}
	}
	p.regionCount, p.leaderCount = nil, nil
	return nil
}
