package regionraft

import (
	"bytes"
	"fmt"
	"time"

	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"

	"github.com/skerrydb/skerry/mvcc/engine"
	"github.com/skerrydb/skerry/mvcc/keys"
)

// run is the raft goroutine: it owns every peer, their RawNodes and storage.
// Each round it takes whatever is queued (proposals, reads, messages,
// ticks), then writes the Ready of every region in one engine batch with at
// most one fsync (group commit), sends messages, acknowledges waiters and
// advances the RawNodes.
func (s *Store) run() {
	defer close(s.done)
	t := time.NewTicker(s.cfg.TickInterval)
	defer t.Stop()
	tickC := t.C
	for {
		if !s.busy {
			select {
			case <-s.stopC:
				s.shutdown(ErrStopped)
				return
			case <-tickC:
				s.tick()
			case p := <-s.proposeC:
				s.handlePropose(p)
			case r := <-s.readC:
				s.handleRead(r)
			case m := <-s.stepC:
				s.handleStep(m)
			case p := <-s.addC:
				s.addPeer(p)
			case <-s.wakeC:
				s.runTasks()
			}
		}
		s.busy = false
		s.drain(tickC)
		select {
		case <-s.stopC:
			s.shutdown(ErrStopped)
			return
		default:
		}
		err := s.loopErr
		if err == nil {
			err = s.round()
		}
		if err != nil {
			f := &FatalError{Err: err}
			s.fatal.Store(f)
			s.cfg.Logger.Errorf("regionraft: store %d stopped: %v", s.cfg.StoreID, err)
			s.shutdown(f)
			return
		}
	}
}

// drain takes what is queued without blocking, bounded per round.
// A due tick is taken too, so a busy store still heartbeats and elects.
func (s *Store) drain(tickC <-chan time.Time) {
	for n := 0; n < s.cfg.MaxBatchProposals; n++ {
		select {
		case p := <-s.proposeC:
			s.handlePropose(p)
			continue
		case r := <-s.readC:
			s.handleRead(r)
			continue
		case m := <-s.stepC:
			s.handleStep(m)
			continue
		case p := <-s.addC:
			s.addPeer(p)
			continue
		case <-s.wakeC:
			s.runTasks()
			continue
		case <-tickC:
			s.tick()
			continue
		default:
		}
		return
	}
	s.busy = true // more may be queued
}

// applyStateKey is the apply state record key of p's region.
func applyStateKey(p *peer) []byte { return keys.RaftApplyStateKey(p.region.ID) }

// tick ticks every awake peer (not the hibernated ones: the cost of an
// idle store does not grow with its regions), wakes the hibernated
// followers whose check is due and lets idle leaders hibernate.
func (s *Store) tick() {
	s.tickNo++
	s.wakeCheckers()
	n := 0
	for _, p := range s.awake {
		if p.frozen {
			continue
		}
		p.rn.Tick()
		n++
		if p.state == raft.StateLeader && !s.cfg.DisableHibernation {
			s.maybeHibernateLeader(p)
		}
	}
	s.metrics.PeerTicks.Add(float64(n))
	s.expireFollowerReads()
}

// expireFollowerReads fails the reads of awake non-leader peers that were
// issued more than 2*ElectionTick ticks ago: the follower's MsgReadIndex
// or its answer was lost (raft does not retry it), or this peer cannot
// catch up with the read index (cut off from the leader). A leader's own
// reads end with its leadership instead (onSoftState).
func (s *Store) expireFollowerReads() {
	limit := uint64(2 * s.cfg.ElectionTick)
	var acks []completion
	for _, p := range s.awake {
		if len(p.reads) == 0 || p.isLeader() {
			continue
		}
		keep := p.reads[:0]
		for _, rb := range p.reads {
			if s.tickNo-rb.issuedAt <= limit {
				keep = append(keep, rb)
				continue
			}
			for _, r := range rb.waiters {
				acks = append(acks, completion{done: r.done, err: fmt.Errorf("%w: region %d: no read index within %d ticks", ErrReadDropped, p.region.ID, limit)})
			}
		}
		clear(p.reads[len(keep):])
		p.reads = keep
	}
	s.complete(acks)
}

