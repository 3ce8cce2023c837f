// Package keyspace is the Redis data model on a transactional key-value
// store: every Redis key has one metadata record (type, expiry, version,
// size, and for strings the value itself) and collections have one record
// per member under the key's current version (see mvcc/keys for the layout).
//
// Callers run inside a transaction (Txn) provided by the node: the command
// executor latches the keys, opens a Txn at a timestamp, runs the command
// body against a DB, and commits the Txn's writes atomically. Package
// keyspace never commits and never knows about Raft or regions.
//
// Invariants:
//   - An expired key is absent for every read, judged against Txn.NowMs
//     (the transaction's TSO time), never the local clock.
//   - Every key with an expiry has exactly one expiry index entry, and keys
//     without one have none; the active expirer relies on it.
//   - Overwriting or deleting a collection writes only its metadata record;
//     orphaned members are collected later.
package keyspace
