package regionraft

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// metricValue reads a counter's or a gauge's value.
func metricValue(tb testing.TB, c prometheus.Metric) float64 {
	tb.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		tb.Fatal(err)
	}
	if m.Counter != nil {
		return m.Counter.GetValue()
	}
	return m.Gauge.GetValue()
}

// peerState is a snapshot of a peer's loop state taken on the raft goroutine.
type peerState struct {
	hibernated bool
	leader     bool
	tickNo     uint64
	term       uint64
}

func (s *Store) peerState(t *testing.T, regionID uint64) (peerState, bool) {
	t.Helper()
	var st peerState
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := s.runOnLoop(ctx, func() error {
		st.tickNo = s.tickNo
		p := s.peers[regionID]
		if p == nil {
			return ErrRegionNotFound
		}
		st.hibernated = p.hibernated
		st.leader = p.rn.BasicStatus().RaftState == raft.StateLeader
		st.term = p.rn.BasicStatus().GetTerm()
		return nil
	})
	return st, err == nil
}

// allHibernated waits until every live store's peer of regionID sleeps.
func (c *testCluster) allHibernated(regionID uint64) {
	c.t.Helper()
	eventually(c.t, "every peer hibernated", func() bool {
		for id, s := range c.stores {
			if !c.live[id] {
				continue
			}
			if st, ok := s.peerState(c.t, regionID); !ok || !st.hibernated {
				return false
			}
		}
		return true
	})
}

func (c *testCluster) ticks() float64 {
	n := 0.0
	for id, s := range c.stores {
		if c.live[id] {
			n += metricValue(c.t, s.Metrics().PeerTicks)
		}
	}
	return n
}

func TestHibernateSoloRegionWakesOnWrite(t *testing.T) {
	eng := newTestEngine()
	ap := newRecApplier(eng)
	s := openStarted(t, testConfig(1, eng, ap), soloRegion(1), soloRegion(2))
	eventually(t, "regions hibernated", func() bool { return metricValue(t, s.Metrics().Hibernated) == 2 })
	// No ticks while hibernated: wait for a few ticks of the store's clock.
	st0, _ := s.peerState(t, 1)
	ticks := metricValue(t, s.Metrics().PeerTicks)
	eventually(t, "store ticks", func() bool { st, _ := s.peerState(t, 1); return st.tickNo >= st0.tickNo+5 })
	if n := metricValue(t, s.Metrics().PeerTicks); n != ticks {
		t.Fatalf("%v peer ticks while every region hibernated", n-ticks)
	}
	if err := s.Propose(ctxT(t), 1, []byte("a")); err != nil {
		t.Fatal(err)
	}
	if err := s.ReadBarrier(ctxT(t), 1); err != nil {
		t.Fatal(err)
	}
	if len(ap.entries(1)) != 1 {
		t.Fatalf("applied %v", ap.entries(1))
	}
	if st, _ := s.peerState(t, 2); !st.hibernated {
		t.Fatal("region 2 woke with region 1")
	}
	eventually(t, "region 1 hibernated again", func() bool { st, _ := s.peerState(t, 1); return st.hibernated })
}

func TestHibernateThreeVoters(t *testing.T) {
	// No follower checks during the test's quiet window.
	c := newTestCluster(t, []uint64{1, 2, 3}, func(cfg *Config) { cfg.HibernateCheckTicks = 10000 }, threeVoterRegion())
	c.propose(1, "a")
	c.allHibernated(1)
	ls := c.leader(1)
	// Quiet: no ticks, and no messages (the batch commits stop too).
	ticks := c.ticks()
	st0, _ := ls.peerState(t, 1)
	eventually(t, "store ticks", func() bool { st, _ := ls.peerState(t, 1); return st.tickNo >= st0.tickNo+30 })
	if n := c.ticks(); n != ticks {
		t.Fatalf("%v peer ticks while hibernated", n-ticks)
	}
	// A write wakes the region and succeeds at once (no election).
	start := time.Now()
	if err := ls.Propose(ctxT(t), 1, []byte("b")); err != nil {
		t.Fatal(err)
	}
	t.Logf("write to a hibernated region: %v", time.Since(start))
	// A read on the woken leader passes its lease check.
	if err := ls.ReadBarrier(ctxT(t), 1); err != nil {
		t.Fatal(err)
	}
	c.waitHas([]uint64{1, 2, 3}, []string{"a", "b"})
	c.allHibernated(1)
	if l := c.leader(1); l != ls {
		t.Fatal("leader changed")
	}
}

