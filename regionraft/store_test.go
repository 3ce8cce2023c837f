package regionraft

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"

	"github.com/skerrydb/skerry/mvcc/engine"
	"github.com/skerrydb/skerry/mvcc/keys"
	"github.com/skerrydb/skerry/regionraft/internal/memengine"
)

func proposeN(t *testing.T, s *Store, regionID uint64, prefix string, n int) {
	t.Helper()
	for i := 0; i < n; i++ {
		if err := s.Propose(ctxT(t), regionID, []byte(fmt.Sprintf("%s%04d", prefix, i))); err != nil {
			t.Fatalf("propose %d: %v", i, err)
		}
	}
}

func TestProposeApplyOrder(t *testing.T) {
	eng := newTestEngine()
	ap := newRecApplier(eng)
	s := openStarted(t, testConfig(1, eng, ap), soloRegion(1))
	if l, ok := s.Leader(1); !ok || l != (Peer{ID: 11, StoreID: 1}) {
		t.Fatalf("leader = %v %v", l, ok)
	}
	proposeN(t, s, 1, "a", 50)
	got := ap.entries(1)
	if len(got) != 50 {
		t.Fatalf("applied %d entries, want 50", len(got))
	}
	for i, e := range got {
		if want := fmt.Sprintf("a%04d", i); e.cmd != want {
			t.Fatalf("entry %d = %q, want %q", i, e.cmd, want)
		}
		if i > 0 && e.index <= got[i-1].index {
			t.Fatalf("indexes not increasing: %v", got[:i+1])
		}
	}
	// Acknowledged means applied and durable: the record is in the engine.
	if _, err := eng.Get(cmdKey("a0049")); err != nil {
		t.Fatal(err)
	}
	if err := s.ReadBarrier(ctxT(t), 1); err != nil {
		t.Fatal(err)
	}
	if n := len(s.Collectors()); n == 0 {
		t.Fatal("no collectors")
	}
}

func TestConcurrentProposalsAreBatched(t *testing.T) {
	eng := newTestEngine()
	eng.syncDelay = 2 * time.Millisecond
	ap := newRecApplier(eng)
	s := openStarted(t, testConfig(1, eng, ap), soloRegion(1), soloRegion(2))
	syncBefore, _ := eng.counts()
	const n = 200
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- s.Propose(ctxT(t), uint64(1+i%2), []byte(fmt.Sprintf("c%03d", i)))
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if got := len(ap.entries(1)) + len(ap.entries(2)); got != n {
		t.Fatalf("applied %d, want %d", got, n)
	}
	syncAfter, _ := eng.counts()
	if fsyncs := syncAfter - syncBefore; fsyncs >= n/2 {
		t.Fatalf("%d fsyncs for %d proposals: no group commit", fsyncs, n)
	} else {
		t.Logf("%d proposals on 2 regions, %d fsyncs", n, fsyncs)
	}
}

func TestRestartRecovery(t *testing.T) {
	eng := newTestEngine()
	cfg := testConfig(1, eng, newRecApplier(eng))
	s := openStarted(t, cfg, soloRegion(1))
	proposeN(t, s, 1, "r", 30)
	s.Stop()
	if err := s.Propose(ctxT(t), 1, []byte("late")); !errors.Is(err, ErrStopped) {
		t.Fatalf("propose after stop: %v", err)
	}

	ap := newRecApplier(eng)
	cfg.Applier = ap
	s2 := openStarted(t, cfg) // region comes from the engine
	if r, ok := s2.Region(1); !ok || !r.equal(&Region{ID: 1, Epoch: Epoch{1, 1}, Peers: []Peer{{ID: 11, StoreID: 1}}}) {
		t.Fatalf("region after restart = %+v %v", r, ok)
	}
	if err := s2.BootstrapRegion(soloRegion(1)); err != nil {
		t.Fatalf("idempotent bootstrap: %v", err)
	}
	other := soloRegion(1)
	other.EndKey = []byte("z")
	if err := s2.BootstrapRegion(other); !errors.Is(err, ErrRegionExists) {
		t.Fatalf("conflicting bootstrap: %v", err)
	}
	proposeN(t, s2, 1, "s", 5)
	got := ap.entries(1)
	if len(got) != 5 {
		t.Fatalf("after restart applied %v (old entries reapplied?)", got)
	}
	for _, k := range []string{"r0000", "r0029", "s0004"} {
		if _, err := eng.Get(cmdKey(k)); err != nil {
			t.Fatalf("%s: %v", k, err)
		}
	}
}

