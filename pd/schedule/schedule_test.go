package schedule

import (
	"fmt"
	"strings"
	"testing"

	"github.com/skerrydb/skerry/pd/meta"
	"github.com/skerrydb/skerry/pd/pdclient"
)

var cfg3 = Config{MaxReplicas: 3, SplitBytes: 100, SplitKeys: 10, LeaderTolerance: 1, RegionTolerance: 1}

// stores builds a cluster of Up stores 1..n; down and offline list
// exceptions.
func stores(n int, down, offline []uint64) map[uint64]*Store {
	m := map[uint64]*Store{}
	for id := uint64(1); id <= uint64(n); id++ {
		m[id] = &Store{Store: pdclient.Store{ID: id}}
	}
	for _, id := range down {
		m[id].Down = true
	}
	for _, id := range offline {
		m[id].State = pdclient.StoreOffline
	}
	return m
}

// rgn builds region id with peers given as "storeID" (voter) or "storeIDL"
// (learner); peer IDs are id*100+storeID; the leader is on leaderStore.
func rgn(id uint64, leaderStore uint64, peers ...string) meta.RegionState {
	r := pdclient.Region{ID: id, StartKey: []byte{byte(id)}, EndKey: []byte{byte(id + 1)}, Epoch: pdclient.Epoch{ConfVer: 5, Version: 5}}
	var leader pdclient.Peer
	for _, p := range peers {
		var sid uint64
		fmt.Sscan(strings.TrimSuffix(p, "L"), &sid)
		peer := pdclient.Peer{ID: id*100 + sid, StoreID: sid, Learner: strings.HasSuffix(p, "L")}
		r.Peers = append(r.Peers, peer)
		if sid == leaderStore {
			leader = peer
		}
	}
	return meta.RegionState{RegionInfo: pdclient.RegionInfo{Region: r, Leader: leader}}
}

// render prints an operator's steps compactly: "Kind@store(peerID)".
func render(op *Operator) string {
	if op == nil {
		return "none"
	}
	var parts []string
	for _, s := range op.Steps {
		parts = append(parts, fmt.Sprintf("%s@%d(%d)", s.Kind, s.Peer.StoreID, s.Peer.ID))
	}
	return op.Desc + ": " + strings.Join(parts, " ")
}

