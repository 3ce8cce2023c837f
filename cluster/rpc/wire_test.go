package rpc

import (
	"bytes"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"

	"github.com/skerrydb/skerry/regionraft"
)

var rewrite = flag.Bool("rewrite", false, "rewrite testdata/wire_v1.golden")

// wireSamples are fixed messages of every type. Their encodings are frozen
// in testdata/wire_v1.golden: a diff there is a wire format change.
func wireSamples() []struct {
	name string
	msg  wireMessage
} {
	m := raftMsg(2, 9)
	snap := snapMsg(3)
	snap.Msg.Snapshot = &raftpb.Snapshot{Metadata: &raftpb.SnapshotMetadata{
		Index: proto.Uint64(100), Term: proto.Uint64(5),
		ConfState: &raftpb.ConfState{Voters: []uint64{11, 12, 13}},
	}}
	return []struct {
		name string
		msg  wireMessage
	}{
		{"raft_batch_empty", &raftBatch{}},
		{"raft_batch_two", &raftBatch{msgs: []regionraft.RaftMessage{m, raftMsg(3, 10)}}},
		{"raft_done", &raftDone{}},
		{"snapshot_header", &snapshotChunk{header: &snap}},
		{"snapshot_data", &snapshotChunk{data: []byte("region data")}},
		{"snapshot_last", &snapshotChunk{data: []byte("end"), trailer: &snapshotTrailer{size: 14, crc: 0xdeadbeef}}},
		{"snapshot_done_ok", &snapshotDone{}},
		{"snapshot_done_err", &snapshotDone{err: &rpcStatus{code: 3, msg: "no space"}}},
		{"forward_request", &ForwardRequest{DB: 15, Proto: 3, User: "alice",
			Args: [][]byte{[]byte("SET"), []byte("k"), {}, []byte("v")}, Hops: 2}},
		{"forward_request_negative_db", &ForwardRequest{DB: -1, Proto: 2, Args: [][]byte{[]byte("PING")}}},
		{"forward_reply", &forwardReply{resp: ForwardResponse{Reply: []byte("+OK\r\n")}}},
		{"forward_reply_err", &forwardReply{err: &rpcStatus{code: 12, msg: "not leader"}}},
		{"forward_request_state", &ForwardRequest{Proto: 2, Args: [][]byte{[]byte("EXEC")}, State: []byte{1, 0, 2}}},
		{"forward_reply_state", &forwardReply{resp: ForwardResponse{Reply: []byte(":1\r\n"), State: []byte{1, 7}}}},
		{"txnkv_request", &TxnKVRequest{Op: 3, Keys: [][]byte{[]byte("a"), {}},
			Mutations: []TxnMutation{{Key: []byte("a"), Value: []byte("v")}, {Key: []byte("b"), Kind: 1}, {Key: []byte("c"), Kind: 2}},
			Primary:   []byte("a"), StartTS: 1 << 20, CommitTS: 1<<20 + 5, TTLMs: 3000, CurrentTS: 1<<20 + 9, Flags: 3,
			Lower: []byte("l"), Upper: []byte{}, Limit: 64}},
		{"txnkv_request_unbounded", &TxnKVRequest{Op: 2, Lower: []byte("x")}},
		{"txnkv_reply", &txnKVReply{resp: TxnKVResponse{Pairs: []TxnKVPair{{Key: []byte("k"), Value: []byte("v"), Found: true}, {Key: []byte("m")}},
			State: 2, Action: 1, CommitTS: 77, Lock: []byte{'P', 1}, ErrCode: 4, ErrKey: []byte("k"), ErrTS: 99, Leader: 3,
			ErrMsg: "locked", ResumeKey: []byte{}}}},
		{"txnkv_reply_empty", &txnKVReply{}},
		{"txnkv_reply_err", &txnKVReply{err: &rpcStatus{code: 1, msg: "starting"}}},
	}
}

// newOfSameType returns an empty message of m's type.
func newOfSameType(m wireMessage) wireMessage {
	switch m.(type) {
	case *raftBatch:
		return &raftBatch{}
	case *raftDone:
		return &raftDone{}
	case *snapshotChunk:
		return &snapshotChunk{}
	case *snapshotDone:
		return &snapshotDone{}
	case *ForwardRequest:
		return &ForwardRequest{}
	case *forwardReply:
		return &forwardReply{}
	case *TxnKVRequest:
		return &TxnKVRequest{}
	case *txnKVReply:
		return &txnKVReply{}
	}
	panic(fmt.Sprintf("unknown message type %T", m))
}

