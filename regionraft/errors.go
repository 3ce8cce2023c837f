package regionraft

import (
	"errors"
	"fmt"
)

var (
	// ErrStopped is returned by calls on a stopped Store, and by proposals and
	// reads that were pending when it stopped. A proposal failed this way may
	// still have been committed (and will be applied after a restart).
	ErrStopped = errors.New("regionraft: store stopped")
	// ErrRegionNotFound is returned for a region that has no peer on this store.
	ErrRegionNotFound = errors.New("regionraft: region not found")
	// ErrProposalDropped is returned when a proposal's entry was not committed:
	// raft refused it, or a new leader overwrote it. The command had no effect.
	ErrProposalDropped = errors.New("regionraft: proposal dropped")
	// ErrOutcomeUnknown is wrapped by the error of a proposal whose peer was
	// reset by a snapshot or destroyed while it waited: the command may or
	// may not have been committed (and applied on the other replicas).
	ErrOutcomeUnknown = errors.New("regionraft: proposal outcome unknown")
	// ErrReadDropped is returned by ReadBarrier when leadership changed before
	// the read index was confirmed; the caller may retry.
	ErrReadDropped = errors.New("regionraft: read index dropped")
	// ErrInvalidRegion reports a malformed region descriptor.
	ErrInvalidRegion = errors.New("regionraft: invalid region")
	// ErrRegionExists is returned by BootstrapRegion when a different
	// descriptor is already stored under the same region id.
	ErrRegionExists = errors.New("regionraft: region already exists")
	// ErrCorrupt reports an on-disk record that does not parse.
	ErrCorrupt = errors.New("regionraft: corrupt record")
	// ErrInvalidConfig is wrapped by Config.Validate errors.
	ErrInvalidConfig = errors.New("regionraft: invalid config")
	// ErrInvalidConfChange is returned by ChangePeers for a change the
	// leader refuses: it would remove or demote the leader itself (transfer
	// leadership first), leave no voter, add a peer twice or remove an
	// unknown one.
	ErrInvalidConfChange = errors.New("regionraft: invalid membership change")
	// ErrConfChangePending is returned by ChangePeers while another
	// membership change of the region is in progress (raft allows one at a
	// time, joint state included). Retry after it is applied.
	ErrConfChangePending = errors.New("regionraft: membership change in progress")
	// ErrSnapshotRejected is returned by ReceiveSnapshot when the snapshot
	// cannot be applied here (stale, for a removed peer, overlapping another
	// local region, malformed stream, or refused by raft). The sender's raft
	// retries later.
	ErrSnapshotRejected = errors.New("regionraft: snapshot rejected")
	// ErrNoSplitKey is returned by SplitKey when no boundary leaves records
	// on both sides.
	ErrNoSplitKey = errors.New("regionraft: no split key")
	// ErrStarted is returned by BootstrapRegion after Start (not supported yet).
	ErrStarted = errors.New("regionraft: store already started")
)

// NotLeaderError is returned when this store's peer of the region is not the
// leader. Leader is the zero Peer when the leader is unknown.
type NotLeaderError struct {
	RegionID uint64
	Leader   Peer
}

// Error implements error.
func (e *NotLeaderError) Error() string {
	if e.Leader.ID == 0 {
		return fmt.Sprintf("regionraft: not leader of region %d (leader unknown)", e.RegionID)
	}
	return fmt.Sprintf("regionraft: not leader of region %d (leader peer %d on store %d)",
		e.RegionID, e.Leader.ID, e.Leader.StoreID)
}

// FatalError wraps the error that stopped a Store: a failed engine write or an
// Applier error. The Store cannot continue; reopen it after fixing the cause.
type FatalError struct{ Err error }

// Error implements error.
func (e *FatalError) Error() string { return "regionraft: store failed: " + e.Err.Error() }

// Unwrap returns the cause.
func (e *FatalError) Unwrap() error { return e.Err }

// EpochNotMatchError is returned for a proposal routed with a stale region
// epoch (a split changed the region's range since), either when it is
// proposed or when it is applied; the command had no effect. Current holds
// the descriptors the router should use instead (the region and, after a
// split, its new neighbour when it is local). Retryable after a refresh.
type EpochNotMatchError struct {
	RegionID uint64
	Current  []Region
}

// Error implements error.
func (e *EpochNotMatchError) Error() string {
	return fmt.Sprintf("regionraft: epoch of region %d does not match (%d current descriptors)", e.RegionID, len(e.Current))
}
