package regionraft

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"go.etcd.io/raft/v3/raftpb"
)

// followers returns the live stores of c other than leader.
func (c *testCluster) followers(leader *Store) []*Store {
	var out []*Store
	for id, s := range c.stores {
		if c.live[id] && s != leader {
			out = append(out, s)
		}
	}
	return out
}

func followerReads(t *testing.T, s *Store, result string) float64 {
	t.Helper()
	return metricValue(t, s.Metrics().FollowerReads.WithLabelValues(result))
}

// Every write acknowledged before a follower read starts is visible on the
// follower once FollowerReadBarrier returns, although the follower learns
// commit indexes only later (delayed transport): the read is linearizable.
func TestFollowerReadSeesAcknowledgedWrites(t *testing.T) {
	c := newTestCluster(t, []uint64{1, 2, 3}, nil, threeVoterRegion())
	c.tr.mu.Lock()
	c.tr.delay = 3 * time.Millisecond // followers lag behind the leader's acknowledgements
	c.tr.mu.Unlock()
	ls := c.leader(1)
	fs := c.followers(ls)
	if len(fs) != 2 {
		t.Fatalf("%d followers", len(fs))
	}
	lagged := 0
	for i := range 30 {
		cmd := fmt.Sprintf("w%03d", i)
		c.propose(1, cmd)
		f := fs[i%2]
		if !c.has(f.cfg.StoreID, cmd) {
			lagged++ // a plain local read would have been stale
		}
		if err := f.FollowerReadBarrier(ctxT(t), 1); err != nil {
			t.Fatalf("follower read %d on store %d: %v", i, f.cfg.StoreID, err)
		}
		if !c.has(f.cfg.StoreID, cmd) {
			t.Fatalf("store %d passed its follower read barrier without acknowledged %s", f.cfg.StoreID, cmd)
		}
	}
	t.Logf("%d of 30 follower reads found the follower behind the acknowledged write", lagged)
	for _, f := range fs {
		if n := followerReads(t, f, "ok"); n != 15 {
			t.Errorf("store %d: %v follower reads counted, want 15", f.cfg.StoreID, n)
		}
		// ReadBarrier keeps refusing followers.
		var nle *NotLeaderError
		if err := f.ReadBarrier(ctxT(t), 1); !errors.As(err, &nle) {
			t.Errorf("ReadBarrier on follower %d: %v", f.cfg.StoreID, err)
		}
	}
	// On the leader it is an ordinary leader read.
	if err := ls.FollowerReadBarrier(ctxT(t), 1); err != nil {
		t.Fatal(err)
	}
	if n := followerReads(t, ls, "ok"); n != 0 {
		t.Errorf("leader counted %v follower reads", n)
	}
	if err := ls.FollowerReadBarrier(ctxT(t), 99); !errors.Is(err, ErrRegionNotFound) {
		t.Errorf("unknown region: %v", err)
	}
}

// A follower cut off from the leader never passes the barrier with stale
// data: its read fails (the read index never arrives) and it serves again
// once the partition heals.
func TestFollowerReadPartitionedFollower(t *testing.T) {
	c := newTestCluster(t, []uint64{1, 2, 3}, nil, threeVoterRegion())
	ls := c.leader(1)
	c.propose(1, "before")
	f := c.followers(ls)[0]
	fid := f.cfg.StoreID
	c.waitHas([]uint64{fid}, []string{"before"})
	var rest []uint64
	for id := range c.stores {
		if id != fid {
			rest = append(rest, id)
		}
	}
	c.tr.partition([]uint64{fid}, rest)
	c.propose(1, "during") // acknowledged by the majority
	start := time.Now()
	err := f.FollowerReadBarrier(ctxT(t), 1)
	var nle *NotLeaderError
	if !errors.Is(err, ErrReadDropped) && !errors.As(err, &nle) {
		t.Fatalf("follower read on a partitioned follower: %v", err)
	}
	t.Logf("partitioned follower read failed after %v: %v", time.Since(start), err)
	if c.has(fid, "during") {
		t.Fatal("partitioned follower applied a write it cannot have received")
	}
	// A deadline shorter than the read's own bound ends it with ctx's error.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := f.FollowerReadBarrier(ctx, 1); err == nil {
		t.Fatal("follower read passed while partitioned")
	}
	c.tr.heal()
	eventually(t, "follower read after heal", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		return f.FollowerReadBarrier(ctx, 1) == nil
	})
	if !c.has(fid, "during") {
		t.Fatal("follower read passed without the write acknowledged during the partition")
	}
	if followerReads(t, f, "error") == 0 {
		t.Error("failed follower reads not counted")
	}
}

