package rpc

import (
	"encoding/binary"
	"fmt"
	"math"

	"go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"

	"github.com/skerrydb/skerry/regionraft"
)

// Wire format (FROZEN). Every gRPC message of the service is
//
//	byte   format version = 1
//	field* until the end of the message
//
// and every field is
//
//	uvarint key = tag<<1 | kind
//	kind 0 (varint): uvarint value
//	kind 1 (bytes):  uvarint length, then that many bytes
//
// Tags are per message type, start at 1 and are listed next to each type
// below: never renumber or reuse a tag, never change a tag's kind or
// meaning. A new field gets a new tag; decoders skip tags they do not know,
// so an old node ignores fields added later. Zero-valued scalar fields and
// empty byte fields may be omitted by the encoder. A change that old nodes
// must not silently ignore needs a new format version byte.
//
// Nested messages (kind 1) are encoded as fields only, without a version
// byte: they are versioned by the message that contains them.
const formatV1 byte = 1

// Field kinds. FROZEN.
const (
	kindVarint = 0
	kindBytes  = 1
)

// codec is the gRPC codec of the service (encoding.Codec). It only handles
// this package's message types.
type codec struct{}

// codecName is the codec's content-subtype. FROZEN.
const codecName = "skerry-rpc-v1"

// wireMessage is implemented by every message type of the service.
type wireMessage interface {
	appendFields(b []byte) ([]byte, error)
	decodeFields(b []byte) error
}

func (codec) Marshal(v any) ([]byte, error) {
	if e, ok := v.(encodedMsg); ok {
		return e, nil
	}
	m, ok := v.(wireMessage)
	if !ok {
		return nil, fmt.Errorf("rpc: cannot encode %T", v)
	}
	return m.appendFields([]byte{formatV1})
}

func (codec) Unmarshal(data []byte, v any) error {
	m, ok := v.(wireMessage)
	if !ok {
		return fmt.Errorf("rpc: cannot decode into %T", v)
	}
	return unmarshal(data, m)
}

func (codec) Name() string { return codecName }

// encodedMsg is a message already in wire format (version byte included),
// sent as is. gRPC may keep it after SendMsg returns: never reuse it.
type encodedMsg []byte

// marshal returns the wire encoding of m (what the codec sends).
func marshal(m wireMessage) ([]byte, error) { return codec{}.Marshal(m) }

// unmarshal decodes a whole wire message into m (reset first by the caller
// if reused). The decoded value may alias data.
func unmarshal(data []byte, m wireMessage) error {
	if len(data) == 0 {
		return fmt.Errorf("%w: empty message", ErrMalformed)
	}
	if data[0] != formatV1 {
		return fmt.Errorf("%w: format version %d", ErrUnsupportedVersion, data[0])
	}
	return m.decodeFields(data[1:])
}

// --- field encoding ---

func appendVarintField(b []byte, tag, v uint64) []byte {
	if v == 0 {
		return b
	}
	b = binary.AppendUvarint(b, tag<<1|kindVarint)
	return binary.AppendUvarint(b, v)
}

func appendBytesField(b []byte, tag uint64, v []byte) []byte {
	b = binary.AppendUvarint(b, tag<<1|kindBytes)
	b = binary.AppendUvarint(b, uint64(len(v)))
	return append(b, v...)
}

// appendNested appends a kind-1 field whose content is written by enc.
func appendNested(b []byte, tag uint64, enc func([]byte) ([]byte, error)) ([]byte, error) {
	content, err := enc(nil)
	if err != nil {
		return b, err
	}
	return appendBytesField(b, tag, content), nil
}

// field is one decoded field.
type field struct {
	tag  uint64
	kind int
	v    uint64 // kind 0
	data []byte // kind 1 (aliases the input)
}

// eachField calls f for every field of b in order. Unknown tags are f's to
// skip (it returns nil for them).
func eachField(b []byte, f func(fl field) error) error {
	for len(b) > 0 {
		key, n := binary.Uvarint(b)
		if n <= 0 {
			return fmt.Errorf("%w: bad field key", ErrMalformed)
		}
		b = b[n:]
		fl := field{tag: key >> 1, kind: int(key & 1)}
		if fl.tag == 0 {
			return fmt.Errorf("%w: field tag 0", ErrMalformed)
		}
		v, n := binary.Uvarint(b)
		if n <= 0 {
			return fmt.Errorf("%w: bad value of field %d", ErrMalformed, fl.tag)
		}
		b = b[n:]
		if fl.kind == kindBytes {
			if v > uint64(len(b)) {
				return fmt.Errorf("%w: field %d length %d exceeds message", ErrMalformed, fl.tag, v)
			}
			fl.data = b[:v:v]
			b = b[v:]
		} else {
			fl.v = v
		}
		if err := f(fl); err != nil {
			return err
		}
	}
	return nil
}

