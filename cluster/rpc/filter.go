package rpc

import (
	"fmt"
	"sync"
	"time"
)

// Kind names the kind of traffic a Filter is asked about.
type Kind uint8

// Kinds of traffic.
const (
	KindRaft     Kind = iota + 1 // one raft message (Send)
	KindSnapshot                 // one snapshot stream (SendSnapshot)
	KindForward                  // one forwarded command (Forward)
)

func (k Kind) String() string {
	switch k {
	case KindRaft:
		return "raft"
	case KindSnapshot:
		return "snapshot"
	case KindForward:
		return "forward"
	}
	return fmt.Sprintf("Kind(%d)", uint8(k))
}

// Action is a Filter's verdict. The zero Action delivers at once.
type Action struct {
	// Drop discards the traffic: raft messages vanish (counted as
	// "filtered"), snapshots and forwards fail with ErrUnreachable.
	Drop bool
	// Delay postpones delivery by this long (ignored when Drop). Delayed
	// raft messages may overtake each other.
	Delay time.Duration
}

// Partition is a ready-made Filter for tests and the chaos harness: traffic
// between cut pairs of stores is dropped in both directions. Give every
// node's Client the same Partition (ClientOptions.Filter = p.Filter). The
// zero value cuts nothing and is ready to use.
type Partition struct {
	mu  sync.RWMutex
	cut map[[2]uint64]bool
}

func pairOf(a, b uint64) [2]uint64 {
	if a > b {
		a, b = b, a
	}
	return [2]uint64{a, b}
}

// Cut drops traffic between stores a and b.
func (p *Partition) Cut(a, b uint64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cut == nil {
		p.cut = map[[2]uint64]bool{}
	}
	p.cut[pairOf(a, b)] = true
}

// Isolate cuts store a from each of others.
func (p *Partition) Isolate(a uint64, others ...uint64) {
	for _, o := range others {
		p.Cut(a, o)
	}
}

// Heal restores traffic between a and b.
func (p *Partition) Heal(a, b uint64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.cut, pairOf(a, b))
}

// HealAll restores all traffic.
func (p *Partition) HealAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = nil
}

// Filter is a ClientOptions.Filter.
func (p *Partition) Filter(from, to uint64, _ Kind) Action {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return Action{Drop: p.cut[pairOf(from, to)]}
}
