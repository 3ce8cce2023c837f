package regionraft

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// regionsStore returns a store (not started) holding n adjacent regions
// with "r%05d" boundaries, ids 1..n, the first starting at "" and the last
// ending at "s".
func regionsStore(tb testing.TB, n int) *Store {
	tb.Helper()
	eng := newTestEngine()
	s, err := NewStore(testConfig(1, eng, newRecApplier(eng)))
	if err != nil {
		tb.Fatal(err)
	}
	for i := 1; i <= n; i++ {
		r := Region{ID: uint64(i), Epoch: Epoch{ConfVer: 1, Version: 1}, Peers: []Peer{{ID: uint64(1000000 + i), StoreID: 1}}}
		if i > 1 {
			r.StartKey = []byte(fmt.Sprintf("r%05d", i))
		}
		r.EndKey = []byte(fmt.Sprintf("r%05d", i+1))
		if i == n {
			r.EndKey = []byte("s")
		}
		if err := s.BootstrapRegion(r); err != nil {
			tb.Fatal(err)
		}
	}
	return s
}

// linearRegionForKeys is the reference: every region, lowest id wins.
func linearRegionForKeys(s *Store, keys [][]byte) (uint64, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	best := uint64(0)
	for id, ri := range s.info {
		ok := true
		for _, k := range keys {
			ok = ok && ri.region.ContainsKey(k)
		}
		if ok && (best == 0 || id < best) {
			best = id
		}
	}
	return best, best != 0
}

// TestRegionForKeysIndex: the start-key index answers as a scan of every
// region would, for keys inside regions, on their boundaries, below the
// first and past the last, and for key sets that span regions; and it
// follows regions added later.
func TestRegionForKeysIndex(t *testing.T) {
	s := regionsStore(t, 200)
	defer s.Stop()
	rnd := rand.New(rand.NewPCG(7, 7))
	key := func() []byte {
		switch rnd.IntN(4) {
		case 0:
			return []byte(fmt.Sprintf("r%05d", rnd.IntN(202))) // a boundary
		case 1:
			return []byte{byte(rnd.IntN(256))}
		default:
			return []byte(fmt.Sprintf("r%05d/%d", rnd.IntN(202), rnd.IntN(9)))
		}
	}
	check := func(keys [][]byte) {
		t.Helper()
		gotID, gotOK := s.RegionForKeys(keys)
		wantID, wantOK := linearRegionForKeys(s, keys)
		if gotID != wantID || gotOK != wantOK {
			t.Fatalf("RegionForKeys(%q) = %d %v, a scan says %d %v", keys, gotID, gotOK, wantID, wantOK)
		}
	}
	for range 5000 {
		keys := [][]byte{key()}
		if rnd.IntN(3) == 0 {
			keys = append(keys, key())
		}
		check(keys)
	}
	check([][]byte{[]byte("")})
	check([][]byte{[]byte("r00005"), []byte("r00005\xff")})
	check([][]byte{[]byte("r00005"), []byte("r00006")})
	check([][]byte{[]byte("t")})
	// A region added after the index was built.
	if err := s.BootstrapRegion(Region{ID: 201, StartKey: []byte("s"), Epoch: Epoch{ConfVer: 1, Version: 1},
		Peers: []Peer{{ID: 9999, StoreID: 1}}}); err != nil {
		t.Fatal(err)
	}
	if id, ok := s.RegionForKeys([][]byte{[]byte("t")}); !ok || id != 201 {
		t.Fatalf("key of a region added later: %d %v", id, ok)
	}
	check([][]byte{[]byte("r00200/x"), []byte("t")})
}

// BenchmarkRegionForKeys: one key on a store of 10,000 regions, through
// the index and through a scan of every region (the code before it).
func BenchmarkRegionForKeys(b *testing.B) {
	s := regionsStore(b, 10000)
	defer s.Stop()
	keys := make([][][]byte, 1024)
	for i := range keys {
		keys[i] = [][]byte{[]byte(fmt.Sprintf("r%05d/x", 1+(i*7919)%10000))}
	}
	b.Run("index", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			if _, ok := s.RegionForKeys(keys[i%len(keys)]); !ok {
				b.Fatal("not found")
			}
		}
	})
	b.Run("scan", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			if _, ok := linearRegionForKeys(s, keys[i%len(keys)]); !ok {
				b.Fatal("not found")
			}
		}
	})
}
