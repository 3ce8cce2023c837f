package keyspace

import (
	"bytes"
	"encoding/binary"
	"errors"

	"github.com/skerrydb/skerry/mvcc/keys"
)

// GCEntry is one queued orphaned collection version.
type GCEntry struct {
	DB      int
	Key     []byte
	Version uint64
	// Members is how many member records the version had left when last
	// written (an estimate for the backlog metric; the records decide).
	Members uint64
	// Resume is the member suffix the previous step stopped at (nil: from
	// the start). Each step starts there, so it never walks over the
	// deletion records of the steps before it.
	Resume []byte
}

// encodeGCValue is a queue entry's value: uvarint(members) | resume suffix.
func encodeGCValue(members uint64, resume []byte) []byte {
	return append(binary.AppendUvarint(nil, members), resume...)
}

// PendingGC returns the garbage-queue entries of slot, in queue order.
func PendingGC(txn Txn, slot uint16) ([]GCEntry, error) {
	lower, upper := keys.GCQueueRange(slot)
	var out []GCEntry
	err := txn.Scan(lower, upper, false, func(k, v []byte) error {
		db, key, version, ok := keys.DecodeGCQueueKey(k)
		if !ok {
			return nil
		}
		n, w := binary.Uvarint(v)
		var resume []byte
		if w > 0 && w < len(v) {
			resume = bytes.Clone(v[w:])
		}
		out = append(out, GCEntry{DB: db, Key: bytes.Clone(key), Version: version, Members: n, Resume: resume})
		return nil
	})
	return out, err
}

// CollectGC deletes up to limit member records of the orphaned version e,
// then the queue entry itself once no member is left. It returns how many
// records it deleted, where the next step resumes (store it in e.Resume
// once this transaction has committed) and whether the entry is finished. The orphaned
// version is invisible to every reader that started after it was orphaned,
// and the deletions are ordinary MVCC deletes, so older snapshots still
// read it.
func CollectGC(txn Txn, e GCEntry, limit int) (deleted int, resume []byte, finished bool, err error) {
	prefix := keys.MemberPrefix(e.DB, e.Key, e.Version)
	var doomed [][]byte
	err = txn.Scan(append(bytes.Clone(prefix), e.Resume...), keys.PrefixEnd(prefix), false, func(k, _ []byte) error {
		if len(doomed) == limit {
			return ErrStop
		}
		doomed = append(doomed, bytes.Clone(k))
		return nil
	})
	more := errors.Is(err, ErrStop)
	if err != nil && !more {
		return 0, nil, false, err
	}
	for _, k := range doomed {
		if err := txn.Delete(k); err != nil {
			return 0, nil, false, err
		}
	}
	qk := keys.GCQueueKey(e.DB, e.Key, e.Version)
	if more {
		left := uint64(0)
		if e.Members > uint64(len(doomed)) {
			left = e.Members - uint64(len(doomed))
		}
		resume = bytes.Clone(doomed[len(doomed)-1][len(prefix):])
		return len(doomed), resume, false, txn.Set(qk, encodeGCValue(left, resume))
	}
	return len(doomed), nil, true, txn.Delete(qk)
}
