package pdclient

import (
	"context"
	"errors"
	"fmt"
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
	// ErrRegionNotFound is returned when no known region holds a key or
	// has an ID.
	ErrRegionNotFound = errors.New("pdclient: region not found")
	// ErrStaleRegion is returned for a heartbeat or split report whose
	// region epoch is older than what PD knows.
	ErrStaleRegion = errors.New("pdclient: stale region epoch")
	// ErrInvalidArgument is returned for a zero ID, empty metadata or an
	// otherwise malformed request.
	ErrInvalidArgument = errors.New("pdclient: invalid argument")
	// ErrNotLeader is returned by a PD member that does not (or no longer)
	// serve as PD leader; the caller should retry against the leader. It
	// is usually wrapped by a *NotLeaderError that names the leader.
	ErrNotLeader = errors.New("pdclient: not PD leader")
	// ErrUnavailable is returned by Dial's Backend when no PD member
	// answered as leader before the retry budget ran out.
	ErrUnavailable = errors.New("pdclient: no PD leader reachable")
)

// NotLeaderError is returned by a PD member that is not the PD leader.
// errors.Is(err, ErrNotLeader) holds for it.
type NotLeaderError struct {
	// LeaderURL is the client URL of the current PD leader, or "" if the
	// member does not know one (an election is in progress).
	LeaderURL string
}

func (e *NotLeaderError) Error() string {
	if e.LeaderURL == "" {
		return "pdclient: not PD leader (leader unknown)"
	}
	return fmt.Sprintf("pdclient: not PD leader (leader at %s)", e.LeaderURL)
}

// Unwrap makes errors.Is(err, ErrNotLeader) hold.
func (e *NotLeaderError) Unwrap() error { return ErrNotLeader }

// Backend is the placement driver as seen by a Client: *pd.Server
// implements it in-process, Dial's gRPC stub for remote PD members.
//
// All methods are safe for concurrent use and honour ctx for cancellation.
// Errors are the sentinels above (possibly wrapped), *NotLeaderError, or
// transport errors. Every method but ClusterID is served by the PD leader
// only.
type Backend interface {
	// GetTS reserves count (1 <= count < MaxLogical) consecutive
	// timestamps and returns the LAST of them; the first is
	// last-count+1. All count timestamps share one physical part, and
	// every range returned is strictly above every range returned before,
	// including before a restart of PD or a change of PD leader.
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

	// PutStore records a store's addresses (a node calls it at every
	// start). A new store starts Up; an existing one keeps its State, and
	// a Tombstone store is refused with ErrInvalidArgument.
	PutStore(ctx context.Context, store Store) error

	// GetStore returns store id, or ErrStoreNotFound.
	GetStore(ctx context.Context, id uint64) (Store, error)

	// GetStores returns every store, Tombstone ones included, by ID.
	GetStores(ctx context.Context) ([]Store, error)

	// SetStoreState changes a store's administrative state: Up <->
	// Offline; Tombstone only for a store that holds no replica (PD sets
	// it itself once an Offline store is drained). A Tombstone store
	// cannot change state.
	SetStoreState(ctx context.Context, id uint64, state StoreState) error

	// StoreHeartbeat reports a store's statistics and keeps it alive:
	// a store not heard from for max-store-down-time is down, and its
	// replicas are replaced.
	StoreHeartbeat(ctx context.Context, stats StoreStats) error

	// RegionHeartbeat reports a region as its leader sees it and returns
	// the step PD wants the leader to take now, or nil. A heartbeat with
	// an epoch older than PD's fails with ErrStaleRegion.
	RegionHeartbeat(ctx context.Context, hb RegionHeartbeat) (*Operator, error)

	// GetRegion returns the region holding key and its leader (ID 0 if
	// unknown), or ErrRegionNotFound.
	GetRegion(ctx context.Context, key []byte) (Region, Peer, error)

	// GetRegionByID returns region id and its leader, or
	// ErrRegionNotFound.
	GetRegionByID(ctx context.Context, id uint64) (Region, Peer, error)

	// ScanRegions returns up to limit (<= 0: no limit) regions in key
	// order, starting with the one holding start, and stopping before
	// end (empty: no end).
	ScanRegions(ctx context.Context, start, end []byte, limit int) ([]RegionInfo, error)

	// AskSplit allocates the IDs for splitting region: one new region ID
	// and one new peer ID per peer of region, in the order of
	// region.Peers.
	AskSplit(ctx context.Context, region Region) (newRegionID uint64, newPeerIDs []uint64, err error)

	// ReportSplit tells PD that a split produced left and right.
	ReportSplit(ctx context.Context, left, right Region) error

	// AddOperator schedules op (an administrative step: OpSplit or
	// OpTransferLeader, or any other kind) for region regionID; it
	// replaces the region's in-flight operator, if any, and is handed
	// to the leader with its next heartbeat.
	AddOperator(ctx context.Context, regionID uint64, op Operator) error

	// GCSafePoint returns the GC safe point (0: none yet), advancing it
	// first when it can: versions that no read at or above it can see may
	// be collected, and no transaction whose start ts is at or below it
	// may run. It never goes backwards, across PD restarts and leader
	// changes too. PD keeps it at most GCLifeTime behind its TSO and
	// below every MinStartTS the live stores report in their heartbeats.
	GCSafePoint(ctx context.Context) (uint64, error)

	// ClusterID returns the cluster's ID, fixed for the life of the
	// cluster's PD data.
	ClusterID() uint64
}
