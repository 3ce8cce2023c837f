package cluster

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/skerrydb/skerry/commands/keyspace"
	"github.com/skerrydb/skerry/mvcc"
	"github.com/skerrydb/skerry/mvcc/engine"
	"github.com/skerrydb/skerry/mvcc/keys"
	"github.com/skerrydb/skerry/pd/pdclient"
)

// expiryTracker remembers, per slot, the earliest expiry time that may be
// in the slot's expiry index (0: none known). Apply raises it, the expirer
// lowers it after looking, so the expirer visits only slots with keys
// actually coming due and never scans the keyspace.
type expiryTracker struct {
	next [keys.NumSlots]atomic.Int64
}

// note records that slot has an entry expiring at atMs.
func (t *expiryTracker) note(slot uint16, atMs int64) {
	v := &t.next[slot]
	for {
		cur := v.Load()
		if cur != 0 && cur <= atMs {
			return
		}
		if v.CompareAndSwap(cur, atMs) {
			return
		}
	}
}

// markAll makes every slot due now: used at start-up, when the in-memory
// state was lost; the first pass finds the real times.
func (t *expiryTracker) markAll() {
	for i := range t.next {
		t.next[i].Store(1)
	}
}

// activeExpirer deletes expired keys through Raft in the background on the
// region leader (DESIGN.md §4). Each round visits the slots whose earliest
// known expiry has passed, deletes up to batch keys per slot, and records
// the next expiry it saw.
type activeExpirer struct {
	tracker *expiryTracker
	engine  engine.Engine
	oracle  oracle
	store   *executor
	locks   *mvcc.LockTable
	period  time.Duration
	batch   int
	log     *slog.Logger
	leads   func() ledSlots // the slots this node leads now
	expired atomic.Int64    // keys deleted
	stale   atomic.Int64    // index entries dropped because their key had changed
}

func (e *activeExpirer) run(ctx context.Context) {
	runPeriodically(ctx, e.period, e.log, "active expiry round failed", e.round)
}

// round runs one pass over due slots.
func (e *activeExpirer) round(ctx context.Context) error {
	marked := false
	for s := range e.tracker.next {
		if e.tracker.next[s].Load() != 0 {
			marked = true
			break
		}
	}
	if !marked || e.leads().none() {
		return nil // nothing due anywhere, or nothing led here
	}
	ts, err := e.oracle.GetTS(ctx)
	if err != nil {
		return err
	}
	now := pdclient.PhysicalMs(ts)
	led := e.leads()
	for s := range e.tracker.next {
		at := e.tracker.next[s].Load()
		if at == 0 || at > now || !led.has(uint16(s)) {
			continue // a follower keeps its marks for when it leads
		}
		// Clear before looking: an entry applied from now on re-marks the
		// slot, one applied before is visible to the scan below.
		e.tracker.next[s].CompareAndSwap(at, 0)
		if err := e.expireSlot(ctx, uint16(s)); err != nil {
			e.tracker.note(uint16(s), at)
			return err
		}
	}
	return nil
}

type dueKey struct {
	db  int
	key []byte
	at  int64
}

// expireSlot deletes the due keys of one slot and re-marks the slot with
// its next expiry time.
func (e *activeExpirer) expireSlot(ctx context.Context, slot uint16) error {
	ts, err := e.oracle.GetTS(ctx)
	if err != nil {
		return err
	}
	now := pdclient.PhysicalMs(ts)
	lower, _ := keys.ExpiryIndexRange(slot, 0)
	upper := append(bytes.Clone(lower[:2]), lower[2]+1)
	var due []dueKey
	var next int64
	rd := mvcc.NewReaderWithLocks(e.engine, ts, e.locks)
	errStop := errors.New("stop")
	err = rd.Scan(lower, upper, false, func(k, _ []byte) error {
		db, key, at, ok := keys.DecodeExpiryIndexKey(k)
		if !ok {
			return nil
		}
		if at > now {
			next = at
			return errStop
		}
		due = append(due, dueKey{db, bytes.Clone(key), at})
		if len(due) >= e.batch {
			next = at // more may remain: come back next round
			return errStop
		}
		return nil
	})
	if err != nil && !errors.Is(err, errStop) {
		return err
	}
	if next != 0 {
		e.tracker.note(slot, next)
	}
	byDB := map[int][]dueKey{}
	for _, d := range due {
		byDB[d.db] = append(byDB[d.db], d)
	}
	for db, list := range byDB {
		ks := make([][]byte, len(list))
		for i, d := range list {
			ks[i] = d.key
		}
		var deleted, stale int64
		err := e.store.Update(ctx, db, ks, func(t keyspace.Txn) error {
			deleted, stale = 0, 0 // the body may run again
			d := keyspace.New(t, db)
			for _, due := range list {
				outcome, err := d.ExpireIfDue(due.key, due.at)
				if err != nil {
					return err
				}
				switch outcome {
				case keyspace.ExpiryDeleted:
					deleted++
				case keyspace.ExpiryStale:
					stale++
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
		e.expired.Add(deleted)
		e.stale.Add(stale)
	}
	return nil
}
