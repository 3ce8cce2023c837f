package regionraft

import (
	"bytes"
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/skerrydb/skerry/mvcc/engine"
	"github.com/skerrydb/skerry/mvcc/keys"
)

// regionInfo is the part of a peer's state published to other goroutines.
type regionInfo struct {
	region Region
	leader Peer
	term   uint64 // raft term of this peer when leader was last set
	// soloLeader: this peer leads and is the region's only voter. Every
	// acknowledged write of such a region is applied here before its
	// proposal completes, so a read needs no ReadIndex round.
	soloLeader bool
	// writeReady: this peer leads and has applied an entry of its own
	// term, hence every entry an earlier leader committed. A write's
	// reads need no ReadIndex round here (WriteBarrier): if leadership
	// was lost meanwhile, the write's proposal cannot commit.
	writeReady bool
	// leaseUntil: this leader's lease (lease.go) lets reads skip the
	// ReadIndex round before it. renewAt: no renewal round is asked for
	// before it.
	leaseUntil time.Time
	renewAt    time.Time
}

// Store holds this node's peers of every region and drives their raft
// groups from one goroutine. See doc.go for the loop and its invariants.
type Store struct {
	cfg     Config
	metrics *Metrics

	// Published state, guarded by mu.
	mu   sync.Mutex
	info map[uint64]*regionInfo
	// byStart indexes info by start key for RegionForKeys, rebuilt when
	// stale (a region added, removed, or its range changed).
	byStart    []regionStart
	indexStale bool
	leaderCh   chan struct{} // closed and replaced on every leader change
	started    bool
	stopping   bool
	recvWG     sync.WaitGroup // ReceiveSnapshot calls in progress

	proposeC chan *proposal
	readC    chan *readRequest
	stepC    chan RaftMessage
	addC     chan *peer
	stopC    chan struct{}
	done     chan struct{}
	stopOnce sync.Once
	fatal    atomic.Pointer[FatalError]

	incarnation uint64 // high 32 bits of proposal ids, random per Store
	nextProp    atomic.Uint64

	// tasks are closures queued for the raft goroutine (runOnLoop, snapshot
	// reports); wakeC (buffered 1) signals them.
	taskMu sync.Mutex
	tasks  []func()
	wakeC  chan struct{}

	// Owned by the raft goroutine (or by NewStore before Start).
	peers map[uint64]*peer
	// tombstones: region id -> id of the destroyed local peer.
	tombstones map[uint64]uint64
	inRound    bool  // peerStorage.Snapshot is refused during a round
	loopErr    error // a failed engine write outside a round: stops the store
	roundNo    uint64
	batching   []*peer // peers with batched proposals not yet proposed
	busy       bool    // more work pending: run another round without blocking
	readSeq    uint64

	// Hibernation (hibernate.go). awake: the peers ticked and visited by
	// every round; touched: the peers the next round visits besides them;
	// sweepAll: the next round visits every peer (a task ran). sleepers:
	// hibernated followers by the tick number of their check.
	awake      map[uint64]*peer
	touched    map[uint64]*peer
	sweepAll   bool
	roundBuf   []*peer
	tickNo     uint64
	sleepers   map[uint64][]*peer
	leaseNonce uint64
}

