package cluster

import (
	"reflect"
	"testing"

	"github.com/skerrydb/skerry/commands"
	"github.com/skerrydb/skerry/resp"
)

func TestForwardStateRoundTrip(t *testing.T) {
	cases := []commands.ForwardState{
		{},
		{DB: 15, Proto: 3},
		{DB: 2, Proto: 2, Multi: true, Queue: [][][]byte{{[]byte("SET"), []byte("k"), {}}, {[]byte("EXEC")}},
			Watched: []resp.WatchedKey{{DB: 1, Key: []byte("w"), CommitTS: 1 << 40, Exists: true}, {Key: []byte{}, Live: true}}},
	}
	for _, st := range cases {
		got, nl, err := decodeForwardState(encodeForwardState(st))
		if err != nil || nl != nil {
			t.Fatalf("%+v: %v %v", st, nl, err)
		}
		if !reflect.DeepEqual(normalize(got), normalize(st)) {
			t.Fatalf("round trip:\n got %+v\nwant %+v", got, st)
		}
	}
	for _, node := range []uint64{0, 7, 1 << 60} {
		_, nl, err := decodeForwardState(encodeNotLocal(node))
		if err != nil || nl == nil || nl.Node != node {
			t.Fatalf("not-local %d: %+v %v", node, nl, err)
		}
	}
}

// normalize makes empty and nil slices compare equal.
func normalize(st commands.ForwardState) commands.ForwardState {
	if len(st.Queue) == 0 {
		st.Queue = nil
	}
	for i := range st.Queue {
		for j := range st.Queue[i] {
			if len(st.Queue[i][j]) == 0 {
				st.Queue[i][j] = nil
			}
		}
	}
	if len(st.Watched) == 0 {
		st.Watched = nil
	}
	for i := range st.Watched {
		if len(st.Watched[i].Key) == 0 {
			st.Watched[i].Key = nil
		}
	}
	return st
}

func FuzzForwardState(f *testing.F) {
	f.Add(encodeForwardState(commands.ForwardState{DB: 3, Proto: 3, Multi: true,
		Queue: [][][]byte{{[]byte("INCR"), []byte("x")}}, Watched: []resp.WatchedKey{{Key: []byte("x"), CommitTS: 9}}}))
	f.Add(encodeNotLocal(4))
	f.Add([]byte{1, 0, 0, 2, 0, 255, 255, 255, 255, 15})
	f.Fuzz(func(t *testing.T, b []byte) {
		st, nl, err := decodeForwardState(b)
		if err != nil || nl != nil {
			return
		}
		// What decodes re-encodes to bytes that decode to the same state
		// (varints may arrive non-minimal, so bytes need not match).
		again, nl2, err := decodeForwardState(encodeForwardState(st))
		if err != nil || nl2 != nil || !reflect.DeepEqual(normalize(again), normalize(st)) {
			t.Fatalf("%x decodes to %+v, which round-trips to %+v %v %v", b, st, again, nl2, err)
		}
	})
}