func TestCheckReplicas(t *testing.T) {
	for _, tc := range []struct {
		name    string
		stores  map[uint64]*Store
		others  []meta.RegionState // load on the stores
		region  meta.RegionState
		pending []uint64 // store IDs of pending peers
		downs   []uint64 // store IDs of peers the leader reports down
		// quarantined: store ID -> peer IDs of region 1 it reports
		// quarantined.
		quarantined map[uint64][]uint64
		want        string
	}{
		{name: "healthy", stores: stores(3, nil, nil), region: rgn(1, 1, "1", "2", "3"), want: "none"},
		{name: "one voter: add on emptiest", stores: stores(4, nil, nil),
			others: []meta.RegionState{rgn(9, 2, "2", "3")}, region: rgn(1, 1, "1"),
			want: "replica-add: AddLearner@4(0) PromoteLearner@4(0)"},
		{name: "pending learner waits", stores: stores(3, nil, nil), region: rgn(1, 1, "1", "2", "3L"), pending: []uint64{3}, want: "none"},
		{name: "caught-up learner promoted", stores: stores(3, nil, nil), region: rgn(1, 1, "1", "2", "3L"),
			want: "replica-promote: PromoteLearner@3(103)"},
		{name: "learner on a down store removed", stores: stores(4, []uint64{3}, nil), region: rgn(1, 1, "1", "2", "3L"),
			want: "replica-remove-learner: RemovePeer@3(103)"},
		{name: "down voter: replace first", stores: stores(4, []uint64{3}, nil), region: rgn(1, 1, "1", "2", "3"),
			want: "replica-add: AddLearner@4(0) PromoteLearner@4(0)"},
		{name: "down voter: remove once replaced", stores: stores(4, []uint64{3}, nil), region: rgn(1, 1, "1", "2", "3", "4"),
			want: "replica-remove-down: RemovePeer@3(103)"},
		{name: "peer reported down by the leader", stores: stores(4, nil, nil), region: rgn(1, 1, "1", "2", "3", "4"), downs: []uint64{2},
			want: "replica-remove-down: RemovePeer@2(102)"},
		{name: "offline store drained", stores: stores(4, nil, []uint64{2}), region: rgn(1, 1, "1", "2", "3"),
			want: "replica-add: AddLearner@4(0) PromoteLearner@4(0)"},
		{name: "offline leader: transfer first", stores: stores(4, nil, []uint64{1}), region: rgn(1, 1, "1", "2", "3", "4"),
			want: "replica-remove-down: TransferLeader@2(102) RemovePeer@1(101)"},
		{name: "no spare store: nothing to do", stores: stores(3, []uint64{3}, nil), region: rgn(1, 1, "1", "2", "3"), want: "none"},
		{name: "extra voter removed from the fullest store", stores: stores(4, nil, nil),
			others: []meta.RegionState{rgn(9, 3, "3")}, region: rgn(1, 1, "1", "2", "3", "4"),
			want: "replica-remove-extra: RemovePeer@3(103)"},
		{name: "extra voter: never the leader", stores: stores(4, nil, nil),
			others: []meta.RegionState{rgn(9, 1, "1"), rgn(8, 1, "1")}, region: rgn(1, 1, "1", "2", "3", "4"),
			want: "replica-remove-extra: RemovePeer@2(102)"},
		{name: "two of five down: the down ones go", stores: stores(5, []uint64{2, 3}, nil), region: rgn(1, 1, "1", "2", "3", "4", "5"),
			want: "replica-remove-down: RemovePeer@2(102)"},
		{name: "quarantined voter removed first, no spare store", stores: stores(3, nil, nil), region: rgn(1, 1, "1", "2", "3"),
			quarantined: map[uint64][]uint64{3: {103}}, want: "replica-remove-quarantined: RemovePeer@3(103)"},
		{name: "quarantined voter removed first, spare store", stores: stores(4, nil, nil), region: rgn(1, 1, "1", "2", "3"),
			quarantined: map[uint64][]uint64{3: {103}}, want: "replica-remove-quarantined: RemovePeer@3(103)"},
		{name: "quarantined leader: transfer first", stores: stores(3, nil, nil), region: rgn(1, 2, "1", "2", "3"),
			quarantined: map[uint64][]uint64{2: {102}}, want: "replica-remove-quarantined: TransferLeader@1(101) RemovePeer@2(102)"},
		{name: "replacement goes back to the quarantined store", stores: stores(4, nil, nil),
			others: []meta.RegionState{rgn(9, 2, "2", "3")}, region: rgn(1, 1, "1", "2"),
			quarantined: map[uint64][]uint64{3: {103}}, want: "replica-add: AddLearner@3(0) PromoteLearner@3(0)"},
		{name: "new learner beside a stale report is healthy", stores: stores(3, nil, nil), region: rgn(1, 1, "1", "2", "3L"),
			quarantined: map[uint64][]uint64{3: {99}}, want: "replica-promote: PromoteLearner@3(103)"},
		{name: "quarantined voter stays without a quorum after it", stores: stores(3, []uint64{2}, nil), region: rgn(1, 1, "1", "2", "3"),
			quarantined: map[uint64][]uint64{3: {103}}, want: "none"},
		{name: "quorum lost: no removal", stores: stores(5, []uint64{3, 4, 5}, nil), region: rgn(1, 1, "1", "2", "3", "4", "5"),
			want: "none"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := tc.region
			for _, s := range tc.pending {
				p, _ := r.Region.StorePeer(s)
				r.PendingPeers = append(r.PendingPeers, p)
			}
			for _, s := range tc.downs {
				p, _ := r.Region.StorePeer(s)
				r.DownPeers = append(r.DownPeers, p)
			}
			for sid, peers := range tc.quarantined {
				for _, id := range peers {
					tc.stores[sid].Quarantined = append(tc.stores[sid].Quarantined, pdclient.RegionPeer{RegionID: 1, PeerID: id})
				}
			}
			c := &Cluster{Stores: tc.stores, Regions: append([]meta.RegionState{r}, tc.others...)}
			if got := render(CheckReplicas(cfg3, c, &r)); got != tc.want {
				t.Fatalf("got  %s\nwant %s", got, tc.want)
			}
		})
	}
}