// NewStore validates cfg and loads every region stored in the engine. The
// Store does not own the engine: close it after Stop.
func NewStore(cfg Config) (*Store, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	s := &Store{
		cfg:         cfg,
		metrics:     newMetrics(),
		info:        map[uint64]*regionInfo{},
		leaderCh:    make(chan struct{}),
		proposeC:    make(chan *proposal, cfg.MaxBatchProposals),
		readC:       make(chan *readRequest, cfg.MaxBatchProposals),
		stepC:       make(chan RaftMessage, 4096),
		addC:        make(chan *peer, 16),
		stopC:       make(chan struct{}),
		done:        make(chan struct{}),
		incarnation: (uint64(rand.Uint32()) | 1<<31) << 32, // never 0: id 0 is the admin id
		peers:       map[uint64]*peer{},
		tombstones:  map[uint64]uint64{},
		wakeC:       make(chan struct{}, 1),
		awake:       map[uint64]*peer{},
		touched:     map[uint64]*peer{},
		sleepers:    map[uint64][]*peer{},
	}
	lo, hi := keys.RegionStateRange()
	it, err := cfg.Engine.NewIter(lo, hi)
	if err != nil {
		return nil, err
	}
	var regions []Region
	for ok := it.First(); ok; ok = it.Next() {
		r, err := DecodeRegion(it.Value())
		if err != nil {
			it.Close()
			return nil, err
		}
		regions = append(regions, r)
	}
	err = it.Error()
	it.Close()
	if err != nil {
		return nil, err
	}
	if err := s.loadTombstones(); err != nil {
		return nil, err
	}
	for _, r := range regions {
		if _, ok := r.PeerOnStore(cfg.StoreID); !ok {
			// A removal applied but not yet destroyed before a crash: finish.
			b := cfg.Engine.NewBatch()
			err := s.writeDestroy(b, r, s.tombstones[r.ID], true)
			if err == nil {
				err = b.Commit(true)
			}
			b.Close()
			if err != nil {
				return nil, err
			}
			continue
		}
		p, err := newPeer(&s.cfg, r)
		if err != nil {
			return nil, err
		}
		if s.cfg.leaseDuration() > 0 {
			p.voteGuardUntil = time.Now().Add(s.cfg.electionTimeout())
		}
		switch _, err := cfg.Engine.Get(keys.RaftSnapshotPendingKey(r.ID)); {
		case err == nil:
			// A snapshot was replacing its data when the store stopped.
			p.storage.snapshotHook = s.snapshotHook(p)
			p.frozen, p.quarantined = true, true
			s.register(p)
			cfg.Logger.Errorf("regionraft: region %d peer %d quarantined: a snapshot was replacing its data; replace or remove this replica", r.ID, p.self.ID)
			continue
		case !errors.Is(err, engine.ErrNotFound):
			return nil, err
		}
		s.addPeer(p)
	}
	return s, nil
}

func (s *Store) loadTombstones() error {
	lo, hi := keys.RegionTombstoneRange()
	it, err := s.cfg.Engine.NewIter(lo, hi)
	if err != nil {
		return err
	}
	defer it.Close()
	for ok := it.First(); ok; ok = it.Next() {
		k := it.Key()
		if len(k) != len(lo)+8 {
			return fmt.Errorf("%w: tombstone key %x", ErrCorrupt, k)
		}
		id, n := binary.Uvarint(it.Value())
		if n <= 0 {
			return fmt.Errorf("%w: tombstone record %x", ErrCorrupt, it.Value())
		}
		s.tombstones[binary.BigEndian.Uint64(k[len(lo):])] = id
	}
	return it.Error()
}

// Fresh reports whether this store never held a replica: no region
// descriptor on disk, published or not (a quarantined replica is not
// listed by Regions but is still this store's), and no tombstone of a
// destroyed one. Only a fresh store may bootstrap a first region: one that
// held replicas and lost them all would otherwise recreate the first
// region from its initial descriptor, empty.
func (s *Store) Fresh() (bool, error) {
	for _, bounds := range []func() ([]byte, []byte){keys.RegionStateRange, keys.RegionTombstoneRange} {
		it, err := s.cfg.Engine.NewIter(bounds())
		if err != nil {
			return false, err
		}
		found := it.First()
		err = errors.Join(it.Error(), it.Close())
		if err != nil || found {
			return false, err
		}
	}
	return true, nil
}

