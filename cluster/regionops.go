package cluster

import (
	"sync"
	"time"
)

// regionOps counts the commands the executor routes to each region, so
// the region's leader can report its request rate (QPS) to PD in its
// heartbeat (issue 4: region metadata includes QPS; PD's schedulers may
// weigh hot regions with it).
type regionOps struct {
	mu    sync.Mutex
	count map[uint64]uint64
	since map[uint64]time.Time // start of the current count
}

func newRegionOps() *regionOps {
	return &regionOps{count: map[uint64]uint64{}, since: map[uint64]time.Time{}}
}

// add counts one command for region.
func (r *regionOps) add(region uint64) {
	r.mu.Lock()
	r.count[region]++
	r.mu.Unlock()
}

// rate returns region's commands per second since the last call for it
// (or since the first count) and starts a new count at now. A region seen
// for the first time reports 0 and starts counting.
func (r *regionOps) rate(region uint64, now time.Time) float64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	n, start, ok := r.count[region], r.since[region], !r.since[region].IsZero()
	r.count[region], r.since[region] = 0, now
	if !ok {
		return 0
	}
	d := now.Sub(start).Seconds()
	if d <= 0 {
		return 0
	}
	return float64(n) / d
}
