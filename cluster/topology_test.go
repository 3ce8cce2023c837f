package cluster

import (
	"fmt"
	"math/rand/v2"
	"regexp"
	"testing"

	"github.com/skerrydb/skerry/commands"
	"github.com/skerrydb/skerry/mvcc/keys"
	"github.com/skerrydb/skerry/pd/pdclient"
)

func TestRegionSlots(t *testing.T) {
	slot := func(s uint16) []byte { return keys.SlotPrefix(s) }
	inSlot := func(s uint16) []byte { return append(keys.SlotPrefix(s), 0, 0, 0, 0, 3, 'a', 'b', 'c') }
	cases := []struct {
		start, end  []byte
		first, last int
	}{
		{nil, nil, 0, 16383},
		{nil, slot(100), 0, 99},
		{slot(100), slot(200), 100, 199},
		{slot(100), inSlot(200), 100, 200},                  // part of slot 200 is in the region
		{inSlot(100), inSlot(100), 100, 100},                // inside one slot
		{inSlot(100), slot(101), 100, 100},                  // the tail of slot 100
		{slot(16383), nil, 16383, 16383},                    // the last slot
		{[]byte{0x40}, nil, 16384, 16383},                   // past every slot: none
		{nil, []byte{0x01}, 0, 255},                         // a 1-byte end: slots below 0x0100
		{slot(0), slot(0), 0, -1},                           // empty
		{slot(16000), []byte{0x40, 0}, 16000, 16383},        // end past the slots: clamped
		{slot(10), append(slot(20), 0, 0, 0, 0, 0), 10, 19}, // a zero-padded boundary excludes its slot
	}
	for _, tc := range cases {
		first, last := regionSlots(tc.start, tc.end)
		if first != tc.first || last != tc.last {
			t.Errorf("regionSlots(%x, %x) = %d..%d, want %d..%d", tc.start, tc.end, first, last, tc.first, tc.last)
		}
	}
}

func testNodes(n int) map[uint64]commands.ClusterNode {
	nodes := map[uint64]commands.ClusterNode{}
	for i := 1; i <= n; i++ {
		nodes[uint64(i)] = clusterNode(7, pdclient.Store{ID: uint64(i), RESPAddr: fmt.Sprintf("127.0.0.1:%d", 7000+i),
			PeerAddr: fmt.Sprintf("127.0.0.1:%d", 20160+i)})
	}
	return nodes
}

func region(id uint64, start, end []byte, leader uint64, stores ...uint64) pdclient.RegionInfo {
	r := pdclient.RegionInfo{Region: pdclient.Region{ID: id, StartKey: start, EndKey: end}}
	for _, s := range stores {
		p := pdclient.Peer{ID: id*10 + s, StoreID: s}
		r.Region.Peers = append(r.Region.Peers, p)
		if s == leader {
			r.Leader = p
		}
	}
	return r
}

func TestSlotRangesFromRegions(t *testing.T) {
	nodes := testNodes(3)
	mid := append(keys.SlotPrefix(5000), 0, 0, 0, 0, 1, 'k') // splits slot 5000
	regions := []pdclient.RegionInfo{
		region(1, nil, keys.SlotPrefix(1000), 1, 1, 2, 3),
		region(2, keys.SlotPrefix(1000), keys.SlotPrefix(2000), 1, 3, 1, 2), // same owner+replicas: merged
		region(3, keys.SlotPrefix(2000), mid, 2, 1, 2, 3),
		region(4, mid, keys.SlotPrefix(9000), 3, 1, 2, 3),                    // slot 5000 stays with region 3's leader
		region(5, keys.SlotPrefix(9000), keys.SlotPrefix(10000), 0, 3, 2, 1), // no leader: its lowest voter
		region(6, keys.SlotPrefix(10000), keys.SlotPrefix(12000), 9, 9, 1),   // leader's node unknown: store 1
		region(7, keys.SlotPrefix(12000), keys.SlotPrefix(13000), 0, 2, 3),   // no leader: prev's owner (3)
		region(8, keys.SlotPrefix(13000), keys.SlotPrefix(14000), 0, 1, 2),   // prev's owner (3) is no voter: 1
		region(9, keys.SlotPrefix(14000), nil, 9, 9),                         // no known voter: a gap
	}
	regions[3].Region.Peers[0].Learner = true // store 1 is a learner of region 4
	prev := &commands.Topology{Slots: []commands.SlotRange{{Start: 12000, End: 16383, Owner: nodes[3]}}}
	got := slotRanges(regions, nodes, prev)
	want := []struct {
		start, end int
		owner      uint64
		replicas   []uint64
	}{
		{0, 1999, 1, []uint64{2, 3}},
		{2000, 5000, 2, []uint64{1, 3}},
		{5001, 8999, 3, []uint64{2}},
		{9000, 9999, 1, []uint64{2, 3}},
		{10000, 11999, 1, nil},
		{12000, 12999, 3, []uint64{2}},
		{13000, 13999, 1, []uint64{2}},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d ranges %+v, want %d", len(got), got, len(want))
	}
	for i, w := range want {
		g := got[i]
		if g.Start != w.start || g.End != w.end || g.Owner.Store != w.owner || len(g.Replicas) != len(w.replicas) {
			t.Fatalf("range %d = %+v, want %+v", i, g, w)
		}
		for j, r := range w.replicas {
			if g.Replicas[j].Store != r {
				t.Fatalf("range %d replicas = %+v, want %v", i, g.Replicas, w.replicas)
			}
		}
	}
}

