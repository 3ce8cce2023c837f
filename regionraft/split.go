package regionraft

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"

	"github.com/skerrydb/skerry/mvcc/engine"
	"github.com/skerrydb/skerry/mvcc/keys"
)

// Split admin payload (after the admin type byte; FROZEN):
//
//	uvarint proposal id | uvarint Epoch.Version routed with |
//	uvarint len, split key | uvarint new region id |
//	uvarint n, n x uvarint new peer id (in the order of the old peers)
func encodeSplit(id, version uint64, splitKey []byte, newRegionID uint64, newPeerIDs []uint64) []byte {
	b := make([]byte, proposalIDLen, 64+len(splitKey))
	b = append(b, adminSplit)
	b = binary.AppendUvarint(b, id)
	b = binary.AppendUvarint(b, version)
	b = binary.AppendUvarint(b, uint64(len(splitKey)))
	b = append(b, splitKey...)
	b = binary.AppendUvarint(b, newRegionID)
	b = binary.AppendUvarint(b, uint64(len(newPeerIDs)))
	for _, id := range newPeerIDs {
		b = binary.AppendUvarint(b, id)
	}
	return b
}

type splitCmd struct {
	id, version uint64
	key         []byte
	newRegionID uint64
	newPeerIDs  []uint64
}

func decodeSplit(b []byte) (splitCmd, error) {
	d := decoder{b: b}
	var c splitCmd
	c.id = d.uvarint()
	c.version = d.uvarint()
	c.key = d.bytes()
	c.newRegionID = d.uvarint()
	n := d.uvarint()
	if d.err == nil && n > uint64(len(d.b)) {
		d.err = errShort
	}
	for i := uint64(0); i < n && d.err == nil; i++ {
		c.newPeerIDs = append(c.newPeerIDs, d.uvarint())
	}
	if d.err == nil && len(d.b) != 0 {
		d.err = fmt.Errorf("%d trailing bytes", len(d.b))
	}
	return c, d.err
}

// Split splits the region at splitKey through raft (an admin entry applied
// atomically on every replica): the region keeps its id and [StartKey,
// splitKey); a new region newRegionID gets [splitKey, EndKey) with the same
// stores and peer ids newPeerIDs (in the order of the region's peers).
// Both get Epoch.Version+1. It must be called on the leader with the epoch
// the caller saw; it returns both descriptors once the split is applied
// here. Errors: *EpochNotMatchError (stale epoch, at propose or apply
// time), *NotLeaderError, ErrRegionNotFound, ErrInvalidRegion (bad key or
// ids), ErrConfChangePending (joint configuration), ErrProposalDropped,
// ErrStopped, ctx.Err().
func (s *Store) Split(ctx context.Context, regionID uint64, epoch Epoch, splitKey []byte, newRegionID uint64, newPeerIDs []uint64) (left, right Region, err error) {
	var w *proposal
	err = s.runOnLoop(ctx, func() error {
		p := s.peers[regionID]
		if p == nil || !p.initialized {
			return fmt.Errorf("%w: %d", ErrRegionNotFound, regionID)
		}
		if err := p.notLeader(); err != nil {
			return err
		}
		if epoch.Version != p.region.Epoch.Version {
			return s.epochError(p)
		}
		if isJoint(p.storage.cs) {
			return fmt.Errorf("%w: region %d", ErrConfChangePending, regionID)
		}
		if err := checkSplit(&p.region, splitKey, newRegionID, newPeerIDs); err != nil {
			return err
		}
		if q := s.peers[newRegionID]; q != nil && q.initialized {
			return fmt.Errorf("%w: region %d already exists here", ErrInvalidRegion, newRegionID)
		}
		id := s.newProposalID()
		if err := p.rn.Propose(encodeSplit(id, epoch.Version, splitKey, newRegionID, newPeerIDs)); err != nil {
			return fmt.Errorf("%w: %v", ErrProposalDropped, err)
		}
		w = &proposal{id: id, regionID: regionID, split: true, splitResult: &[2]Region{}, done: make(chan error, 1)}
		p.proposals[id] = w
		s.busy = true
		return nil
	})
	if err != nil {
		return Region{}, Region{}, err
	}
	if err := s.wait(ctx, w.done); err != nil {
		return Region{}, Region{}, err
	}
	return w.splitResult[0], w.splitResult[1], nil
}

func checkSplit(r *Region, key []byte, newRegionID uint64, newPeerIDs []uint64) error {
	if bytes.Compare(key, r.StartKey) <= 0 || (len(r.EndKey) > 0 && bytes.Compare(key, r.EndKey) >= 0) {
		return fmt.Errorf("%w: split key %x not inside region %d", ErrInvalidRegion, key, r.ID)
	}
	if newRegionID == 0 || newRegionID == r.ID || len(newPeerIDs) != len(r.Peers) {
		return fmt.Errorf("%w: split of region %d: new region %d with %d peer ids for %d peers",
			ErrInvalidRegion, r.ID, newRegionID, len(newPeerIDs), len(r.Peers))
	}
	seen := map[uint64]bool{}
	for _, id := range newPeerIDs {
		if id == 0 || seen[id] {
			return fmt.Errorf("%w: split of region %d: zero or repeated peer id", ErrInvalidRegion, r.ID)
		}
		seen[id] = true
	}
	return nil
}

