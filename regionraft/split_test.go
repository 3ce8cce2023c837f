package regionraft

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"

	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"

	"github.com/skerrydb/skerry/mvcc/keys"
)

func TestClusterSplit(t *testing.T) {
	c := newTestCluster(t, []uint64{1, 2, 3}, nil, threeVoterRegion())
	c.proposeAll(1, []string{"a1", "z1"})
	l := c.leader(1)
	r, _ := l.Region(1)
	ctx := ctxT(t)
	if _, _, err := l.Split(ctx, 1, r.Epoch, []byte("m"), 2, []uint64{201, 202}); !errors.Is(err, ErrInvalidRegion) {
		t.Fatalf("split with too few peer ids: %v", err)
	}
	left, right, err := l.Split(ctx, 1, r.Epoch, []byte("m"), 2, []uint64{201, 202, 203})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(left.EndKey, []byte("m")) || !bytes.Equal(right.StartKey, []byte("m")) || len(right.EndKey) != 0 ||
		left.Epoch.Version != 2 || right.Epoch.Version != 2 || right.ID != 2 {
		t.Fatalf("split: left %+v right %+v", left, right)
	}
	for i, p := range r.Peers {
		if right.Peers[i] != (Peer{ID: 201 + uint64(i), StoreID: p.StoreID}) {
			t.Fatalf("right peers %+v", right.Peers)
		}
	}
	if got, _ := l.Region(2); !got.equal(&right) {
		t.Fatalf("published right region %+v", got)
	}
	for id, s := range c.stores {
		eventually(t, fmt.Sprintf("store %d split", id), func() bool {
			lr, ok1 := s.Region(1)
			rr, ok2 := s.Region(2)
			return ok1 && ok2 && lr.equal(&left) && rr.equal(&right)
		})
	}
	// Both sides take writes; a request routed with the old epoch is refused.
	rl := c.leader(2)
	if err := rl.ProposeEpoch(ctx, 2, right.Epoch, []byte("z2")); err != nil {
		t.Fatal(err)
	}
	ll := c.leader(1)
	var ene *EpochNotMatchError
	if err := ll.ProposeEpoch(ctx, 1, r.Epoch, []byte("stale")); !errors.As(err, &ene) || ene.RegionID != 1 || len(ene.Current) == 0 {
		t.Fatalf("stale epoch proposal: %v", err)
	}
	if err := ll.ProposeEpoch(ctx, 1, left.Epoch, []byte("a2")); err != nil {
		t.Fatal(err)
	}
	if id, ok := ll.RegionForKeys([][]byte{[]byte("z")}); !ok || id != 2 {
		t.Fatalf("RegionForKeys(z) = %d, %v", id, ok)
	}
	for id := uint64(1); id <= 3; id++ {
		c.restart(id)
	}
	c.propose(1, "a3")
	c.propose(2, "z3")
	c.waitHas([]uint64{1, 2, 3}, []string{"a1", "a2", "a3", "z1", "z2", "z3"})
	for id := range c.stores {
		if c.has(id, "stale") {
			t.Fatal("stale-epoch command applied")
		}
	}
}

