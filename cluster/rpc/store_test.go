package rpc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"go.etcd.io/raft/v3"

	"github.com/skerrydb/skerry/mvcc/engine"
	"github.com/skerrydb/skerry/mvcc/engine/pebbleengine"
	"github.com/skerrydb/skerry/regionraft"
)

// storeHandler serves a regionraft.Store (what the node will do).
type storeHandler struct{ s *regionraft.Store }

var errNoSnapshots = errors.New("test: snapshots not supported")

func (h storeHandler) Step(m regionraft.RaftMessage) error { return h.s.Step(m) }
func (h storeHandler) ReceiveSnapshot(context.Context, regionraft.RaftMessage, io.Reader) error {
	return errNoSnapshots
}
func (h storeHandler) Forward(context.Context, *ForwardRequest) (*ForwardResponse, error) {
	return nil, errors.New("test: no forwarding")
}

// countingApplier counts applied commands per store.
type countingApplier struct {
	mu      sync.Mutex
	applied []string
}

func (a *countingApplier) Apply(_ engine.Batch, _ *regionraft.Region, _ uint64, cmd []byte) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.applied = append(a.applied, string(cmd))
	return nil
}

func (a *countingApplier) count() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.applied)
}

// TestRegionReplicatesOverRPC runs three regionraft Stores that talk only
// through this package: a region elects a leader, replicates proposals to
// every replica, and elects a new leader when the old one is partitioned
// away.
func TestRegionReplicatesOverRPC(t *testing.T) {
	if testing.Short() {
		t.Skip("3-store cluster")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	const n = 3
	r := newResolver()
	var part Partition
	region := regionraft.Region{ID: 1, Peers: []regionraft.Peer{{ID: 101, StoreID: 1}, {ID: 102, StoreID: 2}, {ID: 103, StoreID: 3}}}
	stores := make([]*regionraft.Store, n+1)
	appliers := make([]*countingApplier, n+1)
	for id := uint64(1); id <= n; id++ {
		eng, err := pebbleengine.Open(pebbleengine.Options{Dir: "/", FS: vfs.NewMem(), CacheSize: 8 << 20})
		if err != nil {
			t.Fatal(err)
		}
		client := newTestClient(t, id, r, ClientOptions{Filter: part.Filter, MinBackoff: 5 * time.Millisecond, MaxBackoff: 50 * time.Millisecond})
		appliers[id] = &countingApplier{}
		s, err := regionraft.NewStore(regionraft.Config{
			StoreID: id, Engine: eng, Applier: appliers[id], Transport: client,
			TickInterval: 10 * time.Millisecond,
			Logger:       &raft.DefaultLogger{Logger: log.New(io.Discard, "", 0)},
		})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.BootstrapRegion(region); err != nil {
			t.Fatal(err)
		}
		stores[id] = s
		// Cleanups run last-in first-out: the store stops before its client
		// closes and its server stops; the engine closes last.
		t.Cleanup(func() { _ = eng.Close() })
		_, addr := startServer(t, storeHandler{s}, ServerOptions{}, "")
		r.set(id, addr)
		t.Cleanup(s.Stop)
		s.Start()
	}

	leader := func(exclude uint64) uint64 {
		var l uint64
		waitFor(t, "a leader", func() bool {
			for id := uint64(1); id <= n; id++ {
				if id == exclude {
					continue
				}
				if p, ok := stores[id].Leader(1); ok && p.StoreID != exclude {
					l = p.StoreID
					return true
				}
			}
			return false
		})
		return l
	}
	propose := func(on uint64, from, to int) {
		for i := from; i < to; i++ {
			var err error
			// A fresh leader may still refuse: retry within the deadline.
			for {
				if err = stores[on].Propose(ctx, 1, fmt.Appendf(nil, "cmd-%d", i)); err == nil || ctx.Err() != nil {
					break
				}
				time.Sleep(5 * time.Millisecond)
			}
			if err != nil {
				t.Fatalf("propose %d on store %d: %v", i, on, err)
			}
		}
	}

	l := leader(0)
	propose(l, 0, 20)
	waitFor(t, "every replica applies 20 commands", func() bool {
		for id := 1; id <= n; id++ {
			if appliers[id].count() < 20 {
				return false
			}
		}
		return true
	})

	// Cut the leader off: the other two elect a new leader and go on.
	for id := uint64(1); id <= n; id++ {
		if id != l {
			part.Cut(l, id)
		}
	}
	l2 := leader(l)
	propose(l2, 20, 30)
	part.HealAll()
	waitFor(t, "every replica, the healed one too, applies 30 commands", func() bool {
		for id := 1; id <= n; id++ {
			if appliers[id].count() < 30 {
				return false
			}
		}
		return true
	})
}
