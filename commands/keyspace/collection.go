package keyspace

import (
	"bytes"
	"errors"

	"github.com/skerrydb/skerry/mvcc/keys"
)

// IsCollection reports whether values of type t keep their members in
// member records (DESIGN.md §4) rather than in the metadata record.
func (t Type) IsCollection() bool {
	switch t {
	case TypeList, TypeHash, TypeSet, TypeZSet, TypeStream:
		return true
	}
	return false
}

// ListOrigin is where the first element of a new list goes: the middle of
// the sequence space, so a list can grow 2^63 elements either way.
const ListOrigin uint64 = 1 << 63

// GetCollection returns the live collection at key. ok is false when the
// key does not exist (or has expired); ErrWrongType when it holds another
// type.
func (d *DB) GetCollection(key []byte, typ Type) (Meta, bool, error) {
	m, ok, err := d.Lookup(key)
	if err != nil || !ok {
		return Meta{}, false, err
	}
	if m.Type != typ {
		return Meta{}, false, ErrWrongType
	}
	return m, true, nil
}

// NewCollection returns the metadata of a new, empty collection of typ.
// Its version is the transaction's start timestamp, which no earlier value
// of any key can have, so members of older values are never visible in it.
//
// Within one transaction (MULTI/EXEC, a pipelined batch) every call returns
// the same version, so a command that replaces a key's value with a new
// collection must Delete the key first (after reading whatever it needs
// from it): Put and SaveCollection treat a value with the key's current
// type and version as an in-place update.
func (d *DB) NewCollection(typ Type) Meta {
	m := Meta{Type: typ, Version: d.txn.StartTS()}
	if typ == TypeList {
		m.Head, m.Tail = ListOrigin, ListOrigin
	}
	return m
}

// GetOrNewCollection returns the collection at key, or a new empty one
// (existed false) when there is none. ErrWrongType as GetCollection.
func (d *DB) GetOrNewCollection(key []byte, typ Type) (m Meta, existed bool, err error) {
	m, ok, err := d.GetCollection(key, typ)
	if err != nil {
		return Meta{}, false, err
	}
	if !ok {
		return d.NewCollection(typ), false, nil
	}
	return m, true, nil
}

// SaveCollection writes the metadata of a collection whose members the
// caller has updated. A collection whose Size dropped to 0 is deleted, as
// Redis deletes a key when its last member goes; the caller has removed
// every member record by then.
func (d *DB) SaveCollection(key []byte, m *Meta) error {
	if m.Size == 0 {
		old, ok, err := d.lookupHeader(key)
		if err != nil || !ok {
			return err
		}
		if old.Type == m.Type && old.Version == m.Version {
			if err := d.syncExpiryIndex(key, old.ExpireAt, 0); err != nil {
				return err
			}
			return d.txn.Delete(keys.MetaKey(d.db, key))
		}
		_, err = d.Delete(key)
		return err
	}
	return d.Put(key, m)
}

// MemberKey returns the logical key of one member record of collection m.
func (d *DB) MemberKey(key []byte, m *Meta, member []byte) []byte {
	return keys.MemberKey(d.db, key, m.Version, member)
}

// ScanMembers calls fn for the member records of collection m whose suffix
// (the bytes after the version, see mvcc/keys) is in [from, to), in
// ascending suffix order (descending when reverse). A nil to is unbounded.
// fn returning ErrStop ends the scan without error. suffix and value are
// only valid during the call.
func (d *DB) ScanMembers(key []byte, m *Meta, from, to []byte, reverse bool, fn func(suffix, value []byte) error) error {
	prefix := keys.MemberPrefix(d.db, key, m.Version)
	lower := append(bytes.Clone(prefix), from...)
	var upper []byte
	if to == nil {
		upper = keys.PrefixEnd(prefix)
	} else {
		upper = append(bytes.Clone(prefix), to...)
	}
	err := d.txn.Scan(lower, upper, reverse, func(k, v []byte) error {
		return fn(k[len(prefix):], v)
	})
	if errors.Is(err, ErrStop) {
		return nil
	}
	return err
}

// orphan disposes of the members of a collection value that is being
// deleted or replaced. Members written by this very transaction (the
// version is its start timestamp) are deleted now: they are all in its
// write buffer, and the version may be reused by a new value of the key in
// the same transaction. Otherwise one garbage-queue entry is written and
// the background collector removes the members later, so deleting a
// collection of any size costs one write.
func (d *DB) orphan(key []byte, old *Meta) error {
	if !old.Type.IsCollection() {
		return nil
	}
	if old.Version == d.txn.StartTS() {
		var doomed [][]byte
		err := d.ScanMembers(key, old, nil, nil, false, func(suffix, _ []byte) error {
			doomed = append(doomed, keys.MemberKey(d.db, key, old.Version, suffix))
			return nil
		})
		if err != nil {
			return err
		}
		for _, k := range doomed {
			if err := d.txn.Delete(k); err != nil {
				return err
			}
		}
		return nil
	}
	return d.txn.Set(keys.GCQueueKey(d.db, key, old.Version), encodeGCValue(old.Size, nil))
}
