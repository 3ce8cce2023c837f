// Package keyspacetest provides an in-memory keyspace.Txn for unit tests of
// command bodies. It is never used by a running node.
package keyspacetest

import (
	"bytes"
	"sort"

	"github.com/skerrydb/skerry/commands/keyspace"
)

// Store is an in-memory sorted key-value map with a settable clock.
type Store struct {
	data map[string][]byte
	// commits maps every key ever written (set or deleted) to the TS of
	// the transaction that last wrote it, standing in for MVCC commit
	// timestamps (LatestCommitTS).
	commits map[string]uint64
	Now     int64  // Unix ms returned by NowMs
	TS      uint64 // start timestamp of the last transaction; Txn increments it
}

// NewStore returns an empty Store whose clock reads nowMs.
func NewStore(nowMs int64) *Store {
	return &Store{data: map[string][]byte{}, commits: map[string]uint64{}, Now: nowMs}
}

// Txn returns a transaction that writes straight into the store (there is
// no concurrency in unit tests, so buffering adds nothing).
// Every Txn gets a new StartTS, as transactions do from the oracle.
func (s *Store) Txn() keyspace.Txn {
	s.TS++
	return memTxn{s, s.TS}
}

// Len returns the number of stored records.
func (s *Store) Len() int { return len(s.data) }

type memTxn struct {
	s  *Store
	ts uint64
}

func (t memTxn) Get(key []byte) ([]byte, bool, error) {
	v, ok := t.s.data[string(key)]
	return v, ok, nil
}

func (t memTxn) Set(key, value []byte) error {
	t.s.data[string(key)] = bytes.Clone(value)
	t.s.commits[string(key)] = t.ts
	return nil
}

func (t memTxn) Delete(key []byte) error {
	delete(t.s.data, string(key))
	t.s.commits[string(key)] = t.ts
	return nil
}

// LatestCommitTS returns the TS of the transaction that last wrote key
// (0: never written). Writes go straight to the store, so a transaction
// sees its own; tests compare values across transactions.
func (t memTxn) LatestCommitTS(key []byte) (uint64, error) {
	return t.s.commits[string(key)], nil
}

func (t memTxn) NowMs() int64 { return t.s.Now }

func (t memTxn) StartTS() uint64 { return t.ts }

func (t memTxn) Scan(lower, upper []byte, reverse bool, fn func(k, v []byte) error) error {
	var ks []string
	for k := range t.s.data {
		if k >= string(lower) && (upper == nil || k < string(upper)) {
			ks = append(ks, k)
		}
	}
	sort.Strings(ks)
	if reverse {
		for i, j := 0, len(ks)-1; i < j; i, j = i+1, j-1 {
			ks[i], ks[j] = ks[j], ks[i]
		}
	}
	for _, k := range ks {
		v, ok := t.s.data[k]
		if !ok {
			continue
		}
		if err := fn([]byte(k), v); err != nil {
			return err // unchanged, as keyspace.Txn.Scan requires
		}
	}
	return nil
}
