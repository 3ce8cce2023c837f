package mvcc

import (
	"bytes"
	"errors"
	"fmt"
	"math"

	"github.com/skerrydb/skerry/mvcc/engine"
	"github.com/skerrydb/skerry/mvcc/keys"
)

// The Percolator actions of a two-phase transaction, after TiKV's
// (prewrite, commit, cleanup/rollback, check_txn_status, resolve_lock,
// txn_heart_beat). Each is a pure function of a snapshot: it reads through
// a *Reader and returns the modifications to replicate, or an error and
// none. The caller must hold the latches of every key it passes from
// before it reads until the modifications are applied, so that two actions
// on one key never compute from the same state; under that rule every
// action is idempotent: repeated with the same arguments it returns no
// modifications (or the same ones) and the same outcome, so a retried or
// duplicated request has its effect exactly once. The read timestamp of
// the Reader is not used: actions read the newest state.

// TSLogicalBits is the number of low bits of a timestamp that hold the
// TSO's logical counter; the bits above are physical Unix milliseconds
// (pd/pdclient.LogicalBits, which mvcc may not import; the two must agree).
const TSLogicalBits = 18

// PhysicalMs returns the physical milliseconds of timestamp ts.
func PhysicalMs(ts uint64) uint64 { return ts >> TSLogicalBits }

var (
	// ErrTxnRolledBack reports that the transaction was rolled back on a
	// key: a commit of it, or a late prewrite, is refused.
	ErrTxnRolledBack = errors.New("mvcc: transaction rolled back")
	// ErrTxnLockNotFound reports a commit that found neither the
	// transaction's lock nor any record of its outcome on a key (it was
	// never prewritten there, or its records were collected).
	ErrTxnLockNotFound = errors.New("mvcc: transaction lock not found")
	// ErrTxnNotFound reports a status check or heart beat that found no
	// live lock of the transaction on its primary key, and (for the
	// status check) no record of its outcome.
	ErrTxnNotFound = errors.New("mvcc: transaction not found")
	// ErrInvalidTxnRequest reports arguments no correct coordinator sends
	// (a commit timestamp not above the start timestamp, an empty primary).
	ErrInvalidTxnRequest = errors.New("mvcc: invalid transaction request")
)

// CommittedError is returned by a rollback of a transaction that already
// committed on Key.
type CommittedError struct {
	Key      []byte
	StartTS  uint64
	CommitTS uint64
}

func (e *CommittedError) Error() string {
	return fmt.Sprintf("mvcc: transaction %d already committed at %d", e.StartTS, e.CommitTS)
}

// PrimaryMismatchError is returned by CheckTxnStatus when the lock of the
// transaction on the key it was told is the primary names another primary.
type PrimaryMismatchError struct {
	Key  []byte
	Lock Lock
}

func (e *PrimaryMismatchError) Error() string {
	return fmt.Sprintf("mvcc: lock of transaction %d names another primary", e.Lock.StartTS)
}

// Prewrite is the first phase of a two-phase commit of the transaction
// that started at startTS: for each mutation it checks that no other
// transaction holds a lock on the key (*KeyLockedError, with the lock, so
// the caller can resolve it) and that nothing was committed on it after
// startTS (*WriteConflictError), then writes a lock naming primary, alive
// lockTTLMs after the physical time of startTS. A value up to
// ShortValueMax bytes is kept in the lock, a longer one in a data record
// at startTS; a lock-only mutation (Mutation.Lock) writes a lock and no
// value. Keys must be distinct.
//
// A key already locked by this transaction, or on which this transaction
// already committed, is skipped (a retried prewrite succeeds without
// effect). A key on which this transaction was rolled back refuses
// (ErrTxnRolledBack): a prewrite arriving after its transaction was
// rolled back must not resurrect it. On any error no modification is
// returned.
func Prewrite(rd *Reader, mutations []Mutation, primary []byte, startTS, lockTTLMs uint64) ([]Modify, error) {
	if len(primary) == 0 {
		return nil, fmt.Errorf("%w: empty primary key", ErrInvalidTxnRequest)
	}
	mods := make([]Modify, 0, len(mutations))
	for _, m := range mutations {
		lock, locked, err := rd.loadLock(m.Key)
		if err != nil {
			return nil, err
		}
		if locked {
			if lock.StartTS == startTS {
				continue // our own lock: a retry
			}
			return nil, &KeyLockedError{Key: bytes.Clone(m.Key), Lock: lock}
		}
		skip, err := prewriteCheckWrites(rd, m.Key, startTS)
		if err != nil {
			return nil, err
		}
		if skip {
			continue
		}
		l := Lock{Kind: LockPut, Primary: primary, StartTS: startTS, TTLMs: lockTTLMs}
		switch {
		case m.Lock:
			l.Kind = LockLock
		case m.Delete:
			l.Kind = LockDelete
		case len(m.Value) <= ShortValueMax:
			l.HasShort, l.ShortValue = true, m.Value
		default:
			mods = append(mods, Modify{Op: OpPut, Key: keys.DataKey(m.Key, startTS), Value: m.Value})
		}
		mods = append(mods, Modify{Op: OpPut, Key: keys.LockKey(m.Key), Value: l.Encode()})
	}
	return mods, nil
}

