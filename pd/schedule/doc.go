// Package schedule holds PD's schedulers as pure functions: a snapshot of
// the cluster (stores, regions) in, an operator (a sequence of steps for one
// region) out. The PD leader runs them, hands the current step to the
// region's leader with each heartbeat answer, and advances with Advance as
// heartbeats show steps done.
//
// Checkers and balancers:
//   - CheckReplicas keeps MaxReplicas voters on distinct healthy stores
//     (Up and not down): it adds a learner on the least-loaded healthy
//     store without a replica, promotes a caught-up learner, and removes
//     one extra or unhealthy peer at a time, never the leader (it transfers
//     leadership first) and never one whose removal leaves the healthy
//     voters short of a quorum.
//   - CheckSplit asks the leader to split a region above SplitBytes or
//     SplitKeys.
//   - BalanceLeaders moves one leader from the store with the most to the
//     one with the fewest when they differ by more than LeaderTolerance.
//   - BalanceRegions moves one replica from the store with the most
//     regions to the one with the fewest when they differ by more than
//     RegionTolerance (add learner, promote, remove).
//
// Both balancers count the remaining steps of the operators in flight
// (Cluster.Pending) as done, so they do not overshoot while a transfer
// waits to show in the new leader's heartbeat.
//
// New peers have ID 0 in the returned steps; the caller allocates an ID and
// fills it in (FillPeerID) before handing the operator out.
package schedule
