package pdclient

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// memBackend is an in-memory Backend: a counter for timestamps, with an
// optional gate that blocks GetTS until released.
type memBackend struct {
	mu     sync.Mutex
	next   uint64 // last issued timestamp
	calls  atomic.Int64
	counts []uint32
	gate   chan struct{} // if non-nil, GetTS waits for it (or ctx)
	delay  time.Duration // simulated round trip of every GetTS
	err    error
}

func (m *memBackend) GetTS(ctx context.Context, count uint32) (uint64, error) {
	m.calls.Add(1)
	if m.gate != nil {
		select {
		case <-m.gate:
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
	if m.delay > 0 {
		time.Sleep(m.delay)
	}
	if count == 0 || count >= MaxLogical {
		return 0, ErrInvalidCount
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.err != nil {
		return 0, m.err
	}
	m.counts = append(m.counts, count)
	m.next += uint64(count)
	return m.next, nil
}

func (m *memBackend) AllocID(context.Context) (uint64, error) { return 7, nil }
func (m *memBackend) Bootstrap(_ context.Context, _ uint64, r []byte) (bool, []byte, error) {
	return true, r, nil
}
func (m *memBackend) IsBootstrapped(context.Context) (bool, error) { return true, nil }
func (m *memBackend) PutStore(context.Context, Store) error        { return nil }
func (m *memBackend) GetStore(context.Context, uint64) (Store, error) {
	return Store{}, ErrStoreNotFound
}
func (m *memBackend) GetStores(context.Context) ([]Store, error)                 { return nil, nil }
func (m *memBackend) SetStoreState(context.Context, uint64, StoreState) error    { return nil }
func (m *memBackend) StoreHeartbeat(context.Context, StoreStats) error           { return nil }
func (m *memBackend) AddOperator(context.Context, uint64, Operator) error        { return nil }
func (m *memBackend) GCSafePoint(context.Context) (uint64, error)                { return 0, nil }
func (m *memBackend) ReportSplit(context.Context, Region, Region) error          { return nil }
func (m *memBackend) AskSplit(context.Context, Region) (uint64, []uint64, error) { return 0, nil, nil }
func (m *memBackend) RegionHeartbeat(context.Context, RegionHeartbeat) (*Operator, error) {
	return nil, nil
}
func (m *memBackend) GetRegion(context.Context, []byte) (Region, Peer, error) {
	return Region{}, Peer{}, ErrRegionNotFound
}
func (m *memBackend) GetRegionByID(context.Context, uint64) (Region, Peer, error) {
	return Region{}, Peer{}, ErrRegionNotFound
}
func (m *memBackend) ScanRegions(context.Context, []byte, []byte, int) ([]RegionInfo, error) {
	return nil, nil
}
func (m *memBackend) ClusterID() uint64 { return 42 }

// queued returns the number of callers waiting for a batch.
func queued(c *Client) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.queue)
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestTSHelpers(t *testing.T) {
	ts := ComposeTS(1_700_000_000_123, 4567)
	if got := PhysicalMs(ts); got != 1_700_000_000_123 {
		t.Fatalf("PhysicalMs = %d", got)
	}
	if got := Logical(ts); got != 4567 {
		t.Fatalf("Logical = %d", got)
	}
	if ComposeTS(5, MaxLogical-1)+1 != ComposeTS(6, 0) {
		t.Fatal("logical overflow must carry into physical")
	}
}

func TestGetTSConcurrentDistinctAndIncreasing(t *testing.T) {
	b := &memBackend{}
	c := New(b)
	defer c.Close()
	const goroutines, perG = 16, 500
	var wg sync.WaitGroup
	results := make([][]uint64, goroutines)
	errs := make(chan error, goroutines)
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range perG {
				ts, err := c.GetTS(context.Background())
				if err != nil {
					errs <- err
					return
				}
				results[g] = append(results[g], ts)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	var all []uint64
	for g, seq := range results {
		for i := 1; i < len(seq); i++ {
			if seq[i] <= seq[i-1] {
				t.Fatalf("goroutine %d: ts %d after %d", g, seq[i], seq[i-1])
			}
		}
		all = append(all, seq...)
	}
	sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
	for i := 1; i < len(all); i++ {
		if all[i] == all[i-1] {
			t.Fatalf("timestamp %d issued twice", all[i])
		}
	}
	if len(all) != goroutines*perG {
		t.Fatalf("got %d timestamps", len(all))
	}
	t.Logf("%d requests served by %d backend calls", len(all), b.calls.Load())
}

// TestGetTSCoalesces holds the first backend call until every other caller
// is queued, then checks that one backend call served all of them.
func TestGetTSCoalesces(t *testing.T) {
	b := &memBackend{gate: make(chan struct{})}
	c := New(b)
	defer c.Close()
	const n = 100
	var wg sync.WaitGroup
	got := make(chan uint64, n)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ts, err := c.GetTS(context.Background())
			if err != nil {
				t.Error(err)
				return
			}
			got <- ts
		}()
	}
	// One request is inside the gated backend call, the rest are queued.
	waitFor(t, "queued requests", func() bool { return b.calls.Load() == 1 && queued(c) == n-1 })
	close(b.gate)
	wg.Wait()
	close(got)
	seen := map[uint64]bool{}
	for ts := range got {
		if seen[ts] {
			t.Fatalf("duplicate ts %d", ts)
		}
		seen[ts] = true
	}
	if len(seen) != n {
		t.Fatalf("got %d timestamps, want %d", len(seen), n)
	}
	if calls := b.calls.Load(); calls != 2 {
		t.Fatalf("backend calls = %d, want 2 (counts %v)", calls, b.counts)
	}
	if fmt.Sprint(b.counts) != fmt.Sprint([]uint32{1, n - 1}) {
		t.Fatalf("batch sizes = %v", b.counts)
	}
}

func TestGetTSMaxBatch(t *testing.T) {
	b := &memBackend{gate: make(chan struct{})}
	c := New(b, WithMaxBatch(10))
	defer c.Close()
	var wg sync.WaitGroup
	for range 31 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := c.GetTS(context.Background()); err != nil {
				t.Error(err)
			}
		}()
	}
	waitFor(t, "queued requests", func() bool { return b.calls.Load() == 1 && queued(c) == 30 })
	close(b.gate)
	wg.Wait()
	if fmt.Sprint(b.counts) != fmt.Sprint([]uint32{1, 10, 10, 10}) {
		t.Fatalf("batch sizes = %v, want [1 10 10 10]", b.counts)
	}
}