// prewriteCheckWrites checks key's write records for a prewrite at
// startTS: skip is true when the transaction already committed there.
func prewriteCheckWrites(rd *Reader, key []byte, startTS uint64) (skip bool, err error) {
	w, cts, found, err := rd.newestWrite(key)
	if err != nil || !found {
		return false, err
	}
	switch {
	case cts > startTS:
		// Newer than us: a conflict, unless the newer records include our
		// own commit (a retried prewrite) or rollback.
		rec, err := rd.txnRecord(key, startTS)
		if err != nil {
			return false, err
		}
		switch rec.state {
		case recordCommitted:
			return true, nil
		case recordRolledBack:
			return false, fmt.Errorf("%w: key %q, start %d", ErrTxnRolledBack, key, startTS)
		}
		return false, &WriteConflictError{Key: bytes.Clone(key), StartTS: startTS, ConflictCommitTS: cts}
	case cts == startTS && ((w.Kind == WriteRollback && w.StartTS == startTS) || w.OverlappedRollback):
		return false, fmt.Errorf("%w: key %q, start %d", ErrTxnRolledBack, key, startTS)
	}
	return false, nil
}

// Commit is the second phase: for each key locked by the transaction that
// started at startTS it writes the commit record at commitTS (a put,
// delete or, for a lock-only lock, a WriteLock record) and removes the
// lock. Commit the primary first: once its commit record exists the
// transaction is committed, and its secondaries may be committed by
// anyone (ResolveLock). A key the transaction already committed is
// skipped (a retried commit succeeds); a key where it was rolled back
// fails with ErrTxnRolledBack, one with no trace of it with
// ErrTxnLockNotFound. commitTS must be above startTS.
func Commit(rd *Reader, keyList [][]byte, startTS, commitTS uint64) ([]Modify, error) {
	if commitTS <= startTS {
		return nil, fmt.Errorf("%w: commit ts %d not above start ts %d", ErrInvalidTxnRequest, commitTS, startTS)
	}
	mods := make([]Modify, 0, 2*len(keyList))
	for _, key := range keyList {
		var err error
		if mods, err = commitKey(rd, key, startTS, commitTS, mods); err != nil {
			return nil, err
		}
	}
	return mods, nil
}

func commitKey(rd *Reader, key []byte, startTS, commitTS uint64, mods []Modify) ([]Modify, error) {
	lock, locked, err := rd.loadLock(key)
	if err != nil {
		return nil, err
	}
	if !locked || lock.StartTS != startTS {
		rec, err := rd.txnRecord(key, startTS)
		if err != nil {
			return nil, err
		}
		switch rec.state {
		case recordCommitted:
			return mods, nil
		case recordRolledBack:
			return nil, fmt.Errorf("%w: key %q, start %d", ErrTxnRolledBack, key, startTS)
		}
		return nil, fmt.Errorf("%w: key %q, start %d", ErrTxnLockNotFound, key, startTS)
	}
	w := Write{Kind: WritePut, StartTS: startTS}
	switch lock.Kind {
	case LockLock:
		w.Kind = WriteLock
	case LockDelete:
		w.Kind = WriteDelete
	default:
		w.HasShort, w.ShortValue = lock.HasShort, lock.ShortValue
	}
	// The commit key may already hold the rollback record of a
	// transaction that started at commitTS: keep that rollback as a flag.
	prev, ok, err := rd.writeAt(key, commitTS)
	if err != nil {
		return nil, err
	}
	if ok {
		if prev.Kind != WriteRollback || prev.StartTS != commitTS {
			return nil, fmt.Errorf("%w: commit ts %d of key %q already used by transaction %d",
				ErrInvalidTxnRequest, commitTS, key, prev.StartTS)
		}
		w.OverlappedRollback = true
	}
	return append(mods,
		Modify{Op: OpPut, Key: keys.WriteKey(key, commitTS), Value: w.Encode()},
		Modify{Op: OpDelete, Key: keys.LockKey(key)},
	), nil
}

