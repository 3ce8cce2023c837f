package regionraft

import (
	"encoding/binary"
	"fmt"
	"time"

	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"

	"github.com/skerrydb/skerry/mvcc/engine"
)

// Normal entry data (FROZEN):
//
//	uint64 proposal id (big endian), then the command.
//
// Proposal id 0 is reserved for admin commands, which regionraft applies
// itself (the Applier never sees them):
//
//	uint64 0, byte admin type, payload
//
// Admin types (never renumber):
//
//	1 compact log: uvarint index — every replica truncates its log up to
//	  index (TiKV's CompactLog), so all replicas keep the same log suffix.
//
// An entry with empty data is raft's own no-op.
const proposalIDLen = 8

const (
	adminProposalID uint64 = 0
	adminCompactLog byte   = 1
)

func encodeCompactLog(index uint64) []byte {
	b := make([]byte, proposalIDLen, proposalIDLen+11)
	b = append(b, adminCompactLog)
	return binary.AppendUvarint(b, index)
}

// proposal is one Propose call waiting in the raft goroutine.
type proposal struct {
	id       uint64
	regionID uint64
	data     []byte // id + cmd
	start    time.Time
	index    uint64 // log position once raft appended it; 0 before
	term     uint64
	done     chan error // buffered 1
}

// readRequest is one ReadBarrier call.
type readRequest struct {
	regionID uint64
	done     chan error // buffered 1
}

// readBatch groups the read requests of one region issued in one loop round
// under one raft ReadIndex request.
type readBatch struct {
	ctx       uint64
	index     uint64
	confirmed bool
	waiters   []*readRequest
}

// peer is the local replica of one region. Owned by the raft goroutine.
type peer struct {
	region  Region
	self    Peer
	storage *peerStorage
	rn      *raft.RawNode

	proposals map[uint64]*proposal
	reads     []*readBatch
	newReads  []*readRequest

	lead    uint64 // raft id of the leader, 0 if unknown
	state   raft.StateType
	compact uint64 // scheduled log truncation point, 0 if none
	// compactProposed is set while this leader's compact-log command is in
	// flight, so one is proposed at a time.
	compactProposed bool
	dirty           bool // apply state changed in this round
	// appliedTerm is the term of the last entry applied by this incarnation
	// (0 before the first); soloPublished mirrors regionInfo.soloLeader.
	appliedTerm   uint64
	soloPublished bool
}

func newPeer(cfg *Config, region Region) (*peer, error) {
	self, ok := region.PeerOnStore(cfg.StoreID)
	if !ok {
		return nil, fmt.Errorf("%w: region %d has no peer on store %d", ErrInvalidRegion, region.ID, cfg.StoreID)
	}
	p := &peer{region: region, self: self, proposals: map[uint64]*proposal{}}
	ps, err := loadPeerStorage(cfg.Engine, &p.region, cfg.EntryCacheSize)
	if err != nil {
		return nil, err
	}
	p.storage = ps
	rn, err := raft.NewRawNode(&raft.Config{
		ID:              self.ID,
		ElectionTick:    cfg.ElectionTick,
		HeartbeatTick:   cfg.HeartbeatTick,
		Storage:         ps,
		Applied:         ps.apply.applied,
		MaxSizePerMsg:   cfg.MaxSizePerMsg,
		MaxInflightMsgs: cfg.MaxInflightMsgs,
		CheckQuorum:     true,
		PreVote:         true,
		// Lease reads: the leader answers ReadIndex from its own commit index
		// while CheckQuorum keeps its lease (no heartbeat round per read).
		// Safe as long as clock drift between nodes stays well under the
		// election timeout; see doc.go.
		ReadOnlyOption: raft.ReadOnlyLeaseBased,
		// Proposals are only accepted by the leader; Propose on a follower
		// returns NotLeaderError so the router can redirect.
		DisableProposalForwarding: true,
		Logger:                    cfg.Logger,
	})
	if err != nil {
		return nil, fmt.Errorf("regionraft: region %d: %w", region.ID, err)
	}
	p.rn = rn
	return p, nil
}

func (p *peer) leaderPeer() Peer {
	lp, _ := p.region.PeerByID(p.lead)
	return lp
}

// notLeader returns a *NotLeaderError unless raft's current state (which
// may be newer than the last Ready's) is leader.
func (p *peer) notLeader() error {
	st := p.rn.BasicStatus()
	if st.RaftState == raft.StateLeader {
		return nil
	}
	lp, _ := p.region.PeerByID(st.Lead)
	return &NotLeaderError{RegionID: p.region.ID, Leader: lp}
}

func (p *peer) isLeader() bool { return p.state == raft.StateLeader }

// soloVoter reports whether this peer is the region's only voter.
func (p *peer) soloVoter() bool { return len(p.region.Peers) == 1 && p.region.Peers[0].ID == p.self.ID }

// completion is a waiter to notify after the round's batch is committed.
type completion struct {
	done chan error
	err  error
	prop *proposal // for the latency metric; nil for reads
}

