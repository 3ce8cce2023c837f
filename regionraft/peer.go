package regionraft

import (
	"encoding/binary"
	"fmt"
	"sync/atomic"
	"time"

	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"

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
//	2 command with epoch: uvarint proposal id, uvarint Epoch.Version the
//	  command was routed with, then the command (ProposeEpoch). Applied
//	  only if the version still matches at apply time.
//	3 split: see encodeSplit in split.go.
//	4 batch: uvarint count, then per command uvarint length and a type-2
//	  command (admin byte included). The raft goroutine packs the epoch
//	  commands proposed to a region in one round into one entry; each is
//	  applied (and epoch-checked, and acknowledged) as if it had its own.
//
// Conf change entries (EntryConfChangeV2) carry in their Context:
//
//	uint64 proposal id (big endian), uvarint number of peers, then per
//	peer uvarint ID, uvarint StoreID — the stores of the peers the change
//	adds (raft itself knows only peer ids). An empty Context is raft's own
//	leave-joint entry.
//
// An entry with empty data is raft's own no-op.
const proposalIDLen = 8

const (
	adminProposalID   uint64 = 0
	adminCompactLog   byte   = 1
	adminEpochCommand byte   = 2
	adminSplit        byte   = 3
	adminBatch        byte   = 4
)

// entryProposalIDs calls fn with each proposal id an entry carries (a
// batch carries several).
func entryProposalIDs(e *raftpb.Entry, fn func(id uint64)) {
	data := e.GetData()
	switch e.GetType() {
	case raftpb.EntryNormal:
		if len(data) < proposalIDLen {
			return
		}
		id := binary.BigEndian.Uint64(data)
		if id != adminProposalID {
			fn(id)
			return
		}
		if len(data) == proposalIDLen {
			return
		}
		switch cmd := data[proposalIDLen:]; cmd[0] {
		case adminEpochCommand, adminSplit:
			if id, n := binary.Uvarint(cmd[1:]); n > 0 {
				fn(id)
			}
		case adminBatch:
			subs, _ := splitBatch(cmd[1:]) // a malformed one fails at apply
			for _, sub := range subs {
				if id, n := binary.Uvarint(sub[1:]); n > 0 {
					fn(id)
				}
			}
		}
	case raftpb.EntryConfChangeV2:
		cc := &raftpb.ConfChangeV2{}
		if proto.Unmarshal(data, cc) == nil && len(cc.GetContext()) >= proposalIDLen {
			fn(binary.BigEndian.Uint64(cc.GetContext()))
		}
	}
}

// encodeBatch packs epoch-command proposals into one admin entry.
func encodeBatch(props []*proposal) []byte {
	n := proposalIDLen + 1 + binary.MaxVarintLen64
	for _, pr := range props {
		n += binary.MaxVarintLen64 + len(pr.data) - proposalIDLen
	}
	b := make([]byte, proposalIDLen, n)
	b = append(b, adminBatch)
	b = binary.AppendUvarint(b, uint64(len(props)))
	for _, pr := range props {
		sub := pr.data[proposalIDLen:]
		b = binary.AppendUvarint(b, uint64(len(sub)))
		b = append(b, sub...)
	}
	return b
}

// splitBatch returns the commands of a batch (each from its admin byte
// on); an error if the batch is malformed.
func splitBatch(b []byte) ([][]byte, error) {
	count, n := binary.Uvarint(b)
	if n <= 0 || count > uint64(len(b)) {
		return nil, errShort
	}
	b = b[n:]
	subs := make([][]byte, 0, count)
	for i := uint64(0); i < count; i++ {
		l, n := binary.Uvarint(b)
		if n <= 0 || l == 0 || uint64(len(b)-n) < l {
			return nil, errShort
		}
		sub := b[n : n+int(l)]
		if sub[0] != adminEpochCommand {
			return nil, fmt.Errorf("batched admin command %d", sub[0])
		}
		subs = append(subs, sub)
		b = b[n+int(l):]
	}
	if len(b) != 0 {
		return nil, fmt.Errorf("%d bytes after a batch of %d", len(b), count)
	}
	return subs, nil
}

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
	// conf: a ChangePeers proposal; split: a Split proposal.
	conf, split bool
	// checkVersion: a ProposeEpoch proposal routed with epoch version
	// version, refused at propose time when it is stale.
	checkVersion bool
	version      uint64
	splitResult  *[2]Region // set when a split proposal applies
	done         chan error // buffered 1
}