func (s *Store) handlePropose(pr *proposal) {
	p := s.peers[pr.regionID]
	if p == nil || !p.initialized {
		pr.done <- fmt.Errorf("%w: %d", ErrRegionNotFound, pr.regionID)
		return
	}
	// A request also wakes a hibernated follower: if its leader died while
	// the region slept, its election timer must run now (clients are
	// retrying), not after the next leader check.
	s.wakeForRequest(p)
	s.wake(p)
	if err := p.notLeader(); err != nil {
		pr.done <- err
		return
	}
	if pr.checkVersion && pr.version != p.region.Epoch.Version {
		pr.done <- s.epochError(p)
		return
	}
	if pr.checkVersion { // an epoch command (Store.epochProposal)
		// Batched: one raft entry (one log record, one Propose) per round
		// for all of them, not one each.
		if p.batchBytes+len(pr.data) > batchMaxBytes(&s.cfg) {
			s.flushBatch(p)
		}
		if len(p.batch) == 0 {
			s.batching = append(s.batching, p)
		}
		p.batch = append(p.batch, pr)
		p.batchBytes += len(pr.data)
		p.proposals[pr.id] = pr
		return
	}
	s.flushBatch(p) // what was proposed before goes first in the log
	if err := p.rn.Propose(pr.data); err != nil {
		pr.done <- fmt.Errorf("%w: %v", ErrProposalDropped, err) // e.g. leader transfer in progress
		return
	}
	p.proposals[pr.id] = pr
}

// batchMaxBytes bounds a batch entry well below an append message.
func batchMaxBytes(c *Config) int { return int(c.MaxSizePerMsg / 4) }

// flushBatch proposes p's batched commands: as they are if there is one,
// else as one batch entry. Commands completed meanwhile (the peer was
// destroyed, or failed them) are left out.
func (s *Store) flushBatch(p *peer) {
	if len(p.batch) == 0 {
		return
	}
	live := p.batch[:0]
	for _, pr := range p.batch {
		if p.proposals[pr.id] == pr {
			live = append(live, pr)
		}
	}
	defer func() {
		clear(p.batch)
		p.batch, p.batchBytes = p.batch[:0], 0
	}()
	if len(live) == 0 || s.peers[p.region.ID] != p {
		return
	}
	var data []byte
	if len(live) == 1 {
		data = live[0].data
	} else {
		data = encodeBatch(live)
		s.metrics.BatchedCommands.Add(float64(len(live)))
	}
	err := p.notLeader()
	if err == nil {
		if perr := p.rn.Propose(data); perr != nil {
			err = fmt.Errorf("%w: %v", ErrProposalDropped, perr)
		}
	}
	if err != nil {
		for _, pr := range live {
			delete(p.proposals, pr.id)
			pr.done <- err
		}
	}
}

func (s *Store) handleRead(r *readRequest) {
	p := s.peers[r.regionID]
	if p == nil || !p.initialized {
		r.done <- fmt.Errorf("%w: %d", ErrRegionNotFound, r.regionID)
		return
	}
	s.wakeForRequest(p) // as in handlePropose
	s.wake(p)
	if err := p.notLeader(); err != nil {
		if !r.anyReplica {
			r.done <- err
			return
		}
		// A follower read: raft forwards the ReadIndex to the leader,
		// or drops it silently when it knows none.
		if p.rn.BasicStatus().Lead == raft.None {
			r.done <- err
			return
		}
		r.byFollower.Store(true)
	}
	p.newReads = append(p.newReads, r)
}