// Rollback aborts the transaction that started at startTS on each key:
// it removes the transaction's lock and value and writes a rollback
// record at startTS, so that a prewrite of it arriving later is refused.
// A key with no lock of the transaction gets the rollback record too
// (the prewrite may still be on its way). A key already rolled back is
// skipped; a key where the transaction committed fails with
// *CommittedError.
//
// Every rollback record is protected, in TiKV's terms: it is never
// collapsed by a later rollback, only removed by GC below the safe point.
func Rollback(rd *Reader, keyList [][]byte, startTS uint64) ([]Modify, error) {
	mods := make([]Modify, 0, 2*len(keyList))
	for _, key := range keyList {
		var err error
		if mods, err = rollbackKey(rd, key, startTS, mods); err != nil {
			return nil, err
		}
	}
	return mods, nil
}

func rollbackKey(rd *Reader, key []byte, startTS uint64, mods []Modify) ([]Modify, error) {
	lock, locked, err := rd.loadLock(key)
	if err != nil {
		return nil, err
	}
	if locked && lock.StartTS == startTS {
		return rollbackLock(rd, key, &lock, mods)
	}
	rec, err := rd.txnRecord(key, startTS)
	if err != nil {
		return nil, err
	}
	switch rec.state {
	case recordCommitted:
		return nil, &CommittedError{Key: bytes.Clone(key), StartTS: startTS, CommitTS: rec.commitTS}
	case recordRolledBack:
		return mods, nil
	}
	return appendRollbackRecord(rd, key, startTS, mods)
}

// rollbackLock rolls back lock, the lock on key of the transaction being
// rolled back.
func rollbackLock(rd *Reader, key []byte, lock *Lock, mods []Modify) ([]Modify, error) {
	if lock.Kind == LockPut && !lock.HasShort {
		mods = append(mods, Modify{Op: OpDelete, Key: keys.DataKey(key, lock.StartTS)})
	}
	mods, err := appendRollbackRecord(rd, key, lock.StartTS, mods)
	if err != nil {
		return nil, err
	}
	return append(mods, Modify{Op: OpDelete, Key: keys.LockKey(key)}), nil
}

// appendRollbackRecord records that the transaction that started at
// startTS is rolled back on key: a WriteRollback record at startTS, or,
// when another transaction committed at exactly startTS, the
// OverlappedRollback flag on its commit record.
func appendRollbackRecord(rd *Reader, key []byte, startTS uint64, mods []Modify) ([]Modify, error) {
	wk := keys.WriteKey(key, startTS)
	prev, ok, err := rd.writeAt(key, startTS)
	if err != nil {
		return nil, err
	}
	if ok {
		if prev.StartTS == startTS || prev.OverlappedRollback {
			return mods, nil // already recorded
		}
		prev.OverlappedRollback = true
		return append(mods, Modify{Op: OpPut, Key: wk, Value: prev.Encode()}), nil
	}
	w := Write{Kind: WriteRollback, StartTS: startTS}
	return append(mods, Modify{Op: OpPut, Key: wk, Value: w.Encode()}), nil
}

// TxnState is the outcome CheckTxnStatus found.
type TxnState int

const (
	// TxnLocked: the primary lock is alive; the transaction may still
	// commit. TxnStatus.Lock holds the lock (its TTL).
	TxnLocked TxnState = iota + 1
	// TxnCommitted: committed at TxnStatus.CommitTS.
	TxnCommitted
	// TxnRolledBack: rolled back (now or before, see TxnStatus.Action).
	TxnRolledBack
)

func (s TxnState) String() string {
	switch s {
	case TxnLocked:
		return "locked"
	case TxnCommitted:
		return "committed"
	case TxnRolledBack:
		return "rolled-back"
	}
	return fmt.Sprintf("TxnState(%d)", int(s))
}

// TxnAction is what CheckTxnStatus did to reach its answer.
type TxnAction int

const (
	// TxnNoAction: the state was read, nothing written.
	TxnNoAction TxnAction = iota
	// TxnTTLExpireRollback: the primary lock had expired and was rolled
	// back by this call.
	TxnTTLExpireRollback
	// TxnLockNotExistRollback: there was no lock and no record; a rollback
	// record was written so that the prewrite can never succeed.
	TxnLockNotExistRollback
)

func (a TxnAction) String() string {
	switch a {
	case TxnNoAction:
		return "none"
	case TxnTTLExpireRollback:
		return "ttl-expire-rollback"
	case TxnLockNotExistRollback:
		return "lock-not-exist-rollback"
	}
	return fmt.Sprintf("TxnAction(%d)", int(a))
}

