package cluster

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/skerrydb/skerry/commands/keyspace"
	"github.com/skerrydb/skerry/mvcc"
	"github.com/skerrydb/skerry/mvcc/engine"
	"github.com/skerrydb/skerry/mvcc/keys"
)

// gcTracker marks the slots whose garbage queue may hold entries. Apply
// marks a slot when it sees a queue entry written; the collector clears the
// mark before looking, so it only visits slots with garbage and never scans
// the keyspace.
type gcTracker struct {
	pending [keys.NumSlots]atomic.Bool
}

func (t *gcTracker) note(slot uint16) { t.pending[slot].Store(true) }

// markAll makes every slot pending: used at start-up, when the in-memory
// marks were lost; the first pass finds the real queue.
func (t *gcTracker) markAll() {
	for i := range t.pending {
		t.pending[i].Store(true)
	}
}

// collector deletes the members of deleted, expired and overwritten
// collections in the background (keyspace.CollectGC, docs/decisions/0003).
// Each step is one small Raft transaction latched on the Redis key, so it
// never holds up requests for longer than one ordinary write; a round does
// at most budget deletions and leaves the rest for the next round.
type collector struct {
	tracker *gcTracker
	engine  engine.Engine
	oracle  oracle
	store   *executor
	locks   *mvcc.LockTable
	period  time.Duration
	batch   int // member records per transaction
	budget  int // member records per round
	log     *slog.Logger
	leads   func() ledSlots // the slots this node leads now

	collected atomic.Int64 // member records deleted

	mu      sync.Mutex
	backlog map[uint16]uint64 // slot -> members still queued, as last seen
	total   atomic.Int64
}

func (g *collector) run(ctx context.Context) {
	runPeriodically(ctx, g.period, g.log, "garbage collection round failed", g.round)
}

// round visits the pending slots until the budget is spent.
func (g *collector) round(ctx context.Context) error {
	budget := g.budget
	var led ledSlots // looked up at the first pending slot: most rounds have none
	looked := false
	for s := range g.tracker.pending {
		if budget <= 0 {
			return nil
		}
		if !g.tracker.pending[s].Load() {
			continue
		}
		if !looked {
			if led, looked = g.leads(), true; led.none() {
				return nil
			}
		}
		if !led.has(uint16(s)) {
			continue // a follower keeps its marks for when it leads
		}
		if !g.tracker.pending[s].CompareAndSwap(true, false) {
			continue
		}
		used, more, err := g.collectSlot(ctx, uint16(s), budget)
		budget -= used
		if err != nil || more {
			g.tracker.note(uint16(s))
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// collectSlot works through the queue of one slot. more reports that
// entries remain (the budget ran out).
func (g *collector) collectSlot(ctx context.Context, slot uint16, budget int) (used int, more bool, err error) {
	ts, err := g.oracle.GetTS(ctx)
	if err != nil {
		return 0, false, err
	}
	var entries []keyspace.GCEntry
	rd := mvcc.NewReaderWithLocks(g.engine, ts, g.locks)
	entries, err = keyspace.PendingGC(readerTxn{rd}, slot)
	if err != nil {
		return 0, false, err
	}
	left := uint64(0)
	for _, e := range entries {
		left += e.Members
	}
	g.setBacklog(slot, left)
	for _, e := range entries {
		for {
			if used >= budget {
				return used, true, nil
			}
			n := min(g.batch, budget-used)
			var deleted int
			var finished bool
			var resume []byte
			err := g.store.Update(ctx, e.DB, [][]byte{e.Key}, func(t keyspace.Txn) error {
				var err error
				deleted, resume, finished, err = keyspace.CollectGC(t, e, n)
				return err
			})
			if err != nil {
				return used, true, err
			}
			used += deleted
			g.collected.Add(int64(deleted))
			left -= min(left, uint64(deleted))
			e.Members -= min(e.Members, uint64(deleted))
			e.Resume = resume // committed: the next step starts after it
			g.setBacklog(slot, left)
			if finished {
				break
			}
		}
	}
	g.setBacklog(slot, 0)
	return used, false, nil
}

func (g *collector) setBacklog(slot uint16, n uint64) {
	g.mu.Lock()
	defer g.mu.Unlock()
	old := g.backlog[slot]
	if n == 0 {
		delete(g.backlog, slot)
	} else {
		g.backlog[slot] = n
	}
	g.total.Add(int64(n) - int64(old))
}

var errReadOnly = errors.New("cluster: read-only transaction")

// readerTxn adapts a read-only MVCC reader to keyspace.Txn for
// keyspace.PendingGC, which only scans.
type readerTxn struct{ rd *mvcc.Reader }

func (r readerTxn) Get(key []byte) ([]byte, bool, error) { return r.rd.Get(key) }
func (r readerTxn) Set(key, value []byte) error          { return errReadOnly }
func (r readerTxn) Delete(key []byte) error              { return errReadOnly }
func (r readerTxn) NowMs() int64                         { return 0 }
func (r readerTxn) StartTS() uint64                      { return r.rd.TS() }
func (r readerTxn) Scan(lower, upper []byte, reverse bool, fn func(k, v []byte) error) error {
	return r.rd.Scan(lower, upper, reverse, fn)
}

// LatestCommitTS completes keyspace.Txn (PendingGC only scans).
func (r readerTxn) LatestCommitTS(key []byte) (uint64, error) {
	if err := r.rd.CheckLock(key); err != nil {
		return 0, err
	}
	_, cts, _, err := r.rd.SeekWrite(key, r.rd.TS())
	return cts, err
}