func (s *Store) handleStep(m RaftMessage) {
	if m.Msg.GetType() == raftpb.MessageType_MsgSnap {
		return // snapshots arrive through ReceiveSnapshot, with their data
	}
	p := s.peers[m.RegionID]
	if p == nil {
		if p = s.maybeCreatePeer(m); p == nil {
			return
		}
	}
	if m.To.ID > p.self.ID && m.To.StoreID == s.cfg.StoreID {
		// Peer ids only grow: a newer peer of the region was added on this
		// store, so ours was removed without learning it. Replace it.
		if p = s.replaceStalePeer(p, m.To); p == nil {
			return
		}
	}
	if m.To.ID != p.self.ID || p.frozen {
		return // a message for an older peer of ours (stale), or frozen
	}
	if _, ok := p.knownPeers[m.From.ID]; !ok && m.From.ID != 0 {
		p.knownPeers[m.From.ID] = m.From
	}
	now := time.Now()
	if refuseVote(p, m.Msg, now) {
		return
	}
	if readHeartbeat(m.Msg) {
		p.lastReadAck = now
	}
	s.touch(p)
	quiet := quietMessage(m.Msg)
	if !quiet {
		if p.hibernated && campaignMessage(m.Msg) {
			s.wakeForCampaign(p, m.Msg)
		}
		s.wake(p)
	}
	msg := m.Msg
	if msg.GetType() == raftpb.MessageType_MsgHeartbeatResp {
		if k, _ := hibKind(msg.GetContext()); k != 0 {
			// Our marker echoed back: raft would take the context for a
			// ReadOnlySafe read position. Raft gets the response without
			// it; the hibernation code below reads the original.
			msg = proto.CloneOf(msg)
			msg.Context = nil
		}
	}
	if err := p.rn.Step(msg); err != nil {
		s.cfg.Logger.Debugf("regionraft: region %d step %v: %v", m.RegionID, m.Msg.GetType(), err)
	}
	switch {
	case m.Msg.GetType() == raftpb.MessageType_MsgHeartbeatResp && p.leaseAcks != nil:
		s.onLeaseAck(p, m.Msg)
	case quiet && !s.cfg.DisableHibernation:
		s.onQuietMessage(p, m.Msg)
	}
}

// maybeCreatePeer creates an uninitialized peer for a leader's message to a
// region with no local peer (a new replica waiting for its snapshot). It is
// not persisted: after a restart the next message re-creates it, and its
// hard state, persisted by the rounds, is reloaded. Messages for a peer id
// at or below a destroyed one (tombstone) are stale and dropped.
func (s *Store) maybeCreatePeer(m RaftMessage) *peer {
	t := m.Msg.GetType()
	if m.To.StoreID != s.cfg.StoreID || m.To.ID == 0 ||
		(t != raftpb.MessageType_MsgHeartbeat && t != raftpb.MessageType_MsgApp) {
		return nil
	}
	if m.To.ID <= s.tombstones[m.RegionID] {
		return nil
	}
	p, err := newUninitPeer(&s.cfg, m.RegionID, m.To)
	if err != nil {
		s.cfg.Logger.Warningf("regionraft: region %d: create peer %d: %v", m.RegionID, m.To.ID, err)
		return nil
	}
	s.registerUninit(p)
	return p
}

// replaceStalePeer destroys p, superseded by the newer local peer self, and
// creates self uninitialized. nil if that failed (the error stops the store).
func (s *Store) replaceStalePeer(p *peer, self Peer) *peer {
	s.cfg.Logger.Infof("regionraft: region %d: peer %d superseded by peer %d on this store", p.region.ID, p.self.ID, self.ID)
	if err := s.destroyPeer(p, fmt.Errorf("%w: %d (peer replaced): %w", ErrRegionNotFound, p.region.ID, ErrOutcomeUnknown)); err != nil {
		s.loopErr = err
		return nil
	}
	np, err := newUninitPeer(&s.cfg, p.region.ID, self)
	if err != nil {
		s.loopErr = err
		return nil
	}
	s.registerUninit(np)
	return np
}

type readyPeer struct {
	p  *peer
	rd raft.Ready
}

