// Package keys owns every physical key layout of Skerry: the node-local Raft
// keys, the three MVCC record families and the logical Redis key layout that
// the MVCC layer versions. Nothing else builds or parses physical keys.
//
// The byte values here are an on-disk format. They are frozen: never
// renumber or reuse a tag; add new ones.
package keys

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
)

// FormatVersion is stored in the store ident record; bump it only with a
// migration.
const FormatVersion = 1

// ErrCorrupt reports a physical key that does not parse.
var ErrCorrupt = errors.New("keys: corrupt key")

// Top-level prefixes (frozen).
const (
	localPrefix byte = 0x01 // node-local, never replicated: Raft logs, region state
	lockPrefix  byte = 'l'  // MVCC lock records: 'l' + enc(userKey)
	writePrefix byte = 'w'  // MVCC write records: 'w' + enc(userKey) + ^commitTS
	dataPrefix  byte = 'd'  // MVCC data records: 'd' + enc(userKey) + ^startTS
)

// Local key kinds (frozen).
const (
	localStoreIdent  byte = 0x01
	localRegionRaft  byte = 0x02
	localRegionState byte = 0x03
	localTombstone   byte = 0x04

	raftLogSuffix        byte = 0x01
	raftHardStateSuffix  byte = 0x02
	raftApplyStateSuffix byte = 0x03
	raftConfStateSuffix  byte = 0x04
	raftSnapPendSuffix   byte = 0x05
)

// StoreIdentKey holds the node's store id, cluster id and format version.
func StoreIdentKey() []byte { return []byte{localPrefix, localStoreIdent} }

func regionRaftPrefix(regionID uint64, suffix byte) []byte {
	k := make([]byte, 0, 19)
	k = append(k, localPrefix, localRegionRaft)
	k = binary.BigEndian.AppendUint64(k, regionID)
	return append(k, suffix)
}

// RaftLogKey is the key of one Raft log entry of a region.
func RaftLogKey(regionID, index uint64) []byte {
	return binary.BigEndian.AppendUint64(regionRaftPrefix(regionID, raftLogSuffix), index)
}

// RaftLogIndex parses the index out of a RaftLogKey.
func RaftLogIndex(key []byte) (uint64, error) {
	if len(key) != 19 || key[0] != localPrefix || key[1] != localRegionRaft || key[10] != raftLogSuffix {
		return 0, ErrCorrupt
	}
	return binary.BigEndian.Uint64(key[11:]), nil
}

// RaftLogRange returns the bounds of all log entries of a region.
func RaftLogRange(regionID uint64) (lower, upper []byte) {
	return RaftLogKey(regionID, 0), RaftLogKey(regionID, math.MaxUint64)
}

// RaftHardStateKey holds a region's raftpb.HardState.
func RaftHardStateKey(regionID uint64) []byte { return regionRaftPrefix(regionID, raftHardStateSuffix) }

// RaftApplyStateKey holds a region's applied index and truncated state.
func RaftApplyStateKey(regionID uint64) []byte {
	return regionRaftPrefix(regionID, raftApplyStateSuffix)
}

// RaftConfStateKey holds a region's raftpb.ConfState as of its applied
// index (joint configurations included).
func RaftConfStateKey(regionID uint64) []byte {
	return regionRaftPrefix(regionID, raftConfStateSuffix)
}

// RaftSnapshotPendingKey marks a region whose data are being replaced by a
// received snapshot: while it exists the region's data are not its applied
// state.
func RaftSnapshotPendingKey(regionID uint64) []byte {
	return regionRaftPrefix(regionID, raftSnapPendSuffix)
}

// RegionTombstoneKey marks a region whose local peer was destroyed; it
// holds the id of the removed peer so stale messages are not mistaken for
// a new peer.
func RegionTombstoneKey(regionID uint64) []byte {
	k := []byte{localPrefix, localTombstone}
	return binary.BigEndian.AppendUint64(k, regionID)
}

// RegionTombstoneRange bounds every RegionTombstoneKey.
func RegionTombstoneRange() (lower, upper []byte) {
	return []byte{localPrefix, localTombstone}, []byte{localPrefix, localTombstone + 1}
}

