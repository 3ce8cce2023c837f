package cluster

import (
	"context"
	"encoding/binary"
	"errors"
	"sync"
	"sync/atomic"

	"github.com/skerrydb/skerry/commands"
	"github.com/skerrydb/skerry/commands/keyspace"
)

// maxCombined bounds how many commands one combined transaction runs.
const maxCombined = 128

// combiner merges concurrent writes of the same keys into one transaction.
//
// A write holds its keys' latches until its Raft entry is fsynced and
// applied, so without this, clients hammering one key (a counter, a queue,
// a leaderboard) run one per fsync. Instead, while a transaction on a key
// set is in flight, later writes of exactly that key set wait in a queue;
// when it finishes, the first waiter becomes the leader of all of them and
// runs their bodies one after another in one transaction (each under its
// own savepoint, so one command's error does not affect the others), with
// one proposal and one fsync, then hands over to the next waiter. The
// result is the same as running them one at a time in arrival order: each
// body reads what the earlier ones wrote, and no reply is sent before the
// whole transaction is durable.
type combiner struct {
	mu sync.Mutex
	// queues maps a latch-key set with a transaction in flight to the
	// writes waiting for it (nil: none yet).
	queues map[string][]*combineReq

	combined atomic.Int64 // bodies that ran in another command's transaction
}

type combineReq struct {
	fn   func(keyspace.Txn) error
	done chan combineResult // buffered: the sender never blocks
}

// combineResult ends a wait: either the request's outcome, or (lead != nil)
// the batch the receiver must now run as leader, itself first.
type combineResult struct {
	err  error
	lead []*combineReq
}

func (cb *combiner) update(ctx context.Context, x *executor, db int, ks [][]byte, fn func(keyspace.Txn) error) error {
	id := combineID(db, ks)
	var batch []*combineReq // nil: fn alone, the common case (no allocation)
	cb.mu.Lock()
	if cb.queues == nil {
		cb.queues = map[string][]*combineReq{}
	}
	if waiting, busy := cb.queues[id]; busy {
		req := &combineReq{fn: fn, done: make(chan combineResult, 1)}
		cb.queues[id] = append(waiting, req)
		cb.mu.Unlock()
		res := <-req.done
		if res.lead == nil {
			return res.err
		}
		batch = res.lead
	} else {
		cb.queues[id] = nil
		cb.mu.Unlock()
	}

	var fns []func(keyspace.Txn) error
	if batch == nil {
		fns = []func(keyspace.Txn) error{guardAbort(fn)}
	} else {
		fns = make([]func(keyspace.Txn) error, len(batch))
		for i, r := range batch {
			fns[i] = guardAbort(r.fn)
		}
		cb.combined.Add(int64(len(batch) - 1))
	}
	errs, err := x.UpdateBatch(ctx, db, ks, fns)

	// Hand the queue to its first waiter before answering anyone, so the
	// next transaction starts as soon as possible.
	cb.mu.Lock()
	waiting := cb.queues[id]
	var next []*combineReq
	if n := min(len(waiting), maxCombined); n > 0 {
		next = append([]*combineReq(nil), waiting[:n]...)
		cb.queues[id] = append(waiting[:0:0], waiting[n:]...)
	} else {
		delete(cb.queues, id)
	}
	cb.mu.Unlock()
	if next != nil {
		next[0].done <- combineResult{lead: next}
	}

	outcome := func(i int) error {
		if err != nil {
			return err
		}
		return errs[i]
	}
	for i := 1; i < len(batch); i++ {
		batch[i].done <- combineResult{err: outcome(i)}
	}
	return outcome(0)
}

// combineID names a key set: the database and the keys, length-prefixed.
// It is built on every write, so without fmt.
func combineID(db int, ks [][]byte) string {
	n := 1
	for _, k := range ks {
		n += 4 + len(k)
	}
	b := make([]byte, 0, n)
	b = append(b, byte(db))
	for _, k := range ks {
		b = binary.BigEndian.AppendUint32(b, uint32(len(k)))
		b = append(b, k...)
	}
	return string(b)
}

// errAbortInCombined is what a combined body's ErrAbortBatch becomes:
// aborting a batch is EXEC's protocol with UpdateBatch, and must not take
// other clients' commands down with it.
var errAbortInCombined = errors.New("cluster: a single command asked to abort its batch")

func guardAbort(fn func(keyspace.Txn) error) func(keyspace.Txn) error {
	return func(t keyspace.Txn) error {
		err := fn(t)
		if errors.Is(err, commands.ErrAbortBatch) {
			return errAbortInCombined
		}
		return err
	}
}
