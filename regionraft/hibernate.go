package regionraft

import (
	"bytes"
	"encoding/binary"
	"math/rand/v2"

	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/quorum"
	"go.etcd.io/raft/v3/raftpb"
	"go.etcd.io/raft/v3/tracker"
	"google.golang.org/protobuf/proto"
)

// Hibernation (TiKV's hibernate regions; see doc.go "Hibernation"): an idle
// region's peers stop ticking, so they send no heartbeats and run no
// election timers. Raft has no message for it and the transport carries
// only raftpb.Message, so the signals are heartbeats (MsgHeartbeat,
// MsgHeartbeatResp) marked in their Context. With ReadOnlyLeaseBased raft
// leaves heartbeat Contexts empty and ignores them on the leader; the
// follower echoes a heartbeat's Context in its response.
//
// Context markers (wire format, FROZEN: never renumber the kinds):
//
//	"skh\x00", kind byte, then for kind 3 a uvarint nonce.
//
// Kinds:
//
//	1 hibernate: on a MsgHeartbeat, the leader is hibernating: a follower
//	  of that leader and term hibernates too; echoed in the response.
//	2 probe: on a MsgHeartbeatResp built by a follower whose check timer
//	  woke it: "are you still there?"; a hibernated leader answers with a
//	  kind 1 heartbeat, which puts the follower back to sleep.
//	3 lease check: on the heartbeats of a leader woken from hibernation,
//	  echoed by followers; a quorum of echoes of the current nonce
//	  re-establishes the leader's read lease.
//
// A hibernate heartbeat and any heartbeat response (a probe, an echo, a
// late answer to an earlier heartbeat) reach a hibernated peer without
// waking it; every other message wakes it. A leader behind whom a follower
// lags answers the response with an append, which wakes it.
const (
	hibMarker                  = "skh\x00"
	hibKindHibernate      byte = 1
	hibKindProbe          byte = 2
	hibKindLeaseCheck     byte = 3
	hibernateMarkerLength      = len(hibMarker) + 1
)

// hibContext builds a marker: 5 bytes, or 13 with the lease check's
// fixed 8-byte nonce. Never 8 bytes long: raft's own heartbeat contexts
// (ReadOnlySafe read positions) are exactly 8, so the two never mix up.
func hibContext(kind byte, nonce uint64) []byte {
	b := make([]byte, 0, hibernateMarkerLength+8)
	b = append(b, hibMarker...)
	b = append(b, kind)
	if kind == hibKindLeaseCheck {
		b = binary.BigEndian.AppendUint64(b, nonce)
	}
	return b
}

// hibKind returns the marker kind of a heartbeat Context, 0 if none.
func hibKind(ctx []byte) (kind byte, nonce uint64) {
	if len(ctx) < hibernateMarkerLength || !bytes.HasPrefix(ctx, []byte(hibMarker)) {
		return 0, 0
	}
	kind = ctx[len(hibMarker)]
	switch {
	case kind == hibKindLeaseCheck && len(ctx) == hibernateMarkerLength+8:
		return kind, binary.BigEndian.Uint64(ctx[hibernateMarkerLength:])
	case (kind == hibKindHibernate || kind == hibKindProbe) && len(ctx) == hibernateMarkerLength:
		return kind, 0
	}
	return 0, 0
}

// quietMessage reports whether m may reach a hibernated peer without
// waking it.
func quietMessage(m *raftpb.Message) bool {
	t := m.GetType()
	if t != raftpb.MessageType_MsgHeartbeat && t != raftpb.MessageType_MsgHeartbeatResp {
		return false
	}
	if t == raftpb.MessageType_MsgHeartbeatResp {
		return true
	}
	k, _ := hibKind(m.GetContext())
	return k == hibKindHibernate
}

// heartbeatMessage reports whether m is a heartbeat or its response, which
// an idle region exchanges: they do not reset a leader's idle count.
func heartbeatMessage(m *raftpb.Message) bool {
	t := m.GetType()
	return t == raftpb.MessageType_MsgHeartbeat || t == raftpb.MessageType_MsgHeartbeatResp
}

// touch makes the next round visit p (raft goroutine).
func (s *Store) touch(p *peer) { s.touched[p.region.ID] = p }

// register adds p to the peers, awake (raft goroutine, or before Start).
func (s *Store) register(p *peer) {
	s.peers[p.region.ID] = p
	p.hibernated = false
	s.awake[p.region.ID] = p
	s.touch(p)
}

