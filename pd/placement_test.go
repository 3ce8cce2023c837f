package pd

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/skerrydb/skerry/pd/pdclient"
)

// placementHarness drives one PD member's heartbeats with a fake clock.
type placementHarness struct {
	t     *testing.T
	s     *Server
	clock *fakeClock
	ms    int64
}

func (h *placementHarness) advance(d time.Duration) {
	h.ms += d.Milliseconds()
	h.clock.set(h.ms)
}

func (h *placementHarness) storesAlive(ids ...uint64) {
	h.t.Helper()
	for _, id := range ids {
		if err := h.s.StoreHeartbeat(context.Background(), pdclient.StoreStats{StoreID: id}); err != nil {
			h.t.Fatal(err)
		}
	}
}

func (h *placementHarness) hb(hb pdclient.RegionHeartbeat) *pdclient.Operator {
	h.t.Helper()
	op, err := h.s.RegionHeartbeat(context.Background(), hb)
	if err != nil {
		h.t.Fatalf("heartbeat %+v: %v", hb.Region, err)
	}
	return op
}

func wantStep(t *testing.T, op *pdclient.Operator, kind pdclient.OperatorKind, storeID uint64) pdclient.Peer {
	t.Helper()
	if op == nil {
		t.Fatalf("no step, want %s on store %d", kind, storeID)
	}
	if op.Kind != kind || op.Peer.StoreID != storeID || op.Peer.ID == 0 {
		t.Fatalf("step %s %+v, want %s on store %d", op.Kind, op.Peer, kind, storeID)
	}
	return op.Peer
}