// enqueue queues fn for the raft goroutine; it never blocks.
func (s *Store) enqueue(fn func()) {
	s.taskMu.Lock()
	s.tasks = append(s.tasks, fn)
	s.taskMu.Unlock()
	select {
	case s.wakeC <- struct{}{}:
	default:
	}
}

// runTasks runs the queued tasks (raft goroutine).
func (s *Store) runTasks() {
	s.taskMu.Lock()
	tasks := s.tasks
	s.tasks = nil
	s.taskMu.Unlock()
	if len(tasks) > 0 {
		s.sweepAll = true // a task may touch any peer
	}
	for _, fn := range tasks {
		fn()
	}
}

// runOnLoop runs fn on the raft goroutine and returns its error. If ctx
// ends first, fn may still run later.
func (s *Store) runOnLoop(ctx context.Context, fn func() error) error {
	s.mu.Lock()
	started := s.started
	s.mu.Unlock()
	if !started {
		return fmt.Errorf("regionraft: store not started")
	}
	done := make(chan error, 1)
	s.enqueue(func() { done <- fn() })
	return s.wait(ctx, done)
}

// addPeer registers p (raft goroutine, or before Start).
func (s *Store) addPeer(p *peer) {
	p.storage.snapshotHook = s.snapshotHook(p)
	s.register(p)
	s.mu.Lock()
	s.info[p.region.ID] = &regionInfo{region: p.region.Clone()}
	s.infoChanged()
	s.mu.Unlock()
	if s.started && p.soloVoter() {
		_ = p.rn.Campaign()
		s.busy = true
	}
}

// Collectors returns the Store's prometheus collectors for the caller to
// register.
func (s *Store) Collectors() []prometheus.Collector { return s.metrics.collectors() }

// Metrics returns the Store's metrics (for tests and status pages).
func (s *Store) Metrics() *Metrics { return s.metrics }

// BootstrapRegion durably writes the initial state of a new region that has a
// peer on this store (the same descriptor must be bootstrapped on every
// replica's store). It is idempotent for an identical descriptor and returns
// ErrRegionExists for a different one. It may be called before or after Start.
func (s *Store) BootstrapRegion(r Region) error {
	if err := r.validate(); err != nil {
		return err
	}
	if _, ok := r.PeerOnStore(s.cfg.StoreID); !ok {
		return fmt.Errorf("%w: region %d has no peer on store %d", ErrInvalidRegion, r.ID, s.cfg.StoreID)
	}
	r = r.Clone()
	p, started, err := s.bootstrapLocked(r)
	if err != nil || p == nil || !started {
		return err
	}
	select {
	case <-s.done:
		return s.stopErr() // persisted; loaded by the next NewStore
	default:
	}
	select {
	case s.addC <- p:
		return nil
	case <-s.done:
		return s.stopErr()
	}
}

// bootstrapLocked persists r and builds its peer under s.mu. Before Start it
// registers the peer itself; after Start the caller hands it to the raft
// goroutine. p is nil when r already exists identically.
func (s *Store) bootstrapLocked(r Region) (p *peer, started bool, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if ri, ok := s.info[r.ID]; ok {
		if ri.region.equal(&r) {
			return nil, s.started, nil
		}
		return nil, s.started, fmt.Errorf("%w: region %d", ErrRegionExists, r.ID)
	}
	if _, err := s.cfg.Engine.Get(keys.RegionStateKey(r.ID)); err == nil {
		return nil, s.started, fmt.Errorf("%w: region %d (stored, not loaded)", ErrRegionExists, r.ID)
	} else if !errors.Is(err, engine.ErrNotFound) {
		return nil, s.started, err
	}
	b := s.cfg.Engine.NewBatch()
	defer b.Close()
	if err := errors.Join(b.Set(keys.RegionStateKey(r.ID), EncodeRegion(&r)), writeInitialState(b, r.ID)); err != nil {
		return nil, s.started, err
	}
	if err := b.Commit(true); err != nil {
		return nil, s.started, err
	}
	if p, err = newPeer(&s.cfg, r); err != nil {
		return nil, s.started, err
	}
	// Published now so that a concurrent identical call is idempotent.
	s.info[r.ID] = &regionInfo{region: r.Clone()}
	s.indexStale = true
	if !s.started {
		p.storage.snapshotHook = s.snapshotHook(p)
		s.register(p)
		s.infoChanged()
	}
	return p, s.started, nil
}