// A crashed leader of a hibernated region is replaced within the
// documented bound: 2*HibernateCheckTicks + 4*ElectionTick ticks.
func TestHibernateLeaderCrash(t *testing.T) {
	c := newTestCluster(t, []uint64{1, 2, 3}, nil, threeVoterRegion())
	cmds := []string{"a", "b", "c"}
	for _, cmd := range cmds {
		c.propose(1, cmd)
	}
	c.allHibernated(1)
	ls := c.leader(1)
	var old uint64
	for id, s := range c.stores {
		if s == ls {
			old = id
		}
	}
	var other *Store
	for id, s := range c.stores {
		if id != old {
			other = s
		}
	}
	st0, _ := other.peerState(t, 1)
	c.crash(old)
	cfg := other.cfg
	bound := uint64(2*cfg.HibernateCheckTicks + 4*cfg.ElectionTick)
	var ticks uint64
	eventually(t, "a new leader", func() bool {
		for id, s := range c.stores {
			if c.live[id] {
				if st, ok := s.peerState(t, 1); ok {
					ticks = st.tickNo - st0.tickNo
					if st.leader {
						return true
					}
				}
			}
		}
		return false
	})
	t.Logf("new leader after %d ticks (bound %d)", ticks, bound)
	if ticks > bound+uint64(cfg.ElectionTick) { // + one election's slack for the poll
		t.Fatalf("new leader after %d ticks, bound %d", ticks, bound)
	}
	c.propose(1, "d")
	var live []uint64
	for id := range c.stores {
		if c.live[id] {
			live = append(live, id)
		}
	}
	c.waitHas(live, append(cmds, "d"))
	c.open(old)
	c.waitHas([]uint64{old}, append(cmds, "d"))
}

// A request to a follower of a hibernated region whose leader crashed gets
// a new leader within about one election timeout: the woken follower probes
// the leader and runs its clock to two ticks short of the timeout
// (wakeForRequest), and the other follower, woken by the pre-vote, grants
// it at once instead of honouring the dead leader's lease for another
// election timeout (wakeForCampaign; its clock stood still). Measured in
// ticks of the woken follower's store: at most ElectionTick+1 (raft's
// randomized timeout minus the ticks run) plus two for the poll. Before,
// 22-30 ticks in four runs; with wakeForCampaign alone, 10-19.
func TestHibernateLeaderCrashFollowerWokenByRequest(t *testing.T) {
	c := newTestCluster(t, []uint64{1, 2, 3}, nil, threeVoterRegion())
	c.propose(1, "a")
	c.allHibernated(1)
	ls := c.leader(1)
	var old, woken uint64
	for id, s := range c.stores {
		if s == ls {
			old = id
		}
	}
	for id := range c.stores {
		if id != old && (woken == 0 || id < woken) {
			woken = id
		}
	}
	c.crash(old)
	f := c.stores[woken]
	st0, _ := f.peerState(t, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	err := f.Propose(ctx, 1, []byte("b"))
	cancel()
	var nle *NotLeaderError
	if !errors.As(err, &nle) {
		t.Fatalf("propose on a follower: %v, want *NotLeaderError", err)
	}
	var ticks uint64
	eventually(t, "a new leader", func() bool {
		for id, s := range c.stores {
			if !c.live[id] {
				continue
			}
			st, ok := s.peerState(t, 1)
			if !ok {
				continue
			}
			if id == woken {
				ticks = st.tickNo - st0.tickNo
			}
			if st.leader {
				return true
			}
		}
		return false
	})
	et := uint64(f.cfg.ElectionTick)
	t.Logf("new leader after %d ticks (election timeout %d ticks)", ticks, et)
	if ticks > et+3 {
		t.Fatalf("new leader after %d ticks, want at most %d", ticks, et+3)
	}
	c.propose(1, "c")
}

// A request on a follower of a hibernated region whose leader is alive
// does not start an election: the leader answers the follower's probe
// before its advanced election clock runs out.
func TestHibernateRequestOnFollowerKeepsLeader(t *testing.T) {
	c := newTestCluster(t, []uint64{1, 2, 3}, nil, threeVoterRegion())
	c.propose(1, "a")
	c.allHibernated(1)
	ls := c.leader(1)
	var f *Store
	for _, s := range c.stores {
		if s != ls {
			f = s
		}
	}
	st0, _ := f.peerState(t, 1)
	l0, _ := ls.peerState(t, 1)
	for i := 0; i < 3; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		err := f.Propose(ctx, 1, []byte("b"))
		cancel()
		var nle *NotLeaderError
		if !errors.As(err, &nle) {
			t.Fatalf("propose on a follower: %v, want *NotLeaderError", err)
		}
	}
	et := uint64(f.cfg.ElectionTick)
	eventually(t, "three election timeouts", func() bool {
		st, ok := f.peerState(t, 1)
		return ok && st.tickNo-st0.tickNo >= 3*et
	})
	if l, _ := ls.peerState(t, 1); !l.leader || l.term != l0.term {
		t.Fatalf("leadership changed after requests on a follower: leader %v, term %d -> %d", l.leader, l0.term, l.term)
	}
}

