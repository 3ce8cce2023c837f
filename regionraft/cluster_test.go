package regionraft

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"go.etcd.io/raft/v3/raftpb"
)

func threeVoterRegion() Region {
	return Region{ID: 1, Epoch: Epoch{ConfVer: 1, Version: 1},
		Peers: []Peer{{ID: 101, StoreID: 1}, {ID: 102, StoreID: 2}, {ID: 103, StoreID: 3}}}
}

func TestThreeVoters(t *testing.T) {
	tr := newChanTransport()
	defer tr.close()
	stores := map[uint64]*Store{}
	appliers := map[uint64]*recApplier{}
	engines := map[uint64]*testEngine{}
	for id := uint64(1); id <= 3; id++ {
		eng := newTestEngine()
		appliers[id] = newRecApplier(eng)
		cfg := testConfig(id, eng, appliers[id])
		cfg.Transport = tr
		cfg.RaftLogGCThreshold = 8
		engines[id] = eng
		s, err := NewStore(cfg)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.BootstrapRegion(threeVoterRegion()); err != nil {
			t.Fatal(err)
		}
		tr.register(id, s)
		stores[id] = s
	}
	for _, s := range stores {
		s.Start()
		defer s.Stop()
	}
	var leader Peer
	eventually(t, "one leader known by all", func() bool {
		var seen []Peer
		for _, s := range stores {
			l, ok := s.Leader(1)
			if !ok {
				return false
			}
			seen = append(seen, l)
		}
		leader = seen[0]
		return seen[1] == leader && seen[2] == leader
	})

	ls := stores[leader.StoreID]
	proposeN(t, ls, 1, "x", 20)
	if err := ls.ReadBarrier(ctxT(t), 1); err != nil {
		t.Fatal(err)
	}
	for id, s := range stores {
		if id == leader.StoreID {
			continue
		}
		var nle *NotLeaderError
		if err := s.Propose(ctxT(t), 1, []byte("nope")); !errors.As(err, &nle) || nle.Leader != leader || nle.RegionID != 1 {
			t.Fatalf("follower %d propose: %v", id, err)
		}
		if err := s.ReadBarrier(ctxT(t), 1); !errors.As(err, &nle) {
			t.Fatalf("follower %d read: %v", id, err)
		}
	}
	for id, ap := range appliers {
		eventually(t, "replication", func() bool { return len(ap.entries(1)) == 20 })
		for i, e := range ap.entries(1) {
			if e != appliers[leader.StoreID].entries(1)[i] {
				t.Fatalf("store %d entry %d = %v, leader applied %v", id, i, e, appliers[leader.StoreID].entries(1)[i])
			}
		}
	}

	// Log GC is decided by the leader and applied by every replica alike.
	eventually(t, "same log truncation on every replica", func() bool {
		var firsts []uint64
		for _, eng := range engines {
			_, first := logKeys(t, eng, 1)
			firsts = append(firsts, first)
		}
		return firsts[0] > 10 && firsts[0] == firsts[1] && firsts[1] == firsts[2]
	})

	// Cut the leader off: the others elect a new one and keep serving.
	tr.setDown(leader.StoreID, true)
	// A proposal on the isolated leader can never commit: it must fail
	// (NotLeaderError once it steps down first, or ErrProposalDropped when
	// the new leader's log overwrites it after the partition heals), not hang.
	isolated := make(chan error, 1)
	go func() { isolated <- ls.Propose(ctxT(t), 1, []byte("isolated")) }()
	var newLeader Peer
	eventually(t, "new leader", func() bool {
		for id, s := range stores {
			if l, ok := s.Leader(1); ok && id != leader.StoreID && l.StoreID == id {
				newLeader = l
				return true
			}
		}
		return false
	})
	proposeN(t, stores[newLeader.StoreID], 1, "y", 5)

	tr.setDown(leader.StoreID, false)
	var nle *NotLeaderError
	// (Or, when a snapshot resets the old leader's peer first, an unknown
	// outcome: the store cannot tell whether the entry made it.)
	if err := <-isolated; !errors.As(err, &nle) && !errors.Is(err, ErrProposalDropped) && !errors.Is(err, ErrOutcomeUnknown) {
		t.Fatalf("proposal on isolated leader: %v", err)
	} else {
		t.Logf("proposal on isolated leader: %v", err)
	}
	// The old leader catches up by log or, when the new leader truncated
	// its log meanwhile, by snapshot (then its applier sees no entries).
	eng := engines[leader.StoreID]
	for i := 0; i < 5; i++ {
		eventually(t, "old leader catches up", func() bool {
			_, err := eng.Get(cmdKey(fmt.Sprintf("y%04d", i)))
			return err == nil
		})
	}
	if _, err := eng.Get(cmdKey("isolated")); err == nil {
		t.Fatal("isolated proposal applied")
	}
}

