package regionraft

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"

	"github.com/skerrydb/skerry/mvcc/keys"
)

func cmds(prefix string, n int) []string {
	var out []string
	for i := 0; i < n; i++ {
		out = append(out, fmt.Sprintf("%s%04d", prefix, i))
	}
	return out
}

func (c *testCluster) proposeAll(regionID uint64, cs []string) {
	c.t.Helper()
	for _, cmd := range cs {
		c.propose(regionID, cmd)
	}
}

func TestClusterLeaderCrashLosesNoAcknowledgedWrite(t *testing.T) {
	c := newTestCluster(t, []uint64{1, 2, 3}, nil, threeVoterRegion())
	a := cmds("a", 20)
	c.proposeAll(1, a)
	old := c.leader(1).cfg.StoreID
	c.crash(old)
	nl := c.leader(1)
	if nl.cfg.StoreID == old {
		t.Fatal("crashed store still leads")
	}
	b := cmds("b", 10)
	c.proposeAll(1, b)
	c.open(old)
	c.waitHas([]uint64{1, 2, 3}, append(a, b...))
	// And the restarted store serves as a replica again.
	c.propose(1, "after-restart")
	c.waitHas([]uint64{1, 2, 3}, []string{"after-restart"})
}

func TestClusterMinorityCannotCommit(t *testing.T) {
	c := newTestCluster(t, []uint64{1, 2, 3}, nil, threeVoterRegion())
	c.propose(1, "before")
	old := c.leader(1)
	oldID := old.cfg.StoreID
	var others []uint64
	for id := uint64(1); id <= 3; id++ {
		if id != oldID {
			others = append(others, id)
		}
	}
	c.tr.partition([]uint64{oldID}, others)
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	err := old.Propose(ctx, 1, []byte("minority"))
	cancel()
	if err == nil {
		t.Fatal("a proposal on the minority side was acknowledged")
	}
	c.live[oldID] = false // not a leader candidate while cut off
	c.proposeAll(1, cmds("majority", 5))
	c.tr.heal()
	c.live[oldID] = true
	c.waitHas([]uint64{1, 2, 3}, cmds("majority", 5))
	for id := uint64(1); id <= 3; id++ {
		if c.has(id, "minority") {
			t.Fatalf("store %d applied the minority proposal", id)
		}
	}
}

