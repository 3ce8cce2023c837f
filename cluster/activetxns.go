package cluster

import (
	"math"
	"sync"
	"sync/atomic"
)

// txnTracker knows a lower bound of the start timestamp of every
// transaction running on this node, for the GC safe point: the node
// reports it to PD in its store heartbeat (pdclient.StoreStats.MinStartTS)
// and its own version collector never goes above it.
//
// A transaction registers (begin) BEFORE it asks for its timestamp, with
// the largest timestamp this node has received so far as its bound: the
// TSO only grows, so the timestamp it then gets is above that bound, and
// no transaction is ever running unregistered with a timestamp the
// tracker could not account for. It unregisters (end) when it is done.
// Safe for concurrent use; sharded so that the command path does not
// contend on one mutex.
type txnTracker struct {
	last   atomic.Uint64 // the largest timestamp this node received
	next   atomic.Uint32 // round-robin shard choice
	shards [trackerShards]trackerShard
}

const trackerShards = 16

type trackerShard struct {
	mu sync.Mutex
	m  map[uint64]int // bound -> transactions registered with it
	_  [40]byte       // keep shards on separate cache lines
}

// txnToken is a registration, for end.
type txnToken struct {
	shard uint32
	bound uint64
}

// observe records a timestamp received from the TSO.
func (t *txnTracker) observe(ts uint64) {
	for {
		cur := t.last.Load()
		if ts <= cur || t.last.CompareAndSwap(cur, ts) {
			return
		}
	}
}

// begin registers a transaction about to ask for its timestamp.
func (t *txnTracker) begin() txnToken {
	tok := txnToken{shard: t.next.Add(1) % trackerShards, bound: max(t.last.Load(), 1)}
	s := &t.shards[tok.shard]
	s.mu.Lock()
	if s.m == nil {
		s.m = map[uint64]int{}
	}
	s.m[tok.bound]++
	s.mu.Unlock()
	return tok
}

// end unregisters a transaction registered by begin.
func (t *txnTracker) end(tok txnToken) {
	s := &t.shards[tok.shard]
	s.mu.Lock()
	if n := s.m[tok.bound]; n > 1 {
		s.m[tok.bound] = n - 1
	} else {
		delete(s.m, tok.bound)
	}
	s.mu.Unlock()
}

// minStartTS returns a lower bound of the start timestamp of every
// transaction running now or starting later on this node: the smallest
// bound registered, or, with none, the largest timestamp received (read
// first: a transaction registering while the shards are read has a bound
// at least that). 0 while the node has received no timestamp and runs
// nothing.
func (t *txnTracker) minStartTS() uint64 {
	m := t.last.Load()
	low := uint64(math.MaxUint64)
	for i := range t.shards {
		s := &t.shards[i]
		s.mu.Lock()
		for b := range s.m {
			low = min(low, b)
		}
		s.mu.Unlock()
	}
	if low < m || (m == 0 && low != math.MaxUint64) {
		return low
	}
	return m
}
