// Package meta is the PD leader's in-memory picture of the cluster's
// regions: a tree ordered by start key, fed by region heartbeats and split
// reports. It is pure (no I/O): the caller persists what Update reports as
// changed and removed, and reloads with Load on a new leader.
//
// Invariants: the regions in a Tree never overlap; a region is replaced
// only by a report whose epoch is not older (Version for the key range,
// ConfVer for the peers); a report that overlaps a region with a newer
// Version is rejected as stale.
//
// A Tree is not safe for concurrent use; the caller locks.
package meta
