package regionraft

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"

	"github.com/skerrydb/skerry/mvcc/engine"
	"github.com/skerrydb/skerry/mvcc/keys"
)

// PeerChangeType is one kind of membership change.
type PeerChangeType int

// Membership change kinds.
const (
	// AddLearner adds a non-voting peer (or demotes a voter).
	AddLearner PeerChangeType = iota + 1
	// AddVoter adds a voting peer or promotes a learner.
	AddVoter
	// RemovePeer removes a voter or a learner.
	RemovePeer
)

// PeerChange is one membership change of a region.
type PeerChange struct {
	Type PeerChangeType
	// Peer is the peer concerned: its ID, and for an addition its StoreID.
	Peer Peer
}

// ChangePeers changes the region's membership through raft (ConfChangeV2;
// more than one change goes through joint consensus, left automatically).
// It must be called on the leader, and returns nil only once the change is
// applied on this store (for a joint change: once the joint state is left).
// Errors: *NotLeaderError, ErrRegionNotFound, ErrInvalidConfChange (the
// change removes or demotes this leader, leaves no voter, or does not match
// the membership), ErrConfChangePending (one is in progress; retry),
// ErrProposalDropped, ErrStopped, ctx.Err() (outcome unknown).
func (s *Store) ChangePeers(ctx context.Context, regionID uint64, changes []PeerChange) error {
	if len(changes) == 0 {
		return fmt.Errorf("%w: no change", ErrInvalidConfChange)
	}
	var done chan error
	err := s.runOnLoop(ctx, func() error {
		p := s.peers[regionID]
		if p == nil || !p.initialized {
			return fmt.Errorf("%w: %d", ErrRegionNotFound, regionID)
		}
		if err := p.notLeader(); err != nil {
			return err
		}
		if isJoint(p.storage.cs) || p.hasConfProposal() {
			return fmt.Errorf("%w: region %d", ErrConfChangePending, regionID)
		}
		cc, err := p.buildConfChange(changes)
		if err != nil {
			return err
		}
		id := s.newProposalID()
		ctxb := binary.BigEndian.AppendUint64(nil, id)
		ctxb = binary.AppendUvarint(ctxb, uint64(len(changes)))
		for _, c := range changes {
			ctxb = binary.AppendUvarint(ctxb, c.Peer.ID)
			ctxb = binary.AppendUvarint(ctxb, c.Peer.StoreID)
		}
		cc.Context = ctxb
		if err := p.rn.ProposeConfChange(cc); err != nil {
			return fmt.Errorf("%w: %v", ErrProposalDropped, err)
		}
		w := &proposal{id: id, regionID: regionID, conf: true, done: make(chan error, 1)}
		p.proposals[id] = w
		done = w.done
		s.busy = true
		return nil
	})
	if err != nil {
		return err
	}
	return s.wait(ctx, done)
}

func (p *peer) hasConfProposal() bool {
	for _, w := range p.proposals {
		if w.conf {
			return true
		}
	}
	return len(p.jointWaiters) > 0
}

func isJoint(cs *raftpb.ConfState) bool { return len(cs.GetVotersOutgoing()) > 0 }