// A hibernated leader cut off from its followers (who elect another leader
// and acknowledge a write) must not serve a lease read when a read wakes it:
// its election clock stood still while it slept.
func TestHibernatedLeaderPartitionedNoStaleRead(t *testing.T) {
	c := newTestCluster(t, []uint64{1, 2, 3}, nil, threeVoterRegion())
	c.propose(1, "a")
	c.allHibernated(1)
	ls := c.leader(1)
	var old uint64
	var rest []uint64
	for id, s := range c.stores {
		if s == ls {
			old = id
		} else {
			rest = append(rest, id)
		}
	}
	c.tr.partition([]uint64{old}, rest)
	nl := c.leaderAmong(rest, 1)
	if err := nl.Propose(ctxT(t), 1, []byte("b")); err != nil {
		t.Fatal(err)
	}
	if st, _ := ls.peerState(t, 1); !st.hibernated || !st.leader {
		t.Fatalf("old leader state %+v, want a hibernated leader", st)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := ls.ReadBarrier(ctx, 1)
	var nle *NotLeaderError
	if !errors.As(err, &nle) {
		t.Fatalf("read on the cut-off old leader: %v, want *NotLeaderError", err)
	}
	c.tr.heal()
	c.waitHas([]uint64{1, 2, 3}, []string{"a", "b"})
}

// Hibernated followers check their live leader now and then: the probe is
// answered by a hibernate heartbeat, without an election or a wake of the
// leader.
func TestHibernateCheckKeepsLeader(t *testing.T) {
	c := newTestCluster(t, []uint64{1, 2, 3}, func(cfg *Config) { cfg.HibernateCheckTicks = 5 }, threeVoterRegion())
	c.propose(1, "a")
	c.allHibernated(1)
	ls := c.leader(1)
	var term uint64
	if err := ls.runOnLoop(ctxT(t), func() error { term = ls.peers[1].rn.BasicStatus().GetTerm(); return nil }); err != nil {
		t.Fatal(err)
	}
	var followers []*Store
	for _, s := range c.stores {
		if s != ls {
			followers = append(followers, s)
		}
	}
	w0 := metricValue(t, followers[0].Metrics().Wakes)
	lw0 := metricValue(t, ls.Metrics().Wakes)
	eventually(t, "follower checks", func() bool { return metricValue(t, followers[0].Metrics().Wakes) >= w0+3 })
	c.allHibernated(1)
	if lw := metricValue(t, ls.Metrics().Wakes); lw != lw0 {
		t.Fatalf("leader woken %v times by checks", lw-lw0)
	}
	if err := ls.runOnLoop(ctxT(t), func() error {
		if st := ls.peers[1].rn.BasicStatus(); st.RaftState != raft.StateLeader || st.GetTerm() != term {
			return fmt.Errorf("leader state %v term %d, want leader of term %d", st.RaftState, st.GetTerm(), term)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

func TestHibernateMarkers(t *testing.T) {
	for _, tc := range []struct {
		kind  byte
		nonce uint64
	}{{hibKindHibernate, 0}, {hibKindProbe, 0}, {hibKindLeaseCheck, 0}, {hibKindLeaseCheck, 1 << 40}} {
		if k, n := hibKind(hibContext(tc.kind, tc.nonce)); k != tc.kind || n != tc.nonce {
			t.Errorf("round trip of %d/%d: %d/%d", tc.kind, tc.nonce, k, n)
		}
	}
	for _, ctx := range [][]byte{nil, []byte("skh"), []byte("xkh\x00\x01"), []byte("skh\x00\x03")} {
		if k, _ := hibKind(ctx); k != 0 {
			t.Errorf("%q: kind %d, want none", ctx, k)
		}
	}
	hb := func(typ raftpb.MessageType, ctx []byte) *raftpb.Message {
		return &raftpb.Message{Type: typ.Enum(), Context: ctx}
	}
	quiet := []*raftpb.Message{
		hb(raftpb.MessageType_MsgHeartbeat, hibContext(hibKindHibernate, 0)),
		hb(raftpb.MessageType_MsgHeartbeatResp, nil),
		hb(raftpb.MessageType_MsgHeartbeatResp, hibContext(hibKindProbe, 0)),
	}
	loud := []*raftpb.Message{
		hb(raftpb.MessageType_MsgHeartbeat, nil),
		hb(raftpb.MessageType_MsgHeartbeat, hibContext(hibKindLeaseCheck, 7)),
		hb(raftpb.MessageType_MsgApp, hibContext(hibKindHibernate, 0)),
		hb(raftpb.MessageType_MsgPreVote, nil),
	}
	for _, m := range quiet {
		if !quietMessage(m) {
			t.Errorf("%v %q wakes a peer", m.GetType(), m.GetContext())
		}
	}
	for _, m := range loud {
		if quietMessage(m) {
			t.Errorf("%v %q does not wake a peer", m.GetType(), m.GetContext())
		}
	}
}

// A follower store restarted while its region hibernates rejoins it; the
// region serves writes and hibernates again.
func TestHibernateFollowerRestart(t *testing.T) {
	c := newTestCluster(t, []uint64{1, 2, 3}, nil, threeVoterRegion())
	c.propose(1, "a")
	c.allHibernated(1)
	ls := c.leader(1)
	for id, s := range c.stores {
		if s != ls {
			c.restart(id)
			break
		}
	}
	c.propose(1, "b")
	c.waitHas([]uint64{1, 2, 3}, []string{"a", "b"})
	c.allHibernated(1)
}
