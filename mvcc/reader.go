package mvcc

import (
	"bytes"
	"encoding/binary"
	"errors"

	"github.com/skerrydb/skerry/mvcc/engine"
	"github.com/skerrydb/skerry/mvcc/keys"
)

// Reader reads user keys as of a timestamp.
type Reader struct {
	r     engine.Reader
	ts    uint64
	locks *LockTable // nil: always look for locks in the engine
	// share, pit, pitAdds: see ShareIterator.
	share   bool
	pit     engine.Iterator
	pitAdds uint64
}

// boundedIterator is an engine.Iterator whose bounds can be changed
// (pebbleengine's can).
type boundedIterator interface {
	engine.Iterator
	SetBounds(lower, upper []byte)
}

// ShareIterator lets the point reads of this reader (Get, GetVersion,
// SeekWrite) reuse one engine iterator, rebounded for each key, instead of
// creating one per read: creating a Pebble iterator was a third of the
// cost of a point read (docs/performance.md). The caller must Close the
// reader, and must hold, from before the first read until the last, the
// latches of every key it reads, so that no fast-path write to them is
// applied meanwhile: the shared iterator sees the engine as of its
// creation. Writes of two-phase transactions do not take latches for their
// whole life; the reader therefore shares only while the lock table shows
// no lock was present or added since the iterator was created, and falls
// back to a fresh iterator per read otherwise.
func (rd *Reader) ShareIterator() {
	if rd.locks != nil {
		rd.share = true
	}
}

// Close releases the shared iterator, if any.
func (rd *Reader) Close() error {
	if rd.pit == nil {
		return nil
	}
	err := rd.pit.Close()
	rd.pit = nil
	return err
}

// pointIter returns an iterator over [lower, upper) and whether the caller
// must close it. The bounds must stay unmodified until the next call.
func (rd *Reader) pointIter(lower, upper []byte) (engine.Iterator, bool, error) {
	if rd.share {
		adds, empty := rd.locks.quiet()
		if rd.pit != nil && empty && adds == rd.pitAdds {
			rd.pit.(boundedIterator).SetBounds(lower, upper)
			return rd.pit, false, nil
		}
		if err := rd.Close(); err != nil {
			return nil, false, err
		}
		if empty {
			it, err := rd.r.NewIter(lower, upper)
			if err != nil {
				return nil, false, err
			}
			if _, ok := it.(boundedIterator); ok {
				rd.pit, rd.pitAdds = it, adds
				return it, false, nil
			}
			return it, true, nil
		}
	}
	it, err := rd.r.NewIter(lower, upper)
	return it, true, err
}

// NewReader returns a reader of r at ts.
func NewReader(r engine.Reader, ts uint64) *Reader { return &Reader{r: r, ts: ts} }

// NewReaderWithLocks returns a reader of r at ts that consults locks before
// looking up lock records in the engine.
func NewReaderWithLocks(r engine.Reader, ts uint64, locks *LockTable) *Reader {
	return &Reader{r: r, ts: ts, locks: locks}
}

// mayBeLocked reports whether key's lock record must be looked up.
func (rd *Reader) mayBeLocked(key []byte) bool { return rd.locks == nil || rd.locks.Has(key) }

// TS returns the read timestamp.
func (rd *Reader) TS() uint64 { return rd.ts }

// checkLock returns a *KeyLockedError if a transaction that started at or
// before the read timestamp holds a lock on key (lock-only locks of
// serializable reads do not block readers).
func (rd *Reader) checkLock(key []byte) error {
	return rd.lockError(key, rd.blocksRead)
}

// blocksRead reports whether lock l hides the key's value from this reader.
func (rd *Reader) blocksRead(l *Lock) bool { return l.Kind != LockLock && l.StartTS <= rd.ts }

// anyLock returns a *KeyLockedError if any transaction holds a lock on key,
// whatever its timestamp: writers conflict with every lock.
func (rd *Reader) anyLock(key []byte) error {
	return rd.lockError(key, func(*Lock) bool { return true })
}

