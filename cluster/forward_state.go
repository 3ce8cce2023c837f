package cluster

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/skerrydb/skerry/commands"
	"github.com/skerrydb/skerry/resp"
)

// errBadForwardState reports a forwarded connection state that does not
// parse.
var errBadForwardState = errors.New("cluster: malformed forwarded state")

// Forwarded connection state (FROZEN), carried opaquely by the internal
// RPC next to a forwarded command and its reply:
//
//	byte    format version = 1
//	uvarint node: 0, or the node that serves the keys when the receiver
//	        does not (then nothing else follows and there is no reply)
//	uvarint db, uvarint proto, byte multi (0/1)
//	uvarint queued commands, each: uvarint args, each: uvarint len, bytes
//	uvarint watched keys, each: uvarint db, uvarint len, key bytes,
//	        uvarint commit ts, byte flags (bit 0 exists, bit 1 live)
//
// The user travels in the RPC request itself.
const forwardStateV1 byte = 1

// maxForwardItems bounds counts read from the wire before allocating.
const maxForwardItems = 1 << 24

func encodeForwardState(st commands.ForwardState) []byte {
	b := []byte{forwardStateV1, 0}
	b = binary.AppendUvarint(b, uint64(st.DB))
	b = binary.AppendUvarint(b, uint64(st.Proto))
	b = append(b, boolByte(st.Multi))
	b = binary.AppendUvarint(b, uint64(len(st.Queue)))
	for _, args := range st.Queue {
		b = binary.AppendUvarint(b, uint64(len(args)))
		for _, a := range args {
			b = binary.AppendUvarint(b, uint64(len(a)))
			b = append(b, a...)
		}
	}
	b = binary.AppendUvarint(b, uint64(len(st.Watched)))
	for _, w := range st.Watched {
		b = binary.AppendUvarint(b, uint64(w.DB))
		b = binary.AppendUvarint(b, uint64(len(w.Key)))
		b = append(b, w.Key...)
		b = binary.AppendUvarint(b, w.CommitTS)
		b = append(b, boolByte(w.Exists)|boolByte(w.Live)<<1)
	}
	return b
}

// encodeNotLocal says the receiver does not serve the keys; node serves
// them (0: unknown).
func encodeNotLocal(node uint64) []byte {
	return binary.AppendUvarint([]byte{forwardStateV1}, node)
}

func boolByte(v bool) byte {
	if v {
		return 1
	}
	return 0
}

// decodeForwardState parses a state; notLocal is set (and st empty) when
// the state says the keys are served elsewhere. An empty b is the zero
// state.
func decodeForwardState(b []byte) (st commands.ForwardState, notLocal *commands.NotLocalError, err error) {
	if len(b) == 0 {
		return st, nil, nil
	}
	d := stateDecoder{b: b}
	if v := d.byte(); v != forwardStateV1 {
		return st, nil, fmt.Errorf("%w: format %d", errBadForwardState, v)
	}
	if node := d.uvarint(); node != 0 || (d.err == nil && len(d.b) == 0) {
		if d.err != nil || len(d.b) != 0 {
			return st, nil, errBadForwardState
		}
		return st, &commands.NotLocalError{Node: node, Cause: errors.New("forwarded to a node that does not serve the keys")}, nil
	}
	st.DB = d.small()
	st.Proto = d.small()
	switch d.byte() {
	case 0:
	case 1:
		st.Multi = true
	default:
		d.fail()
	}
	if n := d.count(); n > 0 {
		st.Queue = make([][][]byte, 0, min(n, 1024))
		for range n {
			m := d.count()
			args := make([][]byte, 0, min(m, 1024))
			for range m {
				args = append(args, d.bytes())
			}
			if d.err != nil {
				break
			}
			st.Queue = append(st.Queue, args)
		}
	}
	if n := d.count(); n > 0 {
		st.Watched = make([]resp.WatchedKey, 0, min(n, 1024))
		for range n {
			w := resp.WatchedKey{DB: d.small()}
			w.Key = d.bytes()
			w.CommitTS = d.uvarint()
			f := d.byte()
			if f > 3 {
				d.fail()
			}
			w.Exists, w.Live = f&1 != 0, f&2 != 0
			if d.err != nil {
				break
			}
			st.Watched = append(st.Watched, w)
		}
	}
	if d.err == nil && len(d.b) != 0 {
		d.fail()
	}
	if d.err != nil {
		return commands.ForwardState{}, nil, d.err
	}
	return st, nil, nil
}

type stateDecoder struct {
	b   []byte
	err error
}

func (d *stateDecoder) fail() {
	if d.err == nil {
		d.err = errBadForwardState
	}
	d.b = nil
}

func (d *stateDecoder) byte() byte {
	if d.err != nil || len(d.b) == 0 {
		d.fail()
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

func (d *stateDecoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail()
		return 0
	}
	d.b = d.b[n:]
	return v
}

// small reads a database number or protocol version (< 2^16).
func (d *stateDecoder) small() int {
	v := d.uvarint()
	if v >= 1<<16 {
		d.fail()
		return 0
	}
	return int(v)
}

// count reads an item count, refusing counts the rest cannot hold.
func (d *stateDecoder) count() int {
	v := d.uvarint()
	if v > maxForwardItems || v > uint64(len(d.b)) {
		d.fail()
		return 0
	}
	return int(v)
}

func (d *stateDecoder) bytes() []byte {
	n := d.uvarint()
	if d.err != nil || n > uint64(len(d.b)) {
		d.fail()
		return nil
	}
	out := append([]byte(nil), d.b[:n]...)
	d.b = d.b[n:]
	return out
}
