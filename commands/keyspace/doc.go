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
//   - Every command that writes (sets or deletes) any record of a Redis key
//     writes that key's metadata record (MetaKey) too: it sets it if the
//     key exists afterwards and deletes it if the command removed the key.
//     So the metadata record's newest commit timestamp
//     (Txn.LatestCommitTS) is the time of the key's last modification:
//     WATCH compares it, and distributed transactions lock a Redis key by
//     locking its metadata record. Command bodies need not take care of
//     it: the dispatcher runs write commands on a TouchTxn, whose Finish
//     rewrites the metadata of keys the body changed only through their
//     members. The one exemption is the background collector
//     (CollectGC), which deletes members of versions that no metadata
//     record points to any more and must not modify live keys.
package keyspace