// Start launches the raft goroutine. Regions whose only voter is this store
// campaign at once instead of waiting for an election timeout.
func (s *Store) Start() {
	s.mu.Lock()
	if s.started {
		s.mu.Unlock()
		return
	}
	s.started = true
	s.mu.Unlock()
	s.metrics.Leaders.Set(0)
	for _, p := range s.peers {
		if p.soloVoter() && !p.frozen {
			_ = p.rn.Campaign()
			s.busy = true
		}
	}
	go s.run()
}

// Stop stops the raft goroutine and waits for it. Pending proposals and
// reads fail with ErrStopped. ReceiveSnapshot calls in progress are aborted
// and waited for, so the engine may be closed once Stop returns. Stop is
// idempotent; a Store is not restartable (open a new one over the same
// engine).
func (s *Store) Stop() {
	s.mu.Lock()
	s.stopping = true
	if !s.started {
		// Never started: nothing runs; make Start a no-op and release waiters.
		s.started = true
		s.mu.Unlock()
		s.stopOnce.Do(func() { close(s.stopC); close(s.done) })
		return
	}
	s.mu.Unlock()
	s.stopOnce.Do(func() { close(s.stopC) })
	<-s.done
	s.recvWG.Wait()
}

// Err returns the error that stopped the store after a failure, or nil.
func (s *Store) Err() error {
	if f := s.fatal.Load(); f != nil {
		return f
	}
	return nil
}

func (s *Store) stopErr() error {
	if f := s.fatal.Load(); f != nil {
		return f
	}
	return ErrStopped
}

// Propose replicates cmd through the region's log. It returns nil only after
// the entry is committed, durable on this store and applied here. Errors:
// *NotLeaderError (this peer is not the leader), ErrRegionNotFound,
// ErrProposalDropped (not committed; no effect); outcome unknown:
// ErrStopped, a *FatalError, an error wrapping ErrOutcomeUnknown (the peer
// was reset by a snapshot or removed), ctx.Err() (the entry may still apply
// later). Call it after Start: until then it waits.
func (s *Store) Propose(ctx context.Context, regionID uint64, cmd []byte) error {
	if err := s.checkRegion(regionID); err != nil {
		return err
	}
	return s.propose(ctx, s.plainProposal(regionID, cmd))
}

// newProposalID returns an id unique across the store's incarnations.
func (s *Store) newProposalID() uint64 { return s.incarnation | (s.nextProp.Add(1) & 0xffffffff) }

// plainProposal is what Propose hands the raft goroutine.
func (s *Store) plainProposal(regionID uint64, cmd []byte) *proposal {
	id := s.newProposalID()
	data := make([]byte, proposalIDLen, proposalIDLen+len(cmd))
	binary.BigEndian.PutUint64(data, id)
	return &proposal{id: id, regionID: regionID, data: append(data, cmd...), start: time.Now(), done: make(chan error, 1)}
}

// epochProposal is what ProposeEpoch hands the raft goroutine.
func (s *Store) epochProposal(regionID, version uint64, cmd []byte) *proposal {
	id := s.newProposalID()
	return &proposal{id: id, regionID: regionID, data: encodeEpochCommand(id, version, cmd),
		checkVersion: true, version: version, start: time.Now(), done: make(chan error, 1)}
}

