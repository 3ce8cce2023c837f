package regionraft

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"
)

// storeID returns the store id of s in c.
func (c *testCluster) storeID(s *Store) uint64 {
	for id, x := range c.stores {
		if x == s {
			return id
		}
	}
	c.t.Fatal("store not in cluster")
	return 0
}

// leaderAmong waits until one of stores ids leads regionID and returns it.
func (c *testCluster) leaderAmong(ids []uint64, regionID uint64) *Store {
	c.t.Helper()
	var nl *Store
	eventually(c.t, "a leader among the stores", func() bool {
		for _, id := range ids {
			if st, ok := c.stores[id].peerState(c.t, regionID); ok && st.leader {
				nl = c.stores[id]
				return true
			}
		}
		return false
	})
	return nl
}

// leasedCluster starts three voters of region 1 with an entry on all of
// them and a leader that passed one ReadIndex round (so holds a lease).
func leasedCluster(t *testing.T) (c *testCluster, ls *Store, leader uint64) {
	c = newTestCluster(t, []uint64{1, 2, 3}, nil, threeVoterRegion())
	c.propose(1, "a")
	c.waitHas([]uint64{1, 2, 3}, []string{"a"})
	ls = c.leader(1)
	if err := ls.ReadBarrier(ctxT(t), 1); err != nil {
		t.Fatal(err)
	}
	return c, ls, c.storeID(ls)
}

// A confirmed ReadIndex round gives the leader a lease: the next reads need
// no round. A leader cut off from its followers stops serving reads once
// the lease ends, and no other leader is elected before that: every read
// it served began before the new leader's first write was acknowledged.
// Its raft goroutine is stalled meanwhile (as by a long pause), so that
// CheckQuorum cannot step it down: only the lease's clock stops its reads.
func TestLeaseReadNeverStale(t *testing.T) {
	c, ls, old := leasedCluster(t)
	before := metricValue(t, ls.metrics.LeaseReads)
	eventually(t, "a lease read", func() bool {
		if err := ls.ReadBarrier(ctxT(t), 1); err != nil {
			t.Fatal(err)
		}
		return metricValue(t, ls.metrics.LeaseReads) > before
	})

	var rest []uint64
	for id := range c.stores {
		if id != old {
			rest = append(rest, id)
		}
	}
	stalled, release := make(chan struct{}), make(chan struct{})
	go func() {
		_ = ls.runOnLoop(context.Background(), func() error {
			close(stalled)
			<-release
			return nil
		})
	}()
	<-stalled
	c.tr.partition([]uint64{old}, rest)
	cut := time.Now()
	var (
		mu     sync.Mutex
		starts []time.Time // begin times of reads the cut-off leader passed
		stop   = make(chan struct{})
		done   = make(chan struct{})
	)
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			default:
			}
			begin := time.Now()
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
			err := ls.ReadBarrier(ctx, 1)
			cancel()
			if err == nil {
				mu.Lock()
				starts = append(starts, begin)
				mu.Unlock()
			}
		}
	}()
	nl := c.leaderAmong(rest, 1)
	if err := nl.Propose(ctxT(t), 1, []byte("b")); err != nil {
		t.Fatal(err)
	}
	acked := time.Now()
	close(stop)
	<-done
	close(release)
	for _, s := range starts {
		if s.After(acked) {
			t.Fatalf("the cut-off leader passed a read begun %v after the new leader's write was acknowledged", s.Sub(acked))
		}
	}
	var last time.Duration
	if len(starts) > 0 {
		last = starts[len(starts)-1].Sub(cut)
	}
	t.Logf("cut-off leader passed %d reads, the last begun %v after the cut; new leader's write acknowledged after %v",
		len(starts), last, acked.Sub(cut))
	c.tr.heal()
	c.waitHas([]uint64{1, 2, 3}, []string{"a", "b"})
}