// unregister removes p from the loop's sets (raft goroutine).
func (s *Store) unregister(p *peer) {
	delete(s.peers, p.region.ID)
	if s.awake[p.region.ID] == p {
		delete(s.awake, p.region.ID)
	}
	if s.touched[p.region.ID] == p {
		delete(s.touched, p.region.ID)
	}
	if p.hibernated {
		p.hibernated = false
		s.metrics.Hibernated.Dec()
	}
}

// roundPeers returns the peers a round visits: the awake ones and those
// touched since the last round (every peer after a queued task, which may
// have touched any of them).
func (s *Store) roundPeers() []*peer {
	out := s.roundBuf[:0]
	if s.sweepAll {
		s.sweepAll = false
		for _, p := range s.peers {
			out = append(out, p)
		}
	} else {
		for _, p := range s.awake {
			out = append(out, p)
		}
		for id, p := range s.touched {
			if s.awake[id] != p && s.peers[id] == p {
				out = append(out, p)
			}
		}
	}
	clear(s.touched)
	clear(out[len(out):cap(out)]) // keep no dropped peer alive
	s.roundBuf = out
	return out
}

// wake resumes ticking a hibernated peer. A leader with other voters does
// not serve lease reads again before a quorum answered a heartbeat sent
// after the wake (its followers may have elected another leader while it
// slept, as its own election clock stood still).
func (s *Store) wake(p *peer) {
	s.touch(p)
	p.idleTicks = 0
	if !p.hibernated {
		return
	}
	p.hibernated = false
	s.awake[p.region.ID] = p
	s.metrics.Hibernated.Dec()
	s.metrics.Wakes.Inc()
	// Hibernate heartbeats queued this round are stale now.
	keep := p.extraMsgs[:0]
	for _, m := range p.extraMsgs {
		if k, _ := hibKind(m.Msg.GetContext()); k != hibKindHibernate || m.Msg.GetType() != raftpb.MessageType_MsgHeartbeat {
			keep = append(keep, m)
		}
	}
	clear(p.extraMsgs[len(keep):])
	p.extraMsgs = keep
	if p.rn.BasicStatus().RaftState == raft.StateLeader && !p.soloVoter() {
		s.startLeaseCheck(p)
	}
}

// campaignMessage reports whether m asks for a (pre-)vote.
func campaignMessage(m *raftpb.Message) bool {
	t := m.GetType()
	return t == raftpb.MessageType_MsgPreVote || t == raftpb.MessageType_MsgVote
}

// wakeForCampaign runs the election clock of a hibernated follower woken by
// another peer's (pre-)vote request up to the election timeout, before the
// request is stepped. Its clock stood still while it slept, so raft would
// still count the leader's last heartbeat, possibly minutes old, as a live
// lease and refuse the vote for a whole election timeout more: a crashed
// leader of an idle region took two elections to replace (4-4.5 s). The
// candidate woke first and heard nothing from that leader for an election
// timeout, and this follower has heard nothing from it either since it fell
// asleep, so the lease it honours is really over. Not on a follower that
// answered a ReadIndex heartbeat less than an election timeout ago: a
// leader's read lease (lease.go) may rest on that answer, so its clock
// runs at raft's pace. A request from the leader itself, or a follower that is not asleep, is
// left to raft as usual. The ticks may start this follower's own
// campaign, as its timer would have.
func (s *Store) wakeForCampaign(p *peer, m *raftpb.Message) {
	st := p.rn.BasicStatus()
	if st.RaftState == raft.StateLeader || m.GetFrom() == st.Lead || m.GetTerm() <= st.GetTerm() ||
		s.ackedReadRecently(p) {
		return
	}
	for range s.cfg.ElectionTick {
		p.rn.Tick()
	}
}

// sleep stops ticking p. A follower wakes on its own after a random
// HibernateCheckTicks..2*HibernateCheckTicks ticks to check its leader.
func (s *Store) sleep(p *peer, leader bool) {
	if p.hibernated {
		return
	}
	p.hibernated = true
	if leader {
		s.voidLease(p) // its followers' clocks stop: see wake
	}
	delete(s.awake, p.region.ID)
	s.metrics.Hibernated.Inc()
	if !leader {
		n := uint64(s.cfg.HibernateCheckTicks)
		p.checkAt = s.tickNo + n + rand.Uint64N(n)
		s.sleepers[p.checkAt] = append(s.sleepers[p.checkAt], p)
	}
}

// wakeCheckers wakes the hibernated followers whose check timer is due:
// each asks its leader (a probe) and ticks until a hibernate heartbeat
// puts it back to sleep, or its election timer replaces a lost leader.
func (s *Store) wakeCheckers() {
	due := s.sleepers[s.tickNo]
	if due == nil {
		return
	}
	delete(s.sleepers, s.tickNo)
	for _, p := range due {
		if !p.hibernated || p.checkAt != s.tickNo || s.peers[p.region.ID] != p {
			continue // woken or rescheduled since, or gone
		}
		s.wake(p)
		s.probeLeader(p)
	}
}