// RegionStateKey holds a region's descriptor (range, epoch, peers).
func RegionStateKey(regionID uint64) []byte {
	k := []byte{localPrefix, localRegionState}
	return binary.BigEndian.AppendUint64(k, regionID)
}

// RegionStateRange bounds every RegionStateKey.
func RegionStateRange() (lower, upper []byte) {
	return []byte{localPrefix, localRegionState}, []byte{localPrefix, localRegionState + 1}
}

// PrefixEnd returns the smallest key greater than every key that starts
// with p (nil when there is none: p is all 0xFF).
func PrefixEnd(p []byte) []byte {
	end := append([]byte(nil), p...)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] != 0xFF {
			end[i]++
			return end[:i+1]
		}
	}
	return nil
}

// ---- MVCC record keys ----
//
// User keys are encoded with an order-preserving, self-delimiting escape
// (0x00 -> 0x00 0xFF, terminated by 0x00 0x01) so that a user key followed by
// a timestamp never collides with a longer user key: all versions of one user
// key sort together and before any key it is a prefix of.

const (
	escape     byte = 0x00
	escaped00  byte = 0xFF
	terminator byte = 0x01
)

// appendEscaped appends the self-delimiting encoding of k.
func appendEscaped(dst, k []byte) []byte {
	for _, c := range k {
		if c == escape {
			dst = append(dst, escape, escaped00)
		} else {
			dst = append(dst, c)
		}
	}
	return append(dst, escape, terminator)
}

// decodeEscaped decodes an escaped user key at the start of b and returns it
// with the rest of b.
func decodeEscaped(b []byte) (key, rest []byte, err error) {
	return appendUnescaped(make([]byte, 0, len(b)), b)
}

// appendUnescaped is decodeEscaped appending the user key to dst, so a
// forward scan can decode every key into one reused buffer. (A version
// copying the runs between escape bytes with bytes.IndexByte was slower:
// member keys have a zero byte every few bytes.)
func appendUnescaped(dst, b []byte) (key, rest []byte, err error) {
	for i := 0; i < len(b); i++ {
		c := b[i]
		if c != escape {
			dst = append(dst, c)
			continue
		}
		if i+1 >= len(b) {
			return nil, nil, ErrCorrupt
		}
		switch b[i+1] {
		case escaped00:
			dst = append(dst, escape)
			i++
		case terminator:
			return dst, b[i+2:], nil
		default:
			return nil, nil, ErrCorrupt
		}
	}
	return nil, nil, ErrCorrupt
}

// LockKey is the key of the lock record of userKey.
func LockKey(userKey []byte) []byte {
	return appendEscaped(append(make([]byte, 0, len(userKey)+4), lockPrefix), userKey)
}

// WriteKey is the key of the write record of userKey committed at commitTS.
// Newer versions sort first.
func WriteKey(userKey []byte, commitTS uint64) []byte {
	k := appendEscaped(append(make([]byte, 0, len(userKey)+12), writePrefix), userKey)
	return binary.BigEndian.AppendUint64(k, ^commitTS)
}

// DataKey is the key of the value written by the transaction that started at
// startTS (used for values too long to inline in the write record).
func DataKey(userKey []byte, startTS uint64) []byte {
	k := appendEscaped(append(make([]byte, 0, len(userKey)+12), dataPrefix), userKey)
	return binary.BigEndian.AppendUint64(k, ^startTS)
}

// DecodeLockKey returns the user key of a LockKey.
func DecodeLockKey(k []byte) ([]byte, error) {
	if len(k) == 0 || k[0] != lockPrefix {
		return nil, ErrCorrupt
	}
	uk, rest, err := decodeEscaped(k[1:])
	if err != nil || len(rest) != 0 {
		return nil, ErrCorrupt
	}
	return uk, nil
}

// DecodeWriteKey returns the user key and commit timestamp of a WriteKey.
func DecodeWriteKey(k []byte) ([]byte, uint64, error) {
	return decodeVersioned(k, writePrefix)
}

// DecodeDataKey returns the user key and start timestamp of a DataKey.
func DecodeDataKey(k []byte) ([]byte, uint64, error) {
	return decodeVersioned(k, dataPrefix)
}