// ProposeEpoch is Propose for a command routed with the region epoch
// epoch: if epoch.Version is not the region's version when the command is
// proposed, or when it is applied (a split was applied in between), the
// command is not applied and the call fails with *EpochNotMatchError.
// ConfVer is not checked: membership changes do not move keys.
func (s *Store) ProposeEpoch(ctx context.Context, regionID uint64, epoch Epoch, cmd []byte) error {
	if err := s.checkRegion(regionID); err != nil {
		return err
	}
	return s.propose(ctx, s.epochProposal(regionID, epoch.Version, cmd))
}

func (s *Store) propose(ctx context.Context, p *proposal) error {
	if err := ctx.Err(); err != nil {
		return err // never proposed
	}
	select {
	case s.proposeC <- p:
	case <-ctx.Done():
		return ctx.Err()
	case <-s.done:
		return s.stopErr()
	}
	return s.wait(ctx, p.done)
}

func (s *Store) wait(ctx context.Context, done chan error) error {
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	case <-s.done:
		select {
		case err := <-done:
			return err
		default:
			return s.stopErr()
		}
	}
}

func (s *Store) checkRegion(regionID uint64) error {
	s.mu.Lock()
	_, ok := s.info[regionID]
	s.mu.Unlock()
	if !ok {
		return fmt.Errorf("%w: %d", ErrRegionNotFound, regionID)
	}
	return nil
}

// epochError describes p's current descriptors for a stale-epoch request:
// the region, and the local region that starts at its end (a split's new
// right half).
func (s *Store) epochError(p *peer) *EpochNotMatchError {
	e := &EpochNotMatchError{RegionID: p.region.ID, Current: []Region{p.region.Clone()}}
	if len(p.region.EndKey) == 0 {
		return e
	}
	for _, sp := range p.splitPeers { // split this round, not yet registered
		if bytes.Equal(sp.p.region.StartKey, p.region.EndKey) {
			e.Current = append(e.Current, sp.p.region.Clone())
			return e
		}
	}
	for _, q := range s.peers {
		if q.initialized && q.region.ID != p.region.ID && bytes.Equal(q.region.StartKey, p.region.EndKey) {
			e.Current = append(e.Current, q.region.Clone())
		}
	}
	return e
}

// ReadBarrier returns once a linearizable read of the region may be served
// from this store's engine: this peer is the leader, a quorum confirmed its
// leadership (raft ReadIndex, ReadOnlySafe) and it has applied up to the
// read index. Errors as Propose; a leadership change during the wait gives
// *NotLeaderError.
func (s *Store) ReadBarrier(ctx context.Context, regionID uint64) error {
	return s.readBarrier(ctx, regionID, false)
}

// WriteBarrier returns once the reads of a transaction that will propose
// a write may be served from this store's engine. On a leader that has
// applied an entry of its own term it returns at once: every entry of
// earlier terms is applied, later ones of this region are this leader's
// own (their latches keep a command from reading around them), and if
// leadership moved since, the write's proposal cannot commit, so nothing
// read here is acknowledged. Otherwise it is ReadBarrier. A transaction
// that ends up proposing nothing must pass ReadBarrier before it answers.
func (s *Store) WriteBarrier(ctx context.Context, regionID uint64) error {
	s.mu.Lock()
	ri, ok := s.info[regionID]
	ready := ok && ri.writeReady
	s.mu.Unlock()
	if ready {
		select {
		case <-s.done:
			return s.stopErr()
		default:
			return nil
		}
	}
	return s.readBarrier(ctx, regionID, false)
}

