package keyspace

import "errors"

// Txn is the transactional key-value view a command runs against. Keys are
// logical keys built by mvcc/keys. Reads see the transaction's snapshot plus
// its own earlier writes. Writes are buffered until the caller commits.
// A Txn is used by one goroutine at a time.
type Txn interface {
	// Get returns the value of key; ok is false when it has none.
	Get(key []byte) (value []byte, ok bool, err error)
	// Set buffers a write of key.
	Set(key, value []byte) error
	// Delete buffers a deletion of key.
	Delete(key []byte) error
	// Scan calls fn for every key in [lower, upper) in ascending order
	// (descending when reverse), merging buffered writes. A nil upper is
	// unbounded. An error from fn ends the scan and is returned unchanged
	// (callers use ErrStop to end early). key and value are only valid
	// during the call.
	Scan(lower, upper []byte, reverse bool, fn func(key, value []byte) error) error
	// NowMs is the transaction's time in Unix milliseconds (the physical part
	// of its timestamp). Expiry is judged against it.
	NowMs() int64
	// StartTS is the transaction's start timestamp from the oracle: unique
	// to this transaction cluster-wide. New collections take it as their
	// version, so no two values of one key ever share a version.
	StartTS() uint64
	// LatestCommitTS returns the commit timestamp of the newest committed
	// write (put or delete) of key visible at the transaction's snapshot,
	// 0 if key was never written. The transaction's own buffered writes
	// are not counted. WATCH compares it for a key's metadata record
	// between two transactions: any write committed in between changes it
	// (see the metadata invariant in doc.go).
	LatestCommitTS(key []byte) (uint64, error)
}

// PlainChecker is implemented by transactions that can tell, without a
// read, that a metadata record holds neither a collection nor an expiry
// (or does not exist), so that DB.Put may replace it blind: there is
// nothing of the old value to clean up. false means "read it"; it is never
// wrong to answer false. The node's leader path implements it (see
// cluster/plainkeys.go); other transactions read.
type PlainChecker interface {
	KnownPlain(metaKey []byte) bool
}

// ErrStop ends a Scan early without error.
var ErrStop = errors.New("keyspace: stop scan")