func (fl field) want(kind int) error {
	if fl.kind != kind {
		return fmt.Errorf("%w: field %d has kind %d, want %d", ErrMalformed, fl.tag, fl.kind, kind)
	}
	return nil
}

func (fl field) uint32() (uint32, error) {
	if err := fl.want(kindVarint); err != nil {
		return 0, err
	}
	if fl.v > math.MaxUint32 {
		return 0, fmt.Errorf("%w: field %d value %d overflows uint32", ErrMalformed, fl.tag, fl.v)
	}
	return uint32(fl.v), nil
}

// smallInt decodes a non-negative int bounded by math.MaxInt32.
func (fl field) smallInt() (int, error) {
	if err := fl.want(kindVarint); err != nil {
		return 0, err
	}
	if fl.v > math.MaxInt32 {
		return 0, fmt.Errorf("%w: field %d value %d out of range", ErrMalformed, fl.tag, fl.v)
	}
	return int(fl.v), nil
}

// --- RaftMessage (nested) ---
//
// Tags (FROZEN, never renumber):
//
//	1 varint region id
//	2 varint from peer id     3 varint from store id
//	4 varint to peer id       5 varint to store id
//	6 varint epoch conf ver   7 varint epoch version
//	8 bytes  raftpb.Message (protobuf encoding); required

func appendRaftMessage(b []byte, m *regionraft.RaftMessage) ([]byte, error) {
	if m.Msg == nil {
		return b, fmt.Errorf("rpc: raft message of region %d has no Msg", m.RegionID)
	}
	b = appendVarintField(b, 1, m.RegionID)
	b = appendVarintField(b, 2, m.From.ID)
	b = appendVarintField(b, 3, m.From.StoreID)
	b = appendVarintField(b, 4, m.To.ID)
	b = appendVarintField(b, 5, m.To.StoreID)
	b = appendVarintField(b, 6, m.Epoch.ConfVer)
	b = appendVarintField(b, 7, m.Epoch.Version)
	// Marshal straight into b: size first, for the length prefix.
	size := proto.Size(m.Msg)
	b = binary.AppendUvarint(b, 8<<1|kindBytes)
	b = binary.AppendUvarint(b, uint64(size))
	start := len(b)
	b, err := proto.MarshalOptions{}.MarshalAppend(b, m.Msg)
	if err != nil {
		return b, fmt.Errorf("rpc: encode raft message: %w", err)
	}
	if len(b)-start != size {
		return b, fmt.Errorf("rpc: raft message size changed while encoding (%d != %d)", len(b)-start, size)
	}
	return b, nil
}

func decodeRaftMessage(b []byte) (regionraft.RaftMessage, error) {
	var m regionraft.RaftMessage
	err := eachField(b, func(fl field) error {
		if fl.tag >= 1 && fl.tag <= 7 {
			if err := fl.want(kindVarint); err != nil {
				return err
			}
		}
		switch fl.tag {
		case 1:
			m.RegionID = fl.v
		case 2:
			m.From.ID = fl.v
		case 3:
			m.From.StoreID = fl.v
		case 4:
			m.To.ID = fl.v
		case 5:
			m.To.StoreID = fl.v
		case 6:
			m.Epoch.ConfVer = fl.v
		case 7:
			m.Epoch.Version = fl.v
		case 8:
			if err := fl.want(kindBytes); err != nil {
				return err
			}
			msg := new(raftpb.Message)
			if err := proto.Unmarshal(fl.data, msg); err != nil {
				return fmt.Errorf("%w: raft message: %v", ErrMalformed, err)
			}
			m.Msg = msg
		}
		return nil
	})
	if err != nil {
		return m, err
	}
	if m.Msg == nil {
		return m, fmt.Errorf("%w: raft message of region %d without Msg", ErrMalformed, m.RegionID)
	}
	return m, nil
}

// --- raftBatch: one message of the Raft stream ---
//
// Tags (FROZEN): 1 bytes RaftMessage, repeated, in delivery order.
type raftBatch struct {
	msgs []regionraft.RaftMessage
	// size is the encoded size, set by decodeFields (metrics only).
	size int
}