// FollowerReadBarrier is ReadBarrier for any replica of the region: on the
// leader it is ReadBarrier; on a follower or learner it asks the leader for
// its read index (raft ReadIndex, forwarded as MsgReadIndex; the leader
// confirms its leadership with a quorum first) and returns once this peer
// has applied up to it. A read of the local engine after it returns sees
// every write acknowledged before the call began: it is linearizable, never
// stale. A hibernated peer (and its leader) wakes for it.
//
// Errors: ErrRegionNotFound (no initialized peer here), *NotLeaderError
// with the zero Leader when this peer knows no leader, or with the leader
// when leadership moved while a leader's own read waited, ErrReadDropped
// when the read index did not arrive or was not applied within
// 2*Config.ElectionTick ticks or the follower's leader changed before it
// answered (retry, or ask the leader), ErrStopped or a *FatalError, and
// ctx.Err(). The caller must not read the engine after an error.
func (s *Store) FollowerReadBarrier(ctx context.Context, regionID uint64) error {
	return s.readBarrier(ctx, regionID, true)
}

func (s *Store) readBarrier(ctx context.Context, regionID uint64, anyReplica bool) error {
	s.mu.Lock()
	ri, ok := s.info[regionID]
	solo := ok && ri.soloLeader
	var lease, renew bool
	if ok && !solo {
		lease, renew = s.leaseRead(ri, time.Now())
	}
	s.mu.Unlock()
	if !ok {
		return fmt.Errorf("%w: %d", ErrRegionNotFound, regionID)
	}
	if lease {
		s.metrics.LeaseReads.Inc()
		if renew {
			s.renewLease(regionID)
		}
	}
	if solo || lease {
		select {
		case <-s.done:
			return s.stopErr()
		default:
			return nil
		}
	}
	r := &readRequest{regionID: regionID, anyReplica: anyReplica, done: make(chan error, 1)}
	select {
	case s.readC <- r:
	case <-ctx.Done():
		return ctx.Err()
	case <-s.done:
		return s.stopErr()
	}
	err := s.wait(ctx, r.done)
	if r.byFollower.Load() {
		result := "ok"
		if err != nil {
			result = "error"
		}
		s.metrics.FollowerReads.WithLabelValues(result).Inc()
	}
	return err
}

// Region returns a copy of the region's descriptor.
func (s *Store) Region(regionID uint64) (Region, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ri, ok := s.info[regionID]
	if !ok {
		return Region{}, false
	}
	return ri.region.Clone(), true
}

// Epoch returns the region's current epoch without copying its
// descriptor (the command path asks for it on every command).
func (s *Store) Epoch(regionID uint64) (Epoch, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ri, ok := s.info[regionID]
	if !ok {
		return Epoch{}, false
	}
	return ri.region.Epoch, true
}