// applySplit applies a split entry: both descriptors and the new region's
// initial raft state go into b, the batch of the applied index. A split
// whose epoch is stale (or that no longer fits) is a no-op on every replica
// alike. The new peer is registered after the round's batches commit.
func (s *Store) applySplit(p *peer, b engine.Batch, e *raftpb.Entry, payload []byte, out []completion) ([]completion, error) {
	c, err := decodeSplit(payload)
	if err != nil {
		return out, fmt.Errorf("%w: region %d entry %d: split: %v", ErrCorrupt, p.region.ID, e.GetIndex(), err)
	}
	w := p.proposals[c.id]
	if w != nil {
		delete(p.proposals, c.id)
	}
	if c.version != p.region.Epoch.Version || isJoint(p.storage.cs) || checkSplit(&p.region, c.key, c.newRegionID, c.newPeerIDs) != nil {
		if w != nil {
			out = append(out, completion{done: w.done, prop: w, err: s.epochError(p)})
		}
		return out, nil
	}
	left := p.region.Clone()
	right := Region{ID: c.newRegionID, StartKey: bytes.Clone(c.key), EndKey: left.EndKey,
		Epoch: Epoch{ConfVer: left.Epoch.ConfVer, Version: left.Epoch.Version + 1}}
	for i, q := range left.Peers {
		right.Peers = append(right.Peers, Peer{ID: c.newPeerIDs[i], StoreID: q.StoreID, Learner: q.Learner})
	}
	left.EndKey = bytes.Clone(c.key)
	left.Epoch.Version++
	p.region = left
	p.regionChanged = true
	if err := b.Set(keys.RegionStateKey(left.ID), EncodeRegion(&left)); err != nil {
		return out, err
	}
	if w != nil { // completed once both regions are published
		w.splitResult[0], w.splitResult[1] = left.Clone(), right.Clone()
		p.adminAcks = append(p.adminAcks, completion{done: w.done, prop: w})
	}
	self, ok := right.PeerOnStore(s.cfg.StoreID)
	if !ok {
		return out, nil
	}
	if q := s.peers[right.ID]; (q != nil && q.initialized) || self.ID <= s.tombstones[right.ID] {
		return out, nil // already there (or removed here): keep its state
	}
	// An uninitialized right peer (created by the new leader's messages)
	// may have voted: keep its term and vote. Raft's own state, not the
	// persisted one: a vote it cast in this very round is in a Ready not
	// yet written (its grant leaves after this round's commits), and the
	// new peer must not vote again in that term.
	hs := &raftpb.HardState{Term: proto.Uint64(raftInitTerm), Commit: proto.Uint64(raftInitIndex)}
	if q := s.peers[right.ID]; q != nil {
		if qs := q.rn.BasicStatus(); qs.GetTerm() > raftInitTerm {
			hs.Term, hs.Vote = proto.Uint64(qs.GetTerm()), proto.Uint64(qs.GetVote())
		}
	}
	hsb, err := proto.Marshal(hs)
	if err != nil {
		return out, err
	}
	a := applyState{applied: raftInitIndex, truncIndex: raftInitIndex, truncTerm: raftInitTerm}
	lo, hi := keys.RaftLogRange(right.ID)
	if err := errors.Join(
		b.Set(keys.RegionStateKey(right.ID), EncodeRegion(&right)),
		b.Set(keys.RaftHardStateKey(right.ID), hsb),
		b.Set(keys.RaftApplyStateKey(right.ID), a.encode()),
		b.Delete(keys.RaftConfStateKey(right.ID)),
		b.DeleteRange(lo, hi),
	); err != nil {
		return out, err
	}
	np := &peer{region: right, self: self, proposals: map[uint64]*proposal{}, initialized: true, knownPeers: map[uint64]Peer{},
		lastReadAck: time.Now()}
	np.storage = &peerStorage{eng: s.cfg.Engine, regionID: right.ID, region: &np.region, cs: confStateOf(&right),
		hs: hs, apply: a, last: raftInitIndex, cacheCap: s.cfg.EntryCacheSize}
	if err := np.newRawNode(&s.cfg); err != nil {
		return out, err
	}
	p.splitPeers = append(p.splitPeers, splitPeer{np, p.rn.BasicStatus().RaftState == raft.StateLeader})
	return out, nil
}

// splitPeer is a peer created by a split, registered after the round.
type splitPeer struct {
	p        *peer
	campaign bool // the left region's leader campaigns for the right one
}

