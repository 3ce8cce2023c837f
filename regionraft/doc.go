// Package regionraft runs this node's replicas ("peers") of key-range
// regions, each region one etcd raft group (go.etcd.io/raft/v3 RawNode), all
// persisted in the node's single engine.
//
// # What it owns
//
//   - The raft state of every local region under the node-local keys of
//     mvcc/keys: log entries (RaftLogKey), hard state (RaftHardStateKey,
//     raftpb.HardState protobuf), apply state (RaftApplyStateKey: applied
//     index + truncated index/term, frozen format in storage.go), the raft
//     ConfState once a conf change or snapshot was applied
//     (RaftConfStateKey, raftpb.ConfState protobuf), the region descriptor
//     (RegionStateKey, frozen format in region.go), the tombstones of
//     destroyed peers (RegionTombstoneKey: uvarint removed peer id) and the
//     mark of a region whose data a snapshot is replacing
//     (RaftSnapshotPendingKey).
//   - The raft loop, proposal/read waiters, raft log GC and metrics;
//     membership changes, snapshots (stream format in snapshot.go), leader
//     transfer, splits and region epochs.
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
//	err = s.ProposeEpoch(ctx, regionID, epoch, cmd) // same, refused if epoch is stale
//	err = s.ReadBarrier(ctx, regionID)   // then read the engine
//	err = s.FollowerReadBarrier(ctx, regionID) // same, on any replica
//	s.Stop()                         // then close the engine
//
// Administration (on the region's leader; each returns once applied here):
//
//	s.ChangePeers(ctx, regionID, []PeerChange{{AddLearner, peer}})
//	s.ChangePeers(ctx, regionID, []PeerChange{{AddVoter, peer}, {RemovePeer, old}}) // joint
//	s.TransferLeader(ctx, regionID, toPeerID)
//	key, err := s.SplitKey(regionID) // a Redis-key (preferably slot) boundary
//	left, right, err := s.Split(ctx, regionID, epoch, key, newID, newPeerIDs)
//
// The transport of a receiving store hands snapshots to
// s.ReceiveSnapshot(ctx, msgSnap, stream) and every other message to
// s.Step(m). s.QuarantinedRegions() lists local replicas that need
// replacing; s.ApproximateSize(regionID) feeds the split checker.
//
// # The loop and its invariants
//
// One goroutine owns every peer, RawNode and raft.Storage. A round drains
// everything queued (proposals, reads, incoming messages, ticks, bounded by
// Config.MaxBatchProposals) into the RawNodes, then takes every region's
// Ready and writes two engine batches. The ProposeEpoch commands a region
// got in the round go into one log entry (an admin "batch" command, up to
// MaxSizePerMsg/4 bytes), each applied, epoch-checked and acknowledged as if
// it had its own (docs/decisions/0009):
//
//   - the apply batch: the effects of committed entries that were already
//     durable in this store's log before the round (Applier.Apply) and the
//     new apply state, committed WITHOUT sync on a helper goroutine, which
//     then completes those proposals;
//   - the log batch: new log entries and hard states of every region (and,
//     for a region with a committed entry not yet durable here, all of its
//     committed entries, applied after their append), committed by the
//     loop goroutine itself with sync=true when any Ready requires it: one
//     fsync for all regions (group commit).
//
// The two batches commit in no set order, so everything one region writes
// in a round (effects, apply state, log truncation) goes into one of them.
//
// Both run at the same time; the round joins them, then sends messages
// (followers acknowledge only persisted entries), completes the remaining
// waiters and advances the RawNodes. A steady leader's messages (its Ready
// changes neither term nor vote) leave before the log batch is committed,
// so followers append in parallel with the leader's fsync (Raft thesis
// 10.2.1; etcd does the same): an entry commits once a quorum persisted
// it, which need not include the leader, and the leader applies only
// entries durable in its own log.
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
//   - Reads: the reads queued for a region in one round share one raft
//     ReadIndex, whose context is an 8-byte id unique across stores
//     (random incarnation + counter: a leader's raft ignores a read whose
//     context is already pending, and followers' requests reach it too).
//     Hibernation markers are 5 or 13 bytes, so the two never mix up. A
//     read completes once the index is confirmed and applied here.
//   - Leader lease (lease.go): a confirmed round sent by the leader at t
//     lets ReadBarrier answer at once, without entering the loop, until
//     t+leaseDuration (0.8 x (ElectionTick-2) ticks: 720 ms at the
//     defaults), on a leader that has applied an entry of its own term.
//     Reads in the second half of the lease queue one renewal round (no
//     waiter) per quarter lease, so steady reads never wait for a round.
//   - Follower reads (FollowerReadBarrier): on a follower or learner the
//     ReadIndex goes to the leader as MsgReadIndex; the leader confirms its
//     leadership with a quorum heartbeat round, answers its commit index,
//     and the follower completes the read once it applied that index. The
//     engine then holds every write acknowledged before the call: never
//     stale. raft drops the request silently when the follower knows no
//     leader (refused up front with *NotLeaderError) and never resends it,
//     so an unconfirmed follower read fails with ErrReadDropped when the
//     follower's leader changes, and any read of a non-leader peer fails
//     so after 2*ElectionTick ticks (lost request or answer, a follower cut
//     off from the leader). A request wakes a hibernated follower, and its
//     MsgReadIndex the hibernated leader; a peer with reads does not sleep.
//   - Proposals are identified by an 8-byte id prefixed to the entry data
//     (random per Store incarnation + counter). A proposal whose log slot is
//     overwritten by another leader's entry fails with ErrProposalDropped.
//   - Effects of commands applied in the same round are not visible to
//     Applier reads of the engine (they are in the uncommitted batch):
//     appliers should write modifications computed at proposal time.
//   - Log GC: once more than Config.RaftLogGCThreshold applied entries, or
//     about Config.RaftLogGCSizeLimit bytes of log, are kept (a batch entry
//     carries a round's commands, so a count alone does not bound the log;
//     the entry cache is bounded in bytes too), the leader proposes a
//     compact-log admin entry; each replica
//     deletes the entries up to it and records the truncated index and term
//     in the apply state, in one batch. The leader keeps what followers
//     still need, but never more than RaftLogGCThreshold applied entries: a
//     follower further behind (or a new one) gets a snapshot.
//
// # Membership
//
// ChangePeers proposes a raft ConfChangeV2 (one change: simple; more: joint
// consensus, left automatically by raft). The entry's Context carries the
// proposal id and the stores of the peers named. Applied on every replica
// at the same index, it updates raft's configuration (ApplyConfChange), the
// descriptor (members of both halves of a joint configuration are listed; a
// peer votes unless it is a learner in both; Epoch.ConfVer+1) and the
// ConfState, both in the batch of the applied index. The leader refuses to
// remove or demote itself and to leave no voter; one change at a time
// (ErrConfChangePending).
//
// A peer that applies its own removal writes a tombstone in the same batch
// and is destroyed at the end of the round (one synced batch: raft state,
// descriptor and, unless another local region overlaps them, its data); a
// restart finishes a destruction cut short. The leader tells a removed
// follower that holds the entry that it is committed (a heartbeat carrying
// the commit index), as raft would send it nothing more. A peer removed
// while cut off from the leader does not learn it; it is destroyed when a
// message arrives for a newer peer of the region on this store (peer ids
// only grow: the store then holds a superseded peer), otherwise it lingers,
// harmless but idle, until a stale-peer check with PD (future work).
//
// A message from a leader (MsgApp, MsgHeartbeat) for a region with no local
// peer, addressed to this store and to a peer id above the region's
// tombstone, creates an uninitialized peer: no range, empty ConfState, not
// published (Propose and RegionForKeys do not see it). It only waits for a
// snapshot. It is not persisted: after a restart the next message creates it
// again, reloading the hard state the rounds persisted (so a vote is never
// forgotten).
//
// # Snapshots
//
// peerStorage.Snapshot returns the applied index/term/ConfState with the
// encoded descriptor as data, and pins an engine snapshot of the same state
// (only outside a round: during one the engine lags the in-memory applied
// index, and raft is told to retry). The MsgSnap goes to
// Transport.SendSnapshot with a stream of the region's records read from the
// pin (snapshot.go: framed, versioned, CRC-32C); the outcome is reported to
// raft (ReportSnapshot) on the raft goroutine.
//
// ReceiveSnapshot (crash-safe order, see its comment) never rolls back
// raft's in-memory state (a follower must not lose log entries it
// acknowledged): an initialized peer is frozen while its data are
// replaced, then the MsgSnap is stepped into the same RawNode, whose Ready
// writes descriptor, ConfState, apply state (applied = truncated = snapshot
// index), hard state and the deletion of the old log in one synced batch.
// The records go to table files ingested at once after the whole stream is
// verified when the engine is an engine.SSTIngester (Pebble), else to
// batches bounded by Config.SnapshotBatchBytes. Before the first write to
// an initialized peer's data a pending mark is made durable; a transfer
// that fails after it, or a crash before the final batch, leaves the peer
// quarantined (frozen, unpublished, listed by QuarantinedRegions, also
// after a restart) until the region replaces or removes it. An
// uninitialized peer's partial data are simply unreferenced. A snapshot
// overlapping another local region is refused.
//
// # Split and epochs
//
// Split proposes an admin entry; every replica applies it atomically: the
// region keeps its id and [StartKey, splitKey), the new region gets
// [splitKey, EndKey) on the same stores with the given peer ids, both
// Epoch.Version+1; both descriptors and the new region's initial raft state
// are in the batch of the applied index, and the new peer is registered
// after the round (replacing an uninitialized one, keeping its term and
// vote). The replica that led the old region campaigns for the new one.
// SplitKey picks a Redis-key (preferably slot) boundary near the middle of
// the region's records; ApproximateSize scans the region.
//
// ProposeEpoch carries the epoch version the request was routed with. It is
// checked when proposed and again when applied: the version is replicated
// state, so a command that a split overtook in the log is skipped alike on
// every replica (never handed to the Applier) and its caller gets
// *EpochNotMatchError with the current descriptors.
//
// # Hibernation
//
// Idle regions hibernate (TiKV's hibernate regions; hibernate.go): their
// peers are not ticked, so they send no heartbeats and run no election
// timers. The loop ticks only the awake peers and each round visits only
// the awake peers and those that received something (a message, request,
// new peer) since the last round — every peer after a queued task (admin
// calls, snapshot reports), which may touch any of them. An idle store's
// cost does not grow with its regions: 10,000 idle single-voter regions
// use about 0.6% of a core, against 34% with every peer ticking
// (BenchmarkIdleRegions in internal/disktest).
//
//   - A leader hibernates after Config.HibernateTicks consecutive idle
//     ticks: no waiter (proposal, read, admin call), every entry applied,
//     every peer (learners too) replicating with Match = last index, no
//     leader transfer, joint state, pending snapshot or log compaction. It
//     sends each peer a heartbeat marked "hibernate" in its Context
//     (hibernate.go: the transport carries raftpb.Message only, and raft
//     ignores heartbeat Contexts on a lease-read leader; the follower
//     echoes them), and stops ticking.
//   - A follower (or learner) receiving that heartbeat from its leader in
//     its term stops ticking too (raft reset its election timer).
//   - Any proposal or read, any incoming message other than a hibernate
//     heartbeat or a heartbeat response, and any Ready with entries, a
//     snapshot, a role change or a non-heartbeat message (an admin task's
//     work) wakes a peer: it ticks again, exactly as before.
//   - A hibernated follower wakes after a random [HibernateCheckTicks,
//     2*HibernateCheckTicks) ticks and sends its leader a probe (a marked
//     heartbeat response); a live hibernated leader answers with a
//     hibernate heartbeat and the follower sleeps again, without an
//     election or waking the leader. If the leader is gone, the follower's
//     election timer runs. A crashed leader of an idle region is therefore
//     replaced within about 2*HibernateCheckTicks + 2*ElectionTick ticks
//     when nobody asks for it.
//   - A request (proposal or read) on a hibernated follower wakes it,
//     probes the leader and runs its election clock to a fifth of the
//     election timeout (at least two ticks) short of it (wakeForRequest):
//     a live leader answers the probe long before that, a dead one is
//     replaced within about one election timeout.
//   - A hibernated follower woken by another peer's (pre-)vote runs its
//     election clock past the election timeout before stepping it
//     (wakeForCampaign): it has heard nothing from the leader since it fell
//     asleep, so the frozen lease would make it refuse the vote for one
//     more election timeout. With both, a crashed idle region's leader is
//     replaced about as fast as a busy one's (cluster
//     TestIdleRegionLeaderCrash: 1.1-1.9 s, was 4-4.5 s). Neither runs
//     the clock forward on a follower that answered a ReadIndex heartbeat
//     less than an election timeout ago: a leader's read lease may rest on
//     that answer. A leader voids its lease when it hibernates.
//   - A hibernated leader's election clock stands still, so its
//     CheckQuorum lease proves nothing when it wakes (its followers may
//     have elected another leader meanwhile). A leader with other voters
//     woken from hibernation holds its reads until a quorum of voters
//     echoed a heartbeat carrying a fresh nonce in its term (marked
//     Context, resent with raft's heartbeats); losing leadership fails
//     them with *NotLeaderError. Proposals need no such check.
//   - A hibernated leader does not look for a newer leader itself: cut off,
//     it keeps calling itself leader (Leader reports it) until traffic
//     wakes it and raft's CheckQuorum steps it down.
//   - Config.DisableHibernation keeps every peer awake; all stores of a
//     cluster should agree on it (a store with it set ignores hibernate
//     heartbeats, so its followers keep waking their leaders).
//
// # Raft settings
//
// PreVote and CheckQuorum are on. Rounds use ReadOnlySafe: ReadIndex
// confirms the leadership with a heartbeat round (one per batch of reads
// queued in a round). raft's ReadOnlyLeaseBased is NOT safe here:
// CheckQuorum steps a partitioned leader down only after up to two election
// timeouts, while the majority may elect a new leader after one, so the old
// leader would answer stale reads in between (cluster TestMinorityPartition
// caught it), and a stalled leader never steps down at all. The leader
// lease above is TiKV's instead: measured on the leader's monotonic clock
// from the send time of a round a quorum acknowledged, shorter than the
// time any acknowledging voter's timer takes to reach the election
// timeout (before which raft refuses it to any unforced candidate), void
// from the moment leadership is handed on (TransferLeader, MsgTimeoutNow:
// then for the rest of the term), the membership
// changes, or the leader hibernates or steps down; a replica loaded from
// disk refuses unforced votes for an election timeout (it may have
// answered a round just before a crash). Config.DisableLeaseReads turns it
// off. regionraft TestLeaseReadNeverStale stalls a cut-off leader's loop
// (so CheckQuorum cannot step it down) and checks that no read it passed
// began after the new leader's first write was acknowledged. Proposal forwarding is
// disabled: a follower answers *NotLeaderError to Propose and ReadBarrier;
// only FollowerReadBarrier lets raft forward its ReadIndex to the leader.
//
// A new region starts at log index 5, term 5 with a ConfState built from its
// descriptor on every replica (no bootstrap conf-change entries). A region
// whose only voter is local campaigns at Start.
//
// Not yet: merge, multiple raft workers, waking at once the regions whose
// leader's store is known to be down (TiKV's store-unreachable event), a
// PD-driven check for peers removed while partitioned and never re-added
// here.
package regionraft