// Regions returns copies of every region's descriptor, ordered by id.
func (s *Store) Regions() []Region {
	s.mu.Lock()
	out := make([]Region, 0, len(s.info))
	for _, ri := range s.info {
		out = append(out, ri.region.Clone())
	}
	s.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// regionStart is one entry of Store.byStart.
type regionStart struct {
	start []byte
	id    uint64
}

// infoChanged records that regions were added to or removed from info
// (s.mu held).
func (s *Store) infoChanged() {
	s.metrics.Regions.Set(float64(len(s.info)))
	s.indexStale = true
}

// RegionForKeys returns the id of this store's region that contains every
// key (all keys when keys is nil), without copying descriptors: it is on
// every command's path. false when no single region does. With keys, it
// finds the region of the first key by binary search over the published
// regions' start keys (O(log regions): a store holds thousands); published
// regions do not overlap, except for a moment during a split (the new
// right region is published before the left one shrinks), when the
// region that starts nearest below the key is the up-to-date one.
func (s *Store) RegionForKeys(keys [][]byte) (uint64, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(keys) > 0 {
		if s.indexStale {
			s.byStart = s.byStart[:0]
			for id, ri := range s.info {
				s.byStart = append(s.byStart, regionStart{ri.region.StartKey, id})
			}
			slices.SortFunc(s.byStart, func(a, b regionStart) int {
				if c := bytes.Compare(a.start, b.start); c != 0 {
					return c
				}
				return cmp.Compare(a.id, b.id)
			})
			s.indexStale = false
		}
		i, found := slices.BinarySearchFunc(s.byStart, keys[0], func(e regionStart, k []byte) int { return bytes.Compare(e.start, k) })
		if !found {
			i-- // the last region starting below the key
		}
		if i < 0 {
			return 0, false
		}
		id := s.byStart[i].id
		ri := s.info[id]
		for _, k := range keys {
			if !ri.region.ContainsKey(k) {
				return 0, false
			}
		}
		return id, true
	}
	best := uint64(0)
	for id, ri := range s.info {
		ok := true
		for _, k := range keys {
			if !ri.region.ContainsKey(k) {
				ok = false
				break
			}
		}
		if ok && (best == 0 || id < best) {
			best = id
		}
	}
	return best, best != 0
}

// Leader returns the region's leader as last seen by this store; false when
// the region is unknown or has no known leader.
func (s *Store) Leader(regionID uint64) (Peer, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ri, ok := s.info[regionID]
	if !ok || ri.leader.ID == 0 {
		return Peer{}, false
	}
	return ri.leader, true
}

// LeaderTerm is Leader with the raft term in which this store learned of
// that leader: a report made by a leader carries its term, so a reader of
// several reports (PD) can tell a newer leader's from a deposed one's.
func (s *Store) LeaderTerm(regionID uint64) (Peer, uint64, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ri, ok := s.info[regionID]
	if !ok || ri.leader.ID == 0 {
		return Peer{}, 0, false
	}
	return ri.leader, ri.term, true
}

// WaitLeader blocks until the region has a known leader.
func (s *Store) WaitLeader(ctx context.Context, regionID uint64) error {
	return s.waitLeaderIs(ctx, regionID, func(leader uint64) bool { return leader != 0 })
}

// waitLeaderIs blocks until ok accepts the region's leader as this store
// sees it (peer id, 0 when unknown).
func (s *Store) waitLeaderIs(ctx context.Context, regionID uint64, ok func(leader uint64) bool) error {
	for {
		s.mu.Lock()
		ri, found := s.info[regionID]
		var leader uint64
		if found {
			leader = ri.leader.ID
		}
		ch := s.leaderCh
		s.mu.Unlock()
		if !found {
			return fmt.Errorf("%w: %d", ErrRegionNotFound, regionID)
		}
		if ok(leader) {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		case <-s.done:
			return s.stopErr()
		}
	}
}

// Step hands a message received by the transport to its region's peer. It
// blocks only while the inbox is full; messages for unknown regions are
// dropped by the raft goroutine.
func (s *Store) Step(m RaftMessage) error {
	if m.Msg == nil {
		return fmt.Errorf("regionraft: nil raft message for region %d", m.RegionID)
	}
	select {
	case s.stepC <- m:
		return nil
	case <-s.done:
		return s.stopErr()
	}
}

// setLeader publishes a leader change.
func (s *Store) setLeader(p *peer, wasLeader bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if ri, ok := s.info[p.region.ID]; ok {
		ri.leader = p.leaderPeer()
		ri.term = p.rn.BasicStatus().GetTerm()
		// See maybePublishSolo.
		ri.writeReady = p.isLeader() && p.appliedTerm == p.storage.hs.GetTerm()
		ri.soloLeader = ri.writeReady && p.soloVoter()
		p.soloPublished, p.writePublished = ri.soloLeader, ri.writeReady
		if !p.isLeader() {
			ri.leaseUntil = time.Time{}
		}
	}
	if !p.isLeader() {
		p.leaseUntil = time.Time{}
	}
	close(s.leaderCh)
	s.leaderCh = make(chan struct{})
	switch {
	case p.isLeader() && !wasLeader:
		s.metrics.Leaders.Inc()
	case !p.isLeader() && wasLeader:
		s.metrics.Leaders.Dec()
	}
	if p.isLeader() != wasLeader && s.cfg.OnLeaderChange != nil {
		s.cfg.OnLeaderChange(p.region.ID, p.isLeader())
	}
}
