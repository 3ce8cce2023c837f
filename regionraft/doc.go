// Package regionraft runs this node's replicas ("peers") of key-range
// regions, each region one etcd raft group (go.etcd.io/raft/v3 RawNode), all
// persisted in the node's single engine.
//
// # What it owns
//
//   - The raft state of every local region under the node-local keys of
//     mvcc/keys: log entries (RaftLogKey), hard state (RaftHardStateKey,
//     raftpb.HardState protobuf), apply state (RaftApplyStateKey: applied
//     index + truncated index/term, frozen format in storage.go) and the
//     region descriptor (RegionStateKey, frozen format in region.go).
//   - The raft loop, proposal/read waiters, raft log GC and metrics.
//
// It does not own the data written by commands: an Applier (declared here,
// implemented above) turns each committed command into engine writes, and a
// Transport (declared here) carries raft messages between stores.
//
// # Usage
//
//	s, err := NewStore(cfg)          // loads every stored region
//	err = s.BootstrapRegion(region)  // new regions only (idempotent)
//	s.Start()
//	err = s.Propose(ctx, regionID, cmd)  // nil: committed, durable, applied here
//	err = s.ReadBarrier(ctx, regionID)   // then read the engine
//	s.Stop()                         // then close the engine
//
// # The loop and its invariants
//
// One goroutine owns every peer, RawNode and raft.Storage. A round drains
// everything queued (proposals, reads, incoming messages, ticks, bounded by
// Config.MaxBatchProposals) into the RawNodes, then takes every region's
// Ready and writes two engine batches:
//
//   - the apply batch: the effects of committed entries that were already
//     durable in this store's log before the round (Applier.Apply) and the
//     new apply state, committed WITHOUT sync on a helper goroutine, which
//     then completes those proposals;
//   - the log batch: new log entries and hard states of every region (and
//     the rare committed entries not yet durable here, applied after their
//     append), committed by the loop goroutine itself with sync=true when
//     any Ready requires it: one fsync for all regions (group commit).
//
// Both run at the same time; the round joins them, then sends messages
// (followers acknowledge only persisted entries), completes the remaining
// waiters and advances the RawNodes.
//
//   - A proposal is acknowledged only after its entry was fsynced (in an
//     earlier round's log batch) and its effects committed to the engine
//     in the same batch as the applied index. A crash never loses an
//     acknowledged command (its entry is durable; the unsynced apply is
//     replayed: on restart raft re-applies exactly the committed entries
//     above the persisted applied index) and never applies one twice.
//   - A single-voter leader answers ReadBarrier without a ReadIndex round,
//     but only once it has applied an entry of its own term, so that
//     entries acknowledged before a restart are re-applied first.
//   - Proposals are identified by an 8-byte id prefixed to the entry data
//     (random per Store incarnation + counter). A proposal whose log slot is
//     overwritten by another leader's entry fails with ErrProposalDropped.
//   - Effects of commands applied in the same round are not visible to
//     Applier reads of the engine (they are in the uncommitted batch):
//     appliers should write modifications computed at proposal time.
//   - Log GC: once more than Config.RaftLogGCThreshold applied entries are
//     kept, the next round deletes them and records the truncated index and
//     term in the apply state, in one batch. A leader keeps entries that
//     recently active followers still need (snapshots are not implemented).
//
// # Raft settings
//
// PreVote and CheckQuorum are on. Reads use ReadOnlyLeaseBased: the leader
// answers ReadIndex from its commit index while its CheckQuorum lease holds
// (no heartbeat round per read). This assumes clock drift well below the
// election timeout (1 s by default), as TiKV's lease reads do; switching to
// ReadOnlySafe costs one heartbeat round trip per read batch. Proposal
// forwarding is disabled: a follower answers *NotLeaderError.
//
// A new region starts at log index 5, term 5 with a ConfState built from its
// descriptor on every replica (no bootstrap conf-change entries). A region
// whose only voter is local campaigns at Start.
//
// Not yet: snapshots, conf changes, split/merge, hibernation, peer creation
// on incoming messages, multiple raft workers.
package regionraft
