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
