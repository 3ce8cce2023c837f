package meta

import (
	"bytes"
	"errors"
	"fmt"
	"sort"

	"github.com/skerrydb/skerry/pd/pdclient"
)

// ErrStale wraps pdclient.ErrStaleRegion: the report is older than what
// the Tree holds.
var ErrStale = fmt.Errorf("meta: %w", pdclient.ErrStaleRegion)

// RegionState is a region as the last heartbeat of its leader showed it.
type RegionState struct {
	pdclient.RegionInfo
	ApproxBytes  uint64
	ApproxKeys   uint64
	DownPeers    []pdclient.Peer
	PendingPeers []pdclient.Peer
	// QPS is the request rate of the latest heartbeat.
	QPS float64
	// Term is the raft term of the heartbeat that set Leader (in memory
	// only; 0 after a PD leader change).
	Term uint64
}

// Tree holds non-overlapping regions ordered by start key. The zero value
// is not usable; call NewTree.
type Tree struct {
	sorted []*RegionState // by Region.StartKey
	byID   map[uint64]*RegionState
}

// NewTree returns an empty Tree.
func NewTree() *Tree { return &Tree{byID: map[uint64]*RegionState{}} }

// Len returns the number of regions.
func (t *Tree) Len() int { return len(t.sorted) }

// endAfter reports whether a region ending at end ends after key (empty
// end: +infinity).
func endAfter(end, key []byte) bool { return len(end) == 0 || bytes.Compare(end, key) > 0 }

// search returns the index of the region holding key, or -1.
func (t *Tree) search(key []byte) int {
	i := sort.Search(len(t.sorted), func(i int) bool { return bytes.Compare(t.sorted[i].Region.StartKey, key) > 0 }) - 1
	if i >= 0 && endAfter(t.sorted[i].Region.EndKey, key) {
		return i
	}
	return -1
}

// overlaps returns the indexes [lo, hi) of the regions overlapping r.
func (t *Tree) overlaps(r *pdclient.Region) (lo, hi int) {
	lo = sort.Search(len(t.sorted), func(i int) bool { return endAfter(t.sorted[i].Region.EndKey, r.StartKey) })
	hi = lo
	for hi < len(t.sorted) && (len(r.EndKey) == 0 || bytes.Compare(t.sorted[hi].Region.StartKey, r.EndKey) < 0) {
		hi++
	}
	return lo, hi
}

// Validate checks the shape of a reported region.
func Validate(r *pdclient.Region) error {
	if r.ID == 0 {
		return fmt.Errorf("%w: region ID 0", pdclient.ErrInvalidArgument)
	}
	if len(r.EndKey) > 0 && bytes.Compare(r.StartKey, r.EndKey) >= 0 {
		return fmt.Errorf("%w: region %d has start %q >= end %q", pdclient.ErrInvalidArgument, r.ID, r.StartKey, r.EndKey)
	}
	seen := map[uint64]bool{}
	for _, p := range r.Peers {
		if p.ID == 0 || p.StoreID == 0 || seen[p.StoreID] {
			return fmt.Errorf("%w: region %d has a bad or duplicate peer %+v", pdclient.ErrInvalidArgument, r.ID, p)
		}
		seen[p.StoreID] = true
	}
	return nil
}