// Follower reads keep working after the leader moves, on the old leader
// (now a follower) and on the other follower.
func TestFollowerReadAfterLeaderChange(t *testing.T) {
	c := newTestCluster(t, []uint64{1, 2, 3}, nil, threeVoterRegion())
	old := c.leader(1)
	c.propose(1, "a")
	target := c.followers(old)[0]
	r, _ := old.Region(1)
	to, _ := r.PeerOnStore(target.cfg.StoreID)
	if err := old.TransferLeader(ctxT(t), 1, to.ID); err != nil {
		t.Fatal(err)
	}
	eventually(t, "new leader", func() bool { return c.leader(1) == target })
	c.propose(1, "b")
	for _, f := range c.followers(target) {
		// The old leader may still name itself for a moment: retry those.
		eventually(t, "follower read", func() bool {
			err := f.FollowerReadBarrier(ctxT(t), 1)
			var nle *NotLeaderError
			if err != nil && !errors.As(err, &nle) && !errors.Is(err, ErrReadDropped) {
				t.Fatalf("store %d: %v", f.cfg.StoreID, err)
			}
			return err == nil
		})
		if !c.has(f.cfg.StoreID, "b") {
			t.Fatalf("store %d passed the barrier without b", f.cfg.StoreID)
		}
	}
}

// A follower read wakes a hibernated region and needs no election.
func TestFollowerReadHibernatedRegion(t *testing.T) {
	c := newTestCluster(t, []uint64{1, 2, 3}, func(cfg *Config) { cfg.HibernateCheckTicks = 10000 }, threeVoterRegion())
	c.propose(1, "a")
	c.allHibernated(1)
	ls := c.leader(1)
	f := c.followers(ls)[0]
	if err := f.FollowerReadBarrier(ctxT(t), 1); err != nil {
		t.Fatal(err)
	}
	if !c.has(f.cfg.StoreID, "a") {
		t.Fatal("follower read without a")
	}
	if l := c.leader(1); l != ls {
		t.Fatal("leader changed")
	}
	c.allHibernated(1) // and it sleeps again
}

// A follower whose read index request is lost (raft does not resend it)
// fails the read after 2*ElectionTick ticks instead of waiting forever,
// although it still hears from its leader.
func TestFollowerReadLostReadIndex(t *testing.T) {
	c := newTestCluster(t, []uint64{1, 2, 3}, nil, threeVoterRegion())
	f := c.followers(c.leader(1))[0]
	// The follower must know the leader (it may not yet, right after the
	// election), or it refuses the read up front instead of losing it.
	eventually(t, "the follower knows the leader", func() bool { _, ok := f.Leader(1); return ok })
	c.tr.mu.Lock()
	c.tr.dropTypes = map[raftpb.MessageType]bool{raftpb.MessageType_MsgReadIndex: true}
	c.tr.mu.Unlock()
	if err := f.FollowerReadBarrier(ctxT(t), 1); !errors.Is(err, ErrReadDropped) {
		t.Fatalf("lost read index: %v", err)
	}
	c.tr.mu.Lock()
	c.tr.dropTypes = nil
	c.tr.mu.Unlock()
	if err := f.FollowerReadBarrier(ctxT(t), 1); err != nil {
		t.Fatal(err)
	}
}

func TestFollowerReadStoppedStore(t *testing.T) {
	c := newTestCluster(t, []uint64{1, 2, 3}, nil, threeVoterRegion())
	f := c.followers(c.leader(1))[0]
	c.crash(f.cfg.StoreID)
	if err := f.FollowerReadBarrier(ctxT(t), 1); !errors.Is(err, ErrStopped) {
		t.Fatalf("stopped store: %v", err)
	}
}

// Read contexts never look like hibernation markers and back.
func TestReadContextIsNotAMarker(t *testing.T) {
	for _, id := range []uint64{0, 1, 36, 1 << 31, 0x736b680001020304, ^uint64(0)} {
		ctx := readContext(id)
		if len(ctx) != readContextLen {
			t.Fatalf("context of %d: %d bytes", id, len(ctx))
		}
		if k, _ := hibKind(ctx); k != 0 {
			t.Errorf("context of %x reads as marker kind %d", id, k)
		}
		if got, ok := readContextID(ctx); !ok || got != id {
			t.Errorf("context of %x decodes to %x %v", id, got, ok)
		}
	}
	for _, m := range [][]byte{hibContext(hibKindHibernate, 0), hibContext(hibKindLeaseCheck, 7), nil} {
		if _, ok := readContextID(m); ok {
			t.Errorf("marker %q decodes as a read context", m)
		}
	}
}
