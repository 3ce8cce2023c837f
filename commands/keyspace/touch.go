package keyspace

import (
	"bytes"

	"github.com/skerrydb/skerry/mvcc/keys"
)

// TouchTxn is the Txn a write command runs against. It passes everything
// through to the transaction underneath and notes which Redis keys the
// command wrote: their metadata records, and the member records of
// collections. Finish then rewrites, unchanged, the metadata record of
// every key whose members were written but whose metadata was not, so
// that the metadata invariant (doc.go) holds whatever the command body
// did: HSET of an existing field or LSET, for example, write only member
// records.
//
// One TouchTxn serves one command body: take a new one per command (it
// costs one small allocation, plus one copy of each metadata key written).
// Not for the background collector, which deletes members of versions no
// metadata record points to and must leave the live metadata alone.
type TouchTxn struct {
	Txn
	metas   keySet // metadata records written by the command
	members keySet // metadata keys of Redis keys whose members it wrote
}

// NewTouchTxn wraps t for one command body.
func NewTouchTxn(t Txn) *TouchTxn { return &TouchTxn{Txn: t} }

// KnownPlain implements PlainChecker when the transaction underneath does.
func (t *TouchTxn) KnownPlain(metaKey []byte) bool {
	pc, ok := t.Txn.(PlainChecker)
	return ok && pc.KnownPlain(metaKey)
}

// Set implements Txn.
func (t *TouchTxn) Set(key, value []byte) error {
	t.note(key)
	return t.Txn.Set(key, value)
}

// Delete implements Txn.
func (t *TouchTxn) Delete(key []byte) error {
	t.note(key)
	return t.Txn.Delete(key)
}

// note classifies a written logical key. Expiry index and garbage queue
// entries are not records of a Redis key (DecodeMetaKey rejects them).
func (t *TouchTxn) note(k []byte) {
	_, _, suffix, ok := keys.DecodeMetaKey(k)
	if !ok {
		return
	}
	if len(suffix) == 0 {
		t.metas.add(k)
		return
	}
	t.members.add(k[:len(k)-len(suffix)])
}

// Finish rewrites the metadata record of every key whose members the
// command wrote without writing its metadata, if that record still
// exists (read through the transaction, so the command's own writes
// count). Call it once, after the command body succeeded and before the
// transaction commits.
func (t *TouchTxn) Finish() error {
	for _, mk := range t.members.list {
		if t.metas.has(mk) {
			continue
		}
		v, ok, err := t.Txn.Get(mk)
		if err != nil {
			return err
		}
		if !ok {
			continue // the members belong to no live key (or it is gone)
		}
		if err := t.Txn.Set(mk, v); err != nil {
			return err
		}
	}
	return nil
}

// keySet is a small insertion-ordered set of keys. Commands write few
// distinct Redis keys, many times each (one record per field): lookups
// check the last key added first and scan a short list before falling
// back to a map.
type keySet struct {
	list [][]byte
	m    map[string]struct{}
}

// keySetScanMax is the list length up to which lookups scan it.
const keySetScanMax = 8

func (s *keySet) has(k []byte) bool {
	if n := len(s.list); n > 0 && bytes.Equal(s.list[n-1], k) {
		return true
	}
	if s.m != nil {
		_, ok := s.m[string(k)]
		return ok
	}
	for _, x := range s.list {
		if bytes.Equal(x, k) {
			return true
		}
	}
	return false
}

// add inserts a copy of k (callers may reuse their key buffers).
func (s *keySet) add(k []byte) {
	if s.has(k) {
		return
	}
	k = bytes.Clone(k)
	s.list = append(s.list, k)
	if s.m == nil && len(s.list) > keySetScanMax {
		s.m = make(map[string]struct{}, 2*len(s.list))
		for _, x := range s.list {
			s.m[string(x)] = struct{}{}
		}
	} else if s.m != nil {
		s.m[string(k)] = struct{}{}
	}
}
