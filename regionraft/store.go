package regionraft

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
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
	// soloLeader: this peer leads and is the region's only voter. Every
	// acknowledged write of such a region is applied here before its
	// proposal completes, so a read needs no ReadIndex round.
	soloLeader bool
}

// Store holds this node's peers of every region and drives their raft
// groups from one goroutine. See doc.go for the loop and its invariants.
type Store struct {
	cfg     Config
	metrics *Metrics

	// Published state, guarded by mu.
	mu       sync.Mutex
	info     map[uint64]*regionInfo
	leaderCh chan struct{} // closed and replaced on every leader change
	started  bool

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

	// Owned by the raft goroutine (or by NewStore before Start).
	peers   map[uint64]*peer
	busy    bool // more work pending: run another round without blocking
	readSeq uint64
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
	for _, r := range regions {
		p, err := newPeer(&s.cfg, r)
		if err != nil {
			return nil, err
		}
		s.addPeer(p)
	}
	return s, nil
}

// addPeer registers p (raft goroutine, or before Start).
func (s *Store) addPeer(p *peer) {
	s.peers[p.region.ID] = p
	s.mu.Lock()
	s.info[p.region.ID] = &regionInfo{region: p.region.Clone()}
	s.metrics.Regions.Set(float64(len(s.info)))
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
	if !s.started {
		s.peers[r.ID] = p
		s.metrics.Regions.Set(float64(len(s.info)))
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
		if p.soloVoter() {
			_ = p.rn.Campaign()
			s.busy = true
		}
	}
	go s.run()
}

// Stop stops the raft goroutine and waits for it. Pending proposals and
// reads fail with ErrStopped. Stop is idempotent; a Store is not restartable
// (open a new one over the same engine).
func (s *Store) Stop() {
	s.mu.Lock()
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
// ErrProposalDropped (not committed; no effect), ErrStopped or a
// *FatalError (outcome unknown), ctx.Err() (outcome unknown: the entry may
// still apply later). Call it after Start: until then it waits.
func (s *Store) Propose(ctx context.Context, regionID uint64, cmd []byte) error {
	if err := s.checkRegion(regionID); err != nil {
		return err
	}
	id := s.incarnation | (s.nextProp.Add(1) & 0xffffffff)
	data := make([]byte, proposalIDLen, proposalIDLen+len(cmd))
	binary.BigEndian.PutUint64(data, id)
	p := &proposal{id: id, regionID: regionID, data: append(data, cmd...), start: time.Now(), done: make(chan error, 1)}
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

// ReadBarrier returns once a linearizable read of the region may be served
// from this store's engine: this peer is the leader holding a valid lease
// (raft ReadIndex, lease based) and has applied up to the read index.
// Errors as Propose; a leadership change during the wait gives
// *NotLeaderError.
func (s *Store) ReadBarrier(ctx context.Context, regionID uint64) error {
	s.mu.Lock()
	ri, ok := s.info[regionID]
	solo := ok && ri.soloLeader
	s.mu.Unlock()
	if !ok {
		return fmt.Errorf("%w: %d", ErrRegionNotFound, regionID)
	}
	if solo {
		select {
		case <-s.done:
			return s.stopErr()
		default:
			return nil
		}
	}
	r := &readRequest{regionID: regionID, done: make(chan error, 1)}
	select {
	case s.readC <- r:
	case <-ctx.Done():
		return ctx.Err()
	case <-s.done:
		return s.stopErr()
	}
	return s.wait(ctx, r.done)
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

// RegionForKeys returns the id of this store's region that contains every
// key (all keys when keys is nil), without copying descriptors: it is on
// every command's path. false when no single region does.
func (s *Store) RegionForKeys(keys [][]byte) (uint64, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
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

// WaitLeader blocks until the region has a known leader.
func (s *Store) WaitLeader(ctx context.Context, regionID uint64) error {
	for {
		s.mu.Lock()
		ri, ok := s.info[regionID]
		var leader uint64
		if ok {
			leader = ri.leader.ID
		}
		ch := s.leaderCh
		s.mu.Unlock()
		if !ok {
			return fmt.Errorf("%w: %d", ErrRegionNotFound, regionID)
		}
		if leader != 0 {
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
		// See maybePublishSolo.
		ri.soloLeader = p.isLeader() && p.soloVoter() && p.appliedTerm == p.storage.hs.GetTerm()
		p.soloPublished = ri.soloLeader
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
