package keyspace

import (
	"bytes"
	"encoding/binary"
	"errors"

	"github.com/skerrydb/skerry/mvcc/keys"
)

// ErrWrongType is returned when a key holds a value of another type.
var ErrWrongType = errors.New("keyspace: wrong type")

// DB is one logical database (SELECT n) viewed through a transaction.
type DB struct {
	txn Txn
	db  int
}

// New returns database db (0..keys.MaxDB-1) viewed through txn.
func New(txn Txn, db int) *DB { return &DB{txn: txn, db: db} }

// Txn returns the underlying transaction.
func (d *DB) Txn() Txn { return d.txn }

// Index returns the database number.
func (d *DB) Index() int { return d.db }

// NowMs is the transaction's time in Unix ms.
func (d *DB) NowMs() int64 { return d.txn.NowMs() }

// WithDB returns a view of another database in the same transaction.
func (d *DB) WithDB(db int) *DB { return &DB{txn: d.txn, db: db} }

// Lookup returns the metadata of key, treating an expired key as absent.
// For strings, m.Value is a copy owned by the caller.
func (d *DB) Lookup(key []byte) (Meta, bool, error) {
	m, ok, err := d.lookupHeader(key)
	if err != nil || !ok {
		return Meta{}, false, err
	}
	if m.ExpireAt != 0 && m.ExpireAt <= d.txn.NowMs() {
		return Meta{}, false, nil
	}
	if m.Type == TypeString {
		m.Value = bytes.Clone(m.Value)
		if m.Value == nil {
			m.Value = []byte{}
		}
	}
	return m, true, nil
}

// lookupHeader returns the metadata of key including expired keys. A
// string's Value aliases the transaction's buffer and must not be kept:
// callers needing only type, version, size and expiry (SET, DEL) skip the
// copy Lookup makes.
func (d *DB) lookupHeader(key []byte) (Meta, bool, error) {
	v, ok, err := d.txn.Get(keys.MetaKey(d.db, key))
	if err != nil || !ok {
		return Meta{}, false, err
	}
	m, err := DecodeMeta(v)
	if err != nil {
		return Meta{}, false, err
	}
	return m, true, nil
}

// GetString returns the value of a string key. ErrWrongType if the key holds
// another type.
func (d *DB) GetString(key []byte) ([]byte, bool, error) {
	m, ok, err := d.Lookup(key)
	if err != nil || !ok {
		return nil, false, err
	}
	if m.Type != TypeString {
		return nil, false, ErrWrongType
	}
	return m.Value, true, nil
}

// SetString stores a string value with an absolute expiry (0: none),
// replacing whatever the key held (see Put).
func (d *DB) SetString(key, value []byte, expireAtMs int64) error {
	m := Meta{Type: TypeString, Value: value, ExpireAt: expireAtMs}
	return d.Put(key, &m)
}

// Put writes the metadata record of key, replacing any previous value of
// any type, and keeps the expiry index in step. It reads the old metadata
// (through the version cache on the leader's hot path) because a replaced
// collection's members must be queued for the collector and an old expiry
// index entry removed, unless the transaction knows without reading that
// the old record is neither (PlainChecker): a key the leader has never
// seen costs a memtable seek, a quarter of a SET's CPU.
func (d *DB) Put(key []byte, m *Meta) error {
	mk := keys.MetaKey(d.db, key)
	if pc, ok := d.txn.(PlainChecker); ok && pc.KnownPlain(mk) {
		if err := d.syncExpiryIndex(key, 0, m.ExpireAt); err != nil {
			return err
		}
		return d.txn.Set(mk, m.Encode(nil))
	}
	old, ok, err := d.lookupHeader(key)
	if err != nil {
		return err
	}
	oldExp := int64(0)
	if ok {
		oldExp = old.ExpireAt
		if old.Type != m.Type || old.Version != m.Version {
			if err := d.orphan(key, &old); err != nil {
				return err
			}
		}
	}
	if err := d.syncExpiryIndex(key, oldExp, m.ExpireAt); err != nil {
		return err
	}
	return d.txn.Set(mk, m.Encode(nil))
}

