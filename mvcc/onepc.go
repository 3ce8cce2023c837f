package mvcc

import (
	"github.com/skerrydb/skerry/mvcc/keys"
)

// Mutation is a transaction's intended change to one user key.
type Mutation struct {
	Key    []byte
	Delete bool
	Value  []byte
	// Lock marks a lock-only mutation: the key is not changed, only read,
	// and is locked so that a concurrent writer of it conflicts (this is
	// what makes a transaction serializable rather than snapshot
	// isolated). It commits as a WriteLock record. Delete and Value are
	// ignored.
	Lock bool
}

// OnePC commits mutations in one phase at commitTS for a transaction that
// read at startTS: every key must be free of locks and unchanged since
// startTS (otherwise *KeyLockedError / *WriteConflictError). It returns the
// physical modifications to replicate. The caller must hold latches on
// every key so the check and the apply are not interleaved with another
// writer of the same keys.
func OnePC(rd *Reader, mutations []Mutation, startTS, commitTS uint64) ([]Modify, error) {
	return onePC(rd, mutations, startTS, commitTS, true)
}

// OnePCLatched is OnePC for a transaction that held the latches of every
// key from before it obtained startTS until its writes are applied, with
// startTS == commitTS: no other writer of those keys can have committed in
// between (they wait on the same latches, and a committed write's timestamp
// is below startTS), so only locks of two-phase transactions, which do not
// take latches for their whole life, are checked.
func OnePCLatched(rd *Reader, mutations []Mutation, ts uint64) ([]Modify, error) {
	return onePC(rd, mutations, ts, ts, false)
}

func onePC(rd *Reader, mutations []Mutation, startTS, commitTS uint64, checkConflicts bool) ([]Modify, error) {
	mods := make([]Modify, 0, len(mutations))
	for _, m := range mutations {
		if err := rd.anyLock(m.Key); err != nil {
			return nil, err
		}
		if checkConflicts {
			latest, err := rd.LatestCommitTS(m.Key)
			if err != nil {
				return nil, err
			}
			if latest > startTS {
				return nil, &WriteConflictError{Key: m.Key, StartTS: startTS, ConflictCommitTS: latest}
			}
		}
		w := Write{Kind: WritePut, StartTS: startTS}
		if m.Lock {
			w.Kind = WriteLock
		} else if m.Delete {
			w.Kind = WriteDelete
		} else if len(m.Value) <= ShortValueMax {
			w.HasShort = true
			w.ShortValue = m.Value
		} else {
			mods = append(mods, Modify{Op: OpPut, Key: keys.DataKey(m.Key, startTS), Value: m.Value})
		}
		mods = append(mods, Modify{Op: OpPut, Key: keys.WriteKey(m.Key, commitTS), Value: w.Encode()})
	}
	return mods, nil
}
