package regionraft

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log"
	"os"
	"sync"
	"testing"
	"time"

	"go.etcd.io/raft/v3"

	"github.com/skerrydb/skerry/mvcc/engine"
	"github.com/skerrydb/skerry/mvcc/keys"
	"github.com/skerrydb/skerry/regionraft/internal/memengine"
)

// testEngine wraps a memengine, counts batch commits and models durability:
// only writes committed with sync (or followed by Sync) survive Crash.
type testEngine struct {
	*memengine.Engine
	mu          sync.Mutex
	durable     *memengine.Engine
	pending     [][]memengine.Op
	syncCommits int
	commits     int
	syncDelay   time.Duration // simulated fsync time
	block       chan struct{} // if non-nil, sync commits wait on it
	blocked     chan struct{} // signalled when a sync commit starts waiting
}

func newTestEngine() *testEngine {
	return &testEngine{Engine: memengine.New(), durable: memengine.New()}
}

func (e *testEngine) NewBatch() engine.Batch {
	return &testBatch{e: e, b: e.Engine.NewBatch().(*memengine.Batch)}
}

func (e *testEngine) Sync() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.flushLocked()
}

func (e *testEngine) flushLocked() error {
	for _, ops := range e.pending {
		if err := e.durable.Apply(ops); err != nil {
			return err
		}
	}
	e.pending = nil
	return nil
}

// Crash returns a new engine holding only the durable writes.
func (e *testEngine) Crash() *testEngine {
	e.mu.Lock()
	defer e.mu.Unlock()
	return &testEngine{Engine: e.durable.Clone(), durable: e.durable.Clone()}
}

func (e *testEngine) counts() (sync, all int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.syncCommits, e.commits
}

type testBatch struct {
	e *testEngine
	b *memengine.Batch
}

func (b *testBatch) Set(k, v []byte) error         { return b.b.Set(k, v) }
func (b *testBatch) Delete(k []byte) error         { return b.b.Delete(k) }
func (b *testBatch) DeleteRange(s, e []byte) error { return b.b.DeleteRange(s, e) }
func (b *testBatch) Count() int                    { return b.b.Count() }
func (b *testBatch) Close() error                  { return b.b.Close() }
func (b *testBatch) Commit(sync bool) error {
	if sync {
		b.e.mu.Lock()
		block, blocked, delay := b.e.block, b.e.blocked, b.e.syncDelay
		b.e.mu.Unlock()
		if block != nil {
			blocked <- struct{}{}
			<-block
		}
		time.Sleep(delay) // simulated fsync, not a wait for state
	}
	b.e.mu.Lock()
	defer b.e.mu.Unlock()
	ops := b.b.Ops()
	if err := b.b.Commit(sync); err != nil {
		return err
	}
	b.e.pending = append(b.e.pending, ops)
	b.e.commits++
	if sync {
		b.e.syncCommits++
		return b.e.flushLocked()
	}
	return nil
}

// recApplier writes one record per command and checks exactly-once, in-order
// application: an index at or below the last applied one is an error.
type recApplier struct {
	eng  engine.Engine
	mu   sync.Mutex
	log  map[uint64][]applied // per region, this incarnation only
	last map[uint64]uint64
	// lastBatch is the batch of the last Apply per region: commands packed
	// in one entry share its index and are applied into one batch.
	lastBatch map[uint64]engine.Batch
}

type applied struct {
	index uint64
	cmd   string
}

func newRecApplier(eng engine.Engine) *recApplier {
	return &recApplier{eng: eng, log: map[uint64][]applied{}, last: map[uint64]uint64{}, lastBatch: map[uint64]engine.Batch{}}
}

// Test-only physical keys, built with the keys package.
func cmdKey(cmd string) []byte       { return keys.DataKey([]byte(cmd), 0) }
func lastKey(regionID uint64) []byte { return keys.WriteKey([]byte("applier-last"), regionID) }

func (a *recApplier) Apply(b engine.Batch, r *Region, index uint64, cmd []byte) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	last, ok := a.last[r.ID]
	if !ok {
		v, err := a.eng.Get(lastKey(r.ID))
		switch {
		case err == nil:
			last = binary.BigEndian.Uint64(v)
		case !errors.Is(err, engine.ErrNotFound):
			return err
		}
	}
	if index < last || index == last && a.lastBatch[r.ID] != b {
		return fmt.Errorf("test applier: region %d index %d applied twice (last %d)", r.ID, index, last)
	}
	a.last[r.ID], a.lastBatch[r.ID] = index, b
	a.log[r.ID] = append(a.log[r.ID], applied{index, string(cmd)})
	if err := b.Set(cmdKey(string(cmd)), binary.BigEndian.AppendUint64(nil, index)); err != nil {
		return err
	}
	return b.Set(lastKey(r.ID), binary.BigEndian.AppendUint64(nil, index))
}

func (a *recApplier) entries(regionID uint64) []applied {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]applied(nil), a.log[regionID]...)
}

var quietLogger raft.Logger = &raft.DefaultLogger{Logger: log.New(io.Discard, "", 0)}

// RAFTLOG=1 shows raft's log lines when debugging a test.
func init() {
	if os.Getenv("RAFTLOG") != "" {
		quietLogger = &raft.DefaultLogger{Logger: log.New(os.Stderr, "", log.Lmicroseconds)}
	}
}

func testConfig(storeID uint64, eng engine.Engine, ap Applier) Config {
	return Config{
		StoreID: storeID, Engine: eng, Applier: ap,
		TickInterval: 10 * time.Millisecond, ElectionTick: 10, HeartbeatTick: 2,
		Logger: quietLogger,
	}
}

func soloRegion(id uint64) Region {
	return Region{ID: id, Epoch: Epoch{ConfVer: 1, Version: 1}, Peers: []Peer{{ID: id*10 + 1, StoreID: 1}}}
}

// openStarted opens a Store over eng, bootstraps regions, starts it and
// waits for their leaders.
func openStarted(t *testing.T, cfg Config, regions ...Region) *Store {
	t.Helper()
	s, err := NewStore(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range regions {
		if err := s.BootstrapRegion(r); err != nil {
			t.Fatal(err)
		}
	}
	s.Start()
	t.Cleanup(s.Stop)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, r := range s.Regions() {
		if err := s.WaitLeader(ctx, r.ID); err != nil {
			t.Fatalf("region %d: %v", r.ID, err)
		}
	}
	return s
}

// openLeaderless starts store 1 with region r, whose other voters' stores
// never run: its peer stays without a leader.
func openLeaderless(t *testing.T, r Region) *Store {
	t.Helper()
	eng := newTestEngine()
	s, err := NewStore(testConfig(1, eng, newRecApplier(eng)))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.BootstrapRegion(r); err != nil {
		t.Fatal(err)
	}
	s.Start()
	t.Cleanup(s.Stop)
	return s
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}