func TestOnLeaderChangeReportsGainAndLoss(t *testing.T) {
	tr := newChanTransport()
	defer tr.close()
	type change struct {
		store  uint64
		leader bool
	}
	changes := make(chan change, 64)
	var stores []*Store
	for id := uint64(1); id <= 3; id++ {
		eng := newTestEngine()
		cfg := testConfig(id, eng, newRecApplier(eng))
		cfg.Transport = tr
		store := id
		cfg.OnLeaderChange = func(region uint64, leader bool) { changes <- change{store, leader} }
		s, err := NewStore(cfg)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.BootstrapRegion(threeVoterRegion()); err != nil {
			t.Fatal(err)
		}
		tr.register(id, s)
		s.Start()
		defer s.Stop()
		stores = append(stores, s)
	}
	ctx := ctxT(t)
	if err := stores[0].WaitLeader(ctx, threeVoterRegion().ID); err != nil {
		t.Fatal(err)
	}
	var first change
	select {
	case first = <-changes:
		if !first.leader {
			t.Fatalf("first change is a loss: %+v", first)
		}
		l, _ := stores[0].Leader(threeVoterRegion().ID)
		if l.StoreID != first.store {
			t.Fatalf("store %d reported leadership, leader is on store %d", first.store, l.StoreID)
		}
	case <-ctx.Done():
		t.Fatal("no leadership change reported")
	}
	// Isolate the leader: CheckQuorum makes it step down (a loss), and
	// another store reports a gain.
	tr.setDown(first.store, true)
	lost, gained := false, false
	for !lost || !gained {
		select {
		case c := <-changes:
			if c.store == first.store && !c.leader {
				lost = true
			}
			if c.store != first.store && c.leader {
				gained = true
			}
		case <-ctx.Done():
			t.Fatalf("after isolating the leader: lost=%v gained=%v", lost, gained)
		}
	}
}

// TestWriteBarrierSkipsTheQuorumRound: a leader that applied an entry of
// its own term lets a write's reads through without a ReadIndex round
// (its proposal proves the leadership), even cut off from its followers,
// where ReadBarrier cannot pass; a follower refuses with the leader.
func TestWriteBarrierSkipsTheQuorumRound(t *testing.T) {
	c := newTestCluster(t, []uint64{1, 2, 3}, nil, threeVoterRegion())
	ls := c.leader(1)
	c.propose(1, "w1")
	c.waitHas([]uint64{1, 2, 3}, []string{"w1"})
	leader, _ := ls.Leader(1)
	if err := ls.WriteBarrier(ctxT(t), 1); err != nil {
		t.Fatalf("WriteBarrier on the leader: %v", err)
	}
	for id, s := range c.stores {
		if id == leader.StoreID {
			continue
		}
		var nl *NotLeaderError
		if err := s.WriteBarrier(ctxT(t), 1); !errors.As(err, &nl) || nl.Leader.StoreID != leader.StoreID {
			t.Fatalf("WriteBarrier on follower %d = %v, want NotLeaderError naming %d", id, err, leader.StoreID)
		}
	}
	c.tr.mu.Lock()
	c.tr.down[leader.StoreID] = true
	c.tr.mu.Unlock()
	if err := ls.WriteBarrier(ctxT(t), 1); err != nil {
		t.Fatalf("WriteBarrier on the cut-off leader: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if err := ls.ReadBarrier(ctx, 1); err == nil {
		t.Fatal("ReadBarrier passed on a leader cut off from every follower")
	}
}

// lastIndex asks the raft goroutine for the last log index of regionID.
func (s *Store) lastIndex(regionID uint64) uint64 {
	var last uint64
	_ = s.runOnLoop(context.Background(), func() error {
		if p := s.peers[regionID]; p != nil && p.initialized {
			last, _ = p.storage.LastIndex()
		}
		return nil
	})
	return last
}

// TestProposalCoveredBySnapshotIsOutcomeUnknown: a leader's proposal
// reaches the followers but the leader never learns it committed; cut
// off, it is replaced by a follower that commits the entry, compacts its
// log, and sends the old leader a snapshot. The waiting proposal must end
// with ErrOutcomeUnknown (it applied elsewhere), never ErrProposalDropped,
// which tells the caller to run the command again.
func TestProposalCoveredBySnapshotIsOutcomeUnknown(t *testing.T) {
	c := newTestCluster(t, []uint64{1, 2, 3}, func(cfg *Config) { cfg.RaftLogGCThreshold = 4 },
		threeVoterRegion())
	c.propose(1, "before")
	c.waitHas([]uint64{1, 2, 3}, []string{"before"})
	ls := c.leader(1)
	old, _ := ls.Leader(1)
	// The followers append the next entry but their acks never arrive.
	c.tr.mu.Lock()
	c.tr.dropTypes = map[raftpb.MessageType]bool{raftpb.MsgAppResp: true}
	c.tr.mu.Unlock()
	base := ls.lastIndex(1)
	proposed := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		proposed <- ls.Propose(ctx, 1, []byte("covered"))
	}()
	eventually(t, "the followers appended the entry", func() bool {
		want := ls.lastIndex(1)
		for id, s := range c.stores {
			if id != old.StoreID && s.lastIndex(1) < want {
				return false
			}
		}
		return want > base
	})
	select {
	case err := <-proposed:
		t.Fatalf("the proposal ended before the leader was cut off: %v", err)
	default:
	}
	c.tr.mu.Lock()
	c.tr.dropTypes = nil
	c.tr.down[old.StoreID] = true
	c.tr.mu.Unlock()
	// The others elect a leader, which commits the entry, and write on
	// until the log is compacted past it.
	var others []uint64
	for id := range c.stores {
		if id != old.StoreID {
			others = append(others, id)
		}
	}
	c.live[old.StoreID] = false
	for i := range 12 {
		c.propose(1, fmt.Sprintf("after%d", i))
	}
	c.waitHas(others, []string{"covered", "after11"})
	c.live[old.StoreID] = true
	c.tr.mu.Lock()
	c.tr.down[old.StoreID] = false
	c.tr.mu.Unlock()
	c.waitHas([]uint64{old.StoreID}, []string{"covered", "after11"})
	select {
	case err := <-proposed:
		if !errors.Is(err, ErrOutcomeUnknown) {
			t.Fatalf("proposal applied through a snapshot ended with %v, want ErrOutcomeUnknown", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the proposal did not end after the snapshot")
	}
}
