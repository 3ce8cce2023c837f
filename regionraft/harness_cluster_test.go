package regionraft

import (
	"context"
	"encoding/binary"
	"errors"
	"testing"
	"time"

	"github.com/skerrydb/skerry/mvcc/engine"
	"github.com/skerrydb/skerry/mvcc/keys"
)

// testCluster runs in-process stores over one chanTransport. Each store has
// its own testEngine; restart models a power loss (only synced writes
// survive) and reopens a Store over what is left.
type testCluster struct {
	t       *testing.T
	tr      *chanTransport
	engines map[uint64]*testEngine
	stores  map[uint64]*Store
	live    map[uint64]bool
	tune    func(*Config)
}

// newTestCluster starts stores storeIDs; each bootstraps the regions that
// have a peer on it.
func newTestCluster(t *testing.T, storeIDs []uint64, tune func(*Config), regions ...Region) *testCluster {
	c := &testCluster{t: t, tr: newChanTransport(), engines: map[uint64]*testEngine{},
		stores: map[uint64]*Store{}, live: map[uint64]bool{}, tune: tune}
	t.Cleanup(c.close)
	for _, id := range storeIDs {
		c.engines[id] = newTestEngine()
		c.open(id, regions...)
	}
	return c
}

func (c *testCluster) open(id uint64, regions ...Region) {
	c.t.Helper()
	eng := c.engines[id]
	cfg := testConfig(id, eng, newRecApplier(eng))
	cfg.Transport = c.tr
	if c.tune != nil {
		c.tune(&cfg)
	}
	s, err := NewStore(cfg)
	if err != nil {
		c.t.Fatalf("store %d: %v", id, err)
	}
	for _, r := range regions {
		if _, ok := r.PeerOnStore(id); ok {
			if err := s.BootstrapRegion(r); err != nil {
				c.t.Fatal(err)
			}
		}
	}
	c.tr.register(id, s)
	s.Start()
	c.stores[id] = s
	c.live[id] = true
}

// crash stops store id and drops its unsynced writes.
func (c *testCluster) crash(id uint64) {
	c.stores[id].Stop()
	if err := c.stores[id].Err(); err != nil {
		c.t.Fatalf("store %d failed: %v", id, err)
	}
	c.engines[id] = c.engines[id].Crash()
	c.live[id] = false
}

func (c *testCluster) restart(id uint64) {
	c.crash(id)
	c.open(id)
}

func (c *testCluster) close() {
	for id, s := range c.stores {
		s.Stop()
		if err := s.Err(); err != nil {
			c.t.Errorf("store %d failed: %v", id, err)
		}
	}
	c.tr.close()
}

// leader waits for a live store that leads regionID and returns it.
func (c *testCluster) leader(regionID uint64) *Store {
	c.t.Helper()
	var ls *Store
	eventually(c.t, "a leader", func() bool {
		for id, s := range c.stores {
			if !c.live[id] {
				continue
			}
			if l, ok := s.Leader(regionID); ok && l.StoreID == id && s.isLeaderNow(regionID) {
				ls = s
				return true
			}
		}
		return false
	})
	return ls
}

// isLeaderNow asks the raft goroutine whether this store leads regionID.
func (s *Store) isLeaderNow(regionID uint64) bool {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	return s.runOnLoop(ctx, func() error {
		p := s.peers[regionID]
		if p == nil || !p.initialized {
			return ErrRegionNotFound
		}
		return p.notLeader()
	}) == nil
}

// propose retries cmd on the current leader until it is acknowledged.
func (c *testCluster) propose(regionID uint64, cmd string) {
	c.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		s := c.leader(regionID)
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		err := s.Propose(ctx, regionID, []byte(cmd))
		cancel()
		if err == nil {
			return
		}
		var nle *NotLeaderError
		if !errors.As(err, &nle) && !errors.Is(err, ErrProposalDropped) || time.Now().After(deadline) {
			c.t.Fatalf("propose %q: %v", cmd, err)
		}
	}
}

// has reports whether store id's engine holds the record of cmd.
func (c *testCluster) has(id uint64, cmd string) bool {
	_, err := c.engines[id].Get(cmdKey(cmd))
	if err != nil && !errors.Is(err, engine.ErrNotFound) {
		c.t.Fatal(err)
	}
	return err == nil
}

// waitHas waits until every store in ids holds every cmd.
func (c *testCluster) waitHas(ids []uint64, cmds []string) {
	c.t.Helper()
	for _, id := range ids {
		for _, cmd := range cmds {
			eventually(c.t, "store has "+cmd, func() bool { return c.has(id, cmd) })
		}
	}
}

func (c *testCluster) tombstone(id, regionID uint64) (uint64, bool) {
	v, err := c.engines[id].Get(keys.RegionTombstoneKey(regionID))
	if err != nil {
		return 0, false
	}
	id2, n := binary.Uvarint(v)
	return id2, n > 0
}