// buildConfChange checks changes against the current (non-joint)
// configuration and returns the raft conf change.
func (p *peer) buildConfChange(changes []PeerChange) (*raftpb.ConfChangeV2, error) {
	voters := map[uint64]bool{}
	learners := map[uint64]bool{}
	for _, id := range p.storage.cs.GetVoters() {
		voters[id] = true
	}
	for _, id := range p.storage.cs.GetLearners() {
		learners[id] = true
	}
	stores := map[uint64]uint64{} // store -> peer
	for _, q := range p.region.Peers {
		stores[q.StoreID] = q.ID
	}
	cc := &raftpb.ConfChangeV2{}
	seen := map[uint64]bool{}
	for _, c := range changes {
		id := c.Peer.ID
		bad := func(why string) error {
			return fmt.Errorf("%w: region %d, peer %d: %s", ErrInvalidConfChange, p.region.ID, id, why)
		}
		if id == 0 || seen[id] {
			return nil, bad("zero or repeated peer id")
		}
		seen[id] = true
		if id == p.self.ID && c.Type != AddVoter {
			return nil, bad("the leader cannot remove or demote itself; transfer leadership first")
		}
		var t raftpb.ConfChangeType
		switch c.Type {
		case AddLearner, AddVoter:
			if !voters[id] && !learners[id] {
				if c.Peer.StoreID == 0 {
					return nil, bad("no store")
				}
				if other, ok := stores[c.Peer.StoreID]; ok && other != id {
					return nil, bad(fmt.Sprintf("store %d already holds peer %d", c.Peer.StoreID, other))
				}
				stores[c.Peer.StoreID] = id
			} else if q, _ := p.region.PeerByID(id); c.Peer.StoreID != 0 && q.StoreID != c.Peer.StoreID {
				return nil, bad("store does not match the member")
			}
			if c.Type == AddLearner {
				if learners[id] {
					return nil, bad("already a learner")
				}
				t = raftpb.ConfChangeType_ConfChangeAddLearnerNode
				delete(voters, id)
				learners[id] = true
			} else {
				if voters[id] {
					return nil, bad("already a voter")
				}
				t = raftpb.ConfChangeType_ConfChangeAddNode
				delete(learners, id)
				voters[id] = true
			}
		case RemovePeer:
			if !voters[id] && !learners[id] {
				return nil, bad("not a member")
			}
			t = raftpb.ConfChangeType_ConfChangeRemoveNode
			delete(voters, id)
			delete(learners, id)
		default:
			return nil, bad(fmt.Sprintf("unknown change type %d", c.Type))
		}
		cc.Changes = append(cc.Changes, &raftpb.ConfChangeSingle{Type: t.Enum(), NodeId: proto.Uint64(id)})
	}
	if len(voters) == 0 {
		return nil, fmt.Errorf("%w: region %d would have no voter", ErrInvalidConfChange, p.region.ID)
	}
	return cc, nil
}

func decodeConfContext(b []byte) (id uint64, peers []Peer, err error) {
	if len(b) < proposalIDLen {
		return 0, nil, errShort
	}
	id = binary.BigEndian.Uint64(b)
	d := decoder{b: b[proposalIDLen:]}
	n := d.uvarint()
	if d.err == nil && n > uint64(len(d.b)) {
		d.err = errShort
	}
	for i := uint64(0); i < n && d.err == nil; i++ {
		peers = append(peers, Peer{ID: d.uvarint(), StoreID: d.uvarint()})
	}
	if d.err == nil && len(d.b) != 0 {
		d.err = fmt.Errorf("%d trailing bytes", len(d.b))
	}
	return id, peers, d.err
}

func confMembers(cs *raftpb.ConfState) []uint64 {
	var ids []uint64
	for _, l := range [][]uint64{cs.GetVoters(), cs.GetLearners(), cs.GetVotersOutgoing(), cs.GetLearnersNext()} {
		for _, id := range l {
			if !slices.Contains(ids, id) {
				ids = append(ids, id)
			}
		}
	}
	return ids
}

