// Package txn runs transactions over MVCC: Txn buffers a command's writes
// over a Reader at its start timestamp and hands them out as mutations at
// commit; Latches serialize transactions that touch the same keys on a
// leader. The two-phase-commit coordinator for transactions that span
// regions lives here too (over small Oracle / Router / Sender interfaces).
package txn