// TestPlacement walks regions and operators through one PD leader:
// heartbeats fill the region tree, stale ones are rejected, the replica
// checker's operator advances step by step as heartbeats show progress,
// admin operators, splits, timeouts, down and offline stores.
func TestPlacement(t *testing.T) {
	clock := newFakeClock(t0)
	s := startTestServerCfg(t, Config{DataDir: t.TempDir(), Now: clock.now,
		MaxStoreDownTime: time.Minute, OperatorTimeout: 10 * time.Minute, ScheduleInterval: -1})
	h := &placementHarness{t: t, s: s, clock: clock, ms: t0}
	ctx := context.Background()
	r := pdclient.Region{ID: 100, EndKey: []byte("m"), Epoch: pdclient.Epoch{ConfVer: 1, Version: 1},
		Peers: []pdclient.Peer{{ID: 101, StoreID: 1}}}
	leader := r.Peers[0]
	if err := s.StoreHeartbeat(ctx, pdclient.StoreStats{StoreID: 1}); !errors.Is(err, pdclient.ErrStoreNotFound) {
		t.Fatalf("heartbeat of an unknown store: err = %v", err)
	}
	for id := uint64(1); id <= 3; id++ {
		if err := s.PutStore(ctx, pdclient.Store{ID: id, PeerAddr: "127.0.0.1:1"}); err != nil {
			t.Fatal(err)
		}
		if id == 2 {
			// Two stores for three replicas: replica scheduling waits.
			if op := h.hb(pdclient.RegionHeartbeat{Region: r, Leader: leader}); op != nil {
				t.Fatalf("scheduled with too few stores: %+v", op)
			}
		}
	}
	h.storesAlive(1, 2, 3)

	// One voter of three: add a learner on the emptiest store (2), and
	// keep asking until the heartbeat shows it.
	learner := wantStep(t, h.hb(pdclient.RegionHeartbeat{Region: r, Leader: leader}), pdclient.OpAddLearner, 2)
	if !learner.Learner {
		t.Fatalf("added peer %+v is not a learner", learner)
	}
	if again := h.hb(pdclient.RegionHeartbeat{Region: r, Leader: leader}); again == nil || again.Peer != learner {
		t.Fatalf("step not retried: %+v", again)
	}
	r.Peers = append(r.Peers, learner)
	r.Epoch.ConfVer++
	// Pending learner: no promotion yet.
	if op := h.hb(pdclient.RegionHeartbeat{Region: r, Leader: leader, PendingPeers: []pdclient.Peer{learner}}); op != nil {
		t.Fatalf("promoted a pending learner: %+v", op)
	}
	promoted := wantStep(t, h.hb(pdclient.RegionHeartbeat{Region: r, Leader: leader}), pdclient.OpPromoteLearner, 2)
	if promoted.ID != learner.ID {
		t.Fatalf("promote %+v, want %+v", promoted, learner)
	}
	r.Peers[1].Learner = false
	r.Epoch.ConfVer++
	wantStep(t, h.hb(pdclient.RegionHeartbeat{Region: r, Leader: leader}), pdclient.OpAddLearner, 3)

	t.Run("StaleRejected", func(t *testing.T) {
		stale := r.Clone()
		stale.Epoch.ConfVer = 1
		stale.Peers = stale.Peers[:1]
		if _, err := s.RegionHeartbeat(ctx, pdclient.RegionHeartbeat{Region: stale}); !errors.Is(err, pdclient.ErrStaleRegion) {
			t.Fatalf("err = %v, want ErrStaleRegion", err)
		}
		got, _, err := s.GetRegionByID(ctx, 100)
		if err != nil || len(got.Peers) != 2 {
			t.Fatalf("region after stale heartbeat = %+v, %v", got, err)
		}
	})

	t.Run("OlderTermIgnored", func(t *testing.T) {
		// A leader of term 7 reported; a heartbeat its deposed
		// predecessor sent in term 6 arrives late and must not move the
		// leader back (it gets no step either). Same term or newer wins.
		cur, _, err := s.GetRegionByID(ctx, 100)
		if err != nil {
			t.Fatal(err)
		}
		newer, older := cur.Peers[1], cur.Peers[0]
		h.hb(pdclient.RegionHeartbeat{Region: cur, Leader: newer, Term: 7})
		if op := h.hb(pdclient.RegionHeartbeat{Region: cur, Leader: older, Term: 6}); op != nil {
			t.Fatalf("a stale leader got a step: %+v", op)
		}
		if _, l, _ := s.GetRegionByID(ctx, 100); l != newer {
			t.Fatalf("leader after a stale heartbeat = %+v, want %+v", l, newer)
		}
		h.hb(pdclient.RegionHeartbeat{Region: cur, Leader: older, Term: 8, QPS: 12.5})
		l, err := s.leader(ctx)
		if err != nil {
			t.Fatal(err)
		}
		l.pl.mu.Lock()
		st, _ := l.pl.tree.GetByID(100)
		l.pl.mu.Unlock()
		if st.QPS != 12.5 || st.Term != 8 {
			t.Fatalf("region state QPS %v term %d, want 12.5 and 8", st.QPS, st.Term)
		}
		if _, l, _ := s.GetRegionByID(ctx, 100); l != older {
			t.Fatalf("leader after a newer term's heartbeat = %+v, want %+v", l, older)
		}
	})

	t.Run("GetRegionAndScan", func(t *testing.T) {
		r2 := pdclient.Region{ID: 200, StartKey: []byte("m"), Epoch: pdclient.Epoch{ConfVer: 1, Version: 1},
			Peers: []pdclient.Peer{{ID: 201, StoreID: 1}, {ID: 202, StoreID: 2}, {ID: 203, StoreID: 3}}}
		h.hb(pdclient.RegionHeartbeat{Region: r2, Leader: r2.Peers[1]})
		for key, want := range map[string]uint64{"": 100, "a": 100, "l\xff": 100, "m": 200, "zzz": 200} {
			got, l, err := s.GetRegion(ctx, []byte(key))
			if err != nil || got.ID != want {
				t.Fatalf("GetRegion(%q) = %d, %v; want %d", key, got.ID, err, want)
			}
			if want == 200 && l.StoreID != 2 {
				t.Fatalf("leader of 200 = %+v", l)
			}
		}
		all, err := s.ScanRegions(ctx, nil, nil, 0)
		if err != nil || len(all) != 2 || all[0].Region.ID != 100 || all[1].Region.ID != 200 {
			t.Fatalf("ScanRegions = %+v, %v", all, err)
		}
		if some, _ := s.ScanRegions(ctx, []byte("n"), nil, 5); len(some) != 1 || some[0].Region.ID != 200 {
			t.Fatalf("ScanRegions(n) = %+v", some)
		}
		if some, _ := s.ScanRegions(ctx, nil, []byte("m"), 0); len(some) != 1 {
			t.Fatalf("ScanRegions(,m) = %+v", some)
		}
	})

	t.Run("Split", func(t *testing.T) {
		cur, _, _ := s.GetRegionByID(ctx, 200)
		newID, peerIDs, err := s.AskSplit(ctx, cur)
		if err != nil || newID == 0 || len(peerIDs) != 3 {
			t.Fatalf("AskSplit = %d %v %v", newID, peerIDs, err)
		}
		left := pdclient.Region{ID: newID, StartKey: []byte("m"), EndKey: []byte("t"),
			Epoch: pdclient.Epoch{ConfVer: 1, Version: 2}}
		for i, p := range cur.Peers {
			left.Peers = append(left.Peers, pdclient.Peer{ID: peerIDs[i], StoreID: p.StoreID})
		}
		right := cur.Clone()
		right.StartKey = []byte("t")
		right.Epoch.Version = 2
		if err := s.ReportSplit(ctx, left, right); err != nil {
			t.Fatal(err)
		}
		if got, _, _ := s.GetRegion(ctx, []byte("p")); got.ID != newID {
			t.Fatalf("p in region %d, want %d", got.ID, newID)
		}
		if got, l, _ := s.GetRegion(ctx, []byte("x")); got.ID != 200 || l.StoreID != 2 {
			t.Fatalf("x in region %d leader %+v", got.ID, l)
		}
		// The old, unsplit region reported late is stale.
		if _, err := s.RegionHeartbeat(ctx, pdclient.RegionHeartbeat{Region: cur}); !errors.Is(err, pdclient.ErrStaleRegion) {
			t.Fatalf("pre-split heartbeat err = %v", err)
		}
	})

	t.Run("AdminTransferLeader", func(t *testing.T) {
		cur, l, _ := s.GetRegionByID(ctx, 200)
		if err := s.AddOperator(ctx, 200, pdclient.Operator{Kind: pdclient.OpTransferLeader, Peer: pdclient.Peer{StoreID: 9}}); !errors.Is(err, pdclient.ErrInvalidArgument) {
			t.Fatalf("transfer to a store without a voter: err = %v", err)
		}
		if err := s.AddOperator(ctx, 200, pdclient.Operator{Kind: pdclient.OpTransferLeader, Peer: pdclient.Peer{StoreID: 3}}); err != nil {
			t.Fatal(err)
		}
		to := wantStep(t, h.hb(pdclient.RegionHeartbeat{Region: cur, Leader: l}), pdclient.OpTransferLeader, 3)
		if op := h.hb(pdclient.RegionHeartbeat{Region: cur, Leader: to}); op != nil {
			t.Fatalf("step after the transfer: %+v", op)
		}
		if err := s.AddOperator(ctx, 999, pdclient.Operator{Kind: pdclient.OpSplit}); !errors.Is(err, pdclient.ErrRegionNotFound) {
			t.Fatalf("unknown region: err = %v", err)
		}
	})

	t.Run("OperatorTimeout", func(t *testing.T) {
		first := wantStep(t, h.hb(pdclient.RegionHeartbeat{Region: r, Leader: leader}), pdclient.OpAddLearner, 3)
		h.advance(11 * time.Minute)
		h.storesAlive(1, 2, 3)
		again := wantStep(t, h.hb(pdclient.RegionHeartbeat{Region: r, Leader: leader}), pdclient.OpAddLearner, 3)
		if again.ID == first.ID {
			t.Fatalf("operator not replaced after its timeout (peer %d)", again.ID)
		}
	})

	t.Run("DownStoreReplaced", func(t *testing.T) {
		// Region 200's third replica is on store 3, which stops
		// heartbeating; store 4 joins.
		cur, _, _ := s.GetRegionByID(ctx, 200)
		if err := s.PutStore(ctx, pdclient.Store{ID: 4, PeerAddr: "127.0.0.1:4"}); err != nil {
			t.Fatal(err)
		}
		h.advance(2 * time.Minute)
		h.storesAlive(1, 2, 4)
		// The leader was on store 3 (moved there above); the survivors
		// elected the peer on store 2, which now reports.
		l2, _ := cur.StorePeer(2)
		add := wantStep(t, h.hb(pdclient.RegionHeartbeat{Region: cur, Leader: l2}), pdclient.OpAddLearner, 4)
		cur.Peers = append(cur.Peers, add)
		cur.Epoch.ConfVer++
		wantStep(t, h.hb(pdclient.RegionHeartbeat{Region: cur, Leader: l2}), pdclient.OpPromoteLearner, 4)
		cur.Peers[3].Learner = false
		cur.Epoch.ConfVer++
		rm := wantStep(t, h.hb(pdclient.RegionHeartbeat{Region: cur, Leader: l2}), pdclient.OpRemovePeer, 3)
		var kept []pdclient.Peer
		for _, p := range cur.Peers {
			if p.ID != rm.ID {
				kept = append(kept, p)
			}
		}
		cur.Peers = kept
		cur.Epoch.ConfVer++
		if op := h.hb(pdclient.RegionHeartbeat{Region: cur, Leader: l2}); op != nil {
			t.Fatalf("step after the replacement: %+v", op)
		}
	})

	t.Run("OfflineToTombstone", func(t *testing.T) {
		if err := s.PutStore(ctx, pdclient.Store{ID: 5, PeerAddr: "127.0.0.1:5"}); err != nil {
			t.Fatal(err)
		}
		if err := s.SetStoreState(ctx, 1, pdclient.StoreTombstone); !errors.Is(err, pdclient.ErrInvalidArgument) {
			t.Fatalf("tombstone a store with replicas: err = %v", err)
		}
		if err := s.SetStoreState(ctx, 5, pdclient.StoreOffline); err != nil {
			t.Fatal(err)
		}
		s.lead.Load().pl.runSchedulers(ctx)
		st, err := s.GetStore(ctx, 5)
		if err != nil || st.State != pdclient.StoreTombstone {
			t.Fatalf("drained offline store = %+v, %v", st, err)
		}
		if err := s.SetStoreState(ctx, 5, pdclient.StoreUp); !errors.Is(err, pdclient.ErrInvalidArgument) {
			t.Fatalf("revive a tombstone: err = %v", err)
		}
		if err := s.PutStore(ctx, pdclient.Store{ID: 5, PeerAddr: "x"}); !errors.Is(err, pdclient.ErrInvalidArgument) {
			t.Fatalf("re-register a tombstone: err = %v", err)
		}
	})
}

