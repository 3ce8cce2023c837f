package mvcc

import (
	"bytes"
	"fmt"

	"github.com/skerrydb/skerry/mvcc/engine"
	"github.com/skerrydb/skerry/mvcc/keys"
)

// GC returns the deletions that collect the versions of user keys in
// [start, end) (end nil: unbounded) that no reader at a timestamp at or
// above safePoint can see, after TiKV's GC rules. For each user key, among
// its write records committed at or before safePoint:
//   - lock-only and rollback records are deleted (a rollback record only
//     guards against a late prewrite of its transaction, and no transaction
//     that started at or before the safe point may still prewrite);
//   - the newest put is kept, with its data record, and every older record
//     is deleted, data records of puts included;
//   - when the newest data-changing record is a delete, it is deleted too,
//     with everything older.
//
// Locks and every record committed after safePoint are never touched.
// Locks need not be resolved first, even those of transactions that
// started at or below safePoint: a prewrite checked that no record of its
// key was newer than its start ts, and nothing else is written to a
// locked key, so the lock's eventual commit record lies above every record
// GC may delete and is never hidden or uncovered by it. So a
// read at any timestamp >= safePoint returns the same before and after the
// deletions are applied, and GC applied twice deletes nothing more.
//
// Work is bounded: GC stops once it has produced limit deletions (limit > 0)
// or visited about 4*limit user keys, and returns the user key to pass as
// start of the next call (nil when the range is done). The caller must
// apply the deletions of one call before the next call begins at resume:
// a key may be cut between two calls, and its delete record (the one that
// hides the older values) is only ever returned together with the last of
// the older records it hides, so that no call's deletions, applied alone,
// make an older value visible.
//
// The caller needs no latch: no transaction that may still run started at
// or below the safe point (the package documentation), so no action
// writes the records GC deletes, and none reads below the safe point,
// where alone the deletions are visible. rd's read timestamp and lock
// table are not used.
func GC(rd *Reader, start, end []byte, safePoint uint64, limit int) (deletes []Modify, resume []byte, err error) {
	if limit <= 0 {
		return nil, nil, fmt.Errorf("%w: gc limit %d", ErrInvalidTxnRequest, limit)
	}
	lower, upper := keys.WriteRange(start, end)
	it, err := rd.r.NewIter(lower, upper)
	if err != nil {
		return nil, nil, err
	}
	defer it.Close()
	var ukBuf, prefix []byte
	visited := 0
	ok := it.First()
	for ok {
		if len(deletes) >= limit || visited >= 4*limit {
			uk, _, err := keys.DecodeWriteKey(it.Key())
			if err != nil {
				return nil, nil, err
			}
			return deletes, uk, nil
		}
		visited++
		k := it.Key()
		uk, cts, err := keys.AppendDecodeWriteKey(ukBuf[:0], k)
		if err != nil {
			return nil, nil, err
		}
		ukBuf = uk
		prefix = append(prefix[:0], k[:len(k)-8]...)
		if cts > safePoint {
			// Skip the versions newer than the safe point in one seek.
			ok = it.SeekGE(keys.WriteKey(uk, safePoint))
		}
		var full bool
		if deletes, full, ok, err = gcKey(it, ok, uk, prefix, deletes, limit); err != nil {
			return nil, nil, err
		}
		if full {
			return deletes, bytes.Clone(uk), nil
		}
	}
	if err := it.Error(); err != nil {
		return nil, nil, err
	}
	return deletes, nil, nil
}

// gcKey appends the deletions of the versions at or below the safe point
// of one user key, the iterator standing on the newest of them (ok false
// or another prefix: none). It returns with the iterator past the key,
// or with full set when deletes reached limit before the key was done.
func gcKey(it engine.Iterator, ok bool, uk, prefix []byte, deletes []Modify, limit int) ([]Modify, bool, bool, error) {
	// kept: the newest data-changing record was seen (a put, kept, or a
	// delete, held back in deleteRecord until everything older is gone).
	kept := false
	var deleteRecord []byte
	for ; ok && bytes.HasPrefix(it.Key(), prefix); ok = it.Next() {
		if len(deletes) >= limit {
			// Cut: the delete record (if any) stays until the next call
			// deletes what it hides.
			return deletes, true, ok, nil
		}
		w, err := DecodeWrite(it.Value())
		if err != nil {
			return nil, false, false, err
		}
		if !kept && (w.Kind == WritePut || w.Kind == WriteDelete) {
			kept = true
			if w.Kind == WriteDelete {
				deleteRecord = bytes.Clone(it.Key())
			}
			continue
		}
		deletes = append(deletes, Modify{Op: OpDelete, Key: bytes.Clone(it.Key())})
		if w.Kind == WritePut && !w.HasShort {
			deletes = append(deletes, Modify{Op: OpDelete, Key: keys.DataKey(uk, w.StartTS)})
		}
	}
	if deleteRecord != nil {
		deletes = append(deletes, Modify{Op: OpDelete, Key: deleteRecord})
	}
	return deletes, false, ok, nil
}