// readRequest is one ReadBarrier or FollowerReadBarrier call.
type readRequest struct {
	regionID uint64
	// anyReplica: a FollowerReadBarrier call, which a follower or learner
	// may answer (its ReadIndex is forwarded to the leader).
	anyReplica bool
	// byFollower is set by the raft goroutine when a non-leader peer took
	// the request (for the follower-read metric).
	byFollower atomic.Bool
	done       chan error // buffered 1
}

// readBatch groups the read requests of one region issued in one loop round
// under one raft ReadIndex request.
type readBatch struct {
	// ctx identifies the request in raft (its ReadIndex context): always
	// readContextLen bytes, never a hibernation marker's length.
	ctx       uint64
	index     uint64
	confirmed bool
	lead      uint64 // raft id of the leader when issued (self on a leader)
	issuedAt  uint64 // Store.tickNo when the ReadIndex was issued
	waiters   []*readRequest
	// byLeader: issued by a leader, in raft term term, at sentAt (before
	// its heartbeats left); its confirmation extends the lease (lease.go).
	byLeader bool
	term     uint64
	sentAt   time.Time
}

// readContextLen is the length of a read request's raft context. Hibernation
// markers (hibernate.go) are 5 or 13 bytes, so the two never mix up.
const readContextLen = 8

// readContext encodes a read batch's id as its raft ReadIndex context.
func readContext(id uint64) []byte {
	return binary.BigEndian.AppendUint64(make([]byte, 0, readContextLen), id)
}

// readContextID decodes a ReadIndex context; false when it is not one of ours.
func readContextID(ctx []byte) (uint64, bool) {
	if len(ctx) != readContextLen {
		return 0, false
	}
	return binary.BigEndian.Uint64(ctx), true
}

