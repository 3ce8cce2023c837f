package cluster

import (
	"testing"

	"github.com/skerrydb/skerry/mvcc/keys"
	"github.com/skerrydb/skerry/regionraft"
)

// TestLedSlotsHas: the binary search over led regions answers, for every
// slot, what a scan of them does, with gaps (regions led elsewhere), a
// region cut inside a slot, and unbounded ends.
func TestLedSlotsHas(t *testing.T) {
	mid := append(keys.SlotPrefix(7000), 'x') // a boundary inside slot 7000
	l := ledBy0([]regionraft.Region{
		{ID: 1, EndKey: keys.SlotPrefix(100)},
		{ID: 2, StartKey: keys.SlotPrefix(100), EndKey: keys.SlotPrefix(5000)},
		{ID: 3, StartKey: mid, EndKey: keys.SlotPrefix(9000)},
		{ID: 4, StartKey: keys.SlotPrefix(12000)},
	})
	for s := range keys.NumSlots {
		want := false
		for _, r := range l.regions {
			want = want || r.ContainsKey(keys.SlotPrefix(uint16(s)))
		}
		if got := l.has(uint16(s)); got != want {
			t.Fatalf("slot %d: has %v, a scan says %v", s, got, want)
		}
	}
	if l.has(7000) || !l.has(7001) || l.has(9000) || !l.has(0) || !l.has(keys.NumSlots-1) {
		t.Fatal("spot checks")
	}
}

// ledBy0 builds the ledSlots ledBy would for regions given in any order.
func ledBy0(rs []regionraft.Region) ledSlots {
	// Shuffled on purpose: ledBy sorts.
	l := ledSlots{regions: []regionraft.Region{rs[2], rs[0], rs[3], rs[1]}}
	sortLed(&l)
	return l
}
