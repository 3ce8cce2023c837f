package keyspace

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Type is a Redis value type as stored in the metadata record. Frozen
// on-disk values: never renumber.
type Type byte

const (
	TypeNone   Type = 0
	TypeString Type = 1
	TypeList   Type = 2
	TypeHash   Type = 3
	TypeSet    Type = 4
	TypeZSet   Type = 5
	TypeStream Type = 6
)

// String returns the name TYPE replies with.
func (t Type) String() string {
	switch t {
	case TypeString:
		return "string"
	case TypeList:
		return "list"
	case TypeHash:
		return "hash"
	case TypeSet:
		return "set"
	case TypeZSet:
		return "zset"
	case TypeStream:
		return "stream"
	}
	return "none"
}

// metadata flags (frozen bit values).
const (
	flagExpire   byte = 1 << 0
	flagEncRaw   byte = 1 << 1 // strings: StringEncRaw
	flagEncNoInt byte = 1 << 2 // strings: StringEncNoInt
	flagEncBig   byte = 1 << 3 // collections: Big
)

// StringEnc records how Redis would have encoded a string value, which
// depends on the command that produced it, so OBJECT ENCODING can answer as
// Redis does.
type StringEnc byte

const (
	// StringEncAuto: as SET stores it ("int", "embstr" or "raw" by content).
	StringEncAuto StringEnc = iota
	// StringEncRaw: modified in place (APPEND, SETRANGE, SETBIT...): "raw".
	StringEncRaw
	// StringEncNoInt: never integer-encoded (INCRBYFLOAT): "embstr" or "raw".
	StringEncNoInt
)

// ErrCorruptMeta reports a metadata record that does not decode.
var ErrCorruptMeta = errors.New("keyspace: corrupt metadata record")

// Meta is the decoded metadata record of a Redis key.
//
// Encoding (frozen): type(1) | flags(1) | [expireAtMs(8) if flagExpire] |
// strings: value bytes to the end;
// collections: version(8) | size(8) | [lists: head(8) | tail(8)].
type Meta struct {
	Type     Type
	ExpireAt int64 // Unix ms; 0 means no expiry
	// Strings:
	Value []byte
	Enc   StringEnc
	// Collections:
	Version    uint64
	Size       uint64
	Head, Tail uint64 // lists only: elements occupy sequence numbers [Head, Tail)
	// Big records that Redis would hold this collection in its large
	// encoding (hashtable, skiplist; for sets: hashtable rather than
	// intset). Redis 7.0 never converts back, so neither does the flag.
	Big bool
}

// Encode appends the record encoding of m to dst.
func (m *Meta) Encode(dst []byte) []byte {
	var flags byte
	if m.ExpireAt != 0 {
		flags |= flagExpire
	}
	if m.Type != TypeString && m.Big {
		flags |= flagEncBig
	}
	if m.Type == TypeString {
		switch m.Enc {
		case StringEncRaw:
			flags |= flagEncRaw
		case StringEncNoInt:
			flags |= flagEncNoInt
		}
	}
	dst = append(dst, byte(m.Type), flags)
	if m.ExpireAt != 0 {
		dst = binary.BigEndian.AppendUint64(dst, uint64(m.ExpireAt))
	}
	if m.Type == TypeString {
		return append(dst, m.Value...)
	}
	dst = binary.BigEndian.AppendUint64(dst, m.Version)
	dst = binary.BigEndian.AppendUint64(dst, m.Size)
	if m.Type == TypeList {
		dst = binary.BigEndian.AppendUint64(dst, m.Head)
		dst = binary.BigEndian.AppendUint64(dst, m.Tail)
	}
	return dst
}

// PlainMeta reports whether an encoded metadata record is a string without
// an expiry: replacing it leaves nothing to clean up (no members for the
// collector, no expiry index entry). A record that does not decode is not
// plain.
func PlainMeta(b []byte) bool {
	return len(b) >= 2 && Type(b[0]) == TypeString && b[1]&flagExpire == 0
}

// DecodeMeta decodes a metadata record. For strings, m.Value aliases b.
func DecodeMeta(b []byte) (Meta, error) {
	var m Meta
	if len(b) < 2 {
		return m, ErrCorruptMeta
	}
	m.Type = Type(b[0])
	flags := b[1]
	b = b[2:]
	if flags&flagExpire != 0 {
		if len(b) < 8 {
			return m, ErrCorruptMeta
		}
		m.ExpireAt = int64(binary.BigEndian.Uint64(b))
		b = b[8:]
	}
	switch m.Type {
	case TypeString:
		m.Value = b
		switch {
		case flags&flagEncRaw != 0:
			m.Enc = StringEncRaw
		case flags&flagEncNoInt != 0:
			m.Enc = StringEncNoInt
		}
		return m, nil
	case TypeList, TypeHash, TypeSet, TypeZSet, TypeStream:
	default:
		return m, fmt.Errorf("%w: type %d", ErrCorruptMeta, m.Type)
	}
	m.Big = flags&flagEncBig != 0
	if len(b) < 16 {
		return m, ErrCorruptMeta
	}
	m.Version = binary.BigEndian.Uint64(b)
	m.Size = binary.BigEndian.Uint64(b[8:])
	if m.Type == TypeList {
		if len(b) < 32 {
			return m, ErrCorruptMeta
		}
		m.Head = binary.BigEndian.Uint64(b[16:])
		m.Tail = binary.BigEndian.Uint64(b[24:])
	}
	return m, nil
}
