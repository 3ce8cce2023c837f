package txn

import (
	"hash/maphash"
	"sort"
	"sync"
)

// Latches serialize transactions whose key sets overlap, on one node. Keys
// hash onto a fixed array of slots (collisions only cost concurrency);
// slots are always taken in ascending order, so two transactions can never
// deadlock. A whole-keyspace transaction takes every slot via the global
// lock instead.
type Latches struct {
	global sync.RWMutex
	slots  []sync.Mutex
	seed   maphash.Seed
}

// NewLatches returns latches with n slots (a power of two is not required).
func NewLatches(n int) *Latches {
	return &Latches{slots: make([]sync.Mutex, n), seed: maphash.MakeSeed()}
}

// Guard is a set of held latches.
type Guard struct {
	l   *Latches
	idx []int
	all bool
}

// Acquire blocks until every key's latch is held. A nil keys slice takes the
// whole keyspace exclusively.
func (l *Latches) Acquire(keys [][]byte) Guard {
	if keys == nil {
		l.global.Lock()
		return Guard{l: l, all: true}
	}
	l.global.RLock()
	idx := make([]int, 0, len(keys))
	for _, k := range keys {
		idx = append(idx, int(maphash.Bytes(l.seed, k)%uint64(len(l.slots))))
	}
	sort.Ints(idx)
	out := idx[:0]
	for i, x := range idx {
		if i == 0 || x != idx[i-1] {
			out = append(out, x)
		}
	}
	for _, x := range out {
		l.slots[x].Lock()
	}
	return Guard{l: l, idx: out}
}

// Release frees the latches.
func (g Guard) Release() {
	if g.all {
		g.l.global.Unlock()
		return
	}
	for i := len(g.idx) - 1; i >= 0; i-- {
		g.l.slots[g.idx[i]].Unlock()
	}
	g.l.global.RUnlock()
}