func (d *DB) syncExpiryIndex(key []byte, oldExp, newExp int64) error {
	if oldExp == newExp {
		return nil
	}
	if oldExp != 0 {
		if err := d.txn.Delete(keys.ExpiryIndexKey(d.db, key, oldExp)); err != nil {
			return err
		}
	}
	if newExp != 0 {
		return d.txn.Set(keys.ExpiryIndexKey(d.db, key, newExp), nil)
	}
	return nil
}

// Delete removes key. It reports whether a live (unexpired) key existed.
// Collections are removed by deleting their metadata record only; their
// members become garbage for the collector (see orphan).
func (d *DB) Delete(key []byte) (bool, error) {
	m, ok, err := d.lookupHeader(key)
	if err != nil || !ok {
		return false, err
	}
	if err := d.orphan(key, &m); err != nil {
		return false, err
	}
	if err := d.syncExpiryIndex(key, m.ExpireAt, 0); err != nil {
		return false, err
	}
	if err := d.txn.Delete(keys.MetaKey(d.db, key)); err != nil {
		return false, err
	}
	live := m.ExpireAt == 0 || m.ExpireAt > d.txn.NowMs()
	return live, nil
}

// Exists reports whether key exists and has not expired.
func (d *DB) Exists(key []byte) (bool, error) {
	_, ok, err := d.Lookup(key)
	return ok, err
}

// SetExpire sets (expireAtMs > 0) or removes (0) the expiry of an existing
// key. It reports whether the key existed. An expiry at or before the
// transaction's time deletes the key, as Redis does.
func (d *DB) SetExpire(key []byte, expireAtMs int64) (bool, error) {
	m, ok, err := d.Lookup(key)
	if err != nil || !ok {
		return false, err
	}
	if expireAtMs != 0 && expireAtMs <= d.txn.NowMs() {
		_, err := d.Delete(key)
		return true, err
	}
	m.ExpireAt = expireAtMs
	return true, d.Put(key, &m)
}

// ScanKeys calls fn for every live key of this database whose slot is in
// [fromSlot, toSlot), in slot order. fn returning ErrStop ends the scan.
// It is one ascending walk that jumps over what is not this database's
// metadata (members of collections, other databases, a slot's expiry
// index and GC queue), so a walk over many empty slots or one stopped
// early costs little, also in a distributed transaction whose scan
// reads remote regions page by page.
func (d *DB) ScanKeys(fromSlot, toSlot int, fn func(slot int, key []byte, m *Meta) error) error {
	if fromSlot >= toSlot {
		return nil
	}
	now := d.txn.NowMs()
	lower := keys.SlotDBPrefix(uint16(fromSlot), d.db)
	var upper []byte
	if toSlot < keys.NumSlots {
		upper = keys.SlotPrefix(uint16(toSlot))
	}
	for lower != nil {
		var resume []byte
		err := d.txn.Scan(lower, upper, false, func(k, v []byte) error {
			if len(k) < 3 {
				return nil
			}
			slot := int(binary.BigEndian.Uint16(k))
			db, key, suffix, ok := keys.DecodeMetaKey(k)
			switch {
			case !ok || db > d.db:
				// The slot's later databases, expiry index or GC
				// queue: on to this database in the next slot.
				if slot+1 < keys.NumSlots {
					resume = keys.SlotDBPrefix(uint16(slot+1), d.db)
				}
				return errSkipMembers
			case db < d.db:
				resume = keys.SlotDBPrefix(uint16(slot), d.db)
				return errSkipMembers
			case len(suffix) != 0:
				resume = keys.PrefixEnd(k[:len(k)-len(suffix)])
				return errSkipMembers
			}
			m, err := DecodeMeta(v)
			if err != nil {
				return err
			}
			if m.ExpireAt != 0 && m.ExpireAt <= now {
				return nil
			}
			return fn(slot, key, &m)
		})
		switch {
		case errors.Is(err, errSkipMembers):
			lower = resume
		case errors.Is(err, ErrStop):
			return nil
		default:
			return err
		}
	}
	return nil
}