// applyConfChange applies a conf change entry on every replica: raft's
// configuration, the descriptor (peers, ConfVer+1) and the ConfState, the
// last two in b, the same batch as the applied index.
func (s *Store) applyConfChange(p *peer, b engine.Batch, e *raftpb.Entry, out []completion) ([]completion, error) {
	idx := e.GetIndex()
	// A lease rests on a quorum of the old membership.
	s.voidLease(p)
	cc := &raftpb.ConfChangeV2{}
	if err := proto.Unmarshal(e.GetData(), cc); err != nil {
		return out, fmt.Errorf("%w: region %d entry %d: conf change: %v", ErrCorrupt, p.region.ID, idx, err)
	}
	var id uint64
	var added []Peer
	if ctx := cc.GetContext(); len(ctx) > 0 {
		var err error
		if id, added, err = decodeConfContext(ctx); err != nil {
			return out, fmt.Errorf("%w: region %d entry %d: conf change context: %v", ErrCorrupt, p.region.ID, idx, err)
		}
	}
	for _, q := range added {
		p.knownPeers[q.ID] = q
	}
	old := confMembers(p.storage.cs)
	var match map[uint64]uint64
	if p.rn.BasicStatus().RaftState == raft.StateLeader {
		match = map[uint64]uint64{}
		for pid, pr := range p.rn.Status().Progress {
			match[pid] = pr.Match
		}
	}
	cs := p.rn.ApplyConfChange(cc)
	now := confMembers(cs)
	// A removed follower stops hearing from the leader; tell those that hold
	// this entry that it is committed, so that they apply it and destroy
	// themselves (raft would send them nothing more).
	for _, pid := range old {
		if slices.Contains(now, pid) || match == nil || match[pid] < idx {
			continue
		}
		if to, ok := p.peerByID(pid); ok {
			p.extraMsgs = append(p.extraMsgs, RaftMessage{RegionID: p.region.ID, From: p.self, To: to, Msg: &raftpb.Message{
				Type: raftpb.MessageType_MsgHeartbeat.Enum(), To: proto.Uint64(pid), From: proto.Uint64(p.self.ID),
				Term: proto.Uint64(p.rn.BasicStatus().GetTerm()), Commit: proto.Uint64(idx),
			}})
		}
	}
	r, err := p.regionFromConf(cs)
	if err != nil {
		return out, fmt.Errorf("%w: region %d entry %d: %v", ErrCorrupt, p.region.ID, idx, err)
	}
	r.Epoch.ConfVer++
	p.region = r
	p.regionChanged = true
	if err := errors.Join(b.Set(keys.RegionStateKey(r.ID), EncodeRegion(&r)), p.storage.setConfState(b, cs)); err != nil {
		return out, err
	}
	// Completed at the end of the round, once the descriptor is published.
	if cc.LeaveJoint() {
		for _, w := range p.jointWaiters {
			p.adminAcks = append(p.adminAcks, completion{done: w.done, prop: w})
		}
		p.jointWaiters = nil
	}
	if w := p.proposals[id]; id != 0 && w != nil {
		delete(p.proposals, id)
		if isJoint(cs) {
			p.jointWaiters = append(p.jointWaiters, w)
		} else {
			p.adminAcks = append(p.adminAcks, completion{done: w.done, prop: w})
		}
	}
	if !slices.Contains(now, p.self.ID) {
		// The tombstone goes with the descriptor that drops this peer, so a
		// restart before destroyPeer knows which peer id was removed.
		p.removed = true
		if err := b.Set(keys.RegionTombstoneKey(r.ID), binary.AppendUvarint(nil, p.self.ID)); err != nil {
			return out, err
		}
	}
	return out, nil
}

// regionFromConf is the descriptor with the members of cs: every peer of
// either half of a joint configuration is listed; a peer is a Learner when
// it votes in neither.
func (p *peer) regionFromConf(cs *raftpb.ConfState) (Region, error) {
	r := p.region.Clone()
	ids := confMembers(cs)
	voter := func(id uint64) bool {
		return slices.Contains(cs.GetVoters(), id) || slices.Contains(cs.GetVotersOutgoing(), id)
	}
	var peers []Peer
	for _, q := range r.Peers {
		if slices.Contains(ids, q.ID) {
			q.Learner = !voter(q.ID)
			peers = append(peers, q)
		}
	}
	for _, id := range ids {
		if slices.ContainsFunc(peers, func(q Peer) bool { return q.ID == id }) {
			continue
		}
		q, ok := p.knownPeers[id]
		if !ok {
			return Region{}, fmt.Errorf("peer %d has no known store", id)
		}
		q.Learner = !voter(id)
		peers = append(peers, q)
	}
	r.Peers = peers
	return r, nil
}

// destroyPeer removes a peer whose removal was applied: its raft state and
// descriptor go, a tombstone stays. The region's data are deleted too
// unless another local region overlaps them (they are then its data).
// One synced batch: a crash before it re-applies the removal on restart.
func (s *Store) destroyPeer(p *peer, err error) error {
	b := s.cfg.Engine.NewBatch()
	defer b.Close()
	if e := s.writeDestroy(b, p.region, p.self.ID, p.initialized); e != nil {
		return e
	}
	if e := b.Commit(true); e != nil {
		return fmt.Errorf("regionraft: destroy region %d: %w", p.region.ID, e)
	}
	s.complete(p.failAll(err, nil))
	s.dropPeer(p)
	s.tombstones[p.region.ID] = p.self.ID
	return nil
}