func logKeys(t *testing.T, eng engine.Engine, regionID uint64) (n int, first uint64) {
	t.Helper()
	lo, hi := keys.RaftLogRange(regionID)
	it, err := eng.NewIter(lo, hi)
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	for ok := it.First(); ok; ok = it.Next() {
		if n == 0 {
			first, _ = keys.RaftLogIndex(it.Key())
		}
		n++
	}
	return n, first
}

func TestLogGCAndRestart(t *testing.T) {
	eng := newTestEngine()
	cfg := testConfig(1, eng, newRecApplier(eng))
	cfg.RaftLogGCThreshold = 20
	cfg.EntryCacheSize = 8 // force engine reads of the log
	s := openStarted(t, cfg, soloRegion(1))
	proposeN(t, s, 1, "g", 100)
	eventually(t, "log truncation", func() bool {
		n, first := logKeys(t, eng, 1)
		return n <= 21 && first > 80
	})
	s.Stop()

	ap := newRecApplier(eng)
	cfg.Applier = ap
	s2 := openStarted(t, cfg)
	proposeN(t, s2, 1, "h", 30)
	if got := ap.entries(1); len(got) != 30 || got[0].cmd != "h0000" {
		t.Fatalf("after GC+restart applied %d entries starting %v", len(got), got[:1])
	}
	if n, _ := logKeys(t, eng, 1); n > 21 {
		t.Fatalf("%d log entries kept, threshold 20", n)
	}
}

