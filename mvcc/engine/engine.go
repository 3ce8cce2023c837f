// Package engine declares the storage interfaces that the MVCC layer and the
// Raft store are written against. It imports no storage library: the only
// implementation used in production is pebbleengine, and tests may use the
// same implementation over an in-memory vfs.
//
// Keys handed to an Engine are physical keys built by package mvcc/keys.
package engine

import "errors"

// ErrNotFound is returned by Reader.Get when the key has no value.
var ErrNotFound = errors.New("engine: not found")

// Reader reads a consistent view of the keyspace. Returned slices are only
// valid until the next call on the same Reader or Iterator; copy them to keep
// them. Safe for concurrent use unless the implementation says otherwise
// (a Batch is not).
type Reader interface {
	// Get returns the value of key, or ErrNotFound.
	Get(key []byte) ([]byte, error)
	// NewIter returns an iterator over [lower, upper). A nil bound is open.
	// The caller must Close it.
	NewIter(lower, upper []byte) (Iterator, error)
}

// Iterator walks keys in ascending byte order. It starts unpositioned; call a
// Seek or First/Last first. Not safe for concurrent use.
type Iterator interface {
	SeekGE(key []byte) bool
	SeekLT(key []byte) bool
	First() bool
	Last() bool
	Next() bool
	Prev() bool
	Valid() bool
	// Key and Value are valid until the iterator moves.
	Key() []byte
	Value() []byte
	// Error reports an I/O error that ended iteration early.
	Error() error
	Close() error
}

// Snapshot is a point-in-time Reader. It pins storage until Closed.
type Snapshot interface {
	Reader
	Close() error
}

// Batch collects writes that are applied atomically by Commit. Not safe for
// concurrent use. A Batch may be committed once; Close releases it either way.
type Batch interface {
	Set(key, value []byte) error
	Delete(key []byte) error
	// DeleteRange deletes [start, end).
	DeleteRange(start, end []byte) error
	// Count is the number of operations added so far.
	Count() int
	// Commit applies the batch atomically. With sync true it returns only
	// after the write is durable (fsynced).
	Commit(sync bool) error
	Close() error
}

// Engine is a node's single key-value store: every region's data and Raft log.
type Engine interface {
	Reader
	NewSnapshot() Snapshot
	NewBatch() Batch
	// Sync makes every committed write durable.
	Sync() error
	Close() error
}

// SSTIngester is implemented by engines that can build sorted tables outside
// the write path and add them atomically (Pebble: sstable files ingested
// into the LSM, no write-ahead log, no memtable). It is optional: callers
// check for it with a type assertion and fall back to batches.
type SSTIngester interface {
	// NewSSTWriter starts a new table file in the engine's own directory.
	NewSSTWriter() (SSTWriter, error)
	// IngestSSTs atomically and durably adds the finished tables of ws, whose
	// key ranges must not overlap each other; their records take precedence
	// over every earlier write (a range deleted before is refilled by them).
	// On success the files belong to the engine; on failure the caller
	// Aborts the writers.
	IngestSSTs(ws []SSTWriter) error
}

// SSTWriter builds one table file. Not safe for concurrent use.
type SSTWriter interface {
	// Set adds a record; keys must be strictly ascending.
	Set(key, value []byte) error
	// Size is the number of key and value bytes added so far.
	Size() uint64
	// Finish completes the file and syncs it.
	Finish() error
	// Abort removes the file (finished or not) unless it was ingested.
	Abort()
}
