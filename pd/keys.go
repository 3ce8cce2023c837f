package pd

import (
	"encoding/binary"
	"fmt"
)

// etcd keys used by PD. Frozen: they are on disk in every PD member; never
// rename or reuse one.
const (
	keyPrefix = "/skerry/pd/"
	// keyClusterID holds the cluster ID (uint64, see encodeUint64),
	// created once by the first PD start.
	keyClusterID = keyPrefix + "cluster_id"
	// keyTSOWindow holds the end of the persisted TSO window: the largest
	// physical part (Unix ms) any leader may issue (uint64).
	keyTSOWindow = keyPrefix + "tso/window_end"
	// keyAllocID holds the end of the last reserved ID block: every ID
	// up to it may have been issued (uint64).
	keyAllocID = keyPrefix + "alloc_id"
	// keyBootstrapStore marks the cluster bootstrapped and holds the
	// bootstrapping store's ID (uint64).
	keyBootstrapStore = keyPrefix + "bootstrap/store"
	// keyBootstrapRegion holds the first region, opaque bytes encoded by
	// the node.
	keyBootstrapRegion = keyPrefix + "bootstrap/region"
	// storeKeyPrefix + 20-digit zero-padded decimal store ID holds that
	// store's pdclient.Store as JSON, without the heartbeat fields
	// (padding keeps numeric order in etcd).
	storeKeyPrefix = keyPrefix + "stores/"
)

// storeKey returns the key of store id's metadata.
func storeKey(id uint64) string {
	return fmt.Sprintf("%s%020d", storeKeyPrefix, id)
}

// encodeUint64 is the frozen encoding of every uint64 value: 8 bytes,
// big-endian.
func encodeUint64(v uint64) string {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], v)
	return string(b[:])
}

// decodeUint64 decodes encodeUint64's output; anything else is corrupt.
func decodeUint64(key string, b []byte) (uint64, error) {
	if len(b) != 8 {
		return 0, fmt.Errorf("%w: %s holds %d bytes, want 8", ErrCorrupt, key, len(b))
	}
	return binary.BigEndian.Uint64(b), nil
}

// Keys added with multi-member PD. Frozen like the ones above.
const (
	// keyLeaderElection is the prefix of the etcd election (concurrency
	// package) whose winner serves as PD leader; each candidate's key
	// holds its client URL.
	keyLeaderElection = keyPrefix + "leader"
	// regionKeyPrefix + 20-digit zero-padded decimal region ID holds that
	// region's pdclient.Region as JSON.
	regionKeyPrefix = keyPrefix + "regions/"
)

// Keys added with MVCC garbage collection. Frozen like the ones above.
const (
	// keyGCSafePoint holds the GC safe point (uint64, a TSO timestamp):
	// it only grows.
	keyGCSafePoint = keyPrefix + "gc/safe_point"
)

// regionKey returns the key of region id.
func regionKey(id uint64) string {
	return fmt.Sprintf("%s%020d", regionKeyPrefix, id)
}