// peer is the local replica of one region. Owned by the raft goroutine.
type peer struct {
	region  Region
	self    Peer
	storage *peerStorage
	rn      *raft.RawNode

	proposals map[uint64]*proposal
	// batch holds this round's epoch commands, proposed as one entry
	// when the round starts (flushBatch); batchBytes is their size.
	batch      []*proposal
	batchBytes int
	reads      []*readBatch
	newReads   []*readRequest

	lead    uint64 // raft id of the leader, 0 if unknown
	state   raft.StateType
	compact uint64 // scheduled log truncation point, 0 if none
	// compactProposed is set while this leader's compact-log command is in
	// flight, so one is proposed at a time.
	compactProposed bool
	dirty           bool // apply state changed in this round
	// appliedTerm is the term of the last entry applied by this incarnation
	// (0 before the first); soloPublished and writePublished mirror
	// regionInfo.soloLeader and regionInfo.writeReady.
	appliedTerm    uint64
	soloPublished  bool
	writePublished bool

	// initialized: the peer has a range and a log (bootstrapped, split off
	// or restored from a snapshot). An uninitialized peer was created by a
	// leader's message and can only accept a snapshot.
	initialized bool
	// knownPeers remembers every peer seen (past members, message senders)
	// so that messages can still be addressed to peers not in region.Peers.
	knownPeers map[uint64]Peer
	// removed: an applied conf change removed this peer; the round destroys
	// it once its batches are committed.
	removed bool
	// regionChanged: the descriptor changed this round; publish it.
	regionChanged bool
	// jointWaiters are ChangePeers calls whose joint change was entered;
	// they complete when the joint state is left.
	jointWaiters []*proposal
	// snaps pins the engine snapshots taken by peerStorage.Snapshot this
	// round, by raft snapshot index, until the MsgSnaps are handed out.
	snaps map[uint64]*pinnedSnapshot
	// receiving: non-zero (the call's token) while ReceiveSnapshot writes
	// this region's data.
	receiving uint64
	// frozen: an initialized peer whose data a snapshot is replacing: it
	// neither ticks nor steps messages nor handles Ready (raft's state stays
	// as it was, log included) until the snapshot is stepped.
	frozen bool
	// quarantined: the replacement of its data failed half-way (or a crash
	// interrupted it): the peer stays frozen and unpublished until it is
	// replaced (a newer peer id of the region on this store) or removed.
	quarantined bool
	// expectSnap is the received snapshot stepped into raft, waiting for
	// its Ready.
	expectSnap *expectedSnapshot
	// extraMsgs are messages built outside raft (the final commit notice to
	// a removed follower), sent with the round's messages.
	extraMsgs []RaftMessage
	// adminAcks complete ChangePeers and Split calls at the end of the
	// round, after the new descriptors are published.
	adminAcks []completion
	// splitPeers are the new regions' peers created by splits applied this
	// round, registered once the round's batches are committed.
	splitPeers []splitPeer
	// expectRegion is the descriptor of the snapshot being received.
	expectRegion *Region
	// splitTick is the store tick (plus one) at which a split created this
	// peer; 0 for other peers. For a while after it, and while the
	// membership is still the one of the split (splitConfVer), this peer
	// sends no snapshot (snapshotHook): see splitSnapshotGraceTicks.
	splitTick    uint64
	splitConfVer uint64

	// Hibernation (hibernate.go). hibernated: not ticked (not in
	// Store.awake). idleTicks: consecutive idle ticks of an awake leader.
	// checkAt: the tick at which a hibernated follower wakes to check its
	// leader. leaseAcks (nil when none is pending): the voters that echoed
	// leaseNonce since this leader woke; its reads wait for a quorum.
	hibernated bool
	idleTicks  int
	checkAt    uint64
	leaseNonce uint64
	leaseAcks  map[uint64]bool

	// Leader lease (lease.go). leaseUntil: reads need no ReadIndex round
	// before it (zero when none). leaseVoidAt: the last time the lease was
	// voided; rounds sent before it do not extend it. lastReadAck: when a
	// heartbeat carrying a ReadIndex context (what a lease rests on) was
	// last stepped; the creation time before the first. voteGuardUntil: a
	// peer loaded from disk refuses unforced votes until then.
	// transferTerm: the last term in which this peer, leading, began a
	// leader transfer: no lease in it.
	leaseUntil     time.Time
	leaseVoidAt    time.Time
	transferTerm   uint64
	lastReadAck    time.Time
	voteGuardUntil time.Time
}

// expectedSnapshot is a received snapshot whose data are in the engine,
// stepped into raft and waiting for the Ready that persists its state.
type expectedSnapshot struct {
	index, term uint64
	region      Region
	done        chan error
}

func newPeer(cfg *Config, region Region) (*peer, error) {
	self, ok := region.PeerOnStore(cfg.StoreID)
	if !ok {
		return nil, fmt.Errorf("%w: region %d has no peer on store %d", ErrInvalidRegion, region.ID, cfg.StoreID)
	}
	p := &peer{region: region, self: self, proposals: map[uint64]*proposal{}, initialized: true, knownPeers: map[uint64]Peer{},
		lastReadAck: time.Now()}
	ps, err := loadPeerStorage(cfg.Engine, &p.region, cfg.EntryCacheSize)
	if err != nil {
		return nil, err
	}
	p.storage = ps
	return p, p.newRawNode(cfg)
}

// newUninitPeer creates the peer self of regionID from a leader's message.
func newUninitPeer(cfg *Config, regionID uint64, self Peer) (*peer, error) {
	p := &peer{region: Region{ID: regionID}, self: self, proposals: map[uint64]*proposal{}, knownPeers: map[uint64]Peer{},
		lastReadAck: time.Now()}
	ps, err := newUninitStorage(cfg.Engine, &p.region, cfg.EntryCacheSize)
	if err != nil {
		return nil, err
	}
	p.storage = ps
	return p, p.newRawNode(cfg)
}