func TestQuorumSafe(t *testing.T) {
	// 5 voters, 2 down: removing a healthy one leaves 2 healthy of 4.
	if quorumSafe(4, 2) {
		t.Fatal("2 healthy of 4 voters is not a quorum")
	}
	if !quorumSafe(4, 3) || !quorumSafe(2, 2) || quorumSafe(0, 0) {
		t.Fatal("quorumSafe")
	}
}

func TestCheckSplit(t *testing.T) {
	r := rgn(1, 1, "1", "2", "3")
	if op := CheckSplit(cfg3, &r); op != nil {
		t.Fatalf("small region split: %s", render(op))
	}
	r.ApproxBytes = 100
	if got := render(CheckSplit(cfg3, &r)); got != "split-size: Split@1(101)" {
		t.Fatalf("got %s", got)
	}
	r.ApproxBytes, r.ApproxKeys = 0, 10
	if CheckSplit(cfg3, &r) == nil {
		t.Fatal("key threshold ignored")
	}
}

func TestBalanceLeaders(t *testing.T) {
	never := func(uint64) bool { return false }
	c := &Cluster{Stores: stores(3, nil, nil), Regions: []meta.RegionState{
		rgn(1, 1, "1", "2", "3"), rgn(2, 1, "1", "2", "3"), rgn(3, 1, "1", "2", "3"), rgn(4, 2, "1", "2", "3"),
	}}
	// Leaders: store1=3, store2=1, store3=0.
	if got := render(BalanceLeaders(cfg3, c, never)); got != "balance-leader: TransferLeader@3(103)" {
		t.Fatalf("got %s", got)
	}
	busy := func(id uint64) bool { return id == 1 }
	if got := render(BalanceLeaders(cfg3, c, busy)); got != "balance-leader: TransferLeader@3(203)" {
		t.Fatalf("busy region 1: got %s", got)
	}
	// With that transfer in flight, store 1 counts 2 leaders and store 3
	// one: within tolerance, so no second transfer off store 1 (a
	// balancer blind to it moved leaders back and forth for ever).
	inFlight := *c
	inFlight.Pending = []*Operator{BalanceLeaders(cfg3, c, never)}
	if op := BalanceLeaders(cfg3, &inFlight, func(id uint64) bool { return id == 1 }); op != nil {
		t.Fatalf("overshoot: a transfer in flight, got %s", render(op))
	}
	// A finished step no longer counts.
	inFlight.Pending[0].Current = 1
	if got := render(BalanceLeaders(cfg3, &inFlight, func(id uint64) bool { return id == 1 })); got != "balance-leader: TransferLeader@3(203)" {
		t.Fatalf("done operator: got %s", got)
	}
	even := &Cluster{Stores: stores(3, nil, nil), Regions: []meta.RegionState{
		rgn(1, 1, "1", "2", "3"), rgn(2, 2, "1", "2", "3"), rgn(3, 1, "1", "2", "3"), rgn(4, 3, "1", "2", "3"),
	}}
	if op := BalanceLeaders(cfg3, even, never); op != nil {
		t.Fatalf("balanced within tolerance, got %s", render(op))
	}
	// A region with a pending peer is left alone.
	r := rgn(1, 1, "1", "3")
	r.PendingPeers = r.Region.Peers[1:]
	skewed := &Cluster{Stores: stores(3, nil, nil), Regions: []meta.RegionState{r, rgn(2, 1, "1", "2")}}
	if got := render(BalanceLeaders(cfg3, skewed, never)); got != "balance-leader: TransferLeader@2(202)" {
		t.Fatalf("pending: got %s", got)
	}
}