// onAppend runs before ents are persisted: it learns the log position of our
// own proposals and fails those whose entries are being overwritten (raft
// replaces the whole log suffix from ents[0].Index on).
func (p *peer) onAppend(ents []*raftpb.Entry, out []completion) []completion {
	first := ents[0].GetIndex()
	for _, w := range p.proposals {
		if w.index >= first {
			if off := w.index - first; off >= uint64(len(ents)) || ents[off].GetTerm() != w.term {
				delete(p.proposals, w.id)
				out = append(out, completion{done: w.done, err: ErrProposalDropped, prop: w})
			}
		}
	}
	for _, e := range ents {
		if e.GetType() != raftpb.EntryNormal || len(e.GetData()) < proposalIDLen {
			continue
		}
		if w := p.proposals[binary.BigEndian.Uint64(e.GetData())]; w != nil && w.index == 0 {
			w.index, w.term = e.GetIndex(), e.GetTerm()
		}
	}
	return out
}

// applyEntries applies committed entries into b and returns the proposals to
// acknowledge once b is committed.
func (p *peer) applyEntries(b engine.Batch, ap Applier, ents []*raftpb.Entry, out []completion) ([]completion, int, error) {
	n := 0
	for _, e := range ents {
		idx := e.GetIndex()
		if idx <= p.storage.apply.applied {
			continue
		}
		if idx != p.storage.apply.applied+1 {
			return out, n, fmt.Errorf("regionraft: region %d applies entry %d after %d", p.region.ID, idx, p.storage.apply.applied)
		}
		switch e.GetType() {
		case raftpb.EntryNormal:
			data := e.GetData()
			if len(data) == 0 {
				break // leader's no-op of a new term
			}
			if len(data) < proposalIDLen {
				return out, n, fmt.Errorf("%w: region %d entry %d has %d bytes of data", ErrCorrupt, p.region.ID, idx, len(data))
			}
			if binary.BigEndian.Uint64(data) == adminProposalID {
				if err := p.applyAdmin(idx, data[proposalIDLen:]); err != nil {
					return out, n, err
				}
				break
			}
			if err := ap.Apply(b, &p.region, idx, data[proposalIDLen:]); err != nil {
				return out, n, fmt.Errorf("regionraft: region %d apply entry %d: %w", p.region.ID, idx, err)
			}
			if w := p.proposals[binary.BigEndian.Uint64(data)]; w != nil {
				delete(p.proposals, w.id)
				out = append(out, completion{done: w.done, prop: w})
			}
		default:
			// Conf changes, splits and merges come with the next issue.
			return out, n, fmt.Errorf("regionraft: region %d entry %d: unsupported entry type %v", p.region.ID, idx, e.GetType())
		}
		p.storage.apply.applied = idx
		p.appliedTerm = e.GetTerm()
		p.dirty = true
		n++
	}
	// A proposal whose slot was filled by another entry can never apply.
	for _, w := range p.proposals {
		if w.index != 0 && w.index <= p.storage.apply.applied {
			delete(p.proposals, w.id)
			out = append(out, completion{done: w.done, err: ErrProposalDropped, prop: w})
		}
	}
	return out, n, nil
}

// applyAdmin applies an admin command at log index idx.
func (p *peer) applyAdmin(idx uint64, cmd []byte) error {
	if len(cmd) == 0 {
		return fmt.Errorf("%w: region %d entry %d: empty admin command", ErrCorrupt, p.region.ID, idx)
	}
	switch cmd[0] {
	case adminCompactLog:
		to, n := binary.Uvarint(cmd[1:])
		if n <= 0 || n != len(cmd)-1 || to >= idx {
			return fmt.Errorf("%w: region %d entry %d: bad compact-log command", ErrCorrupt, p.region.ID, idx)
		}
		p.compactProposed = false
		if to > p.storage.apply.truncIndex && to > p.compact {
			p.compact = to // written by the next round, after this entry is applied
		}
		return nil
	default:
		return fmt.Errorf("%w: region %d entry %d: unknown admin command %d", ErrCorrupt, p.region.ID, idx, cmd[0])
	}
}

// readsApplied completes the confirmed read batches whose index is applied.
func (p *peer) readsApplied(out []completion) []completion {
	keep := p.reads[:0]
	for _, rb := range p.reads {
		if !rb.confirmed || rb.index > p.storage.apply.applied {
			keep = append(keep, rb)
			continue
		}
		for _, r := range rb.waiters {
			out = append(out, completion{done: r.done})
		}
	}
	clear(p.reads[len(keep):])
	p.reads = keep
	return out
}

// failAll fails every waiter of the peer with err.
func (p *peer) failAll(err error, out []completion) []completion {
	for _, w := range p.proposals {
		out = append(out, completion{done: w.done, err: err, prop: w})
	}
	p.proposals = map[uint64]*proposal{}
	for _, rb := range p.reads {
		for _, r := range rb.waiters {
			out = append(out, completion{done: r.done, err: err})
		}
	}
	p.reads = nil
	for _, r := range p.newReads {
		out = append(out, completion{done: r.done, err: err})
	}
	p.newReads = nil
	return out
}