// round persists and applies the Ready of every region in one batch.
func (s *Store) round() error {
	for _, p := range s.batching {
		s.flushBatch(p)
	}
	clear(s.batching)
	s.batching = s.batching[:0]
	// The awake peers and those touched since the last round: a
	// hibernated peer that got nothing has nothing to do.
	peers := s.roundPeers()
	// One ReadIndex per region for all reads queued this round (held while
	// a leader woken from hibernation re-establishes its lease).
	// A follower's ReadIndex goes to its leader (follower reads); raft
	// drops it when no leader is known, so those reads fail at once. The
	// contexts are unique across stores (random incarnation + counter): a
	// leader's raft ignores a read whose context is already pending.
	var noLeader []completion
	for _, p := range peers {
		if len(p.newReads) == 0 || p.leaseAcks != nil {
			continue
		}
		st := p.rn.BasicStatus()
		if st.RaftState != raft.StateLeader && st.Lead == raft.None {
			for _, r := range p.newReads {
				noLeader = append(noLeader, completion{done: r.done, err: &NotLeaderError{RegionID: p.region.ID}})
			}
			p.newReads = nil
			continue
		}
		s.readSeq++
		rb := &readBatch{ctx: s.incarnation | (s.readSeq & 0xffffffff), lead: st.Lead, issuedAt: s.tickNo, waiters: p.newReads}
		if st.RaftState == raft.StateLeader {
			rb.byLeader, rb.term, rb.sentAt = true, st.GetTerm(), time.Now()
		}
		p.newReads = nil
		p.reads = append(p.reads, rb)
		p.rn.ReadIndex(readContext(rb.ctx))
	}
	s.complete(noLeader)

	// Phase 1: apply the committed entries that were already durable in our
	// log before this round, in their own unsynced batch, and acknowledge
	// them at once. They do not wait for this round's fsync: their entries
	// were fsynced in an earlier round, and the apply state is replayed from
	// the log after a crash. This halves a write's latency (one fsync, not
	// two) while the log append below keeps the group commit.
	type pending struct {
		rp   readyPeer
		late []*raftpb.Entry // committed entries not yet durable here: applied after the append
	}
	var (
		ready    []pending
		msgs     []RaftMessage
		acks     []completion
		mustSync bool
		nEntries int
		applied  int
	)
	s.inRound = true
	s.roundNo++
	defer func() { s.inRound = false }()
	ab := s.cfg.Engine.NewBatch()
	defer ab.Close()
	for _, p := range peers {
		if p.frozen {
			continue
		}
		if !p.rn.HasReady() {
			if p.compact != 0 {
				if err := p.storage.compact(ab, p.compact); err != nil {
					return err
				}
				p.compact = 0
				p.dirty = true
			}
			if p.dirty {
				if err := ab.Set(applyStateKey(p), p.storage.apply.encode()); err != nil {
					return err
				}
				p.dirty = false
			}
			continue
		}
		rd := p.rn.Ready()
		s.wakeOnReady(p, &rd)
		if rd.SoftState != nil {
			acks = s.onSoftState(p, rd.SoftState, acks)
		}
		// The two batches commit concurrently, in no set order: everything
		// a peer writes this round (effects, apply state, log truncation)
		// goes into one of them. If any committed entry is not yet durable
		// here (or a snapshot comes first), all of them are applied in the
		// log batch, after the append.
		early, late := rd.CommittedEntries, []*raftpb.Entry(nil)
		if n := len(early); n > 0 && (early[n-1].GetIndex() > p.storage.last || !raft.IsEmptySnap(rd.Snapshot)) {
			early, late = nil, early
		}
		if len(late) == 0 && raft.IsEmptySnap(rd.Snapshot) {
			if p.compact != 0 {
				if err := p.storage.compact(ab, p.compact); err != nil {
					return err
				}
				p.compact = 0
				p.dirty = true
			}
			if len(early) > 0 {
				var n int
				var err error
				acks, n, err = s.applyEntries(p, ab, early, acks)
				if err != nil {
					return err
				}
				applied += n
			}
			if p.dirty {
				if err := ab.Set(applyStateKey(p), p.storage.apply.encode()); err != nil {
					return err
				}
				p.dirty = false
			}
		}
		ready = append(ready, pending{readyPeer{p, rd}, late})
	}
	// Phase 1's batch is committed below, while phase 2's fsync runs.
	acks1, applied1 := acks, applied
	acks, applied = nil, 0

	// Phase 2: persist new entries and hard states of every region in one
	// batch with at most one fsync (group commit).
	b := s.cfg.Engine.NewBatch()
	defer b.Close()
	var snapMsgs []readyMsg
	var earlyMsgs []RaftMessage // a steady leader's: sent before the fsync
	for _, pr := range ready {
		p, rd := pr.rp.p, &pr.rp.rd
		if !raft.IsEmptySnap(rd.Snapshot) {
			var err error
			if acks, err = s.onSnapshotReady(p, b, rd.Snapshot, acks); err != nil {
				return err
			}
			mustSync = true
		}
		if len(rd.Entries) > 0 {
			acks = p.onAppend(rd.Entries, acks)
			if err := p.storage.append(b, rd.Entries); err != nil {
				return err
			}
			nEntries += len(rd.Entries)
		}
		// A conf change raft did not append (one was pending) never will.
		for _, w := range p.proposals {
			if w.conf && w.index == 0 {
				delete(p.proposals, w.id)
				acks = append(acks, completion{done: w.done, err: fmt.Errorf("%w: region %d", ErrConfChangePending, p.region.ID), prop: w})
			}
		}
		// A leader's messages may leave before its own append is durable,
		// so followers write in parallel with it (Raft thesis 10.2.1, as
		// etcd does): the entries count for the commit only once a quorum
		// persisted them, and phase 1 applies only entries durable here.
		// Not when this Ready changes the term or vote: nobody may hear of
		// those before they are on disk.
		early := p.state == raft.StateLeader && (rd.HardState == nil || raft.IsEmptyHardState(rd.HardState) ||
			rd.HardState.GetTerm() == p.storage.hs.GetTerm() && rd.HardState.GetVote() == p.storage.hs.GetVote())
		if rd.HardState != nil && !raft.IsEmptyHardState(rd.HardState) {
			if err := p.storage.setHardState(b, rd.HardState); err != nil {
				return err
			}
		}
		mustSync = mustSync || rd.MustSync
		for _, rs := range rd.ReadStates {
			id, ok := readContextID(rs.RequestCtx)
			for _, rb := range p.reads {
				if ok && rb.ctx == id {
					rb.index, rb.confirmed = rs.Index, true
					s.extendLease(p, rb)
				}
			}
		}
		if p.compact != 0 && p.initialized { // deferred from phase 1: see above
			if err := p.storage.compact(b, p.compact); err != nil {
				return err
			}
			p.compact = 0
			p.dirty = true
		}
		if len(pr.late) > 0 {
			var n int
			var err error
			acks, n, err = s.applyEntries(p, b, pr.late, acks)
			if err != nil {
				return err
			}
			applied += n
		}
		if p.dirty {
			if err := b.Set(applyStateKey(p), p.storage.apply.encode()); err != nil {
				return err
			}
			p.dirty = false
		}
		s.voidLeaseOnTransfer(p, rd.Messages)
		for _, m := range rd.Messages {
			p.tagLeaseCheck(m)
			if to, ok := p.peerByID(m.GetTo()); ok {
				rm := RaftMessage{RegionID: p.region.ID, From: p.self, To: to, Epoch: p.region.Epoch, Msg: m}
				switch {
				case m.GetType() == raftpb.MessageType_MsgSnap:
					snapMsgs = append(snapMsgs, readyMsg{p, rm})
				case early:
					earlyMsgs = append(earlyMsgs, rm)
				default:
					msgs = append(msgs, rm)
				}
			}
		}
	}
	for _, p := range peers {
		msgs = append(msgs, p.extraMsgs...)
		p.extraMsgs = nil
	}

	// Commit phase 1's applies and acknowledge them on another goroutine
	// while this one fsyncs the new log entries: they do not depend on each
	// other, and the fsync's completion wakes this goroutine directly (one
	// hand-off less on the path every write waits for). The applies are
	// joined before the round ends, so rounds still apply in order.
	applyDone := make(chan error, 1)
	go func() {
		if ab.Count() > 0 {
			if err := ab.Commit(false); err != nil {
				applyDone <- fmt.Errorf("regionraft: commit apply batch: %w", err)
				return
			}
			s.metrics.AppliedEntries.Add(float64(applied1))
		}
		s.complete(acks1)
		applyDone <- nil
	}()
	if len(earlyMsgs) > 0 {
		s.cfg.Transport.Send(earlyMsgs)
	}
	start := time.Now()
	var syncErr error
	if b.Count() > 0 {
		syncErr = b.Commit(mustSync)
	}
	if err := <-applyDone; err != nil {
		return err
	}
	if syncErr != nil {
		return fmt.Errorf("regionraft: commit raft batch: %w", syncErr)
	}
	if b.Count() > 0 {
		s.metrics.BatchCommitSeconds.Observe(time.Since(start).Seconds())
		if mustSync {
			s.metrics.batchCommitsSync.Inc()
		} else {
			s.metrics.batchCommitsNoSync.Inc()
		}
		if nEntries > 0 {
			s.metrics.EntriesPerBatch.Observe(float64(nEntries))
		}
		s.metrics.AppliedEntries.Add(float64(applied))
	}
	// The engine now holds exactly the applied state: snapshots may be
	// taken again (raft may want one while advancing).
	s.inRound = false
	if len(msgs) > 0 {
		s.cfg.Transport.Send(msgs)
	}
	for _, sm := range snapMsgs {
		s.sendSnapshot(sm.p, sm.m)
	}
	for _, pr := range ready {
		pr.rp.p.rn.Advance(pr.rp.rd)
	}
	for _, pr := range ready {
		rp := pr.rp
		acks = rp.p.readsApplied(acks)
		s.maybePublishSolo(rp.p)
		s.maybeScheduleGC(rp.p)
		if rp.p.rn.HasReady() || rp.p.compact != 0 {
			s.busy = true
			s.touch(rp.p)
		}
	}
	s.complete(acks)
	var splitters []*peer
	for _, p := range peers {
		if len(p.splitPeers) > 0 {
			splitters = append(splitters, p)
		}
	}
	for _, p := range splitters {
		s.registerSplitPeers(p)
	}
	for _, p := range peers {
		if s.peers[p.region.ID] != p {
			continue // replaced by a split's peer this round
		}
		s.releaseSnaps(p)
		if p.regionChanged {
			p.regionChanged = false
			s.publishRegion(p)
		}
		if len(p.adminAcks) > 0 {
			s.complete(p.adminAcks)
			p.adminAcks = nil
		}
	}
	for _, p := range peers {
		if p.removed && s.peers[p.region.ID] == p {
			if err := s.destroyPeer(p, fmt.Errorf("%w: %d (peer removed): %w", ErrRegionNotFound, p.region.ID, ErrOutcomeUnknown)); err != nil {
				return err
			}
		}
	}
	return nil
}

