package disktest

import (
	"context"
	"fmt"
	"io"
	"log"
	"sync"
	"testing"
	"time"

	"go.etcd.io/raft/v3"

	"github.com/skerrydb/skerry/mvcc/engine/pebbleengine"
	"github.com/skerrydb/skerry/mvcc/keys"
	"github.com/skerrydb/skerry/regionraft"
)

// directTransport hands messages straight to the target store and streams
// snapshots on a goroutine of their own.
type directTransport struct {
	mu     sync.Mutex
	stores map[uint64]*regionraft.Store
	wg     sync.WaitGroup
}

func (tr *directTransport) store(id uint64) *regionraft.Store {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return tr.stores[id]
}

func (tr *directTransport) Send(msgs []regionraft.RaftMessage) {
	for _, m := range msgs {
		if s := tr.store(m.To.StoreID); s != nil {
			_ = s.Step(m)
		}
	}
}

func (tr *directTransport) SendSnapshot(m regionraft.RaftMessage, data io.ReadCloser, done func(error)) {
	s := tr.store(m.To.StoreID)
	if s == nil {
		_ = data.Close()
		done(regionraft.ErrNoTransport)
		return
	}
	tr.wg.Add(1)
	go func() {
		defer tr.wg.Done()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		err := s.ReceiveSnapshot(ctx, m, data)
		_ = data.Close()
		done(err)
	}()
}

func openStore(t *testing.T, dir string, id uint64, tr *directTransport) (*pebbleengine.Engine, *regionraft.Store) {
	t.Helper()
	eng, err := pebbleengine.Open(pebbleengine.Options{Dir: dir, CacheSize: 8 << 20})
	if err != nil {
		t.Fatal(err)
	}
	s, err := regionraft.NewStore(regionraft.Config{
		StoreID: id, Engine: eng, Applier: &indexApplier{}, Transport: tr, TickInterval: 10 * time.Millisecond,
		RaftLogGCThreshold: 20,
		Logger:             &raft.DefaultLogger{Logger: log.New(io.Discard, "", 0)},
	})
	if err != nil {
		t.Fatal(err)
	}
	tr.mu.Lock()
	tr.stores[id] = s
	tr.mu.Unlock()
	return eng, s
}

// TestPebbleSnapshotIngest adds a learner on an empty Pebble store: it
// catches up by a snapshot ingested as table files, and keeps it across a
// restart.
func TestPebbleSnapshotIngest(t *testing.T) {
	tr := &directTransport{stores: map[uint64]*regionraft.Store{}}
	dir1, dir2 := t.TempDir(), t.TempDir()
	eng1, s1 := openStore(t, dir1, 1, tr)
	eng2, s2 := openStore(t, dir2, 2, tr)
	defer func() {
		s1.Stop()
		s2.Stop()
		tr.wg.Wait()
		_ = eng1.Close()
		_ = eng2.Close()
	}()
	if err := s1.BootstrapRegion(regionraft.Region{ID: 1, Peers: []regionraft.Peer{{ID: 11, StoreID: 1}}}); err != nil {
		t.Fatal(err)
	}
	s1.Start()
	s2.Start()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := s1.WaitLeader(ctx, 1); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 100; i++ {
		if err := s1.Propose(ctx, 1, []byte(fmt.Sprintf("k%03d", i))); err != nil {
			t.Fatal(err)
		}
	}
	if err := s1.ChangePeers(ctx, 1, []regionraft.PeerChange{{Type: regionraft.AddLearner, Peer: regionraft.Peer{ID: 12, StoreID: 2}}}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "learner has the data", func() bool {
		_, ok := s2.Region(1)
		_, err := eng2.Get(keys.DataKey([]byte("k099"), 0))
		return ok && err == nil
	})
	s2.Stop()
	if err := eng2.Close(); err != nil {
		t.Fatal(err)
	}
	eng2, s2 = openStore(t, dir2, 2, tr)
	s2.Start()
	if r, ok := s2.Region(1); !ok || len(r.Peers) != 2 {
		t.Fatalf("after restart: %+v, %v", r, ok)
	}
	for _, k := range []string{"k000", "k050", "k099"} {
		if _, err := eng2.Get(keys.DataKey([]byte(k), 0)); err != nil {
			t.Fatalf("%s: %v", k, err)
		}
	}
	if err := s1.Propose(ctx, 1, []byte("after")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "replication after the restart", func() bool {
		_, err := eng2.Get(keys.DataKey([]byte("after"), 0))
		return err == nil
	})
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
