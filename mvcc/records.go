package mvcc

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// ErrCorruptRecord reports an MVCC record that does not decode.
var ErrCorruptRecord = errors.New("mvcc: corrupt record")

// WriteKind is the kind of a write record. Frozen on-disk values.
type WriteKind byte

const (
	WritePut      WriteKind = 'P'
	WriteDelete   WriteKind = 'D'
	WriteLock     WriteKind = 'L' // lock-only mutation: no data change
	WriteRollback WriteKind = 'R' // protects a rolled-back start ts
)

// ShortValueMax is the longest value stored inline in its write record.
const ShortValueMax = 255

// Write is a decoded write record.
type Write struct {
	Kind       WriteKind
	StartTS    uint64
	ShortValue []byte // nil when the value lives in a data record
	HasShort   bool
	// OverlappedRollback records, on the commit record of another
	// transaction, that the transaction which started at this record's
	// commit timestamp was rolled back: both would own the same write key,
	// so the rollback is a flag here instead of a record of its own.
	OverlappedRollback bool
}

// Write record flag bits (frozen; never renumber). Records written before
// the flags existed hold 0 or 1 in the flags byte, which decode the same.
const (
	writeFlagShort              byte = 1 << 0 // a short value follows
	writeFlagOverlappedRollback byte = 1 << 1 // see Write.OverlappedRollback
	writeFlagsKnown                  = writeFlagShort | writeFlagOverlappedRollback
)

// Encoding (frozen): kind(1) | startTS(8) | flags(1) | [short value].
func (w *Write) Encode() []byte {
	b := make([]byte, 0, 10+len(w.ShortValue))
	b = append(b, byte(w.Kind))
	b = binary.BigEndian.AppendUint64(b, w.StartTS)
	var flags byte
	if w.HasShort {
		flags |= writeFlagShort
	}
	if w.OverlappedRollback {
		flags |= writeFlagOverlappedRollback
	}
	b = append(b, flags)
	if w.HasShort {
		b = append(b, w.ShortValue...)
	}
	return b
}

// DecodeWrite decodes a write record; ShortValue aliases b.
func DecodeWrite(b []byte) (Write, error) {
	if len(b) < 10 {
		return Write{}, ErrCorruptRecord
	}
	flags := b[9]
	if flags&^writeFlagsKnown != 0 {
		return Write{}, fmt.Errorf("%w: write flags %#x", ErrCorruptRecord, flags)
	}
	w := Write{
		Kind:               WriteKind(b[0]),
		StartTS:            binary.BigEndian.Uint64(b[1:9]),
		HasShort:           flags&writeFlagShort != 0,
		OverlappedRollback: flags&writeFlagOverlappedRollback != 0,
	}
	switch w.Kind {
	case WritePut, WriteDelete, WriteLock, WriteRollback:
	default:
		return Write{}, fmt.Errorf("%w: write kind %d", ErrCorruptRecord, b[0])
	}
	if !w.HasShort && len(b) > 10 {
		return Write{}, fmt.Errorf("%w: trailing bytes after write record", ErrCorruptRecord)
	}
	if w.HasShort {
		w.ShortValue = b[10:]
	}
	return w, nil
}

// LockKind is the kind of a lock record. Frozen on-disk values.
type LockKind byte

const (
	LockPut    LockKind = 'P'
	LockDelete LockKind = 'D'
	LockLock   LockKind = 'L'
)

// Lock is a decoded lock record.
type Lock struct {
	Kind    LockKind
	Primary []byte // the transaction's primary key, where its fate is decided
	StartTS uint64
	// TTLMs is how long after the physical time of StartTS the lock is
	// alive (Expired); TxnHeartBeat raises it.
	TTLMs      uint64
	ShortValue []byte
	HasShort   bool
}

// Expired reports whether the lock's TTL has run out at timestamp ts: the
// physical time of ts is past the physical time of StartTS plus TTLMs.
// Only timestamps are compared, never a node's clock, so every replica
// and every new leader judges alike.
func (l *Lock) Expired(ts uint64) bool {
	return PhysicalMs(l.StartTS)+l.TTLMs < PhysicalMs(ts)
}

// Encode (frozen): kind(1) | startTS(8) | ttl(8) | len(primary)(4) | primary
// | hasShort(1) | [short value].
func (l *Lock) Encode() []byte {
	b := make([]byte, 0, 22+len(l.Primary)+len(l.ShortValue))
	b = append(b, byte(l.Kind))
	b = binary.BigEndian.AppendUint64(b, l.StartTS)
	b = binary.BigEndian.AppendUint64(b, l.TTLMs)
	b = binary.BigEndian.AppendUint32(b, uint32(len(l.Primary)))
	b = append(b, l.Primary...)
	if l.HasShort {
		b = append(b, 1)
		b = append(b, l.ShortValue...)
	} else {
		b = append(b, 0)
	}
	return b
}

// DecodeLock decodes a lock record; slices alias b.
func DecodeLock(b []byte) (Lock, error) {
	if len(b) < 22 {
		return Lock{}, ErrCorruptRecord
	}
	l := Lock{Kind: LockKind(b[0]), StartTS: binary.BigEndian.Uint64(b[1:9]), TTLMs: binary.BigEndian.Uint64(b[9:17])}
	switch l.Kind {
	case LockPut, LockDelete, LockLock:
	default:
		return Lock{}, fmt.Errorf("%w: lock kind %d", ErrCorruptRecord, b[0])
	}
	n := int(binary.BigEndian.Uint32(b[17:21]))
	if 21+n+1 > len(b) {
		return Lock{}, ErrCorruptRecord
	}
	l.Primary = b[21 : 21+n]
	l.HasShort = b[21+n] == 1
	if l.HasShort {
		l.ShortValue = b[22+n:]
	}
	return l, nil
}

// KeyLockedError is returned by readers that meet a lock of a transaction
// that started at or before their timestamp.
type KeyLockedError struct {
	Key  []byte
	Lock Lock
}

func (e *KeyLockedError) Error() string {
	return fmt.Sprintf("mvcc: key is locked by transaction %d", e.Lock.StartTS)
}

// WriteConflictError is returned when a key was committed after the
// transaction's start timestamp.
type WriteConflictError struct {
	Key              []byte
	StartTS          uint64
	ConflictCommitTS uint64
}

func (e *WriteConflictError) Error() string {
	return fmt.Sprintf("mvcc: write conflict: committed at %d after start %d", e.ConflictCommitTS, e.StartTS)
}