func TestWireGolden(t *testing.T) {
	var out strings.Builder
	for _, s := range wireSamples() {
		b, err := marshal(s.msg)
		if err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		fmt.Fprintf(&out, "%s %s\n", s.name, hex.EncodeToString(b))
		back := newOfSameType(s.msg)
		if err := unmarshal(b, back); err != nil {
			t.Fatalf("%s: decode: %v", s.name, err)
		}
		if !wireEqual(s.msg, back) {
			t.Fatalf("%s: round trip changed the message: %+v -> %+v", s.name, s.msg, back)
		}
	}
	path := filepath.Join("testdata", "wire_v1.golden")
	if *rewrite {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(out.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if out.String() != string(want) {
		t.Fatalf("wire format v1 changed (it is frozen):\ngot:\n%s\nwant:\n%s", out.String(), want)
	}
}

func TestWireRejectsMalformed(t *testing.T) {
	valid, err := marshal(&ForwardRequest{Proto: 2, Args: [][]byte{[]byte("GET"), []byte("key")}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		b    []byte
		into wireMessage
		want error
	}{
		{"empty", nil, &ForwardRequest{}, ErrMalformed},
		{"version 2", []byte{2}, &ForwardRequest{}, ErrUnsupportedVersion},
		{"truncated", valid[:len(valid)-1], &ForwardRequest{}, ErrMalformed},
		{"tag 0", []byte{1, 0, 0}, &ForwardRequest{}, ErrMalformed},
		{"bad key varint", []byte{1, 0x80}, &ForwardRequest{}, ErrMalformed},
		{"kind mismatch", []byte{1, 3<<1 | kindVarint, 5}, &ForwardRequest{}, ErrMalformed},
		{"length overflow", []byte{1, 4<<1 | kindBytes, 0xff, 0xff, 0xff, 0xff, 0x0f}, &ForwardRequest{}, ErrMalformed},
		{"hops out of range", append([]byte{1, 5 << 1}, 0x80, 0x80, 0x80, 0x80, 0x10), &ForwardRequest{}, ErrMalformed},
		{"raft message without Msg", []byte{1, 1<<1 | kindBytes, 2, 1 << 1, 7}, &raftBatch{}, ErrMalformed},
		{"raft message bad protobuf", []byte{1, 1<<1 | kindBytes, 3, 8<<1 | kindBytes, 1, 0xff}, &raftBatch{}, ErrMalformed},
		{"status code overflow", []byte{1, 2<<1 | kindBytes, 6, 1 << 1, 0x80, 0x80, 0x80, 0x80, 0x10}, &forwardReply{}, ErrMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := unmarshal(tc.b, tc.into); !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestWireSkipsUnknownFields(t *testing.T) {
	b, err := marshal(&ForwardRequest{Proto: 3, Args: [][]byte{[]byte("GET")}})
	if err != nil {
		t.Fatal(err)
	}
	// A later version adds tag 99 (varint) and tag 100 (bytes).
	b = appendVarintField(b, 99, 12345)
	b = appendBytesField(b, 100, []byte("future"))
	var r ForwardRequest
	if err := unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	if r.Proto != 3 || len(r.Args) != 1 || string(r.Args[0]) != "GET" {
		t.Fatalf("decoded %+v", r)
	}
}

// wireEqual compares two decoded messages of the same type.
func wireEqual(a, b wireMessage) bool {
	switch a := a.(type) {
	case *raftBatch:
		b := b.(*raftBatch)
		if len(a.msgs) != len(b.msgs) {
			return false
		}
		for i := range a.msgs {
			if !raftMessageEqual(&a.msgs[i], &b.msgs[i]) {
				return false
			}
		}
		return true
	case *raftDone:
		return true
	case *snapshotChunk:
		b := b.(*snapshotChunk)
		if (a.header == nil) != (b.header == nil) || (a.trailer == nil) != (b.trailer == nil) {
			return false
		}
		if a.header != nil && !raftMessageEqual(a.header, b.header) {
			return false
		}
		if a.trailer != nil && *a.trailer != *b.trailer {
			return false
		}
		return bytes.Equal(a.data, b.data)
	case *snapshotDone:
		return statusEqual(a.err, b.(*snapshotDone).err)
	case *ForwardRequest:
		b := b.(*ForwardRequest)
		if a.DB != b.DB || a.Proto != b.Proto || a.User != b.User || a.Hops != b.Hops || len(a.Args) != len(b.Args) {
			return false
		}
		for i := range a.Args {
			if !bytes.Equal(a.Args[i], b.Args[i]) {
				return false
			}
		}
		return true
	case *forwardReply:
		b := b.(*forwardReply)
		return statusEqual(a.err, b.err) && bytes.Equal(a.resp.Reply, b.resp.Reply)
	case *TxnKVRequest, *txnKVReply:
		// Every field is encoded (none is derived): equal encodings are
		// equal messages, and reflect.DeepEqual would tell nil from empty.
		ea, err1 := marshal(a)
		eb, err2 := marshal(b)
		return err1 == nil && err2 == nil && bytes.Equal(ea, eb)
	}
	panic(fmt.Sprintf("unknown message type %T", a))
}

func raftMessageEqual(a, b *regionraft.RaftMessage) bool {
	return a.RegionID == b.RegionID && a.From == b.From && a.To == b.To && a.Epoch == b.Epoch &&
		proto.Equal(a.Msg, b.Msg)
}

func statusEqual(a, b *rpcStatus) bool {
	return (a == nil) == (b == nil) && (a == nil || *a == *b)
}

// fuzzDecode is the property every decoder must have: no panic on any
// input, and what decodes re-encodes to something that decodes to the same
// value.
func fuzzDecode(t *testing.T, data []byte, into wireMessage) {
	if err := unmarshal(data, into); err != nil {
		if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrUnsupportedVersion) {
			t.Fatalf("decode error %v wraps neither ErrMalformed nor ErrUnsupportedVersion", err)
		}
		return
	}
	b, err := marshal(into)
	if err != nil {
		// Only a negative ForwardRequest field cannot be encoded, and the
		// decoder never produces one.
		t.Fatalf("re-encode of a decoded message: %v", err)
	}
	again := newOfSameType(into)
	if err := unmarshal(b, again); err != nil {
		t.Fatalf("decode of a re-encoded message: %v", err)
	}
	if !wireEqual(into, again) {
		t.Fatalf("round trip changed the message: %+v -> %+v", into, again)
	}
}

// addSeeds seeds f with the golden samples (all types: a decoder must
// survive the others' messages too) and a few hostile inputs.
func addSeeds(f *testing.F) {
	for _, s := range wireSamples() {
		b, err := marshal(s.msg)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, b := range [][]byte{nil, {1}, {2}, {1, 0}, {1, 0x80}, {1, 3, 0xff, 0xff, 0xff, 0xff, 0x0f}} {
		f.Add(b)
	}
}

func FuzzRaftBatch(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) { fuzzDecode(t, data, &raftBatch{}) })
}

func FuzzSnapshotChunk(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) { fuzzDecode(t, data, &snapshotChunk{}) })
}

func FuzzForwardRequest(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) { fuzzDecode(t, data, &ForwardRequest{}) })
}

func FuzzReplies(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		fuzzDecode(t, data, &forwardReply{})
		fuzzDecode(t, data, &snapshotDone{})
		fuzzDecode(t, data, &raftDone{})
	})
}

// TestFuzzSeedsDecode runs the fuzz property over the seed corpus, and
// checks every golden sample decodes as its own type.
func TestFuzzSeedsDecode(t *testing.T) {
	for _, s := range wireSamples() {
		b, err := marshal(s.msg)
		if err != nil {
			t.Fatal(err)
		}
		for _, into := range []wireMessage{&raftBatch{}, &raftDone{}, &snapshotChunk{}, &snapshotDone{}, &ForwardRequest{}, &forwardReply{}} {
			fuzzDecode(t, b, into)
		}
		if err := unmarshal(b, newOfSameType(s.msg)); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
	}
}

func FuzzTxnKV(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		fuzzDecode(t, data, &TxnKVRequest{})
		fuzzDecode(t, data, &txnKVReply{})
	})
}
