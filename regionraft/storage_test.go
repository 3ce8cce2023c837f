package regionraft

import (
	"errors"
	"testing"

	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"

	"github.com/skerrydb/skerry/mvcc/keys"
)

func ent(i, term uint64, data string) *raftpb.Entry {
	return &raftpb.Entry{Index: proto.Uint64(i), Term: proto.Uint64(term), Type: raftpb.EntryNormal.Enum(), Data: []byte(data)}
}

// TestPeerStorage drives the raft.Storage directly: append, conflicting
// append, reads from the cache and from the engine, size limits, compaction.
func TestPeerStorage(t *testing.T) {
	eng := newTestEngine()
	r := soloRegion(1)
	b := eng.NewBatch()
	if err := writeInitialState(b, 1); err != nil {
		t.Fatal(err)
	}
	if err := b.Commit(true); err != nil {
		t.Fatal(err)
	}
	ps, err := loadPeerStorage(eng, &r, 3)
	if err != nil {
		t.Fatal(err)
	}
	if f, _ := ps.FirstIndex(); f != 6 {
		t.Fatalf("first = %d", f)
	}
	if l, _ := ps.LastIndex(); l != 5 {
		t.Fatalf("last = %d", l)
	}
	if term, _ := ps.Term(5); term != 5 {
		t.Fatalf("term(5) = %d", term)
	}
	write := func(ents ...*raftpb.Entry) {
		t.Helper()
		b := eng.NewBatch()
		if err := ps.append(b, ents); err != nil {
			t.Fatal(err)
		}
		if err := b.Commit(true); err != nil {
			t.Fatal(err)
		}
	}
	for i := uint64(6); i <= 15; i++ {
		write(ent(i, 6, "x"))
	}
	// Conflict: a new leader replaces 12.. with a shorter tail.
	write(ent(12, 7, "y"), ent(13, 7, "y"))
	if l, _ := ps.LastIndex(); l != 13 {
		t.Fatalf("last after conflict = %d", l)
	}
	if n, _ := logKeys(t, eng, 1); n != 8 {
		t.Fatalf("%d log keys after conflicting append, want 8", n)
	}
	ents, err := ps.Entries(6, 14, 1<<20) // 6..10 from the engine, 11..13 from the cache
	if err != nil || len(ents) != 8 || ents[0].GetIndex() != 6 || ents[7].GetTerm() != 7 {
		t.Fatalf("entries = %v, %v", ents, err)
	}
	if ents, _ := ps.Entries(6, 14, 1); len(ents) != 1 {
		t.Fatalf("maxSize ignored: %d entries", len(ents))
	}
	if _, err := ps.Entries(6, 15, 1<<20); !errors.Is(err, raft.ErrUnavailable) {
		t.Fatalf("beyond last: %v", err)
	}
	// Reload from the engine alone.
	ps2, err := loadPeerStorage(eng, &r, 3)
	if err != nil {
		t.Fatal(err)
	}
	if term, _ := ps2.Term(12); term != 7 {
		t.Fatalf("reloaded term(12) = %d", term)
	}
	ps.apply.applied = 11
	b = eng.NewBatch()
	if err := ps.compact(b, 10); err != nil {
		t.Fatal(err)
	}
	if err := b.Commit(true); err != nil {
		t.Fatal(err)
	}
	if _, err := ps.Entries(10, 12, 1<<20); !errors.Is(err, raft.ErrCompacted) {
		t.Fatalf("compacted entries: %v", err)
	}
	if _, err := ps.Term(9); !errors.Is(err, raft.ErrCompacted) {
		t.Fatalf("compacted term: %v", err)
	}
	if term, err := ps.Term(10); err != nil || term != 6 {
		t.Fatalf("truncated term = %d, %v", term, err)
	}
	if f, _ := ps.FirstIndex(); f != 11 {
		t.Fatalf("first after compact = %d", f)
	}
	if err := ps.compact(eng.NewBatch(), 12); err == nil {
		t.Fatal("compacted beyond applied")
	}
	snap, err := ps.Snapshot()
	if err != nil || snap.GetMetadata().GetIndex() != ps.apply.applied {
		t.Fatalf("snapshot: %v, %v", snap, err)
	}
	if r, err := DecodeRegion(snap.GetData()); err != nil || r.ID != ps.regionID {
		t.Fatalf("snapshot data: %+v, %v", r, err)
	}
	ps.region.Peers = nil // uninitialized: nothing to send yet
	if _, err := ps.Snapshot(); !errors.Is(err, raft.ErrSnapshotTemporarilyUnavailable) {
		t.Fatalf("snapshot of an uninitialized peer: %v", err)
	}
	if _, err := decodeApplyState([]byte{1, 2}); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("decodeApplyState: %v", err)
	}
}

// TestLoadRaisesAStaleCommitToApplied: a hard state whose commit index is
// below the applied index (an uninitialized peer's commit-0 hard state
// written after a split's apply) loads with commit = applied instead of
// failing as corrupt; the term and vote are kept.
func TestLoadRaisesAStaleCommitToApplied(t *testing.T) {
	eng := newTestEngine()
	r := soloRegion(1)
	b := eng.NewBatch()
	if err := writeInitialState(b, 1); err != nil {
		t.Fatal(err)
	}
	hs, err := proto.Marshal(&raftpb.HardState{Term: proto.Uint64(7), Vote: proto.Uint64(11)})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Set(keys.RaftHardStateKey(1), hs); err != nil {
		t.Fatal(err)
	}
	if err := b.Commit(true); err != nil {
		t.Fatal(err)
	}
	ps, err := loadPeerStorage(eng, &r, 3)
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	if ps.hs.GetCommit() != raftInitIndex || ps.hs.GetTerm() != 7 || ps.hs.GetVote() != 11 {
		t.Fatalf("hard state %v, want term 7 vote 11 commit %d", ps.hs, raftInitIndex)
	}
}
