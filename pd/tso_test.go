package pd

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/skerrydb/skerry/pd/pdclient"
)

// fakeClock is an injectable clock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock(ms int64) *fakeClock { return &fakeClock{t: time.UnixMilli(ms)} }

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) set(ms int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = time.UnixMilli(ms)
}

// memCounters is an in-memory counterStore that counts writes.
type memCounters struct {
	mu     sync.Mutex
	vals   map[string]uint64
	writes int
}

func newMemCounters() *memCounters { return &memCounters{vals: map[string]uint64{}} }

func (m *memCounters) load(_ context.Context, key string) (uint64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.vals[key], nil
}

func (m *memCounters) cas(_ context.Context, key string, old, next uint64) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.vals[key] != old {
		return ErrWindowConflict
	}
	m.vals[key] = next
	m.writes++
	return nil
}

func (m *memCounters) get(key string) uint64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.vals[key]
}

func (m *memCounters) writeCount() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.writes
}

const t0 = int64(1_700_000_000_000) // a fixed Unix ms

func mustTSO(t *testing.T, store counterStore, clock *fakeClock, window time.Duration) *tso {
	t.Helper()
	o, err := newTSO(context.Background(), store, clock.now, window)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

func mustGetTS(t *testing.T, o *tso, count uint32) uint64 {
	t.Helper()
	ts, err := o.getTS(context.Background(), count)
	if err != nil {
		t.Fatal(err)
	}
	return ts
}

// checkPersisted fails unless ts's physical part is covered by the window
// persisted in store.
func checkPersisted(t *testing.T, store *memCounters, ts uint64) {
	t.Helper()
	if p, end := pdclient.PhysicalMs(ts), int64(store.get(keyTSOWindow)); p > end {
		t.Fatalf("issued physical %d beyond persisted window end %d", p, end)
	}
}

func TestTSOFirstStart(t *testing.T) {
	store, clock := newMemCounters(), newFakeClock(t0)
	o := mustTSO(t, store, clock, 3*time.Second)
	if got := store.get(keyTSOWindow); got != uint64(t0+3000) {
		t.Fatalf("persisted window end = %d, want %d", got, t0+3000)
	}
	ts := mustGetTS(t, o, 1)
	if ts != pdclient.ComposeTS(t0, 1) {
		t.Fatalf("first ts = %d/%d", pdclient.PhysicalMs(ts), pdclient.Logical(ts))
	}
	if last := mustGetTS(t, o, 10); last != ts+10 {
		t.Fatalf("GetTS(10) = %d, want %d", last, ts+10)
	}
}

func TestTSOFollowsClockNeverBack(t *testing.T) {
	store, clock := newMemCounters(), newFakeClock(t0)
	o := mustTSO(t, store, clock, 3*time.Second)
	a := mustGetTS(t, o, 1)
	clock.set(t0 + 5)
	b := mustGetTS(t, o, 1)
	if b != pdclient.ComposeTS(t0+5, 1) {
		t.Fatalf("ts did not follow clock: %d/%d", pdclient.PhysicalMs(b), pdclient.Logical(b))
	}
	clock.set(t0 - 60_000) // backwards a minute
	c := mustGetTS(t, o, 1)
	if !(a < b && b < c) || pdclient.PhysicalMs(c) != t0+5 {
		t.Fatalf("not monotonic: %d %d %d", a, b, c)
	}
}

func TestTSOLogicalOverflow(t *testing.T) {
	store, clock := newMemCounters(), newFakeClock(t0)
	o := mustTSO(t, store, clock, 3*time.Second)
	prev := mustGetTS(t, o, 1)
	const big = pdclient.MaxLogical / 2
	for i := range 10 {
		last := mustGetTS(t, o, big)
		first := last - big + 1
		if first <= prev {
			t.Fatalf("batch %d: first %d <= previous %d", i, first, prev)
		}
		if pdclient.PhysicalMs(first) != pdclient.PhysicalMs(last) {
			t.Fatalf("batch %d spans two physical parts", i)
		}
		prev = last
	}
	if p := pdclient.PhysicalMs(prev); p <= t0 || p > t0+10 {
		t.Fatalf("physical after overflows = %d, want in (t0, t0+10]", p-t0)
	}
	for _, n := range []uint32{0, pdclient.MaxLogical} {
		if _, err := o.getTS(context.Background(), n); !errors.Is(err, pdclient.ErrInvalidCount) {
			t.Fatalf("count %d: err = %v", n, err)
		}
	}
	// The largest valid batch fits in one millisecond.
	last := mustGetTS(t, o, pdclient.MaxLogical-1)
	if pdclient.Logical(last) != pdclient.MaxLogical-1 || last-(pdclient.MaxLogical-1) < prev {
		t.Fatalf("max batch: last %d/%d", pdclient.PhysicalMs(last), pdclient.Logical(last))
	}
}

// TestTSOWindowExhausted: with the keeper not running, issuing past the
// window persists a new window first (synchronously).
func TestTSOWindowExhausted(t *testing.T) {
	store, clock := newMemCounters(), newFakeClock(t0)
	o := mustTSO(t, store, clock, 2*time.Millisecond)
	var prev uint64
	for i := range 20 {
		ts := mustGetTS(t, o, pdclient.MaxLogical-1) // one ms per call
		if ts <= prev {
			t.Fatalf("call %d: %d <= %d", i, ts, prev)
		}
		checkPersisted(t, store, ts)
		prev = ts
	}
	clock.set(t0 + 60_000) // clock jumps beyond the window
	ts := mustGetTS(t, o, 1)
	if pdclient.PhysicalMs(ts) != t0+60_000 {
		t.Fatalf("physical = %d, want clock", pdclient.PhysicalMs(ts))
	}
	checkPersisted(t, store, ts)
}

// TestTSOFastPathNoWrites: no persistence per GetTS while the window has
// room.
func TestTSOFastPathNoWrites(t *testing.T) {
	store, clock := newMemCounters(), newFakeClock(t0)
	o := mustTSO(t, store, clock, 3*time.Second)
	before := store.writeCount()
	for i := range 1000 {
		clock.set(t0 + int64(i))
		mustGetTS(t, o, 3)
	}
	if w := store.writeCount() - before; w != 0 {
		t.Fatalf("%d writes on the fast path", w)
	}
}

// TestTSOKeepExtendsAhead: the keeper extends once less than half the
// window is left, and not before.
func TestTSOKeepExtendsAhead(t *testing.T) {
	store, clock := newMemCounters(), newFakeClock(t0)
	o := mustTSO(t, store, clock, time.Second) // window end t0+1000
	ctx := context.Background()
	clock.set(t0 + 400)
	if err := o.keep(ctx); err != nil || store.get(keyTSOWindow) != uint64(t0+1000) {
		t.Fatalf("extended too early: %v %d", err, store.get(keyTSOWindow))
	}
	clock.set(t0 + 600)
	if err := o.keep(ctx); err != nil || store.get(keyTSOWindow) != uint64(t0+1600) {
		t.Fatalf("keep: %v, end %d want %d", err, store.get(keyTSOWindow), t0+1600)
	}
	before := store.writeCount()
	mustGetTS(t, o, 1)
	if store.writeCount() != before {
		t.Fatal("GetTS wrote after keep extended the window")
	}
}

// TestTSORestart: a new leader starts strictly above the persisted window,
// whatever its clock says, and persists before issuing.
func TestTSORestart(t *testing.T) {
	store, clock := newMemCounters(), newFakeClock(t0)
	o := mustTSO(t, store, clock, 3*time.Second)
	var last uint64
	for range 100 {
		last = mustGetTS(t, o, 7)
	}
	o.stop(pdclient.ErrClosed)
	if _, err := o.getTS(context.Background(), 1); !errors.Is(err, pdclient.ErrClosed) {
		t.Fatalf("stopped tso: err = %v", err)
	}
	for _, clockMs := range []int64{t0, t0 - 3_600_000, t0 + 1} {
		clock.set(clockMs)
		o2 := mustTSO(t, store, clock, 3*time.Second)
		ts := mustGetTS(t, o2, 1)
		if ts <= last {
			t.Fatalf("clock %d: ts %d not above %d", clockMs-t0, ts, last)
		}
		checkPersisted(t, store, ts)
		last = ts
	}
}

// TestTSOConflict: if another leader moved the window, the tso stops.
func TestTSOConflict(t *testing.T) {
	store, clock := newMemCounters(), newFakeClock(t0)
	o := mustTSO(t, store, clock, 10*time.Millisecond)
	mustTSO(t, store, clock, 10*time.Millisecond) // a second "leader"
	clock.set(t0 + 1000)
	if _, err := o.getTS(context.Background(), 1); !errors.Is(err, pdclient.ErrNotLeader) {
		t.Fatalf("err = %v, want ErrNotLeader", err)
	}
	clock.set(t0)
	if _, err := o.getTS(context.Background(), 1); !errors.Is(err, ErrWindowConflict) {
		t.Fatalf("error not sticky: %v", err)
	}
}

func TestTSOConcurrent(t *testing.T) {
	store, clock := newMemCounters(), newFakeClock(t0)
	o := mustTSO(t, store, clock, 5*time.Millisecond)
	checkConcurrentTS(t, func() (uint64, error) {
		return o.getTS(context.Background(), 1)
	}, func(i int) {
		if i%97 == 0 {
			clock.set(t0 + int64(i/97)) // the clock moves while we issue
		}
	})
}

// checkConcurrentTS runs many goroutines calling get and checks that all
// timestamps are distinct and each goroutine's are increasing.
func checkConcurrentTS(t *testing.T, get func() (uint64, error), step func(i int)) {
	t.Helper()
	const goroutines, perG = 8, 2000
	seqs := make([][]uint64, goroutines)
	var wg sync.WaitGroup
	errc := make(chan error, goroutines)
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perG {
				if g == 0 && step != nil {
					step(i)
				}
				ts, err := get()
				if err != nil {
					errc <- err
					return
				}
				seqs[g] = append(seqs[g], ts)
			}
		}()
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Fatal(err)
	}
	seen := make(map[uint64]bool, goroutines*perG)
	for g, seq := range seqs {
		for i, ts := range seq {
			if i > 0 && ts <= seq[i-1] {
				t.Fatalf("goroutine %d: %d after %d", g, ts, seq[i-1])
			}
			if seen[ts] {
				t.Fatalf("ts %d issued twice", ts)
			}
			seen[ts] = true
		}
	}
}

func TestIDAllocatorRestart(t *testing.T) {
	store := newMemCounters()
	ctx := context.Background()
	a, err := newIDAllocator(ctx, store, 10)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[uint64]bool{}
	var last uint64
	for i := range 25 {
		id, err := a.alloc(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if id == 0 || id <= last {
			t.Fatalf("alloc %d: id %d after %d", i, id, last)
		}
		seen[id], last = true, id
	}
	if store.writeCount() != 3 {
		t.Fatalf("writes = %d, want 3 (one per block)", store.writeCount())
	}
	b, err := newIDAllocator(ctx, store, 10) // restart mid-block
	if err != nil {
		t.Fatal(err)
	}
	id, err := b.alloc(ctx)
	if err != nil || id != 31 {
		t.Fatalf("after restart id = %d (%v), want 31", id, err)
	}
}
