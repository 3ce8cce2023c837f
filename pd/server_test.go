package pd

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/skerrydb/skerry/internal/testport"
	"github.com/skerrydb/skerry/pd/pdclient"
)

// freePort returns a port on 127.0.0.1 that was free a moment ago.
func freePort(t testing.TB) int {
	t.Helper()
	p, err := testport.Free()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// startTestServer starts a PD member in dir with fresh ports (retrying if
// another process took a port in between) and closes it at test end.
func startTestServer(t testing.TB, dir string, now func() time.Time) *Server {
	t.Helper()
	return startTestServerCfg(t, Config{DataDir: dir, Now: now})
}

// startTestServerCfg is startTestServer with more of the config.
func startTestServerCfg(t testing.TB, cfg Config) *Server {
	t.Helper()
	var lastErr error
	for range 3 {
		cfg.ClientURL = fmt.Sprintf("http://127.0.0.1:%d", freePort(t))
		cfg.PeerURL = fmt.Sprintf("http://127.0.0.1:%d", freePort(t))
		cfg.unsafeNoFsync = true
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		s, err := Start(ctx, cfg)
		cancel()
		if err == nil {
			t.Cleanup(func() { s.Close() })
			return s
		}
		lastErr = err
	}
	t.Fatalf("start pd: %v", lastErr)
	return nil
}

// revision returns etcd's current revision (it grows with every write).
func revision(t *testing.T, s *Server) int64 {
	t.Helper()
	resp, err := s.client.Get(context.Background(), "/no-such-key")
	if err != nil {
		t.Fatal(err)
	}
	return resp.Header.Revision
}

// TestServer exercises one embedded etcd member.
func TestServer(t *testing.T) {
	clock := newFakeClock(t0)
	s := startTestServer(t, t.TempDir(), clock.now)
	ctx := context.Background()

	t.Run("ClusterID", func(t *testing.T) {
		if s.ClusterID() == 0 {
			t.Fatal("cluster ID is 0")
		}
	})

	t.Run("GetTSNoEtcdWrites", func(t *testing.T) {
		rev := revision(t, s)
		var prev uint64
		for i := range 1000 {
			ts, err := s.GetTS(ctx, 1)
			if err != nil {
				t.Fatal(err)
			}
			if ts <= prev {
				t.Fatalf("call %d: %d <= %d", i, ts, prev)
			}
			prev = ts
		}
		if got := revision(t, s); got != rev {
			t.Fatalf("etcd revision moved %d -> %d during GetTS", rev, got)
		}
	})

	t.Run("GetTSConcurrentViaClient", func(t *testing.T) {
		c := pdclient.New(s)
		defer c.Close()
		checkConcurrentTS(t, func() (uint64, error) { return c.GetTS(ctx) }, func(i int) {
			if i%100 == 0 {
				clock.set(t0 + int64(i))
			}
		})
	})

	t.Run("WindowPersistedAhead", func(t *testing.T) {
		ts, err := s.GetTS(ctx, 1)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := s.client.Get(ctx, keyTSOWindow)
		if err != nil || len(resp.Kvs) != 1 {
			t.Fatalf("window key: %v %v", resp, err)
		}
		end, err := decodeUint64(keyTSOWindow, resp.Kvs[0].Value)
		if err != nil {
			t.Fatal(err)
		}
		if int64(end) < pdclient.PhysicalMs(ts) {
			t.Fatalf("persisted end %d below issued physical %d", end, pdclient.PhysicalMs(ts))
		}
	})

	t.Run("KeeperExtendsWindow", func(t *testing.T) {
		// Move the clock near the window end: the keeper (real ticker)
		// must extend it without any GetTS.
		end := s.lead.Load().tso.windowEnd()
		clock.set(end - 10)
		deadline := time.Now().Add(10 * time.Second)
		for s.lead.Load().tso.windowEnd() == end {
			if time.Now().After(deadline) {
				t.Fatal("keeper did not extend the window")
			}
			time.Sleep(5 * time.Millisecond)
		}
		if got := s.lead.Load().tso.windowEnd(); got < end-10+DefaultTSOSaveInterval.Milliseconds() {
			t.Fatalf("window end %d, want >= %d", got, end-10+3000)
		}
	})

	t.Run("AllocID", func(t *testing.T) {
		seen := map[uint64]bool{}
		var mu sync.Mutex
		var wg sync.WaitGroup
		for range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range 600 { // crosses block boundaries
					id, err := s.AllocID(ctx)
					if err != nil {
						t.Error(err)
						return
					}
					mu.Lock()
					if id == 0 || seen[id] {
						t.Errorf("bad or duplicate id %d", id)
					}
					seen[id] = true
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
	})

	t.Run("Bootstrap", func(t *testing.T) {
		if ok, err := s.IsBootstrapped(ctx); err != nil || ok {
			t.Fatalf("IsBootstrapped before = %v, %v", ok, err)
		}
		if _, _, err := s.Bootstrap(ctx, 0, []byte("r")); !errors.Is(err, pdclient.ErrInvalidArgument) {
			t.Fatalf("store 0: err = %v", err)
		}
		const n = 8
		type result struct {
			won    bool
			stored []byte
			region []byte
		}
		results := make([]result, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				region := fmt.Appendf(nil, "region-from-store-%d", i+1)
				won, stored, err := s.Bootstrap(ctx, uint64(i+1), region)
				if err != nil {
					t.Error(err)
				}
				results[i] = result{won, stored, region}
			}()
		}
		wg.Wait()
		var winner []byte
		for _, r := range results {
			if r.won {
				if winner != nil {
					t.Fatal("two bootstraps won")
				}
				winner = r.region
			}
		}
		if winner == nil {
			t.Fatal("no bootstrap won")
		}
		for i, r := range results {
			if !bytes.Equal(r.stored, winner) {
				t.Fatalf("caller %d sees region %q, winner stored %q", i, r.stored, winner)
			}
		}
		won, stored, err := s.Bootstrap(ctx, 99, []byte("late"))
		if err != nil || won || !bytes.Equal(stored, winner) {
			t.Fatalf("late bootstrap = %v %q %v", won, stored, err)
		}
		if ok, err := s.IsBootstrapped(ctx); err != nil || !ok {
			t.Fatalf("IsBootstrapped after = %v, %v", ok, err)
		}
	})

	t.Run("Stores", func(t *testing.T) {
		if _, err := s.GetStore(ctx, 5); !errors.Is(err, pdclient.ErrStoreNotFound) {
			t.Fatalf("missing store: err = %v", err)
		}
		if err := s.PutStore(ctx, pdclient.Store{ID: 5, PeerAddr: "127.0.0.1:20160"}); err != nil {
			t.Fatal(err)
		}
		if err := s.PutStore(ctx, pdclient.Store{ID: 5, PeerAddr: "127.0.0.1:20161"}); err != nil {
			t.Fatal(err)
		}
		got, err := s.GetStore(ctx, 5)
		if err != nil || got.PeerAddr != "127.0.0.1:20161" || got.State != pdclient.StoreUp {
			t.Fatalf("GetStore = %+v, %v", got, err)
		}
		if err := s.PutStore(ctx, pdclient.Store{PeerAddr: "x"}); !errors.Is(err, pdclient.ErrInvalidArgument) {
			t.Fatalf("store 0: err = %v", err)
		}
	})

	t.Run("CtxCancelled", func(t *testing.T) {
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		if _, err := s.GetStore(cctx, 5); !errors.Is(err, context.Canceled) {
			t.Fatalf("GetStore err = %v, want context.Canceled", err)
		}
	})

	t.Run("Closed", func(t *testing.T) {
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		if _, err := s.GetTS(ctx, 1); !errors.Is(err, pdclient.ErrClosed) {
			t.Fatalf("GetTS err = %v", err)
		}
		if _, err := s.AllocID(ctx); !errors.Is(err, pdclient.ErrClosed) {
			t.Fatalf("AllocID err = %v", err)
		}
		if err := s.Close(); err != nil {
			t.Fatal("second Close:", err)
		}
	})
}

// TestServerRestart: timestamps, IDs, the cluster ID and the bootstrap
// survive a restart, even with the clock moved backwards.
func TestServerRestart(t *testing.T) {
	dir := t.TempDir()
	clock := newFakeClock(t0)
	ctx := context.Background()

	s := startTestServer(t, dir, clock.now)
	clusterID := s.ClusterID()
	var lastTS, lastID uint64
	for range 50 {
		ts, err := s.GetTS(ctx, 100)
		if err != nil {
			t.Fatal(err)
		}
		lastTS = ts
	}
	for range 10 {
		id, err := s.AllocID(ctx)
		if err != nil {
			t.Fatal(err)
		}
		lastID = id
	}
	if ok, _, err := s.Bootstrap(ctx, 1, []byte("first")); err != nil || !ok {
		t.Fatalf("bootstrap = %v, %v", ok, err)
	}
	s.Close()

	// Same clock (the window must have been persisted before issuing),
	// then an hour backwards.
	for _, clockMs := range []int64{t0, t0 - 3_600_000} {
		clock.set(clockMs)
		s := startTestServer(t, dir, clock.now)
		if s.ClusterID() != clusterID {
			t.Fatalf("cluster ID changed %d -> %d", clusterID, s.ClusterID())
		}
		ts, err := s.GetTS(ctx, 1)
		if err != nil {
			t.Fatal(err)
		}
		if ts <= lastTS {
			t.Fatalf("clock %+dms: ts %d not above %d before restart", clockMs-t0, ts, lastTS)
		}
		id, err := s.AllocID(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if id <= lastID {
			t.Fatalf("id %d reused (last %d)", id, lastID)
		}
		won, stored, err := s.Bootstrap(ctx, 2, []byte("second"))
		if err != nil || won || string(stored) != "first" {
			t.Fatalf("re-bootstrap = %v %q %v", won, stored, err)
		}
		lastTS, lastID = ts, id
		s.Close()
	}
}

// TestWindowConflictStopsTSO: a write to the window key by someone else
// (another leader) stops this server's TSO instead of risking overlap.
func TestWindowConflictStopsTSO(t *testing.T) {
	clock := newFakeClock(t0)
	s := startTestServer(t, t.TempDir(), clock.now)
	ctx := context.Background()
	if _, err := s.client.Put(ctx, keyTSOWindow, encodeUint64(uint64(t0+999_999))); err != nil {
		t.Fatal(err)
	}
	clock.set(t0 + 10_000) // beyond this leader's window: it must extend
	if _, err := s.GetTS(ctx, 1); !errors.Is(err, pdclient.ErrNotLeader) {
		t.Fatalf("err = %v, want ErrNotLeader", err)
	}
}

func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
		ok   bool
	}{
		{"defaults", Config{DataDir: "/x"}, true},
		{"no dir", Config{}, false},
		{"bad scheme", Config{DataDir: "/x", ClientURL: "tcp://127.0.0.1:1"}, false},
		{"no port", Config{DataDir: "/x", PeerURL: "http://127.0.0.1"}, false},
		{"cluster without me", Config{DataDir: "/x", InitialCluster: "other=http://127.0.0.1:2380"}, false},
		{"cluster bad member", Config{DataDir: "/x", InitialCluster: "pd"}, false},
		{"tiny window", Config{DataDir: "/x", TSOSaveInterval: time.Microsecond}, false},
		{"short lease", Config{DataDir: "/x", LeaderLease: 500 * time.Millisecond}, false},
		{"negative replicas", Config{DataDir: "/x", MaxReplicas: -1}, false},
		{"negative down time", Config{DataDir: "/x", MaxStoreDownTime: -time.Second}, false},
		{"scheduling off", Config{DataDir: "/x", ScheduleInterval: -1}, true},
		{"three members", Config{DataDir: "/x", Name: "b", InitialCluster: "a=http://127.0.0.1:1,b=http://127.0.0.1:2,c=http://127.0.0.1:3"}, true},
	} {
		err := tc.cfg.Validate()
		if (err == nil) != tc.ok {
			t.Errorf("%s: err = %v", tc.name, err)
		}
		if err != nil && !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("%s: %v does not wrap ErrInvalidConfig", tc.name, err)
		}
	}
}

// BenchmarkGetTSParallel measures GetTS through pdclient's batching path
// over an in-process Server (real clock, real etcd behind the window).
func BenchmarkGetTSParallel(b *testing.B) {
	s := startTestServer(b, b.TempDir(), nil)
	for _, par := range []int{1, 16} {
		b.Run(fmt.Sprintf("goroutines=%dxGOMAXPROCS", par), func(b *testing.B) {
			c := pdclient.New(s)
			defer c.Close()
			b.SetParallelism(par)
			b.RunParallel(func(pb *testing.PB) {
				ctx := context.Background()
				var prev uint64
				for pb.Next() {
					ts, err := c.GetTS(ctx)
					if err != nil || ts <= prev {
						b.Errorf("ts %d after %d: %v", ts, prev, err)
						return
					}
					prev = ts
				}
			})
		})
	}
}