// AppendDecodeWriteKey is DecodeWriteKey appending the user key to dst
// (usually a buffer reused across calls) instead of allocating it.
func AppendDecodeWriteKey(dst, k []byte) ([]byte, uint64, error) {
	if len(k) == 0 || k[0] != writePrefix {
		return nil, 0, ErrCorrupt
	}
	uk, rest, err := appendUnescaped(dst, k[1:])
	if err != nil || len(rest) != 8 {
		return nil, 0, ErrCorrupt
	}
	return uk, ^binary.BigEndian.Uint64(rest), nil
}

// WriteKeyTS returns the commit timestamp of a write record key that the
// caller knows (from its iterator bounds) to be a version of the user key
// whose WriteKeyVersionless is prefix.
func WriteKeyTS(k, prefix []byte) (uint64, error) {
	if len(k) != len(prefix)+8 || !bytes.HasPrefix(k, prefix) {
		return 0, ErrCorrupt
	}
	return ^binary.BigEndian.Uint64(k[len(prefix):]), nil
}

// AppendWriteKeyBounds appends to dst the bounds of an iterator over the
// write records of userKey committed at or before ts, newest first: lower
// is WriteKey(userKey, ts) and upper PrefixEnd(WriteKeyVersionless(userKey)).
// It also returns the versionless prefix (lower without its timestamp).
// The three slices share one allocation.
func AppendWriteKeyBounds(dst, userKey []byte, ts uint64) (lower, upper, prefix []byte) {
	start := len(dst)
	dst = appendEscaped(append(dst, writePrefix), userKey)
	plen := len(dst) - start
	// upper: the prefix ends in the terminator 0x01, so PrefixEnd is the
	// prefix with its last byte incremented.
	dst = append(dst, dst[start:start+plen]...)
	dst[len(dst)-1]++
	mid := len(dst)
	dst = append(dst, dst[start:start+plen]...)
	dst = binary.BigEndian.AppendUint64(dst, ^ts)
	return dst[mid:], dst[start+plen : mid : mid], dst[start : start+plen : start+plen]
}

func decodeVersioned(k []byte, prefix byte) ([]byte, uint64, error) {
	if len(k) == 0 || k[0] != prefix {
		return nil, 0, ErrCorrupt
	}
	uk, rest, err := decodeEscaped(k[1:])
	if err != nil || len(rest) != 8 {
		return nil, 0, ErrCorrupt
	}
	return uk, ^binary.BigEndian.Uint64(rest), nil
}

// WriteKeyVersionless is the prefix shared by every write record of userKey;
// WriteKey(userKey, ts) sorts within [WriteKeyVersionless, WriteKeyVersionless+0xFF..).
func WriteKeyVersionless(userKey []byte) []byte {
	return appendEscaped([]byte{writePrefix}, userKey)
}

// LockRange, WriteRange and DataRange map a user-key range [start, end) to
// the physical range of one record family. A nil end means unbounded.
func LockRange(start, end []byte) (lower, upper []byte)  { return familyRange(lockPrefix, start, end) }
func WriteRange(start, end []byte) (lower, upper []byte) { return familyRange(writePrefix, start, end) }
func DataRange(start, end []byte) (lower, upper []byte)  { return familyRange(dataPrefix, start, end) }

func familyRange(prefix byte, start, end []byte) (lower, upper []byte) {
	lower = appendEscaped([]byte{prefix}, start)
	if len(start) == 0 {
		lower = []byte{prefix}
	}
	if end == nil {
		upper = []byte{prefix + 1}
	} else {
		upper = appendEscaped([]byte{prefix}, end)
	}
	return lower, upper
}

// ---- Logical (user) keys: the Redis data model ----
//
// slot(2, big endian) | db(1) | len(key)(4, big endian) | key | suffix
//
// An empty suffix is the key's metadata record; collections append
// version(8) | member. All records of one Redis key are contiguous, so a
// region boundary chosen at a metadata key never splits a Redis key.
//
// Each slot also holds its expiry index after every database:
// slot(2) | expiryIndexTag | expireAtMs(8) | db(1) | len(4) | key