func TestBalanceRegions(t *testing.T) {
	never := func(uint64) bool { return false }
	// Stores 1-3 hold 3 regions each, store 4 none.
	c := &Cluster{Stores: stores(4, nil, nil), Regions: []meta.RegionState{
		rgn(1, 1, "1", "2", "3"), rgn(2, 2, "1", "2", "3"), rgn(3, 3, "1", "2", "3"),
	}}
	// Source: the fullest store with the highest ID on ties (3); region 1
	// is led by store 1, so no transfer is needed.
	want := "balance-region: AddLearner@4(0) PromoteLearner@4(0) RemovePeer@3(103)"
	if got := render(BalanceRegions(cfg3, c, never)); got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	// Only region 3 (led by the source) is free: transfer before removal.
	busy := func(id uint64) bool { return id != 3 }
	want = "balance-region: AddLearner@4(0) PromoteLearner@4(0) TransferLeader@1(301) RemovePeer@3(303)"
	if got := render(BalanceRegions(cfg3, c, busy)); got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	even := &Cluster{Stores: stores(3, nil, nil), Regions: c.Regions}
	if op := BalanceRegions(cfg3, even, never); op != nil {
		t.Fatalf("balanced cluster: %s", render(op))
	}
	// Down store 4 is not a target.
	down := &Cluster{Stores: stores(4, []uint64{4}, nil), Regions: c.Regions}
	if op := BalanceRegions(cfg3, down, never); op != nil {
		t.Fatalf("moved to a down store: %s", render(op))
	}
}

func TestOperatorLifecycle(t *testing.T) {
	r := rgn(1, 1, "1", "2", "3")
	op := &Operator{RegionID: 1, Desc: "balance-region", Steps: []pdclient.Operator{
		{Kind: pdclient.OpAddLearner, RegionID: 1, Peer: pdclient.Peer{StoreID: 4, Learner: true}},
		{Kind: pdclient.OpPromoteLearner, RegionID: 1, Peer: pdclient.Peer{StoreID: 4}},
		{Kind: pdclient.OpTransferLeader, RegionID: 1, Peer: pdclient.Peer{ID: 102, StoreID: 2}},
		{Kind: pdclient.OpRemovePeer, RegionID: 1, Peer: pdclient.Peer{ID: 101, StoreID: 1}},
	}}
	if got := op.NewPeerStores(); len(got) != 1 || got[0] != 4 {
		t.Fatalf("NewPeerStores = %v", got)
	}
	op.FillPeerID(4, 104)
	if op.Steps[0].Peer.ID != 104 || op.Steps[1].Peer.ID != 104 {
		t.Fatalf("FillPeerID: %+v", op.Steps)
	}
	if Advance(op, &r) || op.Current != 0 {
		t.Fatal("advanced before anything happened")
	}
	r.Region.Peers = append(r.Region.Peers, pdclient.Peer{ID: 104, StoreID: 4, Learner: true})
	r.Region.Epoch.ConfVer++
	r.PendingPeers = []pdclient.Peer{r.Region.Peers[3]}
	if Advance(op, &r) || op.Current != 1 || StepReady(op.Step(), &r) {
		t.Fatalf("after learner added: current %d, ready %v", op.Current, StepReady(op.Step(), &r))
	}
	if op.Step().Epoch != r.Region.Epoch {
		t.Fatal("next step not stamped with the current epoch")
	}
	r.PendingPeers = nil
	if !StepReady(op.Step(), &r) {
		t.Fatal("caught-up learner not ready for promotion")
	}
	r.Region.Peers[3].Learner = false
	r.Leader = r.Region.Peers[1]
	r.Region.Peers = r.Region.Peers[1:]
	// Promotion, transfer and removal all show in one heartbeat.
	if !Advance(op, &r) || op.Step() != nil {
		t.Fatalf("operator not done: %s", op)
	}
	split := &Operator{Steps: []pdclient.Operator{{Kind: pdclient.OpSplit, Epoch: pdclient.Epoch{Version: 5}}}}
	r2 := rgn(1, 1, "1")
	if Advance(split, &r2) {
		t.Fatal("split done before the version moved")
	}
	r2.Region.Epoch.Version = 6
	if !Advance(split, &r2) {
		t.Fatal("split not done after the version moved")
	}
}