func TestGetTSContextCancelled(t *testing.T) {
	b := &memBackend{gate: make(chan struct{})}
	c := New(b)
	defer c.Close()

	// Already cancelled: fails without waiting.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := c.GetTS(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}

	// Cancelled while the backend call is stuck.
	ctx, cancel = context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, err := c.GetTS(ctx)
		errc <- err
	}()
	waitFor(t, "backend call", func() bool { return b.calls.Load() >= 1 })
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	// The client keeps working once the backend does.
	close(b.gate)
	ts1, err := c.GetTS(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	ts2, err := c.GetTS(context.Background())
	if err != nil || ts2 <= ts1 {
		t.Fatalf("ts2 = %d (%v), ts1 = %d", ts2, err, ts1)
	}
}

func TestGetTSBackendError(t *testing.T) {
	boom := errors.New("boom")
	b := &memBackend{err: boom}
	c := New(b)
	defer c.Close()
	if _, err := c.GetTS(context.Background()); !errors.Is(err, boom) {
		t.Fatalf("err = %v, want boom", err)
	}
}

func TestCloseFailsWaiters(t *testing.T) {
	b := &memBackend{gate: make(chan struct{})}
	c := New(b)
	errc := make(chan error, 3)
	for range 3 {
		go func() {
			_, err := c.GetTS(context.Background())
			errc <- err
		}()
	}
	waitFor(t, "queued requests", func() bool { return b.calls.Load() == 1 && queued(c) == 2 })
	c.Close()
	// The two queued callers fail; the direct caller finishes its own call.
	for range 2 {
		if err := <-errc; !errors.Is(err, ErrClosed) {
			t.Fatalf("err = %v, want ErrClosed", err)
		}
	}
	close(b.gate)
	if err := <-errc; err != nil {
		t.Fatalf("direct caller: %v", err)
	}
	if _, err := c.GetTS(context.Background()); !errors.Is(err, ErrClosed) {
		t.Fatalf("after close: err = %v", err)
	}
	if _, err := c.AllocID(context.Background()); !errors.Is(err, ErrClosed) {
		t.Fatalf("AllocID after close: err = %v", err)
	}
	c.Close() // idempotent
}

func TestPassThrough(t *testing.T) {
	c := New(&memBackend{})
	defer c.Close()
	ctx := context.Background()
	if id, err := c.AllocID(ctx); err != nil || id != 7 {
		t.Fatalf("AllocID = %d, %v", id, err)
	}
	if _, err := c.GetStore(ctx, 1); !errors.Is(err, ErrStoreNotFound) {
		t.Fatalf("GetStore err = %v", err)
	}
	if c.ClusterID() != 42 {
		t.Fatal("ClusterID")
	}
}

// BenchmarkGetTSParallel measures the batching path over a trivial
// in-memory backend (the Client's own overhead) and over one that takes
// 100µs per call (a remote PD: shows the coalescing).
func BenchmarkGetTSParallel(b *testing.B) {
	for _, bc := range []struct {
		par   int
		delay time.Duration
	}{{1, 0}, {8, 0}, {64, 100 * time.Microsecond}} {
		b.Run(fmt.Sprintf("par=%dxGOMAXPROCS/backend=%v", bc.par, bc.delay), func(b *testing.B) {
			par := bc.par
			be := &memBackend{delay: bc.delay}
			c := New(be)
			defer c.Close()
			b.SetParallelism(par)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := c.GetTS(context.Background()); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.StopTimer()
			b.ReportMetric(float64(b.N)/float64(be.calls.Load()), "reqs/call")
		})
	}
}
