package ctl

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"strconv"

	"github.com/skerrydb/skerry/mvcc/keys"
)

// SlotRange is the run of Redis Cluster hash slots a region's key range
// [start, end) touches. A slot is partial when the range holds only some
// of its keys (the region was split inside the slot, at a Redis key).
type SlotRange struct {
	// First and Last are the first and last slot touched; meaningless when
	// Empty.
	First uint16 `json:"first"`
	Last  uint16 `json:"last"`
	// FirstPartial: keys of slot First lie before the range.
	// LastPartial: keys of slot Last lie at or after the range's end.
	FirstPartial bool `json:"first_partial,omitempty"`
	LastPartial  bool `json:"last_partial,omitempty"`
	// Empty: the range holds no key of any slot.
	Empty bool `json:"empty,omitempty"`
}

// SlotsOf returns the slots the key range [start, end) touches; an empty
// start is the beginning of the keyspace, an empty end its end. Every
// stored key begins with its slot (2 bytes, big endian), so the range
// covers slot(start) .. slot(end-1), where end-1 is the greatest key below
// end. A bound whose bytes after the slot are all zero sits on the slot's
// boundary (no stored key is that short), so it splits no slot.
func SlotsOf(start, end []byte) SlotRange {
	var r SlotRange
	if len(start) > 0 {
		s, rest := slotPrefix(start)
		if s >= keys.NumSlots {
			return SlotRange{Empty: true}
		}
		r.First, r.FirstPartial = uint16(s), !allZero(rest)
	}
	last := keys.NumSlots - 1
	if len(end) > 0 {
		e, rest := slotPrefix(end)
		switch {
		case e >= keys.NumSlots:
			// Ends beyond the slot space: every slot from First on.
		case !allZero(rest):
			last, r.LastPartial = e, true
		case e == 0:
			return SlotRange{Empty: true}
		default:
			last = e - 1
		}
	}
	if last < int(r.First) {
		return SlotRange{Empty: true}
	}
	r.Last = uint16(last)
	return r
}

// slotPrefix returns the slot number of k's first two bytes (a 1-byte key
// is read as its high byte) and the bytes after them.
func slotPrefix(k []byte) (int, []byte) {
	if len(k) == 1 {
		return int(k[0]) << 8, nil
	}
	return int(k[0])<<8 | int(k[1]), k[2:]
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// String renders r as "0-16383", "42" for one slot, "-" when empty; a
// partial slot is marked with '*' ("100*-200": slot 100 is shared with
// the previous region).
func (r SlotRange) String() string {
	if r.Empty {
		return "-"
	}
	mark := func(s uint16, partial bool) string {
		if partial {
			return strconv.Itoa(int(s)) + "*"
		}
		return strconv.Itoa(int(s))
	}
	if r.First == r.Last {
		return mark(r.First, r.FirstPartial || r.LastPartial)
	}
	return mark(r.First, r.FirstPartial) + "-" + mark(r.Last, r.LastPartial)
}

// DescribeKey renders a region boundary for people: "slot 100", "slot 100
// db 3", "slot 100 expiry", `slot 12182 db 0 "foo"` (a Redis key's
// metadata record, followed by "+0x<hex>" when a member suffix follows),
// or "0x<hex>" when the key is none of these. An empty key is "".
func DescribeKey(k []byte) string {
	if len(k) < 2 {
		return hexKey(k)
	}
	slot, rest := slotPrefix(k)
	if slot >= keys.NumSlots {
		return hexKey(k)
	}
	s := "slot " + strconv.Itoa(slot)
	switch {
	case len(rest) == 0:
		return s
	case len(rest) == 1 && rest[0] < keys.MaxDB:
		return fmt.Sprintf("%s db %d", s, rest[0])
	}
	if lower, _ := keys.ExpiryIndexRange(uint16(slot), 0); bytes.HasPrefix(k, lower) {
		if len(k) == len(lower) {
			return s + " expiry"
		}
		return s + " expiry+" + hexKey(k[len(lower):])
	}
	db, key, suffix, ok := keys.DecodeMetaKey(k)
	if !ok || int(keys.Slot(key)) != slot {
		return hexKey(k)
	}
	s = fmt.Sprintf("%s db %d %s", s, db, strconv.Quote(string(key)))
	if len(suffix) > 0 {
		s += "+" + hexKey(suffix)
	}
	return s
}

// hexKey is "0x" and k in hex, or "" for an empty k.
func hexKey(k []byte) string {
	if len(k) == 0 {
		return ""
	}
	return "0x" + hex.EncodeToString(k)
}

// KeySplitKey is the split key that puts Redis key key of database db
// (and everything after it in its slot) into the right half: the key's
// metadata record, which precedes all its other records.
func KeySplitKey(db int, key string) ([]byte, error) {
	if db < 0 || db >= keys.MaxDB {
		return nil, fmt.Errorf("%w: db %d is not in 0..%d", ErrInvalidArgument, db, keys.MaxDB-1)
	}
	return keys.MetaKey(db, []byte(key)), nil
}

// SlotSplitKey is the split key at the start of slot slot (1..16383: slot
// 0 starts the keyspace, there is nothing to split off before it).
func SlotSplitKey(slot int) ([]byte, error) {
	if slot < 1 || slot >= keys.NumSlots {
		return nil, fmt.Errorf("%w: split slot %d is not in 1..%d", ErrInvalidArgument, slot, keys.NumSlots-1)
	}
	return keys.SlotPrefix(uint16(slot)), nil
}