// ForEachKey calls fn for every live key of this database in storage order.
// It is one pass over the keyspace, for KEYS, DBSIZE, FLUSHDB and
// RANDOMKEY. fn returning ErrStop ends the walk.
func (d *DB) ForEachKey(fn func(key []byte, m *Meta) error) error {
	now := d.txn.NowMs()
	err := d.scanMetas(nil, nil, func(k, v []byte) error {
		db, key, _, ok := keys.DecodeMetaKey(k)
		if !ok || db != d.db {
			return nil
		}
		m, err := DecodeMeta(v)
		if err != nil {
			return err
		}
		if m.ExpireAt != 0 && m.ExpireAt <= now {
			return nil
		}
		return fn(key, &m)
	})
	if errors.Is(err, ErrStop) {
		return nil
	}
	return err
}

// Flush deletes every key of this database, expired or not: one write per
// key; members of collections are queued for the collector.
func (d *DB) Flush() error {
	type doomedKey struct {
		meta []byte
		key  []byte
		m    Meta
	}
	var metas []doomedKey
	var index [][]byte
	err := d.scanMetas(nil, nil, func(k, v []byte) error {
		if db, key, _, ok := keys.DecodeMetaKey(k); ok && db == d.db {
			m, err := DecodeMeta(v)
			if err != nil {
				return err
			}
			m.Value = nil
			metas = append(metas, doomedKey{bytes.Clone(k), bytes.Clone(key), m})
			return nil
		}
		if db, _, _, ok := keys.DecodeExpiryIndexKey(k); ok && db == d.db {
			index = append(index, bytes.Clone(k))
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, dk := range metas {
		if err := d.orphan(dk.key, &dk.m); err != nil {
			return err
		}
		if err := d.txn.Delete(dk.meta); err != nil {
			return err
		}
	}
	for _, k := range index {
		if err := d.txn.Delete(k); err != nil {
			return err
		}
	}
	return nil
}

// errSkipMembers ends one Scan of scanMetas at the first member record.
var errSkipMembers = errors.New("keyspace: skip members")

// scanMetas is Txn.Scan over [lower, upper) without the member records of
// collections: at the first member of a key it restarts the scan after the
// key's last record, so walking the keyspace costs one seek per collection
// instead of one step per member.
func (d *DB) scanMetas(lower, upper []byte, fn func(k, v []byte) error) error {
	for {
		var resume []byte
		err := d.txn.Scan(lower, upper, false, func(k, v []byte) error {
			if _, _, suffix, ok := keys.DecodeMetaKey(k); ok && len(suffix) != 0 {
				resume = keys.PrefixEnd(k[:len(k)-len(suffix)])
				return errSkipMembers
			}
			return fn(k, v)
		})
		if !errors.Is(err, errSkipMembers) {
			return err
		}
		if resume == nil {
			return nil
		}
		lower = resume
	}
}

// ExpiryOutcome is what ExpireIfDue did with one expiry index entry.
type ExpiryOutcome int

const (
	ExpiryNotDue  ExpiryOutcome = iota // the key expires later: nothing done
	ExpiryDeleted                      // the key was due and is deleted
	ExpiryStale                        // the entry no longer matched the key and is removed
)

// ExpireIfDue handles the expiry index entry of key at indexAtMs, which
// the active expirer found due: it deletes the key if its expiry time is
// that entry's and has passed (judged at the transaction's time). An entry
// the key no longer matches (the key was overwritten, deleted or given
// another expiry) is stale and is removed without touching the key.
func (d *DB) ExpireIfDue(key []byte, indexAtMs int64) (ExpiryOutcome, error) {
	m, ok, err := d.lookupHeader(key)
	if err != nil {
		return ExpiryNotDue, err
	}
	if !ok || m.ExpireAt != indexAtMs {
		return ExpiryStale, d.txn.Delete(keys.ExpiryIndexKey(d.db, key, indexAtMs))
	}
	if m.ExpireAt > d.txn.NowMs() {
		return ExpiryNotDue, nil
	}
	_, err = d.Delete(key)
	return ExpiryDeleted, err
}
