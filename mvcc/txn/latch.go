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
// lock instead. Read-only transactions may share a slot with each other
// (AcquireShared), never with a writer: what a latch guarantees a reader
// (no write to its keys is applied while it holds it) holds for all of
// them at once.
type Latches struct {
	global sync.RWMutex
	slots  []sync.RWMutex
	seed   maphash.Seed
}

// NewLatches returns latches with n slots (a power of two is not required).
func NewLatches(n int) *Latches {
	return &Latches{slots: make([]sync.RWMutex, n), seed: maphash.MakeSeed()}
}

// Guard is a set of held latches.
type Guard struct {
	l      *Latches
	idx    []int
	all    bool
	shared bool
}

// Acquire blocks until every key's latch is held exclusively. A nil keys
// slice takes the whole keyspace exclusively.
func (l *Latches) Acquire(keys [][]byte) Guard {
	return l.acquire(keys, false)
}

// AcquireShared is Acquire for a transaction that writes nothing: it
// shares each key's latch with other shared holders and excludes
// exclusive ones. A nil keys slice takes the whole keyspace exclusively.
func (l *Latches) AcquireShared(keys [][]byte) Guard {
	return l.acquire(keys, true)
}

func (l *Latches) acquire(keys [][]byte, shared bool) Guard {
	if keys == nil {
		l.global.Lock()
		return Guard{l: l, all: true}
	}
	l.global.RLock()
	idx := make([]int, 0, len(keys))
	for _, k := range keys {
		idx = append(idx, l.slotOf(k))
	}
	sort.Ints(idx)
	out := idx[:0]
	for i, x := range idx {
		if i == 0 || x != idx[i-1] {
			out = append(out, x)
		}
	}
	for _, x := range out {
		if shared {
			l.slots[x].RLock()
		} else {
			l.slots[x].Lock()
		}
	}
	return Guard{l: l, idx: out, shared: shared}
}

// slotOf returns the index of k's latch slot.
func (l *Latches) slotOf(k []byte) int {
	return int(maphash.Bytes(l.seed, k) % uint64(len(l.slots)))
}

// Release frees the latches.
func (g Guard) Release() {
	if g.all {
		g.l.global.Unlock()
		return
	}
	for i := len(g.idx) - 1; i >= 0; i-- {
		if g.shared {
			g.l.slots[g.idx[i]].RUnlock()
		} else {
			g.l.slots[g.idx[i]].Unlock()
		}
	}
	g.l.global.RUnlock()
}