// dropPeer unregisters p (raft goroutine).
func (s *Store) dropPeer(p *peer) {
	wasLeader := p.isLeader()
	s.unregister(p)
	for _, ps := range p.snaps {
		ps.release()
	}
	p.snaps = nil
	s.mu.Lock()
	delete(s.info, p.region.ID)
	s.infoChanged()
	close(s.leaderCh)
	s.leaderCh = make(chan struct{})
	s.mu.Unlock()
	if wasLeader {
		s.metrics.Leaders.Dec()
		if s.cfg.OnLeaderChange != nil {
			s.cfg.OnLeaderChange(p.region.ID, false)
		}
	}
}

// writeDestroy adds to b the deletion of a region's local state and a
// tombstone naming the removed peer.
func (s *Store) writeDestroy(b engine.Batch, r Region, selfID uint64, initialized bool) error {
	id := r.ID
	lo, hi := keys.RaftLogRange(id)
	errs := []error{
		b.Set(keys.RegionTombstoneKey(id), binary.AppendUvarint(nil, selfID)),
		b.Delete(keys.RegionStateKey(id)),
		b.Delete(keys.RaftHardStateKey(id)),
		b.Delete(keys.RaftApplyStateKey(id)),
		b.Delete(keys.RaftConfStateKey(id)),
		b.Delete(keys.RaftSnapshotPendingKey(id)),
		b.DeleteRange(lo, hi),
	}
	if initialized && !s.overlapsOther(&r) {
		for _, rg := range dataRanges(&r) {
			errs = append(errs, b.DeleteRange(rg[0], rg[1]))
		}
	}
	return errors.Join(errs...)
}

// overlapsOther reports whether a local region other than r (initialized,
// or receiving a snapshot) overlaps r's range.
func (s *Store) overlapsOther(r *Region) bool {
	for _, q := range s.peers {
		if q.region.ID == r.ID {
			continue
		}
		if q.initialized && q.region.overlaps(r) {
			return true
		}
		if q.receiving != 0 && q.expectRegion != nil && q.expectRegion.overlaps(r) {
			return true
		}
	}
	return false
}

// dataRanges are the physical ranges of a region's data: its user-key range
// in each MVCC record family, in ascending key order (data 'd', lock 'l',
// write 'w').
func dataRanges(r *Region) [][2][]byte {
	var end []byte
	if len(r.EndKey) > 0 {
		end = r.EndKey
	}
	var out [][2][]byte
	for _, f := range []func(s, e []byte) ([]byte, []byte){keys.DataRange, keys.LockRange, keys.WriteRange} {
		lo, hi := f(r.StartKey, end)
		out = append(out, [2][]byte{lo, hi})
	}
	return out
}

// inRanges reports whether k is in one of rs.
func inRanges(rs [][2][]byte, k []byte) bool {
	for _, r := range rs {
		if bytes.Compare(k, r[0]) >= 0 && bytes.Compare(k, r[1]) < 0 {
			return true
		}
	}
	return false
}

// TransferLeader asks the region's leader (this store's peer) to hand
// leadership to peer toPeerID, a voter. It returns nil once this store sees
// that peer as the leader, or ctx.Err(); raft abandons a transfer that does
// not complete within an election timeout (call again).
func (s *Store) TransferLeader(ctx context.Context, regionID, toPeerID uint64) error {
	err := s.runOnLoop(ctx, func() error {
		p := s.peers[regionID]
		if p == nil || !p.initialized {
			return fmt.Errorf("%w: %d", ErrRegionNotFound, regionID)
		}
		if toPeerID == p.self.ID {
			return nil
		}
		if err := p.notLeader(); err != nil {
			return err
		}
		if !slices.Contains(p.storage.cs.GetVoters(), toPeerID) {
			return fmt.Errorf("%w: region %d: peer %d is not a voter", ErrInvalidConfChange, regionID, toPeerID)
		}
		s.voidLeaseForTransfer(p) // raft may send MsgTimeoutNow at once
		p.rn.TransferLeader(toPeerID)
		s.busy = true
		return nil
	})
	if err != nil {
		return err
	}
	return s.waitLeaderIs(ctx, regionID, func(leader uint64) bool { return leader == toPeerID })
}