// probeLeader queues a probe to p's leader if p is a follower that knows
// one: a live hibernated leader answers with a hibernate heartbeat, which
// resets p's election timer (and puts it back to sleep).
func (s *Store) probeLeader(p *peer) bool {
	st := p.rn.BasicStatus()
	to, ok := p.peerByID(st.Lead)
	if !ok || st.Lead == p.self.ID || st.RaftState != raft.StateFollower {
		return false
	}
	p.extraMsgs = append(p.extraMsgs, RaftMessage{RegionID: p.region.ID, From: p.self, To: to, Epoch: p.region.Epoch,
		Msg: &raftpb.Message{Type: raftpb.MessageType_MsgHeartbeatResp.Enum(), From: proto.Uint64(p.self.ID),
			To: proto.Uint64(st.Lead), Term: proto.Uint64(st.GetTerm()), Context: hibContext(hibKindProbe, 0)}})
	return true
}

// probeMarginTicks is how many ticks wakeForRequest leaves a live leader to
// answer the probe: a fifth of the election timeout, at least two.
func probeMarginTicks(electionTick int) int { return max(2, electionTick/5) }

// wakeForRequest wakes a hibernated follower that got a request (a client
// is waiting, and its leader may have died while the region slept): it
// probes the leader and runs its election clock to probeMarginTicks (200 ms
// at the defaults) short of the election timeout. A live leader's answer
// to the probe (one round trip) resets the clock long before it runs out;
// a dead leader is replaced after margin..ElectionTick+margin-1 ticks
// instead of ElectionTick..2*ElectionTick.
// The clock was frozen at the leader's last heartbeat, before the sleep,
// so the ticks cannot start an election by themselves.
func (s *Store) wakeForRequest(p *peer) {
	if !p.hibernated {
		return
	}
	s.wake(p)
	if !s.probeLeader(p) || s.ackedReadRecently(p) {
		return
	}
	for range s.cfg.ElectionTick - probeMarginTicks(s.cfg.ElectionTick) {
		p.rn.Tick()
	}
}

// maybeHibernateLeader counts the ticks an awake leader has been idle and
// puts it (and its followers) to sleep after HibernateTicks of them.
func (s *Store) maybeHibernateLeader(p *peer) {
	if !s.idleLeader(p) {
		p.idleTicks = 0
		return
	}
	p.idleTicks++
	if p.idleTicks < s.cfg.HibernateTicks {
		return
	}
	p.idleTicks = 0
	st := p.rn.BasicStatus()
	p.rn.WithProgress(func(id uint64, _ raft.ProgressType, pr tracker.Progress) {
		if id != p.self.ID {
			s.sendHeartbeat(p, id, st.GetTerm(), min(st.GetCommit(), pr.Match), hibContext(hibKindHibernate, 0))
		}
	})
	s.sleep(p, true)
	s.touch(p) // the round sends the heartbeats
}

// sendHeartbeat queues a heartbeat from leader p to peer id, as raft builds
// them (commit capped at what the follower has).
func (s *Store) sendHeartbeat(p *peer, id, term, commit uint64, ctx []byte) {
	to, ok := p.peerByID(id)
	if !ok {
		return
	}
	p.extraMsgs = append(p.extraMsgs, RaftMessage{RegionID: p.region.ID, From: p.self, To: to, Epoch: p.region.Epoch,
		Msg: &raftpb.Message{Type: raftpb.MessageType_MsgHeartbeat.Enum(), From: proto.Uint64(p.self.ID),
			To: proto.Uint64(id), Term: proto.Uint64(term), Commit: proto.Uint64(commit), Context: ctx}})
}

// idleLeader reports whether p leads a region with nothing in flight:
// no waiter, no admin work, every entry applied, every peer (learners
// included) replicating and caught up, no transfer or joint state.
func (s *Store) idleLeader(p *peer) bool {
	if !p.initialized || p.frozen || p.receiving != 0 || p.removed || len(p.proposals) > 0 || len(p.reads) > 0 ||
		len(p.newReads) > 0 || len(p.jointWaiters) > 0 || len(p.adminAcks) > 0 || p.expectSnap != nil ||
		p.compact != 0 || p.compactProposed || len(p.snaps) > 0 || p.leaseAcks != nil || len(p.splitPeers) > 0 ||
		len(p.storage.cs.GetVotersOutgoing()) > 0 {
		return false
	}
	st := p.rn.BasicStatus()
	last := p.storage.last
	if st.RaftState != raft.StateLeader || st.LeadTransferee != 0 || st.GetCommit() != last ||
		p.storage.apply.applied != last || p.appliedTerm != st.GetTerm() {
		return false
	}
	ok := true
	p.rn.WithProgress(func(id uint64, _ raft.ProgressType, pr tracker.Progress) {
		if id != p.self.ID && (pr.Match != last || pr.State != tracker.StateReplicate || pr.IsPaused()) {
			ok = false
		}
	})
	return ok
}

