package disktest

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"log"
	"sync"
	"testing"
	"time"

	"go.etcd.io/raft/v3"

	"github.com/skerrydb/skerry/mvcc/engine"
	"github.com/skerrydb/skerry/mvcc/engine/pebbleengine"
	"github.com/skerrydb/skerry/mvcc/keys"
	"github.com/skerrydb/skerry/regionraft"
)

// indexApplier writes each command's log index under a test key and checks
// that indexes only grow within one Store incarnation.
type indexApplier struct {
	mu   sync.Mutex
	last uint64
	n    int
}

func (a *indexApplier) Apply(b engine.Batch, r *regionraft.Region, index uint64, cmd []byte) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if index <= a.last {
		return fmt.Errorf("index %d after %d", index, a.last)
	}
	a.last = index
	a.n++
	return b.Set(keys.DataKey(cmd, 0), binary.BigEndian.AppendUint64(nil, index))
}

func open(t *testing.T, dir string) (*pebbleengine.Engine, *regionraft.Store, *indexApplier) {
	t.Helper()
	eng, err := pebbleengine.Open(pebbleengine.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	ap := &indexApplier{}
	s, err := regionraft.NewStore(regionraft.Config{
		StoreID: 1, Engine: eng, Applier: ap, TickInterval: 10 * time.Millisecond,
		RaftLogGCThreshold: 50,
		Logger:             &raft.DefaultLogger{Logger: log.New(io.Discard, "", 0)},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.BootstrapRegion(regionraft.Region{ID: 1, Peers: []regionraft.Peer{{ID: 11, StoreID: 1}}}); err != nil {
		t.Fatal(err)
	}
	s.Start()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.WaitLeader(ctx, 1); err != nil {
		t.Fatal(err)
	}
	return eng, s, ap
}

// TestPebbleRestart proposes concurrently on real disk (group commit with
// real fsyncs), restarts the engine and store, and keeps going.
func TestPebbleRestart(t *testing.T) {
	dir := t.TempDir()
	eng, s, ap := open(t, dir)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, 200)
	for i := 0; i < 200; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- s.Propose(ctx, 1, []byte(fmt.Sprintf("k%03d", i)))
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if ap.n != 200 {
		t.Fatalf("applied %d", ap.n)
	}
	s.Stop()
	if err := eng.Close(); err != nil {
		t.Fatal(err)
	}

	eng, s, ap = open(t, dir) // bootstrap again: idempotent
	defer func() { s.Stop(); _ = eng.Close() }()
	for i := 0; i < 10; i++ {
		if err := s.Propose(ctx, 1, []byte(fmt.Sprintf("after%d", i))); err != nil {
			t.Fatal(err)
		}
	}
	if ap.n != 10 {
		t.Fatalf("after restart applied %d (replayed old entries?)", ap.n)
	}
	for _, k := range []string{"k000", "k199", "after9"} {
		if _, err := eng.Get(keys.DataKey([]byte(k), 0)); err != nil {
			t.Fatalf("%s: %v", k, err)
		}
	}
	lo, hi := keys.RaftLogRange(1)
	it, err := eng.NewIter(lo, hi)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for ok := it.First(); ok; ok = it.Next() {
		n++
	}
	it.Close()
	if n > 60 {
		t.Fatalf("%d log entries kept with GC threshold 50", n)
	}
}
