// Package mvcc implements Percolator-style multi-version records over an
// engine.Reader, as pure functions: readers at a timestamp, and actions that
// read a snapshot and return modifications (Modify) for the caller to
// replicate through Raft and apply. It never writes to storage itself.
//
// Records (keys from mvcc/keys):
//   - lock  'l'+key            : an in-flight transaction's lock (2PC only)
//   - write 'w'+key+^commitTS  : a committed version: kind, start ts, and the
//     value inline when it is short
//   - data  'd'+key+^startTS   : a long value written by a transaction
//
// Invariants: a write record with commitTS <= ts is visible to a reader at
// ts unless a newer one <= ts exists; a lock whose startTS <= ts blocks the
// reader (KeyLockedError) until it is resolved.
package mvcc