// NumSlots is the number of Redis Cluster hash slots.
const NumSlots = 16384

// MaxDB is the number of logical databases (SELECT 0..MaxDB-1).
const MaxDB = 16

const expiryIndexTag byte = 0xFE

// MetaKey is the metadata record of a Redis key.
func MetaKey(db int, key []byte) []byte {
	k := make([]byte, 0, 7+len(key))
	k = binary.BigEndian.AppendUint16(k, Slot(key))
	k = append(k, byte(db))
	k = binary.BigEndian.AppendUint32(k, uint32(len(key)))
	return append(k, key...)
}

// MemberKey is the record of one member of a collection version.
func MemberKey(db int, key []byte, version uint64, member []byte) []byte {
	k := MemberPrefix(db, key, version)
	return append(k, member...)
}

// MemberPrefix bounds every member record of one collection version.
func MemberPrefix(db int, key []byte, version uint64) []byte {
	k := make([]byte, 0, 15+len(key))
	k = append(k, MetaKey(db, key)...)
	return binary.BigEndian.AppendUint64(k, version)
}

// DecodeMetaKey parses a logical key produced by MetaKey or MemberKey and
// returns its database, Redis key and the suffix after it. ok is false for
// expiry-index keys.
func DecodeMetaKey(k []byte) (db int, key, suffix []byte, ok bool) {
	if len(k) < 7 || k[2] >= MaxDB {
		return 0, nil, nil, false
	}
	n := int(binary.BigEndian.Uint32(k[3:7]))
	if n < 0 || 7+n > len(k) {
		return 0, nil, nil, false
	}
	return int(k[2]), k[7 : 7+n], k[7+n:], true
}

// SlotDBPrefix bounds every record of database db within one slot.
func SlotDBPrefix(slot uint16, db int) []byte {
	return []byte{byte(slot >> 8), byte(slot), byte(db)}
}

// SlotPrefix bounds every record of one slot.
func SlotPrefix(slot uint16) []byte { return []byte{byte(slot >> 8), byte(slot)} }

// ExpiryIndexKey is the expiry index entry of a Redis key.
func ExpiryIndexKey(db int, key []byte, expireAtMs int64) []byte {
	k := make([]byte, 0, 16+len(key))
	k = binary.BigEndian.AppendUint16(k, Slot(key))
	k = append(k, expiryIndexTag)
	k = binary.BigEndian.AppendUint64(k, uint64(expireAtMs))
	k = append(k, byte(db))
	k = binary.BigEndian.AppendUint32(k, uint32(len(key)))
	return append(k, key...)
}

// ExpiryIndexRange bounds the expiry entries of a slot that expire before
// untilMs (exclusive).
func ExpiryIndexRange(slot uint16, untilMs int64) (lower, upper []byte) {
	lower = []byte{byte(slot >> 8), byte(slot), expiryIndexTag}
	upper = binary.BigEndian.AppendUint64(append([]byte(nil), lower...), uint64(untilMs))
	return lower, upper
}

// DecodeExpiryIndexKey parses an ExpiryIndexKey.
func DecodeExpiryIndexKey(k []byte) (db int, key []byte, expireAtMs int64, ok bool) {
	if len(k) < 16 || k[2] != expiryIndexTag {
		return 0, nil, 0, false
	}
	expireAtMs = int64(binary.BigEndian.Uint64(k[3:11]))
	db = int(k[11])
	n := int(binary.BigEndian.Uint32(k[12:16]))
	if 16+n != len(k) {
		return 0, nil, 0, false
	}
	return db, k[16:], expireAtMs, true
}

// ---- Collection member layouts ----
//
// Every member record of a collection lives under
// MemberPrefix(db, key, version); what follows depends on the type:
//   hash:  field                      -> value
//   set:   member                     -> empty
//   list:  seq(8, big endian)         -> element   (elements occupy [head, tail))
//   zset:  zsetMemberTag | member     -> score (8, AppendScore) [+ 1 byte
//          marking -0, which the order-preserving encoding folds into 0 but
//          Redis's skiplist encoding prints as "-0"]
//          zsetScoreTag | score(8) | member -> empty   (the score index)
// Generic code (copy, rename, the garbage collector) treats the bytes after
// the version as opaque, so every type is copied and collected alike.