// TxnStatus is the answer of CheckTxnStatus.
type TxnStatus struct {
	State    TxnState
	Action   TxnAction
	CommitTS uint64 // TxnCommitted only
	Lock     Lock   // TxnLocked only
}

// CheckTxnStatus decides the fate of the transaction that started at
// startTS from its primary key, as a reader or writer that met one of its
// locks must before resolving it. currentTS is a fresh timestamp: a
// primary lock whose TTL ran out by then (Lock.Expired) is rolled back by
// this call and the modifications returned. A primary with neither lock
// nor record is rolled back (a rollback record is written) when
// rollbackIfNotExist, and ErrTxnNotFound otherwise: the prewrite of the
// primary may still be on its way, so only a caller that knows the
// transaction is dead (its secondary lock expired) should roll it back.
//
// Unlike TiKV, a live lock's min commit timestamp is not pushed: a reader
// meeting a live lock backs off and retries.
func CheckTxnStatus(rd *Reader, primary []byte, startTS, currentTS uint64, rollbackIfNotExist bool) (TxnStatus, []Modify, error) {
	lock, locked, err := rd.loadLock(primary)
	if err != nil {
		return TxnStatus{}, nil, err
	}
	if locked && lock.StartTS == startTS {
		if !bytes.Equal(lock.Primary, primary) {
			return TxnStatus{}, nil, &PrimaryMismatchError{Key: bytes.Clone(primary), Lock: lock}
		}
		if !lock.Expired(currentTS) {
			return TxnStatus{State: TxnLocked, Lock: lock}, nil, nil
		}
		mods, err := rollbackLock(rd, primary, &lock, nil)
		if err != nil {
			return TxnStatus{}, nil, err
		}
		return TxnStatus{State: TxnRolledBack, Action: TxnTTLExpireRollback}, mods, nil
	}
	rec, err := rd.txnRecord(primary, startTS)
	if err != nil {
		return TxnStatus{}, nil, err
	}
	switch rec.state {
	case recordCommitted:
		return TxnStatus{State: TxnCommitted, CommitTS: rec.commitTS}, nil, nil
	case recordRolledBack:
		return TxnStatus{State: TxnRolledBack}, nil, nil
	}
	if !rollbackIfNotExist {
		return TxnStatus{}, nil, fmt.Errorf("%w: primary %q, start %d", ErrTxnNotFound, primary, startTS)
	}
	mods, err := appendRollbackRecord(rd, primary, startTS, nil)
	if err != nil {
		return TxnStatus{}, nil, err
	}
	return TxnStatus{State: TxnRolledBack, Action: TxnLockNotExistRollback}, mods, nil
}

// ResolveLock finishes the transaction that started at startTS on the
// given keys once its fate is known (CheckTxnStatus on its primary):
// commits them at commitTS when commitTS > 0 (as Commit), rolls them back
// when commitTS == 0 (as Rollback). Keys come from the locks a reader met
// or from ScanLocks.
func ResolveLock(rd *Reader, startTS, commitTS uint64, keyList [][]byte) ([]Modify, error) {
	if commitTS == 0 {
		return Rollback(rd, keyList, startTS)
	}
	return Commit(rd, keyList, startTS, commitTS)
}

// TxnHeartBeat keeps a long transaction alive: it raises the TTL of the
// live primary lock of the transaction that started at startTS to
// adviseTTLMs (it never lowers it) and returns the TTL now in force. No
// such lock: ErrTxnNotFound (the transaction committed, or was rolled
// back, or never locked its primary).
func TxnHeartBeat(rd *Reader, primary []byte, startTS, adviseTTLMs uint64) (uint64, []Modify, error) {
	lock, locked, err := rd.loadLock(primary)
	if err != nil {
		return 0, nil, err
	}
	if !locked || lock.StartTS != startTS {
		return 0, nil, fmt.Errorf("%w: primary %q, start %d", ErrTxnNotFound, primary, startTS)
	}
	if lock.TTLMs >= adviseTTLMs {
		return lock.TTLMs, nil, nil
	}
	lock.TTLMs = adviseTTLMs
	return adviseTTLMs, []Modify{{Op: OpPut, Key: keys.LockKey(primary), Value: lock.Encode()}}, nil
}

// LockInfo is one lock found by ScanLocks.
type LockInfo struct {
	Key  []byte
	Lock Lock
}