func (r *raftBatch) appendFields(b []byte) ([]byte, error) {
	// The length prefix precedes the content: encode each message into
	// one reused scratch buffer, then copy it behind its prefix.
	var scratch []byte
	for i := range r.msgs {
		var err error
		if scratch, err = appendRaftMessage(scratch[:0], &r.msgs[i]); err != nil {
			return b, err
		}
		b = appendBytesField(b, 1, scratch)
	}
	return b, nil
}

func (r *raftBatch) decodeFields(b []byte) error {
	r.size = len(b) + 1
	return eachField(b, func(fl field) error {
		if fl.tag != 1 {
			return nil
		}
		if err := fl.want(kindBytes); err != nil {
			return err
		}
		m, err := decodeRaftMessage(fl.data)
		if err != nil {
			return err
		}
		r.msgs = append(r.msgs, m)
		return nil
	})
}

// --- raftDone: the Raft stream's reply (sent when the server ends it) ---
//
// No fields yet.
type raftDone struct{}

func (*raftDone) appendFields(b []byte) ([]byte, error) { return b, nil }
func (*raftDone) decodeFields(b []byte) error {
	return eachField(b, func(field) error { return nil })
}

// --- rpcStatus (nested): an error returned by the remote Handler ---
//
// Tags (FROZEN): 1 varint code, 2 bytes message (UTF-8 text).
type rpcStatus struct {
	code uint32
	msg  string
}

func (s *rpcStatus) append(b []byte) ([]byte, error) {
	b = appendVarintField(b, 1, uint64(s.code))
	return appendBytesField(b, 2, []byte(s.msg)), nil
}

func decodeStatus(b []byte) (*rpcStatus, error) {
	s := &rpcStatus{}
	err := eachField(b, func(fl field) error {
		switch fl.tag {
		case 1:
			c, err := fl.uint32()
			s.code = c
			return err
		case 2:
			if err := fl.want(kindBytes); err != nil {
				return err
			}
			s.msg = string(fl.data)
		}
		return nil
	})
	return s, err
}

func (s *rpcStatus) remoteError() *RemoteError { return &RemoteError{Code: s.code, Msg: s.msg} }

// --- snapshotChunk: one message of the Snapshot stream ---
//
// Tags (FROZEN):
//
//	1 bytes RaftMessage: the MsgSnap; present in the first frame only
//	2 bytes data: the next bytes of the snapshot stream
//	3 bytes snapshotTrailer: present in the last frame only
//
// The first frame carries the header, the last one the trailer (one frame
// may be both); data may ride in any frame.
type snapshotChunk struct {
	header  *regionraft.RaftMessage
	data    []byte
	trailer *snapshotTrailer
}

// snapshotTrailer (nested) ends a snapshot stream.
//
// Tags (FROZEN): 1 varint total data bytes, 2 varint CRC-32C (Castagnoli)
// of all data bytes.
type snapshotTrailer struct {
	size uint64
	crc  uint32
}

func (c *snapshotChunk) appendFields(b []byte) ([]byte, error) {
	var err error
	if c.header != nil {
		if b, err = appendNested(b, 1, func(s []byte) ([]byte, error) {
			return appendRaftMessage(s, c.header)
		}); err != nil {
			return b, err
		}
	}
	if len(c.data) > 0 {
		b = appendBytesField(b, 2, c.data)
	}
	if t := c.trailer; t != nil {
		var tb []byte
		tb = appendVarintField(tb, 1, t.size)
		tb = appendVarintField(tb, 2, uint64(t.crc))
		b = appendBytesField(b, 3, tb)
	}
	return b, nil
}

func (c *snapshotChunk) decodeFields(b []byte) error {
	return eachField(b, func(fl field) error {
		switch fl.tag {
		case 1:
			if err := fl.want(kindBytes); err != nil {
				return err
			}
			m, err := decodeRaftMessage(fl.data)
			if err != nil {
				return err
			}
			c.header = &m
		case 2:
			if err := fl.want(kindBytes); err != nil {
				return err
			}
			c.data = fl.data
		case 3:
			if err := fl.want(kindBytes); err != nil {
				return err
			}
			t := &snapshotTrailer{}
			if err := eachField(fl.data, func(tf field) error {
				switch tf.tag {
				case 1:
					if err := tf.want(kindVarint); err != nil {
						return err
					}
					t.size = tf.v
				case 2:
					v, err := tf.uint32()
					t.crc = v
					return err
				}
				return nil
			}); err != nil {
				return err
			}
			c.trailer = t
		}
		return nil
	})
}