// registerSplitPeers registers the peers created by splits this round.
func (s *Store) registerSplitPeers(p *peer) {
	for _, sp := range p.splitPeers {
		if old := s.peers[sp.p.region.ID]; old != nil {
			s.complete(old.failAll(ErrProposalDropped, nil))
			s.dropPeer(old)
		}
		sp.p.storage.snapshotHook = s.snapshotHook(sp.p)
		sp.p.splitTick, sp.p.splitConfVer = s.tickNo+1, sp.p.region.Epoch.ConfVer
		s.register(sp.p)
		s.publishRegion(sp.p)
		if sp.campaign {
			_ = sp.p.rn.Campaign()
		}
		s.busy = true
	}
	p.splitPeers = nil
}

// ApproximateSize returns the bytes (keys plus values) and the number of
// records of the region's data in all three MVCC families. It scans an
// engine snapshot of the region (an estimate from the engine's table
// statistics would be cheaper; the engine interface has none yet), so call
// it from a background checker, not a request path.
func (s *Store) ApproximateSize(regionID uint64) (size, nkeys uint64, err error) {
	r, ok := s.Region(regionID)
	if !ok {
		return 0, 0, fmt.Errorf("%w: %d", ErrRegionNotFound, regionID)
	}
	snap := s.cfg.Engine.NewSnapshot()
	defer snap.Close()
	for _, rg := range dataRanges(&r) {
		it, err := snap.NewIter(rg[0], rg[1])
		if err != nil {
			return 0, 0, err
		}
		for ok := it.First(); ok; ok = it.Next() {
			size += uint64(len(it.Key()) + len(it.Value()))
			nkeys++
		}
		err = it.Error()
		it.Close()
		if err != nil {
			return 0, 0, err
		}
	}
	return size, nkeys, nil
}

// SplitKey proposes a key splitting the region's data in about two halves
// by record count, counted in the write family (one record per committed
// version; small values are inlined there and have no data record) or in
// the data family when that one holds more records. It is
// a Redis-key boundary — the metadata key (keys.MetaKey) of the Redis key
// holding the middle record, so no Redis key is split — and preferably a
// slot boundary (keys.SlotPrefix) when one leaves records on both sides.
// User keys not in the Redis layout are boundaries as they are.
// ErrNoSplitKey when no boundary leaves records on both sides.
func (s *Store) SplitKey(regionID uint64) ([]byte, error) {
	r, ok := s.Region(regionID)
	if !ok {
		return nil, fmt.Errorf("%w: %d", ErrRegionNotFound, regionID)
	}
	snap := s.cfg.Engine.NewSnapshot()
	defer snap.Close()
	ranges := dataRanges(&r)
	count := func(rg [2][]byte) (uint64, error) {
		it, err := snap.NewIter(rg[0], rg[1])
		if err != nil {
			return 0, err
		}
		defer it.Close()
		n := uint64(0)
		for ok := it.First(); ok; ok = it.Next() {
			n++
		}
		return n, it.Error()
	}
	rg, decode := ranges[2], keys.DecodeWriteKey // the write family
	n, err := count(rg)
	if err != nil {
		return nil, err
	}
	if nd, err := count(ranges[0]); err != nil {
		return nil, err
	} else if nd > n {
		rg, decode, n = ranges[0], keys.DecodeDataKey, nd // the data family
	}
	if n < 2 {
		return nil, ErrNoSplitKey
	}
	it, err := snap.NewIter(rg[0], rg[1])
	if err != nil {
		return nil, err
	}
	defer it.Close()
	var first, last, mid []byte
	i := uint64(0)
	for ok := it.First(); ok; ok = it.Next() {
		uk, _, err := decode(it.Key())
		if err != nil {
			return nil, fmt.Errorf("%w: region %d data key %x", ErrCorrupt, regionID, it.Key())
		}
		if first == nil {
			first = bytes.Clone(uk)
		}
		if i == n/2 {
			mid = bytes.Clone(uk)
		}
		if i == n-1 {
			last = bytes.Clone(uk)
		}
		i++
	}
	if err := it.Error(); err != nil {
		return nil, err
	}
	// A candidate is usable when it is inside the region and some record
	// lies on each side of it.
	usable := func(k []byte) bool {
		return bytes.Compare(k, r.StartKey) > 0 && (len(r.EndKey) == 0 || bytes.Compare(k, r.EndKey) < 0) &&
			bytes.Compare(k, first) > 0 && bytes.Compare(k, last) <= 0
	}
	var cands [][]byte
	if len(mid) >= 2 {
		slot := uint16(mid[0])<<8 | uint16(mid[1])
		cands = append(cands, keys.SlotPrefix(slot))
		if slot+1 < keys.NumSlots {
			cands = append(cands, keys.SlotPrefix(slot+1))
		}
	}
	if db, key, _, ok := keys.DecodeMetaKey(mid); ok {
		cands = append(cands, keys.MetaKey(db, key))
	} else {
		cands = append(cands, mid)
	}
	for _, c := range cands {
		if usable(c) {
			return c, nil
		}
	}
	return nil, ErrNoSplitKey
}
