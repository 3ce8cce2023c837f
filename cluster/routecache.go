package cluster

import (
	"bytes"
	"sort"
	"sync"

	"github.com/skerrydb/skerry/pd/pdclient"
)

// routeCache remembers, for regions this node holds no replica of, PD's
// answer to "which region holds this key, and who leads it" (TiKV's client
// region cache), so that a command for such a region does not cost a PD
// round trip each time. Entries are PD's descriptors: ranges of different
// entries never overlap (an insert drops every entry its range touches, so
// a split or merge seen later replaces the older ranges).
//
// It is only a hint: a stale entry sends a command to a node that no longer
// leads the region, which answers with the node that does (the dispatcher
// follows it), and the forwarder then drops every entry naming the node
// that refused or could not be reached, so the next command asks PD again.
// Safe for concurrent use.
type routeCache struct {
	mu      sync.Mutex
	entries []routeEntry // sorted by start key
	max     int          // entries kept; beyond it the cache is emptied
}

type routeEntry struct {
	region pdclient.Region
	leader uint64 // store id; never 0 in the cache
}

func newRouteCache(max int) *routeCache { return &routeCache{max: max} }

// lookup returns the cached entry whose range holds key.
func (c *routeCache) lookup(key []byte) (routeEntry, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	// The last entry starting at or before key.
	i := sort.Search(len(c.entries), func(i int) bool { return bytes.Compare(c.entries[i].region.StartKey, key) > 0 }) - 1
	if i < 0 || !c.entries[i].region.Contains(key) {
		return routeEntry{}, false
	}
	return c.entries[i], true
}

// insert records region and its leader, replacing every entry whose range
// overlaps it. A leader of 0 (PD knows none) is not cached.
func (c *routeCache) insert(region pdclient.Region, leader uint64) {
	if leader == 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	keep := c.entries[:0]
	for _, e := range c.entries {
		if !overlaps(&e.region, &region) {
			keep = append(keep, e)
		}
	}
	clear(c.entries[len(keep):])
	c.entries = keep
	if len(c.entries) >= c.max {
		c.entries = c.entries[:0] // crude, but a node with that many remote regions asks PD anyway
	}
	i := sort.Search(len(c.entries), func(i int) bool { return bytes.Compare(c.entries[i].region.StartKey, region.StartKey) > 0 })
	c.entries = append(c.entries, routeEntry{})
	copy(c.entries[i+1:], c.entries[i:])
	c.entries[i] = routeEntry{region: region, leader: leader}
}

// dropLeader forgets every entry led by store: that store just refused a
// command for a region it was cached as leading, or could not be reached.
func (c *routeCache) dropLeader(store uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	keep := c.entries[:0]
	for _, e := range c.entries {
		if e.leader != store {
			keep = append(keep, e)
		}
	}
	clear(c.entries[len(keep):])
	c.entries = keep
}

// overlaps reports whether the ranges of a and b share a key (an empty end
// key is +infinity).
func overlaps(a, b *pdclient.Region) bool {
	aBeforeB := len(a.EndKey) > 0 && bytes.Compare(a.EndKey, b.StartKey) <= 0
	bBeforeA := len(b.EndKey) > 0 && bytes.Compare(b.EndKey, a.StartKey) <= 0
	return !aBeforeB && !bBeforeA
}