// lockError reads key's lock record, if any, and returns it as a
// *KeyLockedError when blocks says it is in the way.
func (rd *Reader) lockError(key []byte, blocks func(*Lock) bool) error {
	if !rd.mayBeLocked(key) {
		return nil
	}
	v, err := rd.r.Get(keys.LockKey(key))
	if errors.Is(err, engine.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	l, err := DecodeLock(v)
	if err != nil {
		return err
	}
	if !blocks(&l) {
		return nil
	}
	// The error outlives the engine's buffer (engine.Reader: slices are
	// valid until the next call).
	l.Primary = bytes.Clone(l.Primary)
	l.ShortValue = bytes.Clone(l.ShortValue)
	return &KeyLockedError{Key: bytes.Clone(key), Lock: l}
}

// Get returns the value of key visible at the read timestamp.
func (rd *Reader) Get(key []byte) ([]byte, bool, error) {
	v, ok, _, err := rd.GetVersion(key)
	return v, ok, err
}

// GetVersion is Get that also returns the commit timestamp of the version
// read (of the deletion when ok is false; 0 when the key never existed).
func (rd *Reader) GetVersion(key []byte) ([]byte, bool, uint64, error) {
	if err := rd.checkLock(key); err != nil {
		return nil, false, 0, err
	}
	w, cts, found, err := rd.SeekWrite(key, rd.ts)
	if err != nil || !found {
		return nil, false, cts, err
	}
	v, ok, err := rd.value(key, &w)
	return v, ok, cts, err
}

// CheckLock returns a *KeyLockedError if a transaction that started at or
// before the read timestamp holds a lock on key.
func (rd *Reader) CheckLock(key []byte) error { return rd.checkLock(key) }

// SeekWrite returns the newest data-changing write record (put or delete)
// of key committed at or before ts, skipping lock-only and rollback
// records, and its commit timestamp.
func (rd *Reader) SeekWrite(key []byte, ts uint64) (Write, uint64, bool, error) {
	lower, upper, prefix := keys.AppendWriteKeyBounds(nil, key, ts)
	it, owned, err := rd.pointIter(lower, upper)
	if err != nil {
		return Write{}, 0, false, err
	}
	if owned {
		defer it.Close()
	}
	for ok := it.First(); ok; ok = it.Next() {
		cts, err := keys.WriteKeyTS(it.Key(), prefix)
		if err != nil {
			return Write{}, 0, false, err
		}
		w, err := DecodeWrite(it.Value())
		if err != nil {
			return Write{}, 0, false, err
		}
		switch w.Kind {
		case WritePut:
			w.ShortValue = bytes.Clone(w.ShortValue)
			return w, cts, true, nil
		case WriteDelete:
			return Write{}, cts, false, nil
		}
	}
	return Write{}, 0, false, it.Error()
}

// LatestCommitTS returns the commit timestamp of the newest write record of
// any kind of key, or 0.
func (rd *Reader) LatestCommitTS(key []byte) (uint64, error) {
	prefix := keys.WriteKeyVersionless(key)
	it, err := rd.r.NewIter(prefix, keys.PrefixEnd(prefix))
	if err != nil {
		return 0, err
	}
	defer it.Close()
	if !it.First() {
		return 0, it.Error()
	}
	return keys.WriteKeyTS(it.Key(), prefix)
}

func (rd *Reader) value(key []byte, w *Write) ([]byte, bool, error) {
	if w.HasShort {
		if w.ShortValue == nil {
			return []byte{}, true, nil
		}
		return w.ShortValue, true, nil
	}
	v, err := rd.r.Get(keys.DataKey(key, w.StartTS))
	if errors.Is(err, engine.ErrNotFound) {
		return nil, false, ErrCorruptRecord
	}
	return v, err == nil, err
}

// Scan calls fn for every user key in [start, end) (end nil: unbounded)
// with its value visible at the read timestamp, ascending or descending.
// fn's slices are valid only during the call. fn may return errStop-like
// sentinels of its own; Scan returns them unchanged.
func (rd *Reader) Scan(start, end []byte, reverse bool, fn func(key, value []byte) error) error {
	if err := rd.checkLocksIn(start, end); err != nil {
		return err
	}
	lower, upper := keys.WriteRange(start, end)
	it, err := rd.r.NewIter(lower, upper)
	if err != nil {
		return err
	}
	defer it.Close()
	if !reverse {
		return rd.scanForward(it, fn)
	}
	ok := it.Last()
	var ukBuf, prefix, seek []byte
	for ok {
		k := it.Key()
		uk, _, err := keys.AppendDecodeWriteKey(ukBuf[:0], k)
		if err != nil {
			return err
		}
		ukBuf = uk
		prefix = append(prefix[:0], k[:len(k)-8]...)
		seek = binary.BigEndian.AppendUint64(append(seek[:0], prefix...), ^rd.ts)
		// Find the newest data-changing version at or before ts.
		var val []byte
		var found bool
		for ok = it.SeekGE(seek); ok && bytes.HasPrefix(it.Key(), prefix); ok = it.Next() {
			if val, found, err = rd.versionValue(uk, it.Value()); err != nil {
				return err
			}
			if found || val != nil {
				break
			}
		}
		if found {
			if err := fn(uk, val); err != nil {
				return err
			}
		}
		ok = it.SeekLT(prefix)
	}
	return it.Error()
}

// deletedMarker is versionValue's "this version deletes the key".
var deletedMarker = []byte{}

// versionValue decodes one write record of uk: found is true for a put
// (with its value); for a delete it returns (deletedMarker, false); for
// lock-only and rollback records (nil, false), meaning "keep looking".
func (rd *Reader) versionValue(uk, record []byte) ([]byte, bool, error) {
	w, err := DecodeWrite(record)
	if err != nil {
		return nil, false, err
	}
	switch w.Kind {
	case WritePut:
		return rd.value(uk, &w)
	case WriteDelete:
		return deletedMarker, false, nil
	}
	return nil, false, nil
}

// maxNextSteps is how many versions a forward scan steps over with Next
// before it seeks: most keys have one or two versions, and a step is much
// cheaper than a seek.
const maxNextSteps = 4

// scanForward is Scan in ascending order. The iterator sits on the newest
// version of each user key first, so the version visible at ts is usually
// where it already is, and the next key usually one or two Next steps away.
func (rd *Reader) scanForward(it engine.Iterator, fn func(key, value []byte) error) error {
	ok := it.First()
	// One buffer for every user key: fn's slices are only valid during the
	// call, and decoding into a fresh allocation per element was an eighth
	// of LRANGE's CPU (docs/performance.md).
	var prefix, ukBuf []byte
	for ok {
		k := it.Key()
		uk, cts, err := keys.AppendDecodeWriteKey(ukBuf[:0], k)
		if err != nil {
			return err
		}
		ukBuf = uk
		prefix = append(prefix[:0], k[:len(k)-8]...)
		if cts > rd.ts {
			ok = it.SeekGE(keys.WriteKey(uk, rd.ts))
		}
		var val []byte
		var found bool
		for ; ok && bytes.HasPrefix(it.Key(), prefix); ok = it.Next() {
			if val, found, err = rd.versionValue(uk, it.Value()); err != nil {
				return err
			}
			if found || val != nil {
				break
			}
		}
		if found {
			if err := fn(uk, val); err != nil {
				return err
			}
		}
		// On to the next user key.
		steps := 0
		for ok && bytes.HasPrefix(it.Key(), prefix) {
			if steps == maxNextSteps {
				ok = it.SeekGE(keys.PrefixEnd(prefix))
				break
			}
			ok = it.Next()
			steps++
		}
	}
	return it.Error()
}

func (rd *Reader) checkLocksIn(start, end []byte) error {
	if rd.locks != nil && rd.locks.Empty() {
		return nil
	}
	lower, upper := keys.LockRange(start, end)
	it, err := rd.r.NewIter(lower, upper)
	if err != nil {
		return err
	}
	defer it.Close()
	for ok := it.First(); ok; ok = it.Next() {
		l, err := DecodeLock(it.Value())
		if err != nil {
			return err
		}
		if !rd.blocksRead(&l) {
			continue
		}
		uk, err := keys.DecodeLockKey(it.Key())
		if err != nil {
			return err
		}
		l.Primary = bytes.Clone(l.Primary)
		l.ShortValue = bytes.Clone(l.ShortValue)
		return &KeyLockedError{Key: uk, Lock: l}
	}
	return it.Error()
}
