package mvcc

import (
	"encoding/binary"
	"fmt"
)

// Op is a physical modification kind. Frozen values (they are in Raft logs).
type Op byte

const (
	OpPut    Op = 1
	OpDelete Op = 2
)

// Modify is one physical write produced by an MVCC action; the caller
// replicates a list of them through Raft and applies them atomically.
type Modify struct {
	Op    Op
	Key   []byte
	Value []byte
}

// commandFormat tags the encoding of a modification list (frozen).
const commandFormat byte = 1

// EncodeModifies encodes a modification list as a Raft command:
// format(1) | count(uvarint) | { op(1) | len(key) uvarint | key | len(value) uvarint | value }.
func EncodeModifies(ms []Modify) []byte {
	n := 1 + binary.MaxVarintLen64
	for _, m := range ms {
		n += 1 + 2*binary.MaxVarintLen64 + len(m.Key) + len(m.Value)
	}
	b := make([]byte, 0, n)
	b = append(b, commandFormat)
	b = binary.AppendUvarint(b, uint64(len(ms)))
	for _, m := range ms {
		b = append(b, byte(m.Op))
		b = binary.AppendUvarint(b, uint64(len(m.Key)))
		b = append(b, m.Key...)
		b = binary.AppendUvarint(b, uint64(len(m.Value)))
		b = append(b, m.Value...)
	}
	return b
}

// DecodeModifies calls fn for each modification of an encoded command.
// Slices alias b.
func DecodeModifies(b []byte, fn func(Modify) error) error {
	if len(b) < 1 || b[0] != commandFormat {
		return fmt.Errorf("%w: command format", ErrCorruptRecord)
	}
	b = b[1:]
	count, n := binary.Uvarint(b)
	if n <= 0 {
		return ErrCorruptRecord
	}
	b = b[n:]
	for i := uint64(0); i < count; i++ {
		if len(b) < 1 {
			return ErrCorruptRecord
		}
		m := Modify{Op: Op(b[0])}
		b = b[1:]
		var err error
		if m.Key, b, err = readChunk(b); err != nil {
			return err
		}
		if m.Value, b, err = readChunk(b); err != nil {
			return err
		}
		if m.Op != OpPut && m.Op != OpDelete {
			return fmt.Errorf("%w: op %d", ErrCorruptRecord, m.Op)
		}
		if err := fn(m); err != nil {
			return err
		}
	}
	if len(b) != 0 {
		return ErrCorruptRecord
	}
	return nil
}

func readChunk(b []byte) ([]byte, []byte, error) {
	l, n := binary.Uvarint(b)
	if n <= 0 || uint64(len(b)-n) < l {
		return nil, nil, ErrCorruptRecord
	}
	return b[n : n+int(l)], b[n+int(l):], nil
}