func (p *peer) newRawNode(cfg *Config) error {
	ps := p.storage
	self := p.self
	region := p.region
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
		// Safe reads: ReadIndex confirms leadership with a heartbeat round
		// (one per batch of reads). raft's lease-based reads are not safe
		// with CheckQuorum alone: a partitioned leader keeps answering for
		// up to two election timeouts while the majority may elect a new
		// leader after one; see doc.go. The confirmed rounds feed this
		// package's own leader lease instead (lease.go).
		ReadOnlyOption: raft.ReadOnlySafe,
		// Proposals are only accepted by the leader; Propose on a follower
		// returns NotLeaderError so the router can redirect.
		DisableProposalForwarding: true,
		Logger:                    cfg.Logger,
	})
	if err != nil {
		return fmt.Errorf("regionraft: region %d: %w", region.ID, err)
	}
	p.rn = rn
	for _, q := range region.Peers {
		p.knownPeers[q.ID] = q
	}
	return nil
}

// peerByID finds a peer among the members, then among the peers seen.
func (p *peer) peerByID(id uint64) (Peer, bool) {
	if q, ok := p.region.PeerByID(id); ok {
		return q, true
	}
	q, ok := p.knownPeers[id]
	return q, ok
}

func (p *peer) leaderPeer() Peer {
	lp, _ := p.peerByID(p.lead)
	return lp
}

// notLeader returns a *NotLeaderError unless raft's current state (which
// may be newer than the last Ready's) is leader.
func (p *peer) notLeader() error {
	st := p.rn.BasicStatus()
	if st.RaftState == raft.StateLeader {
		return nil
	}
	lp, _ := p.peerByID(st.Lead)
	return &NotLeaderError{RegionID: p.region.ID, Leader: lp}
}

func (p *peer) isLeader() bool { return p.state == raft.StateLeader }

// soloVoter reports whether this peer is the region's only voter.
func (p *peer) soloVoter() bool {
	cs := p.storage.cs
	return len(cs.GetVoters()) == 1 && cs.GetVoters()[0] == p.self.ID && len(cs.GetVotersOutgoing()) == 0
}

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
		entryProposalIDs(e, func(id uint64) {
			if w := p.proposals[id]; w != nil && w.index == 0 {
				w.index, w.term = e.GetIndex(), e.GetTerm()
			}
		})
	}
	return out
}

