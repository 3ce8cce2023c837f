package regionraft

import (
	"bytes"
	"time"

	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"
)

// Leader leases (TiKV's; see doc.go "Leader lease"). A leader whose
// ReadIndex round was acknowledged by a quorum serves reads without another
// round until leaseDuration after the moment it sent that round's
// heartbeats. Each voter that acknowledged them reset its election timer on
// receipt (later than the send), and raft with CheckQuorum refuses an
// unforced (pre-)vote while that timer is short of an election timeout,
// so no other leader can be elected before then: every quorum includes one
// of them. The lease is a margin shorter than that timeout, and is void
// from the moment this leader hands leadership on (MsgTimeoutNow, whose
// campaign voters grant regardless of their timers), changes membership,
// hibernates or steps down. Two more rules keep the voters' side true:
// a replica loaded from disk refuses votes for an election timeout after
// the store opens (its timer restarted from zero, though it may have
// acknowledged a lease just before a crash), and a hibernated follower's
// election clock is only run forward (wakeForCampaign, wakeForRequest)
// when it has answered no ReadIndex heartbeat for an election timeout.

// leaseDuration is how long a quorum's acknowledgement of a heartbeat
// keeps this leader's lease, measured from the send: four fifths of the
// shortest time a voter's timer takes to reach the election timeout. A
// ticker drops ticks it cannot deliver but may hand over one that was due
// just before the reset, so the timer runs ElectionTick ticks in no less
// than ElectionTick-2 tick intervals. 0 (no lease reads) when disabled or
// with too short an election timeout.
func (c *Config) leaseDuration() time.Duration {
	if c.DisableLeaseReads || c.ElectionTick < 4 {
		return 0
	}
	return time.Duration(c.ElectionTick-2) * c.TickInterval * 4 / 5
}

// electionTimeout is the unrandomized election timeout in wall time.
func (c *Config) electionTimeout() time.Duration {
	return time.Duration(c.ElectionTick) * c.TickInterval
}

// extendLease extends p's lease after rb, a read batch p issued as leader,
// was confirmed by a quorum: to rb.sentAt+leaseDuration, unless p is no
// longer the leader of rb's term or the lease was voided after rb was sent
// (raft goroutine).
func (s *Store) extendLease(p *peer, rb *readBatch) {
	d := s.cfg.leaseDuration()
	if d == 0 || !rb.byLeader || !rb.sentAt.After(p.leaseVoidAt) {
		return
	}
	if st := p.rn.BasicStatus(); st.RaftState != raft.StateLeader || st.GetTerm() != rb.term ||
		st.LeadTransferee != 0 || rb.term == p.transferTerm {
		return
	}
	until := rb.sentAt.Add(d)
	if !until.After(p.leaseUntil) {
		return
	}
	p.leaseUntil = until
	s.mu.Lock()
	if ri, ok := s.info[p.region.ID]; ok {
		ri.leaseUntil = until
	}
	s.mu.Unlock()
}

// voidLease ends p's lease now; confirmations of rounds sent before now
// will not restore it (raft goroutine).
func (s *Store) voidLease(p *peer) {
	p.leaseVoidAt = time.Now()
	if p.leaseUntil.IsZero() {
		return
	}
	p.leaseUntil = time.Time{}
	s.mu.Lock()
	if ri, ok := s.info[p.region.ID]; ok {
		ri.leaseUntil = time.Time{}
	}
	s.mu.Unlock()
}

// voidLeaseOnTransfer voids p's lease if msgs hand leadership on: the
// transferee's campaign is forced, so voters grant it within their timers.
func (s *Store) voidLeaseOnTransfer(p *peer, msgs []*raftpb.Message) {
	for _, m := range msgs {
		if m.GetType() == raftpb.MessageType_MsgTimeoutNow {
			s.voidLeaseForTransfer(p)
			return
		}
	}
}

// voidLeaseForTransfer voids p's lease for the rest of its term: once a
// transfer began, a forced vote request of the next term may reach a voter
// at any time while the transferee is a candidate, even after raft gave
// the transfer up here, and a voter that answered a later round would
// still grant it (raft goroutine).
func (s *Store) voidLeaseForTransfer(p *peer) {
	p.transferTerm = p.rn.BasicStatus().GetTerm()
	s.voidLease(p)
}

// leaseRead reports whether a read of ri may be served now under the
// leader's lease, and whether the caller should renew it (s.mu held).
// Renewal starts in the second half of the lease, at most once per
// quarter of it, so a steady stream of reads never waits for a round.
func (s *Store) leaseRead(ri *regionInfo, now time.Time) (ok, renew bool) {
	if !ri.writeReady || !now.Before(ri.leaseUntil) {
		return false, false
	}
	d := s.cfg.leaseDuration()
	if ri.leaseUntil.Sub(now) < d/2 && !now.Before(ri.renewAt) {
		ri.renewAt = now.Add(d / 4)
		return true, true
	}
	return true, false
}

// renewLease queues a ReadIndex round with no waiter for regionID, without
// blocking: its confirmation extends the lease.
func (s *Store) renewLease(regionID uint64) {
	select {
	case s.readC <- &readRequest{regionID: regionID, done: make(chan error, 1)}:
	default:
	}
}

// refuseVote reports whether p must drop m, an unforced (pre-)vote request
// of a higher term, because p was loaded from disk less than an election
// timeout ago: before a crash it may have acknowledged a heartbeat on which
// a leader's lease rests, and its restarted timer no longer says so.
func refuseVote(p *peer, m *raftpb.Message, now time.Time) bool {
	if !campaignMessage(m) || !now.Before(p.voteGuardUntil) {
		return false
	}
	if bytes.Equal(m.GetContext(), []byte("CampaignTransfer")) {
		return false // a transfer's campaign: the old leader voided its lease
	}
	return m.GetTerm() > p.rn.BasicStatus().GetTerm()
}

// ackedReadRecently reports whether p stepped a heartbeat carrying a
// ReadIndex context less than an election timeout ago (or was created that
// recently): a lease may rest on its answer, so its election clock must
// run at raft's pace.
func (s *Store) ackedReadRecently(p *peer) bool {
	return time.Since(p.lastReadAck) < s.cfg.electionTimeout()
}

// readHeartbeat reports whether m is a heartbeat carrying a ReadIndex
// context (ReadOnlySafe): the only heartbeats whose answers confirm a
// leader's read and so extend its lease. Hibernation markers are never
// that long.
func readHeartbeat(m *raftpb.Message) bool {
	return m.GetType() == raftpb.MessageType_MsgHeartbeat && len(m.GetContext()) == readContextLen
}