// A leader that starts handing leadership on serves no lease read for the
// rest of its term: the transferee's campaign is forced, so voters grant
// it within their timers, and its vote request may arrive late, after raft
// gave the transfer up on the leader.
func TestLeaseVoidedByTransfer(t *testing.T) {
	c, ls, old := leasedCluster(t)
	var to uint64
	for _, p := range threeVoterRegion().Peers {
		if p.StoreID != old {
			to = p.StoreID
			break
		}
	}
	// The transferee hears nothing, so the transfer stays pending and
	// this store stays the leader.
	c.tr.setDown(to, true)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	err := ls.TransferLeader(ctx, 1, 100+to)
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("TransferLeader to a down store: %v, want a deadline", err)
	}
	before := metricValue(t, ls.metrics.LeaseReads)
	reads := func(when string) {
		t.Helper()
		for range 3 { // the first round's confirmation must not start a lease
			if err := ls.ReadBarrier(ctxT(t), 1); err != nil {
				t.Fatalf("read %s: %v", when, err)
			}
		}
		if n := metricValue(t, ls.metrics.LeaseReads); n != before {
			t.Fatalf("%v lease reads %s, want none", n-before, when)
		}
	}
	reads("while the transfer is pending")
	eventually(t, "raft to give the transfer up", func() bool {
		var pending bool
		_ = ls.runOnLoop(ctxT(t), func() error {
			pending = ls.peers[1].rn.BasicStatus().LeadTransferee != 0
			return nil
		})
		return !pending
	})
	reads("after the transfer was given up, in the same term")
	c.tr.setDown(to, false)
}

// A replica loaded from disk refuses unforced (pre-)votes of a higher term
// for an election timeout: before the restart it may have answered a
// heartbeat a leader's lease rests on. A transfer's campaign, and any other
// message, passes.
func TestRestartedReplicaRefusesVotes(t *testing.T) {
	c := newTestCluster(t, []uint64{1, 2, 3}, nil, threeVoterRegion())
	c.propose(1, "a")
	c.waitHas([]uint64{1, 2, 3}, []string{"a"})
	f := c.storeID(c.leader(1))%3 + 1 // a follower
	c.crash(f)
	opened := time.Now()
	c.restart(f)
	s := c.stores[f]
	var guard time.Time
	var term uint64
	var p *peer
	if err := s.runOnLoop(ctxT(t), func() error {
		p = s.peers[1]
		guard, term = p.voteGuardUntil, p.rn.BasicStatus().GetTerm()
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if et := s.cfg.electionTimeout(); guard.Before(opened.Add(et)) {
		t.Fatalf("vote guard until %v after the reopen, want at least %v", guard.Sub(opened), et)
	}
	vote := func(typ raftpb.MessageType, term uint64, ctx string) *raftpb.Message {
		m := &raftpb.Message{Type: typ.Enum(), From: proto.Uint64(100 + f%3 + 1), To: proto.Uint64(100 + f), Term: proto.Uint64(term)}
		if ctx != "" {
			m.Context = []byte(ctx)
		}
		return m
	}
	at := guard.Add(-time.Millisecond)
	for _, tc := range []struct {
		name string
		m    *raftpb.Message
		now  time.Time
		want bool
	}{
		{"vote", vote(raftpb.MessageType_MsgVote, term+1, ""), at, true},
		{"pre-vote", vote(raftpb.MessageType_MsgPreVote, term+1, ""), at, true},
		{"vote of this term", vote(raftpb.MessageType_MsgVote, term, ""), at, false},
		{"transfer", vote(raftpb.MessageType_MsgVote, term+1, "CampaignTransfer"), at, false},
		{"append", vote(raftpb.MessageType_MsgApp, term+1, ""), at, false},
		{"after the guard", vote(raftpb.MessageType_MsgVote, term+1, ""), guard, false},
	} {
		var got bool
		_ = s.runOnLoop(ctxT(t), func() error { got = refuseVote(p, tc.m, tc.now); return nil })
		if got != tc.want {
			t.Errorf("%s: refuseVote = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestLeaseDuration(t *testing.T) {
	for _, tc := range []struct {
		cfg  Config
		want time.Duration
	}{
		{Config{TickInterval: 50 * time.Millisecond, ElectionTick: 20}, 720 * time.Millisecond},
		{Config{TickInterval: 10 * time.Millisecond, ElectionTick: 10}, 64 * time.Millisecond},
		{Config{TickInterval: 50 * time.Millisecond, ElectionTick: 3}, 0},
		{Config{TickInterval: 50 * time.Millisecond, ElectionTick: 20, DisableLeaseReads: true}, 0},
	} {
		if got := tc.cfg.leaseDuration(); got != tc.want {
			t.Errorf("%+v: leaseDuration = %v, want %v", tc.cfg, got, tc.want)
		}
	}
}
