package pdclient

import (
	"context"
	"errors"
)

// Errors shared by every Backend implementation and the Client. Backends
// return (or wrap) these so callers can test them with errors.Is whatever
// the transport.
var (
	// ErrClosed is returned by a Client or Backend that has been closed.
	ErrClosed = errors.New("pdclient: closed")
	// ErrInvalidCount is returned by GetTS for a count of 0 or of
	// MaxLogical or more.
	ErrInvalidCount = errors.New("pdclient: invalid timestamp count")
	// ErrStoreNotFound is returned by GetStore for an unknown store ID.
	ErrStoreNotFound = errors.New("pdclient: store not found")
	// ErrInvalidArgument is returned for a zero ID or empty metadata.
	ErrInvalidArgument = errors.New("pdclient: invalid argument")
	// ErrNotLeader is returned by a PD member that does not (or no longer)
	// serve as PD leader; the caller should retry against the leader.
	ErrNotLeader = errors.New("pdclient: not PD leader")
)

// Backend is the placement driver as seen by a Client: *pd.Server
// implements it in-process, a gRPC stub will implement it for remote PD.
//
// All methods are safe for concurrent use and honour ctx for cancellation.
// Errors are the sentinels above (possibly wrapped) or transport errors.
type Backend interface {
	// GetTS reserves count (1 <= count < MaxLogical) consecutive
	// timestamps and returns the LAST of them; the first is
	// last-count+1. All count timestamps share one physical part, and
	// every range returned is strictly above every range returned before,
	// including before a restart of PD.
	GetTS(ctx context.Context, count uint32) (last uint64, err error)

	// AllocID returns a cluster-unique ID, never 0 and never reused, even
	// across PD restarts. IDs increase but may skip values.
	AllocID(ctx context.Context) (uint64, error)

	// Bootstrap atomically records the cluster's first store and first
	// region (opaque bytes encoded by the caller) if the cluster is not
	// bootstrapped yet. bootstrapped reports whether THIS call did it;
	// region is the stored first region: the argument if bootstrapped,
	// otherwise the one recorded by the earlier winner.
	Bootstrap(ctx context.Context, storeID uint64, region []byte) (bootstrapped bool, stored []byte, err error)

	// IsBootstrapped reports whether Bootstrap has succeeded once.
	IsBootstrapped(ctx context.Context) (bool, error)

	// PutStore records (replaces) the opaque metadata of store id.
	PutStore(ctx context.Context, id uint64, meta []byte) error

	// GetStore returns the metadata of store id, or ErrStoreNotFound.
	GetStore(ctx context.Context, id uint64) ([]byte, error)

	// ClusterID returns the cluster's ID, fixed for the life of the
	// cluster's PD data.
	ClusterID() uint64
}