// TestSlotRangesPartitionTheSlots splits the keyspace at random keys
// (seeded) and checks that the ranges cover every slot exactly once, in
// order, each owned by the leader of the slot's first region (when it has
// one: leaderless regions are covered too).
func TestSlotRangesPartitionTheSlots(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	nodes := testNodes(3)
	for round := range 50 {
		var splits [][]byte
		n := 1 + rng.IntN(40)
		for range n {
			s := uint16(rng.IntN(keys.NumSlots))
			if rng.IntN(2) == 0 {
				splits = append(splits, keys.SlotPrefix(s))
			} else {
				splits = append(splits, keys.MetaKey(0, fmt.Appendf(nil, "k%d", rng.Int())))
			}
		}
		sortKeys(splits)
		var regions []pdclient.RegionInfo
		var start []byte
		for i := 0; i <= len(splits); i++ {
			var end []byte
			if i < len(splits) {
				end = splits[i]
				if string(end) == string(start) {
					continue
				}
			}
			leader := uint64(1 + rng.IntN(3))
			if rng.IntN(4) == 0 {
				leader = 0 // an election: the slots must stay assigned
			}
			regions = append(regions, region(uint64(i+1), start, end, leader, 1, 2, 3))
			start = end
		}
		got := slotRanges(regions, nodes, nil)
		next := 0
		for _, r := range got {
			if r.Start != next || r.End < r.Start {
				t.Fatalf("round %d: range %d-%d after slot %d: %+v", round, r.Start, r.End, next, got)
			}
			next = r.End + 1
		}
		if next != keys.NumSlots {
			t.Fatalf("round %d: ranges end at %d", round, next)
		}
		// Every slot's owner is the leader of the first region holding
		// any of its keys.
		for s := range keys.NumSlots {
			var owner uint64
			for _, ri := range regions {
				f, l := regionSlots(ri.Region.StartKey, ri.Region.EndKey)
				if f <= s && s <= l {
					owner = ri.Leader.StoreID
					break
				}
			}
			for _, r := range got {
				if r.Start <= s && s <= r.End && owner != 0 && r.Owner.Store != owner {
					t.Fatalf("round %d: slot %d owned by %d, want %d", round, s, r.Owner.Store, owner)
				}
			}
		}
	}
}

func sortKeys(ks [][]byte) {
	for i := 1; i < len(ks); i++ {
		for j := i; j > 0 && string(ks[j]) < string(ks[j-1]); j-- {
			ks[j], ks[j-1] = ks[j-1], ks[j]
		}
	}
}

func TestNodeIDAndAddress(t *testing.T) {
	id := NodeID(7, 3)
	if !regexp.MustCompile(`^[0-9a-f]{40}$`).MatchString(id) {
		t.Fatalf("NodeID = %q", id)
	}
	if NodeID(7, 3) != id || NodeID(7, 4) == id || NodeID(8, 3) == id {
		t.Fatal("NodeID is not a stable function of cluster and store")
	}
	n := clusterNode(7, pdclient.Store{ID: 3, RESPAddr: "0.0.0.0:6379", PeerAddr: "10.1.2.3:20160"})
	if n.IP != "10.1.2.3" || n.Port != 6379 || n.BusPort != 20160 || n.ID != id || n.Store != 3 {
		t.Fatalf("clusterNode = %+v", n)
	}
	n = clusterNode(7, pdclient.Store{ID: 3, RESPAddr: "[::]:6379"})
	if n.IP != "127.0.0.1" || n.BusPort != 16379 {
		t.Fatalf("clusterNode without peer address = %+v", n)
	}
}