func TestClusterLearnerSnapshotPromoteRemove(t *testing.T) {
	c := newTestCluster(t, []uint64{1, 2, 3, 4}, func(cfg *Config) { cfg.RaftLogGCThreshold = 5 }, threeVoterRegion())
	a := cmds("a", 30)
	c.proposeAll(1, a)
	eventually(t, "logs truncated", func() bool {
		_, first := logKeys(t, c.engines[c.leader(1).cfg.StoreID], 1)
		return first > 20
	})
	l := c.leader(1)
	ctx := ctxT(t)
	if err := l.ChangePeers(ctx, 1, []PeerChange{{Type: RemovePeer, Peer: l.selfPeer(1)}}); !errors.Is(err, ErrInvalidConfChange) {
		t.Fatalf("removing the leader: %v", err)
	}
	learner := Peer{ID: 104, StoreID: 4}
	if err := l.ChangePeers(ctx, 1, []PeerChange{{Type: AddLearner, Peer: learner}}); err != nil {
		t.Fatal(err)
	}
	if r, _ := l.Region(1); !slices.Contains(r.Peers, Peer{ID: 104, StoreID: 4, Learner: true}) || r.Epoch.ConfVer != 2 {
		t.Fatalf("after adding a learner: %+v", r)
	}
	c.waitHas([]uint64{4}, a) // by snapshot: the log was truncated
	eventually(t, "the snapshot acknowledged", func() bool { return c.tr.snapshotsAccepted() > 0 })
	b := cmds("b", 5)
	c.proposeAll(1, b)
	c.waitHas([]uint64{4}, b)

	// Promote the learner and remove a follower in one joint change.
	l = c.leader(1)
	var victim Peer
	r, _ := l.Region(1)
	for _, p := range r.Peers {
		if p.StoreID != l.cfg.StoreID && !p.Learner {
			victim = p
		}
	}
	if err := l.ChangePeers(ctx, 1, []PeerChange{{Type: AddVoter, Peer: learner}, {Type: RemovePeer, Peer: victim}}); err != nil {
		t.Fatal(err)
	}
	r, _ = l.Region(1)
	if len(r.Peers) != 3 || slices.ContainsFunc(r.Peers, func(p Peer) bool { return p.ID == victim.ID || p.Learner }) ||
		!slices.Contains(r.Peers, learner) || r.Epoch.ConfVer != 4 {
		t.Fatalf("after the joint change: %+v", r)
	}
	vs := c.stores[victim.StoreID]
	eventually(t, "removed peer destroyed", func() bool { _, ok := vs.Region(1); return !ok })
	if id, ok := c.tombstone(victim.StoreID, 1); !ok || id != victim.ID {
		t.Fatalf("tombstone = %d, %v", id, ok)
	}
	if _, err := c.engines[victim.StoreID].Get(keys.RegionStateKey(1)); err == nil {
		t.Fatal("descriptor of a removed peer kept")
	}
	// A late message to the removed peer does not bring it back.
	lp := l.selfPeer(1)
	hb := &raftpb.Message{Type: raftpb.MessageType_MsgHeartbeat.Enum(), From: proto.Uint64(lp.ID), To: proto.Uint64(victim.ID), Term: proto.Uint64(100)}
	if err := vs.runOnLoop(ctx, func() error {
		vs.handleStep(RaftMessage{RegionID: 1, From: lp, To: victim, Msg: hb})
		if vs.peers[1] != nil {
			return errors.New("peer re-created by a stale message")
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	d := cmds("d", 5)
	c.proposeAll(1, d)
	c.waitHas([]uint64{4}, d)

	// Restarts: the new voter keeps its state, the removed one stays gone.
	c.restart(4)
	c.restart(victim.StoreID)
	if _, ok := c.stores[victim.StoreID].Region(1); ok {
		t.Fatal("removed region came back after a restart")
	}
	e := cmds("e", 5)
	c.proposeAll(1, e)
	c.waitHas([]uint64{4}, append(a, e...))
	if c.has(victim.StoreID, "e0000") {
		t.Fatal("removed store still replicates")
	}
}

// selfPeer returns this store's peer of the region.
func (s *Store) selfPeer(regionID uint64) Peer {
	r, _ := s.Region(regionID)
	p, _ := r.PeerOnStore(s.cfg.StoreID)
	return p
}

func TestClusterTransferLeader(t *testing.T) {
	c := newTestCluster(t, []uint64{1, 2, 3}, nil, threeVoterRegion())
	c.propose(1, "x")
	l := c.leader(1)
	var to Peer
	r, _ := l.Region(1)
	for _, p := range r.Peers {
		if p.StoreID != l.cfg.StoreID {
			to = p
		}
	}
	c.waitHas([]uint64{to.StoreID}, []string{"x"}) // a transferee must be up to date
	if err := l.TransferLeader(ctxT(t), 1, to.ID); err != nil {
		t.Fatal(err)
	}
	if got, _ := l.Leader(1); got != to {
		t.Fatalf("leader after transfer = %+v, want %+v", got, to)
	}
	var nle *NotLeaderError
	if err := l.Propose(ctxT(t), 1, []byte("old")); !errors.As(err, &nle) {
		t.Fatalf("old leader propose: %v", err)
	}
	c.propose(1, "y")
	c.restart(to.StoreID)
	c.propose(1, "z")
	c.waitHas([]uint64{1, 2, 3}, []string{"x", "y", "z"})
}

// TestClusterSnapshotCutAndCrash breaks the first snapshot stream to a new
// learner mid-transfer, crashes the learner's store right after, and checks
// that it restarts clean and catches up with the next snapshot.
func TestClusterSnapshotCutAndCrash(t *testing.T) {
	c := newTestCluster(t, []uint64{1, 2, 3, 4}, func(cfg *Config) {
		cfg.RaftLogGCThreshold = 5
		cfg.SnapshotBatchBytes = 64 // commit part of the data before the cut
	}, threeVoterRegion())
	a := cmds("a", 30)
	c.proposeAll(1, a)
	eventually(t, "logs truncated", func() bool {
		_, first := logKeys(t, c.engines[c.leader(1).cfg.StoreID], 1)
		return first > 20
	})
	c.tr.mu.Lock()
	c.tr.cutSnaps, c.tr.cutAfter = 1, 400
	c.tr.mu.Unlock()
	c.tr.setDown(4, true) // until the cut is armed for the first attempt
	l := c.leader(1)
	if err := l.ChangePeers(ctxT(t), 1, []PeerChange{{Type: AddLearner, Peer: Peer{ID: 104, StoreID: 4}}}); err != nil {
		t.Fatal(err)
	}
	c.tr.setDown(4, false)
	eventually(t, "the cut stream used", func() bool {
		c.tr.mu.Lock()
		defer c.tr.mu.Unlock()
		return c.tr.cutSnaps == 0
	})
	c.restart(4)
	eventually(t, "the learner initialized", func() bool { _, ok := c.stores[4].Region(1); return ok })
	c.waitHas([]uint64{4}, a)
	c.restart(4)
	if _, ok := c.stores[4].Region(1); !ok {
		t.Fatal("learner lost its region on restart")
	}
	c.waitHas([]uint64{4}, a)
}

// TestClusterReAddReplacesZombie removes a follower while it is cut off (it
// never learns of its removal), then adds a new peer on the same store: the
// newer peer id supersedes the zombie, which is destroyed.
func TestClusterReAddReplacesZombie(t *testing.T) {
	c := newTestCluster(t, []uint64{1, 2, 3}, func(cfg *Config) { cfg.RaftLogGCThreshold = 5 }, threeVoterRegion())
	c.proposeAll(1, cmds("a", 10))
	l := c.leader(1)
	var victim Peer
	r, _ := l.Region(1)
	for _, p := range r.Peers {
		if p.StoreID != l.cfg.StoreID {
			victim = p
		}
	}
	c.waitHas([]uint64{victim.StoreID}, cmds("a", 10))
	c.tr.setDown(victim.StoreID, true)
	ctx := ctxT(t)
	if err := l.ChangePeers(ctx, 1, []PeerChange{{Type: RemovePeer, Peer: victim}}); err != nil {
		t.Fatal(err)
	}
	c.tr.setDown(victim.StoreID, false)
	b := cmds("b", 10)
	c.proposeAll(1, b)
	if _, ok := c.stores[victim.StoreID].Region(1); !ok {
		t.Fatal("the cut-off peer learnt of its removal: the test proves nothing")
	}
	newPeer := Peer{ID: 150, StoreID: victim.StoreID}
	if err := c.leader(1).ChangePeers(ctx, 1, []PeerChange{{Type: AddLearner, Peer: newPeer}}); err != nil {
		t.Fatal(err)
	}
	c.waitHas([]uint64{victim.StoreID}, b)
	eventually(t, "new peer initialized", func() bool {
		return c.stores[victim.StoreID].selfPeer(1) == Peer{ID: 150, StoreID: victim.StoreID, Learner: true}
	})
	if id, ok := c.tombstone(victim.StoreID, 1); !ok || id != victim.ID {
		t.Fatalf("tombstone %d, %v", id, ok)
	}
	c.restart(victim.StoreID)
	c.propose(1, "after")
	c.waitHas([]uint64{victim.StoreID}, []string{"after"})
}

// TestClusterLossyNetwork drops and delays messages (seeded) while writing,
// with a truncating log, then checks that every replica converges.
func TestClusterLossyNetwork(t *testing.T) {
	c := newTestCluster(t, []uint64{1, 2, 3}, func(cfg *Config) { cfg.RaftLogGCThreshold = 8 }, threeVoterRegion())
	c.tr.mu.Lock()
	c.tr.dropRate, c.tr.delay = 0.1, time.Millisecond
	c.tr.mu.Unlock()
	a := cmds("lossy", 30)
	c.proposeAll(1, a)
	c.tr.heal()
	c.waitHas([]uint64{1, 2, 3}, a)
}

// TestClusterQuarantineAndReplace cuts a snapshot stream to an initialized
// follower after part of its data was replaced: the peer is quarantined
// (also across a restart) until the region replaces it with a new peer.
func TestClusterQuarantineAndReplace(t *testing.T) {
	c := newTestCluster(t, []uint64{1, 2, 3}, func(cfg *Config) {
		cfg.RaftLogGCThreshold = 5
		cfg.SnapshotBatchBytes = 64
	}, threeVoterRegion())
	c.propose(1, "first")
	l := c.leader(1)
	var f Peer
	r, _ := l.Region(1)
	for _, p := range r.Peers {
		if p.StoreID != l.cfg.StoreID {
			f = p
		}
	}
	c.waitHas([]uint64{f.StoreID}, []string{"first"})
	c.tr.setDown(f.StoreID, true)
	a := cmds("a", 30)
	c.proposeAll(1, a)
	c.tr.mu.Lock()
	c.tr.cutSnaps, c.tr.cutAfter = 1000, 400 // every snapshot to it breaks
	c.tr.mu.Unlock()
	c.tr.setDown(f.StoreID, false)
	fs := c.stores[f.StoreID]
	eventually(t, "follower quarantined", func() bool { return slices.Equal(fs.QuarantinedRegions(), []uint64{1}) })
	if _, ok := fs.Region(1); ok {
		t.Fatal("a quarantined region is published")
	}
	c.restart(f.StoreID)
	fs = c.stores[f.StoreID]
	if !slices.Equal(fs.QuarantinedRegions(), []uint64{1}) {
		t.Fatal("quarantine lost on restart")
	}
	c.tr.mu.Lock()
	c.tr.cutSnaps = 0
	c.tr.mu.Unlock()
	ctx := ctxT(t)
	if err := c.leader(1).ChangePeers(ctx, 1, []PeerChange{{Type: RemovePeer, Peer: f}}); err != nil {
		t.Fatal(err)
	}
	nf := Peer{ID: 170, StoreID: f.StoreID}
	if err := c.leader(1).ChangePeers(ctx, 1, []PeerChange{{Type: AddLearner, Peer: nf}}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "replacement initialized", func() bool { _, ok := fs.Region(1); return ok })
	c.waitHas([]uint64{f.StoreID}, a)
	if len(fs.QuarantinedRegions()) != 0 {
		t.Fatal("still quarantined")
	}
}