// TestEpochCheckedAtApply proposes a split and, behind it in the log, two
// commands routed with the pre-split epoch (batched in one entry): they
// pass the propose-time check but must each be refused when applied.
func TestEpochCheckedAtApply(t *testing.T) {
	s, ap, r, ctx := soloStore(t)
	late := []*proposal{s.epochProposal(1, r.Epoch.Version, []byte("late1")), s.epochProposal(1, r.Epoch.Version, []byte("late2"))}
	id := s.newProposalID()
	split := &proposal{id: id, regionID: 1, split: true, splitResult: &[2]Region{}, done: make(chan error, 1)}
	err := s.runOnLoop(ctx, func() error {
		p := s.peers[1]
		if err := p.rn.Propose(encodeSplit(split.id, r.Epoch.Version, []byte("m"), 2, []uint64{21})); err != nil {
			return err
		}
		p.proposals[split.id] = split
		for _, c := range late {
			s.handlePropose(c)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.wait(ctx, split.done); err != nil {
		t.Fatal(err)
	}
	for _, c := range late {
		var ene *EpochNotMatchError
		if err := s.wait(ctx, c.done); !errors.As(err, &ene) || len(ene.Current) != 2 {
			t.Fatalf("command behind a split: %v", err)
		}
	}
	for _, e := range ap.entries(1) {
		if e.cmd == "late1" || e.cmd == "late2" {
			t.Fatalf("stale command %s applied", e.cmd)
		}
	}
	if err := s.WaitLeader(ctx, 2); err != nil {
		t.Fatal(err)
	}
	if err := s.ProposeEpoch(ctx, 2, split.splitResult[1].Epoch, []byte("ok")); err != nil {
		t.Fatal(err)
	}
}

func TestSplitKeyAndSize(t *testing.T) {
	eng := newTestEngine()
	s := openStarted(t, testConfig(1, eng, newRecApplier(eng)), soloRegion(1))
	ctx := ctxT(t)
	for i := 0; i < 40; i++ {
		k := keys.MetaKey(0, []byte(fmt.Sprintf("key%d", i)))
		if err := s.Propose(ctx, 1, k); err != nil {
			t.Fatal(err)
		}
	}
	size, n, err := s.ApproximateSize(1)
	if err != nil || n < 40 || size == 0 {
		t.Fatalf("size %d, %d keys, %v", size, n, err)
	}
	k, err := s.SplitKey(1)
	if err != nil {
		t.Fatal(err)
	}
	if len(k) != 2 {
		t.Fatalf("split key %x is not a slot boundary", k)
	}
	r, _ := s.Region(1)
	left, right, err := s.Split(ctx, 1, r.Epoch, k, 2, []uint64{21})
	if err != nil {
		t.Fatal(err)
	}
	countData := func(r Region) int {
		n := 0
		for i := 0; i < 40; i++ {
			if r.ContainsKey(keys.MetaKey(0, []byte(fmt.Sprintf("key%d", i)))) {
				n++
			}
		}
		return n
	}
	if a, b := countData(left), countData(right); a == 0 || b == 0 || a+b != 40 {
		t.Fatalf("split at %x leaves %d and %d keys", k, a, b)
	}
	if _, err := s.SplitKey(99); !errors.Is(err, ErrRegionNotFound) {
		t.Fatal(err)
	}
	_ = context.Background
}

// TestSplitKeyFromWriteRecords: small values live only in write records
// (no data record); SplitKey must still find the middle of the region.
func TestSplitKeyFromWriteRecords(t *testing.T) {
	eng := newTestEngine()
	s := openStarted(t, testConfig(1, eng, newRecApplier(eng)), soloRegion(1))
	b := eng.NewBatch()
	for i := 0; i < 40; i++ {
		k := keys.MetaKey(0, []byte(fmt.Sprintf("key%d", i)))
		if err := b.Set(keys.WriteKey(k, 100), []byte("v")); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Commit(false); err != nil {
		t.Fatal(err)
	}
	b.Close()
	k, err := s.SplitKey(1)
	if err != nil {
		t.Fatalf("split key of a region holding only write records: %v", err)
	}
	left := 0
	for i := 0; i < 40; i++ {
		if bytes.Compare(keys.MetaKey(0, []byte(fmt.Sprintf("key%d", i))), k) < 0 {
			left++
		}
	}
	if left == 0 || left == 40 {
		t.Fatalf("split key %x leaves %d of 40 keys on the left", k, left)
	}
}

// TestSplitPeerHoldsSnapshotsBack: the leader of a region a split created
// sends no snapshot during the grace (its followers' own splits create
// their replicas), unless the membership changed since the split.
func TestSplitPeerHoldsSnapshotsBack(t *testing.T) {
	eng := newTestEngine()
	s := openStarted(t, testConfig(1, eng, newRecApplier(eng)), soloRegion(1))
	ctx := ctxT(t)
	r, _ := s.Region(1)
	if _, _, err := s.Split(ctx, 1, r.Epoch, []byte("m"), 2, []uint64{21}); err != nil {
		t.Fatal(err)
	}
	if err := s.WaitLeader(ctx, 2); err != nil {
		t.Fatal(err)
	}
	hook := func(regionID uint64, confVer uint64) (err error) {
		if e := s.runOnLoop(ctx, func() error {
			p := s.peers[regionID]
			if confVer != 0 {
				p.region.Epoch.ConfVer = confVer
			}
			err = p.storage.snapshotHook(&raftpb.Snapshot{Metadata: &raftpb.SnapshotMetadata{Index: proto.Uint64(p.storage.apply.applied)}})
			return nil
		}); e != nil {
			t.Fatal(e)
		}
		return err
	}
	if err := hook(2, 0); !errors.Is(err, raft.ErrSnapshotTemporarilyUnavailable) {
		t.Fatalf("split peer in its grace: %v", err)
	}
	if err := hook(1, 0); err != nil {
		t.Fatalf("the split's left side: %v", err)
	}
	if err := hook(2, 7); err != nil {
		t.Fatalf("split peer after a membership change: %v", err)
	}
}

// TestSplitKeepsAnUnpersistedVote: a replica of the right region created
// by the new leader's messages (uninitialized) voted this round, in a
// Ready not yet written, when the split that creates the right region is
// applied. The new peer must start with that vote, or it could grant a
// second one in the same term.
func TestSplitKeepsAnUnpersistedVote(t *testing.T) {
	s := openLeaderless(t, Region{ID: 1, Epoch: Epoch{ConfVer: 1, Version: 1}, Peers: []Peer{{ID: 11, StoreID: 1}, {ID: 12, StoreID: 2}}})
	var term, vote uint64
	err := s.runOnLoop(ctxT(t), func() error {
		q := s.maybeCreatePeer(RaftMessage{RegionID: 2, From: Peer{ID: 22, StoreID: 2}, To: Peer{ID: 21, StoreID: 1},
			Msg: &raftpb.Message{Type: raftpb.MessageType_MsgHeartbeat.Enum(), From: proto.Uint64(22), To: proto.Uint64(21), Term: proto.Uint64(6)}})
		if q == nil {
			return errors.New("no uninitialized peer created")
		}
		if err := q.rn.Step(&raftpb.Message{Type: raftpb.MessageType_MsgVote.Enum(), From: proto.Uint64(22), To: proto.Uint64(21),
			Term: proto.Uint64(7), LogTerm: proto.Uint64(5), Index: proto.Uint64(5)}); err != nil {
			return err
		}
		if st := q.rn.BasicStatus(); st.GetTerm() != 7 || st.GetVote() != 22 {
			return fmt.Errorf("uninitialized peer did not vote: term %d vote %d", st.GetTerm(), st.GetVote())
		}
		p := s.peers[1]
		saved := p.region.Clone()
		b := s.cfg.Engine.NewBatch()
		defer b.Close()
		payload := encodeSplit(1, p.region.Epoch.Version, []byte("m"), 2, []uint64{21, 22})[proposalIDLen+1:]
		if _, err := s.applySplit(p, b, &raftpb.Entry{Index: proto.Uint64(p.storage.apply.applied + 1)}, payload, nil); err != nil {
			return err
		}
		if len(p.splitPeers) != 1 {
			return fmt.Errorf("split created %d peers", len(p.splitPeers))
		}
		st := p.splitPeers[0].p.rn.BasicStatus()
		term, vote = st.GetTerm(), st.GetVote()
		// Undo: this test only looks at the new peer's raft state.
		p.splitPeers, p.region, p.regionChanged = nil, saved, false
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if term != 7 || vote != 22 {
		t.Fatalf("the split's new peer starts at term %d with vote %d, want term 7 vote 22", term, vote)
	}
}