// Big entries are collected by size long before their count matters; the
// size hint and the cache's byte count stay consistent with what is held.
func TestLogGCBySize(t *testing.T) {
	eng := newTestEngine()
	cfg := testConfig(1, eng, newRecApplier(eng))
	cfg.RaftLogGCSizeLimit = 64 << 10 // 64 KiB: ~16 of the 4 KiB commands below
	s := openStarted(t, cfg, soloRegion(1))
	ctx := ctxT(t)
	pad := strings.Repeat("x", 4<<10)
	for i := 0; i < 100; i++ {
		if err := s.Propose(ctx, 1, []byte(fmt.Sprintf("s%04d%s", i, pad))); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, "log truncation by size", func() bool {
		n, first := logKeys(t, eng, 1)
		return n <= 20 && first > 80
	})
	if err := s.runOnLoop(ctx, func() error {
		ps := s.peers[1].storage
		if got := entriesBytes(ps.cache); got != ps.cacheBytes {
			return fmt.Errorf("cacheBytes %d, cache holds %d", ps.cacheBytes, got)
		}
		if ps.logBytes > 2*cfg.RaftLogGCSizeLimit {
			return fmt.Errorf("log size hint %d after truncation", ps.logBytes)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

// The entry cache is bounded in bytes as well as entries: it keeps the
// newest entries within cacheMaxBytes (at least one).
func TestEntryCacheBoundedInBytes(t *testing.T) {
	ps := &peerStorage{cacheCap: 1024, last: 0}
	big := strings.Repeat("y", cacheMaxBytes/4)
	b := memengine.New().NewBatch()
	for i := uint64(1); i <= 12; i++ {
		if err := ps.append(b, []*raftpb.Entry{{Index: proto.Uint64(i), Term: proto.Uint64(1), Data: []byte(big)}}); err != nil {
			t.Fatal(err)
		}
		if ps.cacheBytes != entriesBytes(ps.cache) || ps.cacheBytes > 2*cacheMaxBytes {
			t.Fatalf("after %d entries: cacheBytes %d, held %d", i, ps.cacheBytes, entriesBytes(ps.cache))
		}
	}
	if n := len(ps.cache); n < 4 || n > 8 || ps.cache[n-1].GetIndex() != 12 {
		t.Fatalf("cache holds %d entries ending at %d", n, ps.cache[n-1].GetIndex())
	}
	// A replaced suffix is recounted.
	if err := ps.append(b, []*raftpb.Entry{{Index: proto.Uint64(12), Term: proto.Uint64(2), Data: []byte("z")}}); err != nil {
		t.Fatal(err)
	}
	if ps.cacheBytes != entriesBytes(ps.cache) {
		t.Fatalf("after a conflicting append: cacheBytes %d, held %d", ps.cacheBytes, entriesBytes(ps.cache))
	}
}

func TestUnknownRegion(t *testing.T) {
	eng := newTestEngine()
	s := openStarted(t, testConfig(1, eng, newRecApplier(eng)), soloRegion(1))
	if err := s.Propose(ctxT(t), 7, []byte("x")); !errors.Is(err, ErrRegionNotFound) {
		t.Fatalf("propose: %v", err)
	}
	if err := s.ReadBarrier(ctxT(t), 7); !errors.Is(err, ErrRegionNotFound) {
		t.Fatalf("read: %v", err)
	}
	if err := s.WaitLeader(ctxT(t), 7); !errors.Is(err, ErrRegionNotFound) {
		t.Fatalf("wait leader: %v", err)
	}
	if _, ok := s.Leader(7); ok {
		t.Fatal("leader of unknown region")
	}
}

func TestStopFailsPendingProposals(t *testing.T) {
	eng := newTestEngine()
	s := openStarted(t, testConfig(1, eng, newRecApplier(eng)), soloRegion(1))
	eng.mu.Lock()
	eng.block, eng.blocked = make(chan struct{}), make(chan struct{}, 1)
	eng.mu.Unlock()
	errc := make(chan error, 1)
	go func() { errc <- s.Propose(context.Background(), 1, []byte("pending")) }()
	<-eng.blocked // the raft goroutine is persisting the entry
	stopped := make(chan struct{})
	go func() { s.Stop(); close(stopped) }()
	eventually(t, "stop requested", func() bool {
		select {
		case <-s.stopC:
			return true
		default:
			return false
		}
	})
	close(eng.block)
	<-stopped
	if err := <-errc; !errors.Is(err, ErrStopped) {
		t.Fatalf("pending proposal: %v", err)
	}
	if err := s.ReadBarrier(ctxT(t), 1); !errors.Is(err, ErrStopped) {
		t.Fatalf("read after stop: %v", err)
	}
}

func TestProposeContextCanceled(t *testing.T) {
	eng := newTestEngine()
	s := openStarted(t, testConfig(1, eng, newRecApplier(eng)), soloRegion(1))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.Propose(ctx, 1, []byte("x")); !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v", err)
	}
}

func TestApplierErrorStopsStore(t *testing.T) {
	eng := newTestEngine()
	s := openStarted(t, testConfig(1, eng, failApplier{}), soloRegion(1))
	var fe *FatalError
	if err := s.Propose(ctxT(t), 1, []byte("x")); !errors.As(err, &fe) {
		t.Fatalf("got %v", err)
	}
	if s.Err() == nil {
		t.Fatal("Err() nil after fatal error")
	}
}

type failApplier struct{}

func (failApplier) Apply(engine.Batch, *Region, uint64, []byte) error { return errors.New("boom") }

// TestCrashKeepsAcknowledgedProposals crashes the engine (drops every write
// after the last fsync) while proposals are in flight, reopens it and checks
// that every acknowledged proposal is applied, and nothing twice (the
// applier fails on a repeated index).
func TestCrashKeepsAcknowledgedProposals(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for round := 0; round < 3; round++ {
		eng := newTestEngine()
		eng.syncDelay = 200 * time.Microsecond
		cfg := testConfig(1, eng, newRecApplier(eng))
		cfg.RaftLogGCThreshold = 16
		s := openStarted(t, cfg, soloRegion(1))
		r, _ := s.Region(1)
		epoch := r.Epoch

		var mu sync.Mutex
		var acked []string
		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		for w := 0; w < 8; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; ctx.Err() == nil && i < 10000; i++ {
					cmd := fmt.Sprintf("w%d-%d", w, i)
					propose := func() error { return s.Propose(ctx, 1, []byte(cmd)) }
					if w%2 == 1 { // epoch commands: batched in shared entries
						propose = func() error { return s.ProposeEpoch(ctx, 1, epoch, []byte(cmd)) }
					}
					if propose() == nil {
						mu.Lock()
						acked = append(acked, cmd)
						mu.Unlock()
					}
				}
			}()
		}
		target := 50 + rng.IntN(200)
		eventually(t, "some acknowledgements", func() bool {
			mu.Lock()
			defer mu.Unlock()
			return len(acked) >= target
		})
		mu.Lock()
		before := append([]string(nil), acked...)
		mu.Unlock()
		crashed := eng.Crash()
		cancel()
		wg.Wait()
		s.Stop()

		cfg.Engine = crashed
		cfg.Applier = newRecApplier(crashed)
		s2 := openStarted(t, cfg)
		if err := s2.Propose(ctxT(t), 1, []byte("after-crash")); err != nil {
			t.Fatalf("round %d: propose after crash: %v", round, err)
		}
		for _, cmd := range before {
			if _, err := crashed.Get(cmdKey(cmd)); err != nil {
				t.Fatalf("round %d: acknowledged %s lost: %v", round, cmd, err)
			}
		}
		s2.Stop()
		if err := s2.Err(); err != nil {
			t.Fatal(err)
		}
	}
}

func TestBootstrapAfterStart(t *testing.T) {
	eng := newTestEngine()
	ap := newRecApplier(eng)
	s := openStarted(t, testConfig(1, eng, ap), soloRegion(1))
	r2 := soloRegion(2)
	r2.StartKey = []byte("m")
	if err := s.BootstrapRegion(r2); err != nil {
		t.Fatal(err)
	}
	if err := s.WaitLeader(ctxT(t), 2); err != nil {
		t.Fatal(err)
	}
	proposeN(t, s, 2, "b", 3)
	if got := s.Regions(); len(got) != 2 || got[1].ID != 2 || string(got[1].StartKey) != "m" {
		t.Fatalf("regions = %+v", got)
	}
	if err := s.BootstrapRegion(Region{ID: 3, Peers: []Peer{{ID: 31, StoreID: 9}}}); !errors.Is(err, ErrInvalidRegion) {
		t.Fatalf("region without local peer: %v", err)
	}
}

// TestReadBarrierAfterRestartSeesAcknowledgedWrites: acknowledged writes
// whose apply was not yet durable are replayed after a restart, and a read
// barrier on the restarted single-voter leader must wait for that replay
// rather than take the solo-leader shortcut too early.
func TestReadBarrierAfterRestartSeesAcknowledgedWrites(t *testing.T) {
	eng := newTestEngine()
	cfg := testConfig(1, eng, newRecApplier(eng))
	s := openStarted(t, cfg, soloRegion(1))
	proposeN(t, s, 1, "w", 50)
	crashed := eng.Crash() // keeps the fsynced log, loses the unsynced applies
	s.Stop()
	if _, err := crashed.Get(cmdKey("w0049")); err == nil {
		t.Skip("the last apply happened to be durable; nothing to replay")
	}
	// Slow fsyncs widen the window between becoming leader and applying
	// the replayed entries, where a premature shortcut would be caught.
	crashed.syncDelay = 50 * time.Millisecond
	cfg.Engine = crashed
	cfg.Applier = newRecApplier(crashed)
	s2, err := NewStore(cfg)
	if err != nil {
		t.Fatal(err)
	}
	s2.Start()
	defer s2.Stop()
	ctx := ctxT(t)
	if err := s2.WaitLeader(ctx, 1); err != nil {
		t.Fatal(err)
	}
	for {
		err := s2.ReadBarrier(ctx, 1)
		if err == nil {
			break
		}
		var nl *NotLeaderError
		if !errors.As(err, &nl) {
			t.Fatal(err)
		}
	}
	for i := 0; i < 50; i++ {
		if _, err := crashed.Get(cmdKey(fmt.Sprintf("w%04d", i))); err != nil {
			t.Fatalf("read barrier passed before acknowledged w%04d was re-applied", i)
		}
	}
}

func TestRegionForKeys(t *testing.T) {
	eng := newTestEngine()
	a, b := soloRegion(1), soloRegion(2)
	a.EndKey = []byte("m")
	b.StartKey = []byte("m")
	s := openStarted(t, testConfig(1, eng, newRecApplier(eng)), a, b)
	for _, c := range []struct {
		keys [][]byte
		id   uint64
		ok   bool
	}{
		{[][]byte{[]byte("a"), []byte("l")}, 1, true},
		{[][]byte{[]byte("m"), []byte("z")}, 2, true},
		{[][]byte{[]byte("a"), []byte("z")}, 0, false}, // spans both
		{nil, 1, true}, // keyless: the lowest region
	} {
		id, ok := s.RegionForKeys(c.keys)
		if id != c.id || ok != c.ok {
			t.Errorf("RegionForKeys(%q) = %d, %v; want %d, %v", c.keys, id, ok, c.id, c.ok)
		}
	}
}

// TestFresh: only a store that never held a replica is fresh: a
// bootstrapped region, or the tombstone of a destroyed one, makes it not.
func TestFresh(t *testing.T) {
	eng := newTestEngine()
	s, err := NewStore(testConfig(1, eng, newRecApplier(eng)))
	if err != nil {
		t.Fatal(err)
	}
	if fresh, err := s.Fresh(); err != nil || !fresh {
		t.Fatalf("empty engine: fresh %v %v", fresh, err)
	}
	if err := s.BootstrapRegion(soloRegion(1)); err != nil {
		t.Fatal(err)
	}
	if fresh, err := s.Fresh(); err != nil || fresh {
		t.Fatalf("with a region: fresh %v %v", fresh, err)
	}
	s.Stop()

	eng2 := newTestEngine()
	b := eng2.NewBatch()
	if err := b.Set(keys.RegionTombstoneKey(7), []byte{3}); err != nil {
		t.Fatal(err)
	}
	if err := b.Commit(true); err != nil {
		t.Fatal(err)
	}
	b.Close()
	s2, err := NewStore(testConfig(1, eng2, newRecApplier(eng2)))
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Stop()
	if fresh, err := s2.Fresh(); err != nil || fresh {
		t.Fatalf("with a tombstone only: fresh %v %v", fresh, err)
	}
}

// TestDestroyStalePeer: a leaderless peer is a stale candidate; it is
// destroyed only against a descriptor with a newer configuration that no
// longer includes it, and leaves a tombstone.
func TestDestroyStalePeer(t *testing.T) {
	// Two voters, the other store never runs: no leader here.
	s := openLeaderless(t, Region{ID: 1, Epoch: Epoch{ConfVer: 3, Version: 1}, Peers: []Peer{{ID: 11, StoreID: 1}, {ID: 21, StoreID: 2}}})
	eng := s.cfg.Engine
	ctx := ctxT(t)
	cands, err := s.StaleCandidates(ctx)
	if err != nil || len(cands) != 1 || cands[0].Self.ID != 11 || cands[0].Region.Epoch.ConfVer != 3 {
		t.Fatalf("candidates %+v %v", cands, err)
	}
	for _, tc := range []struct {
		name    string
		current Region
	}{
		{"same configuration", Region{ID: 1, Epoch: Epoch{ConfVer: 3, Version: 1}, Peers: []Peer{{ID: 21, StoreID: 2}}}},
		{"still a member", Region{ID: 1, Epoch: Epoch{ConfVer: 5, Version: 1}, Peers: []Peer{{ID: 11, StoreID: 1}, {ID: 21, StoreID: 2}}}},
	} {
		if ok, err := s.DestroyStalePeer(ctx, 1, 11, tc.current); ok || err != nil {
			t.Fatalf("%s: destroyed %v %v", tc.name, ok, err)
		}
	}
	if ok, err := s.DestroyStalePeer(ctx, 1, 12, Region{ID: 1, Epoch: Epoch{ConfVer: 5, Version: 1}}); ok || err != nil {
		t.Fatalf("another peer id: destroyed %v %v", ok, err)
	}
	if _, ok := s.Region(1); !ok {
		t.Fatal("region gone before its removal was shown")
	}
	current := Region{ID: 1, Epoch: Epoch{ConfVer: 5, Version: 1}, Peers: []Peer{{ID: 21, StoreID: 2}, {ID: 31, StoreID: 3}}}
	if ok, err := s.DestroyStalePeer(ctx, 1, 11, current); !ok || err != nil {
		t.Fatalf("removed peer: destroyed %v %v", ok, err)
	}
	if _, ok := s.Region(1); ok {
		t.Fatal("destroyed region still published")
	}
	v, err := eng.Get(keys.RegionTombstoneKey(1))
	if id, n := binary.Uvarint(v); err != nil || n <= 0 || id != 11 {
		t.Fatalf("tombstone %x %v", v, err)
	}
}