type readyMsg struct {
	p *peer
	m RaftMessage
}

// onSnapshotReady persists a received snapshot's state in b (the log batch,
// synced, with the Ready's hard state) once raft hands it out. Its data
// were written by ReceiveSnapshot before it was stepped.
func (s *Store) onSnapshotReady(p *peer, b engine.Batch, snap *raftpb.Snapshot, acks []completion) ([]completion, error) {
	md := snap.GetMetadata()
	exp := p.expectSnap
	if exp == nil || exp.index != md.GetIndex() || exp.term != md.GetTerm() {
		return acks, fmt.Errorf("regionraft: region %d: raft applies snapshot %d/%d whose data were not received",
			p.region.ID, md.GetIndex(), md.GetTerm())
	}
	p.expectSnap = nil
	p.region = exp.region.Clone()
	if err := p.storage.applySnapshot(b, snap, &p.region); err != nil {
		return acks, err
	}
	if err := b.Delete(keys.RaftSnapshotPendingKey(p.region.ID)); err != nil {
		return acks, err
	}
	p.compact, p.compactProposed = 0, false
	for _, q := range p.region.Peers {
		p.knownPeers[q.ID] = q
	}
	p.initialized = true
	p.regionChanged = true
	p.appliedTerm = md.GetTerm()
	p.dirty = false // the apply state is in b already
	// Entries up to the snapshot's index count as applied without having
	// been seen here: a proposal of this peer (made while it led, or
	// forwarded) may be among them, committed by the next leader, or may
	// not. Its outcome is unknown, never "dropped": a dropped command is
	// run again, and this one may have applied (an INCR counted twice).
	for _, w := range p.proposals {
		if w.index <= md.GetIndex() {
			delete(p.proposals, w.id)
			acks = append(acks, completion{done: w.done, err: fmt.Errorf("%w: region %d applied a snapshot over it",
				ErrOutcomeUnknown, p.region.ID), prop: w})
		}
	}
	return append(acks, completion{done: exp.done}), nil
}