const (
	zsetMemberTag byte = 0x00
	zsetScoreTag  byte = 0x01
)

// ListElemKey is the record of the list element at position seq.
func ListElemKey(db int, key []byte, version, seq uint64) []byte {
	return binary.BigEndian.AppendUint64(MemberPrefix(db, key, version), seq)
}

// ZMemberKey is the record mapping a sorted-set member to its score.
func ZMemberKey(db int, key []byte, version uint64, member []byte) []byte {
	return append(append(MemberPrefix(db, key, version), zsetMemberTag), member...)
}

// ZMemberPrefix bounds every ZMemberKey of one sorted-set version.
func ZMemberPrefix(db int, key []byte, version uint64) []byte {
	return append(MemberPrefix(db, key, version), zsetMemberTag)
}

// ZScoreKey is the score index entry of member with score.
func ZScoreKey(db int, key []byte, version uint64, score float64, member []byte) []byte {
	k := append(MemberPrefix(db, key, version), zsetScoreTag)
	k = AppendScore(k, score)
	return append(k, member...)
}

// ZScorePrefix bounds the score index of one sorted-set version; entries
// sort by score, then member bytes, like Redis's skiplist.
func ZScorePrefix(db int, key []byte, version uint64) []byte {
	return append(MemberPrefix(db, key, version), zsetScoreTag)
}

// AppendScore appends the order-preserving 8-byte encoding of a double:
// -inf < negatives < -0 = 0 < positives < +inf in byte order. -0 is stored
// as 0, as Redis compares them equal. NaN is never stored.
func AppendScore(dst []byte, score float64) []byte {
	if score == 0 {
		score = 0 // normalise -0
	}
	u := math.Float64bits(score)
	if u&(1<<63) != 0 {
		u = ^u
	} else {
		u |= 1 << 63
	}
	return binary.BigEndian.AppendUint64(dst, u)
}

// DecodeScore reverses AppendScore on the first 8 bytes of b.
func DecodeScore(b []byte) (float64, error) {
	if len(b) < 8 {
		return 0, ErrCorrupt
	}
	u := binary.BigEndian.Uint64(b)
	if u&(1<<63) != 0 {
		u &^= 1 << 63
	} else {
		u = ^u
	}
	return math.Float64frombits(u), nil
}

// ---- Collection garbage queue ----
//
// Deleting or overwriting a collection writes one entry here instead of
// deleting its members; the background collector deletes the members of
// the orphaned version and then the entry. The entry lives in the key's
// slot, like the expiry index, so it moves with the slot:
// slot(2) | gcQueueTag | db(1) | len(4) | key | version(8) -> member count

const gcQueueTag byte = 0xFD

// GCQueueKey is the queue entry for the orphaned members of one version.
func GCQueueKey(db int, key []byte, version uint64) []byte {
	k := make([]byte, 0, 16+len(key))
	k = binary.BigEndian.AppendUint16(k, Slot(key))
	k = append(k, gcQueueTag, byte(db))
	k = binary.BigEndian.AppendUint32(k, uint32(len(key)))
	k = append(k, key...)
	return binary.BigEndian.AppendUint64(k, version)
}

// GCQueueRange bounds every queue entry of a slot.
func GCQueueRange(slot uint16) (lower, upper []byte) {
	return []byte{byte(slot >> 8), byte(slot), gcQueueTag}, []byte{byte(slot >> 8), byte(slot), gcQueueTag + 1}
}

// DecodeGCQueueKey parses a GCQueueKey.
func DecodeGCQueueKey(k []byte) (db int, key []byte, version uint64, ok bool) {
	if len(k) < 16 || k[2] != gcQueueTag {
		return 0, nil, 0, false
	}
	db = int(k[3])
	n := int(binary.BigEndian.Uint32(k[4:8]))
	if n < 0 || 8+n+8 != len(k) {
		return 0, nil, 0, false
	}
	return db, k[8 : 8+n], binary.BigEndian.Uint64(k[8+n:]), true
}