// onQuietMessage handles a hibernate or probe heartbeat stepped into p.
func (s *Store) onQuietMessage(p *peer, m *raftpb.Message) {
	kind, _ := hibKind(m.GetContext())
	st := p.rn.BasicStatus()
	switch {
	case m.GetType() == raftpb.MessageType_MsgHeartbeat && kind == hibKindHibernate:
		// Sleep only as a plain follower of that leader, in that term.
		if st.RaftState == raft.StateFollower && st.Lead == m.GetFrom() && st.GetTerm() == m.GetTerm() &&
			len(p.proposals) == 0 && len(p.reads) == 0 && len(p.newReads) == 0 && p.expectSnap == nil {
			p.idleTicks = 0
			s.sleep(p, false)
		} else {
			s.wake(p)
		}
	case m.GetType() == raftpb.MessageType_MsgHeartbeatResp && kind == hibKindProbe:
		// A follower checks on its hibernated leader: put it back to sleep.
		// An awake leader's own heartbeats answer it.
		if !p.hibernated || st.RaftState != raft.StateLeader || st.GetTerm() != m.GetTerm() {
			return
		}
		var match uint64
		var known bool
		p.rn.WithProgress(func(id uint64, _ raft.ProgressType, pr tracker.Progress) {
			if id == m.GetFrom() {
				match, known = pr.Match, true
			}
		})
		if known && match == p.storage.last {
			s.sendHeartbeat(p, m.GetFrom(), st.GetTerm(), min(st.GetCommit(), match), hibContext(hibKindHibernate, 0))
		} else {
			s.wake(p)
		}
	}
}

// startLeaseCheck suspends p's lease reads until a quorum echoes a new
// nonce, and sends heartbeats carrying it at once.
func (s *Store) startLeaseCheck(p *peer) {
	s.leaseNonce++
	p.leaseNonce = s.leaseNonce
	p.leaseAcks = map[uint64]bool{p.self.ID: true}
	st := p.rn.BasicStatus()
	ctx := hibContext(hibKindLeaseCheck, p.leaseNonce)
	p.rn.WithProgress(func(id uint64, typ raft.ProgressType, pr tracker.Progress) {
		if id != p.self.ID {
			s.sendHeartbeat(p, id, st.GetTerm(), min(st.GetCommit(), pr.Match), ctx)
		}
	})
}

// onLeaseAck records a follower's echo of the lease-check nonce; once a
// quorum of voters echoed it in the current term, reads resume.
func (s *Store) onLeaseAck(p *peer, m *raftpb.Message) {
	kind, nonce := hibKind(m.GetContext())
	if p.leaseAcks == nil || kind != hibKindLeaseCheck || nonce != p.leaseNonce {
		return
	}
	st := p.rn.BasicStatus()
	if st.RaftState != raft.StateLeader || m.GetTerm() != st.GetTerm() {
		return
	}
	p.leaseAcks[m.GetFrom()] = true
	if p.rn.Status().Config.Voters.VoteResult(p.leaseAcks) == quorum.VoteWon {
		p.leaseAcks = nil
		s.touch(p) // issue the held reads
	}
}

// tagLeaseCheck marks raft's own heartbeats of a leader whose lease check
// is pending with its nonce (retries of the first ones).
func (p *peer) tagLeaseCheck(m *raftpb.Message) {
	if p.leaseAcks != nil && m.GetType() == raftpb.MessageType_MsgHeartbeat && len(m.GetContext()) == 0 {
		m.Context = hibContext(hibKindLeaseCheck, p.leaseNonce)
	}
}

// wakeOnReady wakes a hibernated p when its Ready shows activity: entries,
// a snapshot, a role change, read states, or a message other than a
// heartbeat (raft's work after a queued task, for instance).
func (s *Store) wakeOnReady(p *peer, rd *raft.Ready) {
	if !p.hibernated {
		return
	}
	active := len(rd.Entries) > 0 || !raft.IsEmptySnap(rd.Snapshot) || rd.SoftState != nil || len(rd.ReadStates) > 0
	for _, m := range rd.Messages {
		if active {
			break
		}
		active = !heartbeatMessage(m)
	}
	if active {
		s.wake(p)
	}
}