// publishRegion publishes p's descriptor (a new one, or a new region).
func (s *Store) publishRegion(p *peer) {
	if !p.initialized {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ri := s.info[p.region.ID]
	if ri == nil {
		ri = &regionInfo{}
		s.info[p.region.ID] = ri
		s.infoChanged()
	}
	if !bytes.Equal(ri.region.StartKey, p.region.StartKey) || !bytes.Equal(ri.region.EndKey, p.region.EndKey) {
		s.indexStale = true
	}
	ri.region = p.region.Clone()
	ri.leader = p.leaderPeer()
}

func (s *Store) complete(acks []completion) {
	for _, a := range acks {
		if a.prop != nil {
			if a.err == nil {
				s.metrics.ProposeApplySeconds.Observe(time.Since(a.prop.start).Seconds())
				s.metrics.proposalsOK.Inc()
			} else {
				s.metrics.proposalsErr.Inc()
			}
		}
		a.done <- a.err
	}
}

// onSoftState records a leader or role change. Losing leadership fails the
// reads whose index was not confirmed (raft may drop them silently).
func (s *Store) onSoftState(p *peer, ss *raft.SoftState, acks []completion) []completion {
	wasLeader := p.isLeader()
	p.lead, p.state = ss.Lead, ss.RaftState
	if !wasLeader {
		// Follower reads sent to another leader may never be answered.
		acks = p.dropUnconfirmedReads(acks, ss.Lead)
	}
	if !p.isLeader() {
		p.compactProposed = false
	}
	if wasLeader && !p.isLeader() {
		keep := p.reads[:0]
		for _, rb := range p.reads {
			if rb.confirmed {
				keep = append(keep, rb)
				continue
			}
			for _, r := range rb.waiters {
				acks = append(acks, completion{done: r.done, err: &NotLeaderError{RegionID: p.region.ID, Leader: p.leaderPeer()}})
			}
		}
		p.reads = keep
		// Reads held by a lease check (hibernate.go) never got an index.
		for _, r := range p.newReads {
			acks = append(acks, completion{done: r.done, err: &NotLeaderError{RegionID: p.region.ID, Leader: p.leaderPeer()}})
		}
		p.newReads = nil
	}
	if !p.isLeader() {
		p.leaseAcks = nil
		p.idleTicks = 0
	}
	s.setLeader(p, wasLeader)
	return acks
}

// maybePublishSolo lets ReadBarrier skip the ReadIndex round on a
// single-voter leader, and WriteBarrier on any leader, once it has
// applied an entry of its own term (its no-op): every entry committed by
// earlier terms, possibly acknowledged before a restart, is then applied
// here.
func (s *Store) maybePublishSolo(p *peer) {
	if !p.isLeader() || p.appliedTerm != p.storage.hs.GetTerm() {
		return
	}
	if p.writePublished && (p.soloPublished || !p.soloVoter()) {
		return
	}
	s.setLeader(p, true)
}

// maybeScheduleGC proposes a compact-log admin command on a leader that
// keeps more than RaftLogGCThreshold applied entries, or about
// RaftLogGCSizeLimit bytes of log. The truncation point is the lowest index
// any follower still needs, but never keeps more than RaftLogGCThreshold
// applied entries: a follower further behind (or a new, empty one) is sent
// a snapshot instead.
func (s *Store) maybeScheduleGC(p *peer) {
	a := p.storage.apply
	if !p.isLeader() || p.compactProposed || a.applied == a.truncIndex ||
		a.applied-a.truncIndex <= s.cfg.RaftLogGCThreshold && p.storage.logBytes <= s.cfg.RaftLogGCSizeLimit {
		return
	}
	to := a.applied
	for id, pr := range p.rn.Status().Progress {
		if id != p.self.ID && pr.Match < to {
			to = pr.Match
		}
	}
	if a.applied-to > s.cfg.RaftLogGCThreshold {
		to = a.applied - s.cfg.RaftLogGCThreshold
	}
	if to <= a.truncIndex {
		return
	}
	if err := p.rn.Propose(encodeCompactLog(to)); err != nil {
		return // not leader any more; the next leader will do it
	}
	p.compactProposed = true
	s.busy = true
}

// shutdown fails every waiter with err; the raft goroutine exits after it.
func (s *Store) shutdown(err error) {
	var acks []completion
	for _, p := range s.peers {
		acks = p.failAll(err, acks)
	}
	for {
		select {
		case pr := <-s.proposeC:
			acks = append(acks, completion{done: pr.done, err: err, prop: pr})
			continue
		case r := <-s.readC:
			acks = append(acks, completion{done: r.done, err: err})
			continue
		default:
		}
		break
	}
	s.complete(acks)
}
