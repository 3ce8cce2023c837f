// Package pd is Skerry's placement driver (DESIGN.md §7): one, three or
// five embedded etcd members that keep the cluster's metadata; the member
// elected PD leader serves the timestamp oracle (TSO), ID allocation,
// bootstrap, store and region heartbeats, and the schedulers. Other
// packages never import pd (except the node, which starts it); they use
// pd/pdclient, whose Backend interface *Server implements in-process and
// pdclient.Dial implements over gRPC.
//
// Sub-packages: pd/meta is the region tree (pure), pd/schedule the
// schedulers (pure: cluster state in, operators out).
//
// Lifecycle: Start(ctx, cfg) starts etcd under cfg.DataDir (a multi-member
// PD needs a quorum of members started, so start them together), waits
// until it is ready, loads or creates the cluster ID, and joins the
// leader election; it returns once some member serves as PD leader. Close
// hands etcd's raft leadership to another member (if this member leads
// both PD and etcd), then resigns the PD leadership (if held) and stops
// etcd: in that order, the successor's takeover never races etcd's own
// leader change, whose dropped requests stalled it for a whole
// LeaderLease. A Server is not
// restartable; Start a new one on the same DataDir instead.
//
// Leadership (leader.go): every member campaigns in an etcd election
// (concurrency.Election on a session lease of cfg.LeaderLease) with its
// client URL as the value. The winner checks its election key still
// exists, loads the TSO window, the ID allocator, the stores and the
// region tree from etcd (within one LeaderLease, else it resigns and
// campaigns again: a member must not hold the key without serving), and
// only then serves. It renews the lease every
// LeaderLease/4 and serves only until the last successful renewal's send
// time + 90% of the TTL: etcd expires the lease no earlier, so a deposed
// leader stops issuing timestamps before a successor can start. Losing
// the session, the window or ctx ends the term; the member resigns and
// campaigns again. Followers answer every call (but ClusterID) with a
// *pdclient.NotLeaderError holding the leader's client URL, read from the
// election key. The winner answers with "leader unknown" (an empty URL,
// never its own) while it loads: followers already name it, so pdclient
// backs off and goes back to it, and the call succeeds once it serves.
//
// gRPC (service.go, pdclient/wire.go): the PD service is registered on
// etcd's own gRPC server through embed.Config.ServiceRegister, so it
// shares the client port (as in TiKV's PD). The service is described by
// hand (grpc.ServiceDesc, no protoc). etcd forces a protobuf codec on its
// gRPC server, so every message is a pdclient.Frame: JSON bytes that
// marshal themselves through protobuf's legacy-message methods. JSON is
// enough since GetTS, the only hot call, is batched by the client (one
// RPC for all waiting callers). Errors travel in the reply body (code,
// message, leader URL) so typed errors survive.
//
// Placement (placement.go): stores are registered with PutStore (Up),
// kept alive by StoreHeartbeat (down after MaxStoreDownTime without one)
// and moved Up -> Offline by SetStoreState; an Offline store that holds no
// replica becomes Tombstone on the next scheduling round. Region
// heartbeats feed the region tree; a heartbeat older than what PD knows
// fails with pdclient.ErrStaleRegion. Each region has at most one
// operator (a sequence of steps); RegionHeartbeat returns its current
// step until a heartbeat shows the step done, then the next; an operator
// older than OperatorTimeout is dropped. With no operator in flight, the
// heartbeat runs the replica checker (paused while fewer stores are
// healthy than MaxReplicas) and the split checker; every
// ScheduleInterval the leader balances leaders and regions (one operator
// each per round, paused likewise). AddOperator installs an
// administrative step (ctl split, transfer-leader), replacing the
// region's operator. Operators are not persisted: a new leader starts
// with none and the checkers recreate what is still needed.
//
// GC safe point (gc.go): GCSafePoint returns the point below which MVCC
// versions may be collected, advancing it first to
// min(TSO now - GCLifeTime, MinStartTS - 1 of every live store), where
// MinStartTS is what each store last reported in its heartbeat (a lower
// bound of the start ts of every transaction running on it or starting
// there later). It is persisted before it is returned and only grows.
// Stores that are Tombstone or down (no heartbeat for MaxStoreDownTime)
// do not count: a dead node's transactions cannot commit, and their locks
// are resolved by readers. A live store that has not reported to this
// leader yet (reports are kept in memory only) holds the safe point where
// it is until it reports or is down, so a new leader never passes a
// transaction the previous one was told about.
//
// Every etcd key and value format is in keys.go and frozen.
//
// Invariants:
//   - TSO: a timestamp is physical_ms<<18 | logical. Before any timestamp
//     with physical part p is issued, a window end >= p is persisted in
//     etcd; a new leader (or a restarted one) begins strictly above the
//     persisted end. So timestamps strictly increase across restarts and
//     leader changes, even when the clock goes backwards. The persisted
//     end only grows and is written with a compare-and-swap on the value
//     this leader last saw, so two would-be leaders cannot both extend
//     it; and no timestamp is issued after the leader's lease may have
//     expired.
//   - GetTS never writes to etcd while the window has room; the keeper
//     extends the window in the background before it runs out.
//   - IDs: allocated in blocks whose end is persisted (compare-and-swap)
//     before any ID of the block is returned; IDs are never 0 and never
//     reused across restarts or leader changes.
//   - Bootstrap happens at most once per cluster (one etcd transaction).
//   - Store and region metadata writes are etcd transactions conditioned
//     on the leader's election key: a deposed leader writes nothing.
//   - The region tree never holds overlapping regions and never goes back
//     to an older epoch.
//   - The GC safe point never goes backwards (a compare-and-swap on the
//     persisted value, conditioned on the election key), and it stays
//     below every start ts a live store reported as running.
package pd
