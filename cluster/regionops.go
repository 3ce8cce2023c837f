package cluster

import (
	"sync"
	"sync/atomic"
	"time"
)

// regionOps counts the commands the executor routes to each region, so
// the region's leader can report its request rate (QPS) to PD in its
// heartbeat (issue 4: region metadata includes QPS; PD's schedulers may
// weigh hot regions with it).
//
// add runs on every command: it is one lock-free map load and one atomic
// add (no lock shared by all commands); only the heartbeat takes the mutex.
type regionOps struct {
	counts sync.Map // region id -> *atomic.Uint64

	mu    sync.Mutex
	since map[uint64]time.Time // start of each region's current count
}

func newRegionOps() *regionOps {
	return &regionOps{since: map[uint64]time.Time{}}
}

// add counts one command for region.
func (r *regionOps) add(region uint64) {
	c, ok := r.counts.Load(region)
	if !ok {
		c, _ = r.counts.LoadOrStore(region, new(atomic.Uint64))
	}
	c.(*atomic.Uint64).Add(1)
}

// rate returns region's commands per second since the last call for it
// (or since the first count) and starts a new count at now. A region seen
// for the first time reports 0 and starts counting.
func (r *regionOps) rate(region uint64, now time.Time) float64 {
	var n uint64
	if c, ok := r.counts.Load(region); ok {
		n = c.(*atomic.Uint64).Swap(0)
	}
	r.mu.Lock()
	start, ok := r.since[region]
	r.since[region] = now
	r.mu.Unlock()
	if !ok {
		return 0
	}
	d := now.Sub(start).Seconds()
	if d <= 0 {
		return 0
	}
	return float64(n) / d
}
