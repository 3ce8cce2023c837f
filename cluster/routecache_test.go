package cluster

import (
	"testing"

	"github.com/skerrydb/skerry/pd/pdclient"
)

func cacheRegion(id uint64, start, end string) pdclient.Region {
	r := pdclient.Region{ID: id, StartKey: []byte(start)}
	if end != "" {
		r.EndKey = []byte(end)
	}
	return r
}

func TestRouteCache(t *testing.T) {
	c := newRouteCache(100)
	if _, ok := c.lookup([]byte("a")); ok {
		t.Fatal("empty cache answered")
	}
	c.insert(cacheRegion(1, "", "m"), 7)
	c.insert(cacheRegion(2, "m", ""), 8)
	c.insert(cacheRegion(3, "x", "y"), 0) // no leader: not cached
	for _, tc := range []struct {
		key    string
		region uint64
		leader uint64
	}{{"", 1, 7}, {"a", 1, 7}, {"l\xff", 1, 7}, {"m", 2, 8}, {"zzz", 2, 8}, {"x", 2, 8}} {
		e, ok := c.lookup([]byte(tc.key))
		if !ok || e.region.ID != tc.region || e.leader != tc.leader {
			t.Fatalf("lookup %q = %+v %v, want region %d leader %d", tc.key, e, ok, tc.region, tc.leader)
		}
	}
	// A split seen later replaces the range it overlaps.
	c.insert(cacheRegion(4, "m", "t"), 9)
	if e, ok := c.lookup([]byte("n")); !ok || e.region.ID != 4 {
		t.Fatalf("after split: %+v %v", e, ok)
	}
	if _, ok := c.lookup([]byte("u")); ok {
		t.Fatal("the replaced region's other half still answers")
	}
	if e, ok := c.lookup([]byte("a")); !ok || e.region.ID != 1 {
		t.Fatalf("untouched region: %+v %v", e, ok)
	}
	// A node that refused loses every entry naming it.
	c.dropLeader(7)
	if _, ok := c.lookup([]byte("a")); ok {
		t.Fatal("entry of a refusing leader kept")
	}
	if _, ok := c.lookup([]byte("n")); !ok {
		t.Fatal("other leader's entry dropped")
	}
	// Bounded.
	small := newRouteCache(2)
	small.insert(cacheRegion(1, "a", "b"), 1)
	small.insert(cacheRegion(2, "b", "c"), 1)
	small.insert(cacheRegion(3, "c", "d"), 1)
	if len(small.entries) > 2 {
		t.Fatalf("%d entries, max 2", len(small.entries))
	}
	if e, ok := small.lookup([]byte("c")); !ok || e.region.ID != 3 {
		t.Fatalf("newest entry lost: %+v %v", e, ok)
	}
}