// ScanLocks returns, in key order, up to limit (0: no limit) locks of
// user keys in [start, end) (end nil: unbounded) whose transaction
// started at or before maxTS: what a region must resolve before GC at a
// safe point, or to clean up after a dead coordinator.
func ScanLocks(rd *Reader, start, end []byte, maxTS uint64, limit int) ([]LockInfo, error) {
	if rd.locks != nil && rd.locks.Empty() {
		return nil, nil
	}
	lower, upper := keys.LockRange(start, end)
	it, err := rd.r.NewIter(lower, upper)
	if err != nil {
		return nil, err
	}
	defer it.Close()
	var out []LockInfo
	for ok := it.First(); ok && (limit <= 0 || len(out) < limit); ok = it.Next() {
		l, err := DecodeLock(it.Value())
		if err != nil {
			return nil, err
		}
		if l.StartTS > maxTS {
			continue
		}
		uk, err := keys.DecodeLockKey(it.Key())
		if err != nil {
			return nil, err
		}
		l.Primary = bytes.Clone(l.Primary)
		l.ShortValue = bytes.Clone(l.ShortValue)
		out = append(out, LockInfo{Key: uk, Lock: l})
	}
	return out, it.Error()
}

// ---- reads for the actions ----

// loadLock returns key's lock record, if any. Its slices are the caller's.
func (rd *Reader) loadLock(key []byte) (Lock, bool, error) {
	if !rd.mayBeLocked(key) {
		return Lock{}, false, nil
	}
	v, err := rd.r.Get(keys.LockKey(key))
	if errors.Is(err, engine.ErrNotFound) {
		return Lock{}, false, nil
	}
	if err != nil {
		return Lock{}, false, err
	}
	l, err := DecodeLock(bytes.Clone(v))
	if err != nil {
		return Lock{}, false, err
	}
	return l, true, nil
}

// writeAt returns key's write record at exactly commit timestamp ts.
func (rd *Reader) writeAt(key []byte, ts uint64) (Write, bool, error) {
	v, err := rd.r.Get(keys.WriteKey(key, ts))
	if errors.Is(err, engine.ErrNotFound) {
		return Write{}, false, nil
	}
	if err != nil {
		return Write{}, false, err
	}
	w, err := DecodeWrite(bytes.Clone(v))
	if err != nil {
		return Write{}, false, err
	}
	return w, true, nil
}

// newestWrite returns key's newest write record of any kind and its
// commit timestamp.
func (rd *Reader) newestWrite(key []byte) (Write, uint64, bool, error) {
	lower, upper, prefix := keys.AppendWriteKeyBounds(nil, key, math.MaxUint64)
	it, err := rd.r.NewIter(lower, upper)
	if err != nil {
		return Write{}, 0, false, err
	}
	defer it.Close()
	if !it.First() {
		return Write{}, 0, false, it.Error()
	}
	cts, err := keys.WriteKeyTS(it.Key(), prefix)
	if err != nil {
		return Write{}, 0, false, err
	}
	w, err := DecodeWrite(bytes.Clone(it.Value()))
	if err != nil {
		return Write{}, 0, false, err
	}
	return w, cts, true, nil
}

type recordState int

const (
	recordNone recordState = iota
	recordCommitted
	recordRolledBack
)

// txnRecord is what key's write records say about the transaction that
// started at some startTS.
type txnRecord struct {
	state    recordState
	commitTS uint64 // recordCommitted
}

// txnRecord finds the outcome of the transaction that started at startTS
// on key (TiKV's get_txn_commit_record): its commit record (a write
// record at or above startTS whose StartTS is startTS), or its rollback
// (a rollback record at startTS, or the OverlappedRollback flag on
// another transaction's commit record at startTS), or nothing. Only
// records at or above startTS are read: a transaction commits after it
// starts.
func (rd *Reader) txnRecord(key []byte, startTS uint64) (txnRecord, error) {
	lower, upper, prefix := keys.AppendWriteKeyBounds(nil, key, math.MaxUint64)
	it, err := rd.r.NewIter(lower, upper)
	if err != nil {
		return txnRecord{}, err
	}
	defer it.Close()
	for ok := it.First(); ok; ok = it.Next() {
		cts, err := keys.WriteKeyTS(it.Key(), prefix)
		if err != nil {
			return txnRecord{}, err
		}
		if cts < startTS {
			break
		}
		w, err := DecodeWrite(it.Value())
		if err != nil {
			return txnRecord{}, err
		}
		if w.StartTS == startTS {
			if w.Kind == WriteRollback {
				return txnRecord{state: recordRolledBack}, nil
			}
			return txnRecord{state: recordCommitted, commitTS: cts}, nil
		}
		if cts == startTS && w.OverlappedRollback {
			return txnRecord{state: recordRolledBack}, nil
		}
	}
	return txnRecord{}, it.Error()
}