// Update records st. It returns whether the region's persisted part
// (range, epoch, peers) changed, and the regions st replaced (overlapping
// ones with other IDs). It fails with ErrStale, changing nothing, if st is
// older than a region it overlaps or than the region's previous report.
func (t *Tree) Update(st RegionState) (changed bool, removed []pdclient.Region, err error) {
	r := &st.Region
	if err := Validate(r); err != nil {
		return false, nil, err
	}
	old := t.byID[r.ID]
	if old != nil {
		oe := old.Region.Epoch
		if r.Epoch.Version < oe.Version || r.Epoch.ConfVer < oe.ConfVer {
			return false, nil, fmt.Errorf("%w: region %d epoch %+v, PD has %+v", ErrStale, r.ID, r.Epoch, oe)
		}
	}
	lo, hi := t.overlaps(r)
	for _, o := range t.sorted[lo:hi] {
		if o.Region.ID != r.ID && o.Region.Epoch.Version >= r.Epoch.Version {
			return false, nil, fmt.Errorf("%w: region %d (version %d) overlaps region %d (version %d)",
				ErrStale, r.ID, r.Epoch.Version, o.Region.ID, o.Region.Epoch.Version)
		}
	}
	st.Region = st.Region.Clone()
	if old != nil && lo+1 == hi && t.sorted[lo] == old && bytes.Equal(old.Region.StartKey, r.StartKey) {
		// Same range: replace in place.
		changed = !sameMeta(&old.Region, r)
		*old = st
		return changed, nil, nil
	}
	for _, o := range t.sorted[lo:hi] {
		delete(t.byID, o.Region.ID)
		if o.Region.ID != r.ID {
			removed = append(removed, o.Region)
		}
	}
	if old != nil && t.byID[r.ID] == old { // old lies outside the new range
		t.removeAt(t.indexOf(old))
		delete(t.byID, r.ID)
		lo, hi = t.overlaps(r)
	}
	ns := &st
	t.sorted = append(t.sorted[:lo], append([]*RegionState{ns}, t.sorted[hi:]...)...)
	t.byID[r.ID] = ns
	return true, removed, nil
}

func (t *Tree) indexOf(st *RegionState) int {
	for i, s := range t.sorted {
		if s == st {
			return i
		}
	}
	return -1
}

func (t *Tree) removeAt(i int) {
	if i >= 0 {
		t.sorted = append(t.sorted[:i], t.sorted[i+1:]...)
	}
}

// sameMeta reports whether a and b agree on everything that is persisted.
func sameMeta(a, b *pdclient.Region) bool {
	if a.ID != b.ID || a.Epoch != b.Epoch || !bytes.Equal(a.StartKey, b.StartKey) || !bytes.Equal(a.EndKey, b.EndKey) || len(a.Peers) != len(b.Peers) {
		return false
	}
	for i := range a.Peers {
		if a.Peers[i] != b.Peers[i] {
			return false
		}
	}
	return true
}

// Load inserts a persisted region (no leader known) when a PD leader
// starts; it applies the same rules as Update.
func (t *Tree) Load(r pdclient.Region) error {
	_, _, err := t.Update(RegionState{RegionInfo: pdclient.RegionInfo{Region: r}})
	if errors.Is(err, ErrStale) {
		return nil // a leftover of an interrupted overlap removal: the newer one wins
	}
	return err
}

// Get returns the region holding key.
func (t *Tree) Get(key []byte) (RegionState, bool) {
	if i := t.search(key); i >= 0 {
		return t.sorted[i].copy(), true
	}
	return RegionState{}, false
}

// GetByID returns region id.
func (t *Tree) GetByID(id uint64) (RegionState, bool) {
	if st, ok := t.byID[id]; ok {
		return st.copy(), true
	}
	return RegionState{}, false
}

// Scan returns up to limit (<= 0: all) regions in key order, from the one
// holding start (or the first after it) to the last starting before end
// (empty: no end).
func (t *Tree) Scan(start, end []byte, limit int) []pdclient.RegionInfo {
	i := sort.Search(len(t.sorted), func(i int) bool { return endAfter(t.sorted[i].Region.EndKey, start) })
	var out []pdclient.RegionInfo
	for ; i < len(t.sorted) && (limit <= 0 || len(out) < limit); i++ {
		st := t.sorted[i]
		if len(end) > 0 && bytes.Compare(st.Region.StartKey, end) >= 0 {
			break
		}
		c := st.copy()
		out = append(out, c.RegionInfo)
	}
	return out
}

// All returns a copy of every region's state, in key order.
func (t *Tree) All() []RegionState {
	out := make([]RegionState, len(t.sorted))
	for i, st := range t.sorted {
		out[i] = st.copy()
	}
	return out
}

func (st *RegionState) copy() RegionState {
	c := *st
	c.Region = st.Region.Clone()
	c.DownPeers = append([]pdclient.Peer(nil), st.DownPeers...)
	c.PendingPeers = append([]pdclient.Peer(nil), st.PendingPeers...)
	return c
}