// applyEntries applies committed entries into b and returns the proposals to
// acknowledge once b is committed. Entries after the one that removes this
// peer are not applied: the peer is destroyed at the end of the round.
func (s *Store) applyEntries(p *peer, b engine.Batch, ents []*raftpb.Entry, out []completion) ([]completion, int, error) {
	n := 0
	for _, e := range ents {
		if p.removed {
			break
		}
		idx := e.GetIndex()
		if idx <= p.storage.apply.applied {
			continue
		}
		if idx != p.storage.apply.applied+1 {
			return out, n, fmt.Errorf("regionraft: region %d applies entry %d after %d", p.region.ID, idx, p.storage.apply.applied)
		}
		var err error
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
				out, err = s.applyAdmin(p, b, e, data[proposalIDLen:], out)
				break
			}
			if err = s.cfg.Applier.Apply(b, &p.region, idx, data[proposalIDLen:]); err != nil {
				err = fmt.Errorf("regionraft: region %d apply entry %d: %w", p.region.ID, idx, err)
				break
			}
			if w := p.proposals[binary.BigEndian.Uint64(data)]; w != nil {
				delete(p.proposals, w.id)
				out = append(out, completion{done: w.done, prop: w})
			}
		case raftpb.EntryConfChangeV2:
			out, err = s.applyConfChange(p, b, e, out)
		default:
			err = fmt.Errorf("regionraft: region %d entry %d: unsupported entry type %v", p.region.ID, idx, e.GetType())
		}
		if err != nil {
			return out, n, err
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

// applyAdmin applies an admin command (entry e, payload cmd after the zero
// proposal id).
func (s *Store) applyAdmin(p *peer, b engine.Batch, e *raftpb.Entry, cmd []byte, out []completion) ([]completion, error) {
	idx := e.GetIndex()
	if len(cmd) == 0 {
		return out, fmt.Errorf("%w: region %d entry %d: empty admin command", ErrCorrupt, p.region.ID, idx)
	}
	switch cmd[0] {
	case adminCompactLog:
		to, n := binary.Uvarint(cmd[1:])
		if n <= 0 || n != len(cmd)-1 || to >= idx {
			return out, fmt.Errorf("%w: region %d entry %d: bad compact-log command", ErrCorrupt, p.region.ID, idx)
		}
		p.compactProposed = false
		if to > p.storage.apply.truncIndex && to > p.compact {
			p.compact = to // written by the next round, after this entry is applied
		}
		return out, nil
	case adminEpochCommand:
		id, version, body, err := decodeEpochCommand(cmd[1:])
		if err != nil {
			return out, fmt.Errorf("%w: region %d entry %d: %v", ErrCorrupt, p.region.ID, idx, err)
		}
		w := p.proposals[id]
		if w != nil {
			delete(p.proposals, id)
		}
		// The apply-time epoch check: a split applied between proposal and
		// this entry changed the range; every replica skips the command
		// alike (the version is part of the replicated state).
		if version != p.region.Epoch.Version {
			if w != nil {
				out = append(out, completion{done: w.done, prop: w, err: s.epochError(p)})
			}
			return out, nil
		}
		if err := s.cfg.Applier.Apply(b, &p.region, idx, body); err != nil {
			return out, fmt.Errorf("regionraft: region %d apply entry %d: %w", p.region.ID, idx, err)
		}
		if w != nil {
			out = append(out, completion{done: w.done, prop: w})
		}
		return out, nil
	case adminSplit:
		return s.applySplit(p, b, e, cmd[1:], out)
	case adminBatch:
		subs, err := splitBatch(cmd[1:])
		if err != nil {
			return out, fmt.Errorf("%w: region %d entry %d: %v", ErrCorrupt, p.region.ID, idx, err)
		}
		for _, sub := range subs {
			if out, err = s.applyAdmin(p, b, e, sub, out); err != nil {
				return out, err
			}
		}
		return out, nil
	default:
		return out, fmt.Errorf("%w: region %d entry %d: unknown admin command %d", ErrCorrupt, p.region.ID, idx, cmd[0])
	}
}

func encodeEpochCommand(id, version uint64, cmd []byte) []byte {
	b := make([]byte, proposalIDLen, proposalIDLen+21+len(cmd))
	b = append(b, adminEpochCommand)
	b = binary.AppendUvarint(b, id)
	b = binary.AppendUvarint(b, version)
	return append(b, cmd...)
}

func decodeEpochCommand(b []byte) (id, version uint64, cmd []byte, err error) {
	id, n := binary.Uvarint(b)
	if n <= 0 {
		return 0, 0, nil, errShort
	}
	b = b[n:]
	version, n = binary.Uvarint(b)
	if n <= 0 {
		return 0, 0, nil, errShort
	}
	return id, version, b[n:], nil
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

// dropUnconfirmedReads fails with ErrReadDropped the read batches that have
// no read index yet and were not sent to lead (the current leader).
func (p *peer) dropUnconfirmedReads(out []completion, lead uint64) []completion {
	keep := p.reads[:0]
	for _, rb := range p.reads {
		if rb.confirmed || rb.lead == lead {
			keep = append(keep, rb)
			continue
		}
		for _, r := range rb.waiters {
			out = append(out, completion{done: r.done, err: fmt.Errorf("%w: region %d: leader changed", ErrReadDropped, p.region.ID)})
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
	for _, w := range p.jointWaiters {
		out = append(out, completion{done: w.done, err: err, prop: w})
	}
	p.jointWaiters = nil
	for _, a := range p.adminAcks {
		out = append(out, completion{done: a.done, err: err, prop: a.prop})
	}
	p.adminAcks = nil
	if p.expectSnap != nil {
		out = append(out, completion{done: p.expectSnap.done, err: err})
		p.expectSnap = nil
	}
	return out
}