// --- snapshotDone: the Snapshot stream's reply ---
//
// Tags (FROZEN): 1 bytes rpcStatus: present iff ReceiveSnapshot failed.
type snapshotDone struct {
	err *rpcStatus
}

func (d *snapshotDone) appendFields(b []byte) ([]byte, error) {
	if d.err != nil {
		return appendNested(b, 1, d.err.append)
	}
	return b, nil
}

func (d *snapshotDone) decodeFields(b []byte) error {
	return eachField(b, func(fl field) error {
		if fl.tag != 1 {
			return nil
		}
		if err := fl.want(kindBytes); err != nil {
			return err
		}
		s, err := decodeStatus(fl.data)
		d.err = s
		return err
	})
}

// --- ForwardRequest ---
//
// Tags (FROZEN):
//
//	1 varint DB (zig-zag signed)
//	2 varint Proto
//	3 bytes  User
//	4 bytes  one argument, repeated in order (Args[0] is the command name)
//	5 varint Hops
//	6 bytes  State

func (r *ForwardRequest) appendFields(b []byte) ([]byte, error) {
	if r.DB != 0 {
		b = appendVarintField(b, 1, zigzag(int64(r.DB)))
	}
	if r.Proto < 0 || r.Hops < 0 {
		return b, fmt.Errorf("rpc: negative Proto %d or Hops %d", r.Proto, r.Hops)
	}
	b = appendVarintField(b, 2, uint64(r.Proto))
	if r.User != "" {
		b = appendBytesField(b, 3, []byte(r.User))
	}
	for _, a := range r.Args {
		b = appendBytesField(b, 4, a)
	}
	b = appendVarintField(b, 5, uint64(r.Hops))
	if len(r.State) > 0 {
		b = appendBytesField(b, 6, r.State)
	}
	return b, nil
}

func (r *ForwardRequest) decodeFields(b []byte) error {
	return eachField(b, func(fl field) error {
		var err error
		switch fl.tag {
		case 1:
			if err = fl.want(kindVarint); err != nil {
				return err
			}
			v := unzigzag(fl.v)
			if v < math.MinInt32 || v > math.MaxInt32 {
				return fmt.Errorf("%w: DB %d out of range", ErrMalformed, v)
			}
			r.DB = int(v)
		case 2:
			r.Proto, err = fl.smallInt()
		case 3:
			if err = fl.want(kindBytes); err == nil {
				r.User = string(fl.data)
			}
		case 4:
			if err = fl.want(kindBytes); err == nil {
				r.Args = append(r.Args, fl.data)
			}
		case 5:
			r.Hops, err = fl.smallInt()
		case 6:
			if err = fl.want(kindBytes); err == nil {
				r.State = fl.data
			}
		}
		return err
	})
}

// --- forwardReply: the Forward reply ---
//
// Tags (FROZEN):
//
//	1 bytes ForwardResponse.Reply
//	2 bytes rpcStatus: present iff the handler failed (then 1 and 3 are absent)
//	3 bytes ForwardResponse.State
//
// Later ForwardResponse fields take tags 4 and up.
type forwardReply struct {
	resp ForwardResponse
	err  *rpcStatus
}

func (f *forwardReply) appendFields(b []byte) ([]byte, error) {
	if f.err != nil {
		return appendNested(b, 2, f.err.append)
	}
	if len(f.resp.Reply) > 0 {
		b = appendBytesField(b, 1, f.resp.Reply)
	}
	if len(f.resp.State) > 0 {
		b = appendBytesField(b, 3, f.resp.State)
	}
	return b, nil
}

func (f *forwardReply) decodeFields(b []byte) error {
	err := eachField(b, func(fl field) error {
		switch fl.tag {
		case 1:
			if err := fl.want(kindBytes); err != nil {
				return err
			}
			f.resp.Reply = fl.data
		case 3:
			if err := fl.want(kindBytes); err != nil {
				return err
			}
			f.resp.State = fl.data
		case 2:
			if err := fl.want(kindBytes); err != nil {
				return err
			}
			s, err := decodeStatus(fl.data)
			f.err = s
			return err
		}
		return nil
	})
	if f.err != nil {
		// An error reply has no response (an encoder never sends both).
		f.resp = ForwardResponse{}
	}
	return err
}

func zigzag(v int64) uint64   { return uint64(v<<1) ^ uint64(v>>63) }
func unzigzag(u uint64) int64 { return int64(u>>1) ^ -int64(u&1) }