// TestPlacementBalance: a scheduling round moves a leader off the store
// that leads everything, handed out with the region's next heartbeat.
func TestPlacementBalance(t *testing.T) {
	clock := newFakeClock(t0)
	s := startTestServerCfg(t, Config{DataDir: t.TempDir(), Now: clock.now, ScheduleInterval: -1})
	ctx := context.Background()
	for id := uint64(1); id <= 3; id++ {
		if err := s.PutStore(ctx, pdclient.Store{ID: id, PeerAddr: "127.0.0.1:1"}); err != nil {
			t.Fatal(err)
		}
	}
	var regions []pdclient.Region
	for i, start := range []string{"", "g", "p"} {
		id := uint64(10 * (i + 1))
		r := pdclient.Region{ID: id, StartKey: []byte(start), Epoch: pdclient.Epoch{ConfVer: 3, Version: 1}}
		if i < 2 {
			r.EndKey = []byte([]string{"g", "p"}[i])
		}
		for store := uint64(1); store <= 3; store++ {
			r.Peers = append(r.Peers, pdclient.Peer{ID: id + store, StoreID: store})
		}
		if op, err := s.RegionHeartbeat(ctx, pdclient.RegionHeartbeat{Region: r, Leader: r.Peers[0]}); err != nil || op != nil {
			t.Fatalf("heartbeat of a healthy region: %+v, %v", op, err)
		}
		regions = append(regions, r)
	}
	s.lead.Load().pl.runSchedulers(ctx)
	var moved int
	for _, r := range regions {
		op, err := s.RegionHeartbeat(ctx, pdclient.RegionHeartbeat{Region: r, Leader: r.Peers[0]})
		if err != nil {
			t.Fatal(err)
		}
		if op != nil {
			if op.Kind != pdclient.OpTransferLeader || op.Peer.StoreID == 1 {
				t.Fatalf("balance step %+v", op)
			}
			moved++
		}
	}
	if moved != 1 {
		t.Fatalf("%d leader transfers in one round, want 1", moved)
	}
}
