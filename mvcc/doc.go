// Package mvcc implements Percolator-style multi-version records over an
// engine.Reader, as pure functions: readers at a timestamp, and actions that
// read a snapshot and return modifications (Modify) for the caller to
// replicate through Raft and apply. It never writes to storage itself.
//
// Records (keys from mvcc/keys; value formats in records.go, frozen):
//   - lock  'l'+key            : an in-flight two-phase transaction's lock:
//     kind (put, delete, lock-only), primary key, start ts, TTL, and the
//     value inline when it is short
//   - write 'w'+key+^commitTS  : a commit record (put, delete, or lock for a
//     lock-only mutation: start ts, short value) or a rollback record
//     (start ts == commitTS); a commit record may carry the
//     overlapped-rollback flag (below)
//   - data  'd'+key+^startTS   : a value longer than ShortValueMax written
//     by a transaction
//
// Timestamps are the TSO's: physical ms << TSLogicalBits | logical. Lock
// TTLs count from the physical time of the lock's start ts and are judged
// against a caller-supplied timestamp (Lock.Expired), never a node clock.
//
// Actions:
//   - OnePC / OnePCLatched: commit a whole transaction in one step when all
//     its keys are in one region (the normal case).
//   - Prewrite, Commit, Rollback, CheckTxnStatus, ResolveLock, TxnHeartBeat
//     (percolator.go): the two-phase commit of a transaction spanning
//     regions, with TiKV's semantics; ScanLocks finds locks to resolve.
//     The coordinator prewrites every key (one of them the primary), then
//     commits the primary, then the secondaries. A reader or writer that
//     meets a lock gets a *KeyLockedError with the lock (primary, start
//     ts, TTL); it calls CheckTxnStatus on the primary, which rolls the
//     transaction back if the primary lock expired, and then ResolveLock
//     on the keys it met (commit if the primary committed, roll back
//     otherwise), or backs off while the primary lock is alive.
//   - GC (gc.go): the deletions that collect the versions no reader at or
//     above a safe point can see (TiKV's rules: per key, keep the newest
//     put at or below the safe point with its data, drop everything older,
//     a delete that is the newest at or below it, and every rollback and
//     lock-only record at or below it); bounded per call, with a resume
//     key. Locks and records above the safe point are never touched.
//
// Callers must hold the latches of every key an action touches from before
// its read until its modifications are applied: an action's checks are
// only valid against the state it read. GC is the exception: it needs no
// latch (see GC).
//
// Invariants:
//   - A write record with commitTS <= ts is visible to a reader at ts unless
//     a newer data-changing one <= ts exists; lock and rollback records are
//     skipped by readers.
//   - A lock whose startTS <= ts blocks the reader (KeyLockedError) until it
//     is resolved, except a lock-only lock, which changes nothing.
//   - A transaction is committed iff its primary has its commit record; it
//     is rolled back iff its primary has its rollback mark. No key ever
//     holds both a commit record and a rollback mark of one transaction:
//     Commit refuses after a rollback (ErrTxnRolledBack), Rollback after a
//     commit (*CommittedError).
//   - A rollback leaves a mark at the start ts on every key it touches,
//     locked or not ("protected" in TiKV's terms; only GC removes it), so a
//     prewrite arriving after the rollback is refused (ErrTxnRolledBack).
//     When another transaction committed that key at exactly that ts, the
//     mark is the OverlappedRollback flag on its commit record.
//   - A prewrite conflicts with any write record (of any kind, rollbacks
//     included, as in TiKV) newer than its start ts (*WriteConflictError)
//     and with any lock of another transaction (*KeyLockedError).
//   - Every action is idempotent: repeated right after its modifications
//     were applied it returns none (or the same ones) and the same outcome
//     (the same error; for CheckTxnStatus the same state, with no action
//     taken), so a retried or duplicated request takes effect exactly once.
//     On an error an action returns no modifications at all.
//   - The GC safe point: once versions at or below a safe point S may have
//     been collected, no transaction whose start ts is at or below S may
//     read or write (PD computes S below the oldest start ts any node
//     reports as active, see pd's documentation). So the records GC
//     deletes are never written again (commit and rollback records of
//     live transactions lie above their start ts, hence above S) and a
//     rollback record at or below S no longer needs to refuse a late
//     prewrite. Reads at or above S see exactly what they saw before GC;
//     the commit ts SeekWrite reports for a deleted key may drop to 0.
package mvcc
