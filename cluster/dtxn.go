package cluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/skerrydb/skerry/cluster/rpc"
	"github.com/skerrydb/skerry/commands"
	"github.com/skerrydb/skerry/commands/keyspace"
	"github.com/skerrydb/skerry/mvcc"
	"github.com/skerrydb/skerry/mvcc/keys"
	"github.com/skerrydb/skerry/mvcc/txn"
	"github.com/skerrydb/skerry/pd/pdclient"
)

// The coordinator of distributed transactions (docs/decisions/0005): a
// command whose keys live in several regions runs its body in a distTxn,
// a keyspace.Txn whose reads go to each key's region leader at start_ts
// and whose writes are buffered, then commits with Percolator's two
// phases over the regions (txnkv.go):
//
//   - every key read and not written becomes a lock-only mutation, so a
//     concurrent writer of it conflicts: write skew is impossible;
//   - the primary is the first mutation key; prewrites go to every region
//     in parallel; a conflict (a newer commit, or a live lock) rolls back
//     what was prewritten and reruns the whole body from scratch, a
//     bounded number of times;
//   - commit_ts comes from the TSO; the primary is committed first (the
//     transaction is committed from then on), then the secondaries,
//     synchronously but in parallel per region. A secondary left locked
//     (coordinator crash) is committed by the first reader that meets it.
//
// Readers meeting a lock (this coordinator and the local fast path) ask
// its primary for the transaction's fate (CheckTxnStatus): committed or
// rolled back, they resolve the lock and read again; alive, they back off.

// ErrTxnConflict is returned when a distributed transaction kept
// conflicting with concurrent ones and gave up (nothing was written).
var ErrTxnConflict = errors.New("cluster: transaction conflict, retries exhausted")

// errConflict marks one attempt that conflicted (rerun the body).
var errConflict = errors.New("cluster: transaction conflict")

const (
	// distAttempts bounds how often a conflicting body is rerun.
	distAttempts = 12
	// resolveWait bounds how long one read keeps resolving locks (and
	// waiting for live ones) before it gives up with the
	// *mvcc.KeyLockedError: longer than a lock's TTL, so a dead
	// coordinator's locks are always outlived.
	resolveWait = 10 * time.Second
)

// lockTTLMs is the TTL of a distributed transaction's locks beyond the
// time its body took: a coordinator that dies leaves locks that readers
// may roll back this long after. A live coordinator keeps its primary
// lock's TTL ahead of the clock (keepAlive) until the primary commits.
// Atomic so that tests can shorten it while nodes run.
var lockTTLMs atomic.Int64

func init() { lockTTLMs.Store(3000) }

// dtxnStats counts the slow path's work (tests and, later, INFO).
type dtxnStats struct {
	committed    atomic.Int64 // distributed transactions that wrote and committed
	conflicts    atomic.Int64 // attempts that conflicted and were rerun
	resolved     atomic.Int64 // locks resolved (committed or rolled back) by readers
	heartbeats   atomic.Int64 // TxnHeartBeat requests sent for slow commits
	prefetchHits atomic.Int64 // body reads answered by the prefetch
}

// ErrTxnTooOld is returned by a distributed transaction that started at
// or below PD's GC safe point: its node's reports did not hold the safe
// point back (it was cut off from PD for long), and versions it read may
// be gone.
var ErrTxnTooOld = errors.New("cluster: transaction older than the GC safe point")

// distTxn is the coordinator's keyspace.Txn. Not safe for concurrent use.
type distTxn struct {
	x            *executor
	ctx          context.Context
	startTS      uint64
	began        time.Time
	reads        map[string]cachedValue
	prefetched   map[string]cachedValue // read ahead by prefetch, not yet by the body
	read         map[string]bool        // keys read (lock-only unless written)
	tok          txnToken               // registration with x.active; done ends it
	txn.WriteSet                        // Set, Delete, Savepoint, RollbackTo
}

type cachedValue struct {
	v  []byte
	ok bool
}

// pairValue copies a read's answer out of the response; a found empty
// value stays non-nil.
func pairValue(p rpc.TxnKVPair) cachedValue {
	v := bytes.Clone(p.Value)
	if p.Found && v == nil {
		v = []byte{}
	}
	return cachedValue{v, p.Found}
}

var _ keyspace.Txn = (*distTxn)(nil)

// newDistTxn starts a distributed transaction; the caller must call done
// when it is over (committed, rolled back or abandoned).
func (x *executor) newDistTxn(ctx context.Context) (*distTxn, error) {
	tok := x.active.begin()
	ts, err := x.timestamp(ctx)
	if err != nil {
		x.active.end(tok)
		return nil, fmt.Errorf("cluster: timestamp: %w", err)
	}
	return &distTxn{x: x, ctx: ctx, startTS: ts, began: time.Now(), reads: map[string]cachedValue{},
		read: map[string]bool{}, tok: tok}, nil
}

// done unregisters the transaction from the GC safe point's tracker.
func (t *distTxn) done() { t.x.active.end(t.tok) }

// NowMs implements keyspace.Txn.
func (t *distTxn) NowMs() int64 { return pdclient.PhysicalMs(t.startTS) }

// StartTS implements keyspace.Txn.
func (t *distTxn) StartTS() uint64 { return t.startTS }

// Get implements keyspace.Txn.
func (t *distTxn) Get(key []byte) ([]byte, bool, error) {
	if m, ok := t.Lookup(key); ok {
		if m.Delete {
			return nil, false, nil
		}
		return m.Value, true, nil
	}
	if r, ok := t.reads[string(key)]; ok {
		return r.v, r.ok, nil
	}
	if r, ok := t.prefetched[string(key)]; ok {
		t.x.dstats.prefetchHits.Add(1)
		t.reads[string(key)] = r
		t.read[string(key)] = true
		return r.v, r.ok, nil
	}
	var resp *rpc.TxnKVResponse
	err := t.x.withResolve(t.ctx, func() (err error) {
		resp, err = t.x.sendKey(t.ctx, key, &rpc.TxnKVRequest{Op: kvOpGet, Keys: [][]byte{key}, StartTS: t.startTS})
		return err
	})
	if err != nil {
		return nil, false, err
	}
	if len(resp.Pairs) != 1 {
		return nil, false, fmt.Errorf("cluster: get answered %d pairs", len(resp.Pairs))
	}
	r := pairValue(resp.Pairs[0])
	t.reads[string(key)] = r
	t.read[string(key)] = true
	return r.v, r.ok, nil
}

// prefetch reads the metadata records of the command's Redis keys at
// start_ts in one request per region, all regions in parallel, so that a
// body reading its keys one after another (MSET checks what each key held,
// a transfer reads both accounts) pays one round trip, not one per key.
// A key counts as read only once the body reads it. Best effort: a region
// that answers with an error (a lock, a moved leader) is left to the
// body's own reads, which resolve or re-route.
func (t *distTxn) prefetch(db int, ks [][]byte) {
	if len(ks) < 2 {
		return
	}
	metas := make([][]byte, len(ks))
	for i, k := range ks {
		metas[i] = keys.MetaKey(db, k)
	}
	groups, err := t.x.group(t.ctx, metas)
	if err != nil {
		return
	}
	got := make([][]rpc.TxnKVPair, len(groups))
	var wg sync.WaitGroup
	for i, g := range groups {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, req, err := t.x.sendGroup(t.ctx, g, func(ks [][]byte) *rpc.TxnKVRequest {
				return &rpc.TxnKVRequest{Op: kvOpGet, Keys: ks, StartTS: t.startTS}
			})
			if err == nil && kvResponseError(req, resp) == nil && len(resp.Pairs) == len(req.Keys) {
				got[i] = resp.Pairs
			}
		}()
	}
	wg.Wait()
	for _, pairs := range got {
		for _, p := range pairs {
			if t.prefetched == nil {
				t.prefetched = map[string]cachedValue{}
			}
			t.prefetched[string(p.Key)] = pairValue(p)
		}
	}
}

// LatestCommitTS implements keyspace.Txn. The key counts as read.
func (t *distTxn) LatestCommitTS(key []byte) (uint64, error) {
	var resp *rpc.TxnKVResponse
	err := t.x.withResolve(t.ctx, func() (err error) {
		resp, err = t.x.sendKey(t.ctx, key, &rpc.TxnKVRequest{Op: kvOpLatest, Keys: [][]byte{key}, StartTS: t.startTS})
		return err
	})
	if err != nil {
		return 0, err
	}
	t.read[string(key)] = true
	return resp.CommitTS, nil
}

// Scan implements keyspace.Txn. The range is read in pages, region by
// region (a page ends at the region's end or after kvScanPage pairs), and
// each page is merged with the buffered writes in its range before fn sees
// it, so a walk that fn stops early (a SCAN's COUNT, a skip over a
// collection's members) costs only the pages it needed. A reverse scan
// reads the whole range first. Scanned keys are not locked: command bodies
// scan a collection's members only after reading its metadata record,
// which is locked (the metadata invariant of commands/keyspace: every
// change of a member rewrites it); whole-keyspace walks (KEYS, DBSIZE...)
// are snapshot reads, as they are in a single Redis at one instant.
func (t *distTxn) Scan(lower, upper []byte, reverse bool, fn func(k, v []byte) error) error {
	if reverse {
		var all []kvEntry
		err := t.scanPages(lower, upper, func(page []kvEntry) error {
			all = append(all, page...)
			return nil
		})
		if err != nil {
			return err
		}
		for j := len(all) - 1; j >= 0; j-- {
			if err := fn(all[j].k, all[j].v); err != nil {
				return err
			}
		}
		return nil
	}
	return t.scanPages(lower, upper, func(page []kvEntry) error {
		for _, e := range page {
			if err := fn(e.k, e.v); err != nil {
				return err
			}
		}
		return nil
	})
}

type kvEntry struct{ k, v []byte }

// scanPages reads [lower, upper) page by page at start_ts and calls fn with
// each page merged with the buffered writes of its range, ascending.
func (t *distTxn) scanPages(lower, upper []byte, fn func([]kvEntry) error) error {
	from := lower
	for {
		var resp *rpc.TxnKVResponse
		err := t.x.withResolve(t.ctx, func() (err error) {
			resp, err = t.x.sendKey(t.ctx, from, &rpc.TxnKVRequest{Op: kvOpScan, Lower: from, Upper: upper, StartTS: t.startTS})
			return err
		})
		if err != nil {
			return err
		}
		last := resp.ResumeKey == nil || (upper != nil && bytes.Compare(resp.ResumeKey, upper) >= 0)
		pageEnd := upper
		if !last {
			pageEnd = resp.ResumeKey
		}
		if err := fn(mergeWrites(resp.Pairs, t.InRange(from, pageEnd, false))); err != nil {
			return err
		}
		if last {
			return nil
		}
		if bytes.Compare(resp.ResumeKey, from) <= 0 {
			return fmt.Errorf("cluster: scan resume key %q does not advance past %q", resp.ResumeKey, from)
		}
		from = bytes.Clone(resp.ResumeKey)
	}
}

// mergeWrites merges stored pairs with buffered writes (both ascending);
// a buffered write wins over the stored pair of its key, and deletes drop
// the key.
func mergeWrites(stored []rpc.TxnKVPair, buf []mvcc.Mutation) []kvEntry {
	merged := make([]kvEntry, 0, len(stored)+len(buf))
	i := 0
	for _, p := range stored {
		for i < len(buf) && bytes.Compare(buf[i].Key, p.Key) < 0 {
			if !buf[i].Delete {
				merged = append(merged, kvEntry{buf[i].Key, buf[i].Value})
			}
			i++
		}
		if i < len(buf) && bytes.Equal(buf[i].Key, p.Key) {
			if !buf[i].Delete {
				merged = append(merged, kvEntry{buf[i].Key, buf[i].Value})
			}
			i++
			continue
		}
		merged = append(merged, kvEntry{p.Key, p.Value})
	}
	for ; i < len(buf); i++ {
		if !buf[i].Delete {
			merged = append(merged, kvEntry{buf[i].Key, buf[i].Value})
		}
	}
	return merged
}

// commitMutations returns the writes plus a lock-only mutation per key read and
// not written, sorted by key.
func (t *distTxn) commitMutations() []mvcc.Mutation {
	out := t.Mutations()
	for k := range t.read {
		if _, w := t.Lookup([]byte(k)); !w {
			out = append(out, mvcc.Mutation{Key: []byte(k), Lock: true})
		}
	}
	sort.Slice(out, func(i, j int) bool { return bytes.Compare(out[i].Key, out[j].Key) < 0 })
	return out
}

// commit runs the two phases. errConflict (wrapped): nothing was
// written, the body may run again.
func (t *distTxn) commit() error {
	if t.Empty() {
		return nil // read-only: its reads were one snapshot
	}
	x, ctx := t.x, t.ctx
	muts := t.commitMutations()
	byKey := make(map[string]mvcc.Mutation, len(muts))
	all := make([][]byte, len(muts))
	for i, m := range muts {
		byKey[string(m.Key)] = m
		all[i] = m.Key
	}
	primary := muts[0].Key
	ttl := uint64(lockTTLMs.Load() + time.Since(t.began).Milliseconds())
	// Prewrite and commit may take longer than the TTL (an election, a
	// slow disk): the primary's TTL is raised until it is committed, so
	// that no reader takes this live transaction for a dead one.
	stopKeepAlive := t.keepAlive(primary)
	defer stopKeepAlive()
	prewrite := func(ks [][]byte) *rpc.TxnKVRequest {
		req := &rpc.TxnKVRequest{Op: kvOpPrewrite, Primary: primary, StartTS: t.startTS, TTLMs: ttl,
			Mutations: make([]rpc.TxnMutation, len(ks))}
		for i, k := range ks {
			m := byKey[string(k)]
			kind := kvMutPut
			switch {
			case m.Lock:
				kind = kvMutLock
			case m.Delete:
				kind = kvMutDelete
			}
			req.Mutations[i] = rpc.TxnMutation{Key: m.Key, Kind: kind, Value: m.Value}
		}
		return req
	}
	var err error
	for attempt := 0; ; attempt++ {
		err = x.sendKeys(ctx, all, true, prewrite)
		var le *mvcc.KeyLockedError
		if !errors.As(err, &le) || attempt == 2 {
			break
		}
		// A lock of a dead transaction is resolved and the prewrite
		// retried (it is idempotent); a live one is a conflict.
		alive, rerr := x.resolveOnce(ctx, le)
		if rerr != nil || alive {
			break
		}
	}
	if err != nil {
		t.rollback(all)
		return classify(err)
	}
	if x.dtxnHook != nil {
		if err := x.dtxnHook("prewritten"); err != nil {
			return err
		}
	}
	commitTS, err := x.timestamp(ctx)
	if err != nil {
		t.rollback(all)
		return fmt.Errorf("cluster: timestamp: %w", err)
	}
	if sp := x.pdSafePoint.Load(); t.startTS <= sp {
		// PD's safe point passed it (this node's reports did not hold
		// it back): versions it read may have been collected on other
		// nodes (as TiDB, refuse rather than commit).
		t.rollback(all)
		return fmt.Errorf("%w: start ts %d, safe point %d", ErrTxnTooOld, t.startTS, sp)
	}
	commit := func(ks [][]byte) *rpc.TxnKVRequest {
		return &rpc.TxnKVRequest{Op: kvOpCommit, Keys: ks, StartTS: t.startTS, CommitTS: commitTS}
	}
	err = x.sendKeys(ctx, [][]byte{primary}, false, commit)
	for retry := 0; retry < 3 && errors.Is(err, errKVOutcomeUnknown); retry++ {
		// Commit is idempotent: ask again until the outcome is known.
		err = x.sendKeys(ctx, [][]byte{primary}, false, commit)
	}
	stopKeepAlive()
	if err != nil {
		if errors.Is(err, mvcc.ErrTxnRolledBack) {
			// Its locks expired and a reader rolled it back: not committed.
			t.rollback(all)
			return fmt.Errorf("%w: %v", errConflict, err)
		}
		// The primary's fate is unknown here; readers will learn it.
		return fmt.Errorf("cluster: commit of the primary: %w", err)
	}
	if x.dtxnHook != nil {
		if err := x.dtxnHook("primary-committed"); err != nil {
			x.dstats.committed.Add(1)
			return nil // committed: the secondaries are left to readers
		}
	}
	// Secondaries: the transaction is committed; a failure here only
	// leaves locks that readers resolve.
	if len(all) > 1 {
		_ = x.sendKeys(ctx, all[1:], true, commit)
	}
	x.dstats.committed.Add(1)
	return nil
}

// keepAlive raises the TTL of the primary lock every third of lockTTLMs
// to lockTTLMs past the transaction's age (TxnHeartBeat), until the
// returned stop is called (any number of times). A heartbeat that fails
// is not fatal: the primary's commit decides the transaction.
func (t *distTxn) keepAlive(primary []byte) (stop func()) {
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		tick := time.NewTicker(time.Duration(lockTTLMs.Load()) * time.Millisecond / 3)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.ctx.Done():
				return
			case <-tick.C:
			}
			ttl := uint64(lockTTLMs.Load() + time.Since(t.began).Milliseconds())
			_, _ = t.x.sendKey(t.ctx, primary, &rpc.TxnKVRequest{Op: kvOpHeartBeat, Primary: primary,
				StartTS: t.startTS, TTLMs: ttl})
			t.x.dstats.heartbeats.Add(1)
		}
	}()
	var once sync.Once
	return func() {
		once.Do(func() {
			close(done)
			<-finished
		})
	}
}

// rollback rolls back every key of the transaction, best effort (a lock
// left behind expires and is rolled back by the next reader).
func (t *distTxn) rollback(all [][]byte) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(t.ctx), forwardTimeout)
	defer cancel()
	_ = t.x.sendKeys(ctx, all, true, func(ks [][]byte) *rpc.TxnKVRequest {
		return &rpc.TxnKVRequest{Op: kvOpResolve, Keys: ks, StartTS: t.startTS}
	})
}

// classify wraps prewrite errors that mean "another transaction got
// there first" in errConflict.
func classify(err error) error {
	var le *mvcc.KeyLockedError
	var wc *mvcc.WriteConflictError
	if errors.As(err, &le) || errors.As(err, &wc) || errors.Is(err, mvcc.ErrTxnRolledBack) {
		return fmt.Errorf("%w: %w", errConflict, err)
	}
	return err
}

// ---- lock resolution, shared with the local fast path ----

// withResolve runs read, resolving the locks it meets and running it
// again, for at most resolveWait.
func (x *executor) withResolve(ctx context.Context, read func() error) error {
	var w lockWait
	for {
		err := read()
		var le *mvcc.KeyLockedError
		if !errors.As(err, &le) || w.expired() {
			return err
		}
		if err := x.resolveLock(ctx, le, &w); err != nil {
			return err
		}
	}
}

// lockWait paces one reader's waits for live locks: 2 ms doubling to
// 64 ms, with jitter, for at most resolveWait.
type lockWait struct {
	start time.Time
	delay time.Duration
}

func (w *lockWait) expired() bool { return !w.start.IsZero() && time.Since(w.start) > resolveWait }

func (w *lockWait) wait(ctx context.Context) error {
	if w.start.IsZero() {
		w.start = time.Now()
	}
	w.delay = min(max(2*w.delay, 2*time.Millisecond), 64*time.Millisecond)
	return sleepCtx(ctx, w.delay/2+time.Duration(rand.Int64N(int64(w.delay))))
}

// resolveLock settles the lock a reader met: commits or rolls it back
// when its transaction's fate is known, else waits a little. The caller
// reads again afterwards. It must hold no latch.
func (x *executor) resolveLock(ctx context.Context, le *mvcc.KeyLockedError, w *lockWait) error {
	if w.start.IsZero() {
		w.start = time.Now()
	}
	alive, err := x.resolveOnce(ctx, le)
	if err != nil || !alive {
		return err
	}
	return w.wait(ctx)
}

// resolveOnce asks the primary of le's lock for the transaction's fate
// and resolves le.Key accordingly; alive reports a live transaction
// (nothing done).
func (x *executor) resolveOnce(ctx context.Context, le *mvcc.KeyLockedError) (alive bool, err error) {
	now, err := x.timestamp(ctx)
	if err != nil {
		return false, fmt.Errorf("cluster: timestamp: %w", err)
	}
	l := le.Lock
	req := &rpc.TxnKVRequest{Op: kvOpCheckStatus, Primary: l.Primary, StartTS: l.StartTS, CurrentTS: now}
	if l.Expired(now) {
		// The secondary's TTL ran out too: a primary never prewritten
		// is dead, roll it back so its prewrite can never land.
		req.Flags = kvFlagRollbackIfNotExist
	}
	resp, err := x.sendKey(ctx, l.Primary, req)
	switch {
	case errors.Is(err, mvcc.ErrTxnNotFound):
		return true, nil // its primary's prewrite may be on its way
	case err != nil:
		return false, err
	}
	var commitTS uint64
	switch mvcc.TxnState(resp.State) {
	case mvcc.TxnLocked:
		return true, nil
	case mvcc.TxnCommitted:
		commitTS = resp.CommitTS
	case mvcc.TxnRolledBack:
	default:
		return false, fmt.Errorf("cluster: unknown transaction state %d", resp.State)
	}
	if bytes.Equal(le.Key, l.Primary) && commitTS == 0 {
		return false, nil // the status check rolled the primary back itself
	}
	err = x.sendKeys(ctx, [][]byte{le.Key}, false, func(ks [][]byte) *rpc.TxnKVRequest {
		return &rpc.TxnKVRequest{Op: kvOpResolve, Keys: ks, StartTS: l.StartTS, CommitTS: commitTS}
	})
	if err == nil {
		x.dstats.resolved.Add(1)
	}
	return false, err
}

// ---- running command bodies ----

// distUpdate runs fns (in order, each under a savepoint, as UpdateBatch)
// in a distributed transaction, rerunning them all on a conflict.
func (x *executor) distUpdate(ctx context.Context, db int, ks [][]byte, fns []func(keyspace.Txn) error) ([]error, error) {
	for attempt := 1; ; attempt++ {
		errs, aborted, final, err := x.distAttempt(ctx, db, ks, fns)
		if final {
			return errs, err
		}
		if err == nil {
			return errs, nil
		}
		if !errors.Is(err, errConflict) && !aborted {
			return errs, err
		}
		x.dstats.conflicts.Add(1)
		if attempt == distAttempts {
			return nil, fmt.Errorf("%w: %v", ErrTxnConflict, err)
		}
		// Back off with jitter so that two conflicting transactions do
		// not meet again at once.
		d := time.Duration(1+rand.IntN(5<<min(attempt, 5))) * time.Millisecond
		if err := sleepCtx(ctx, d); err != nil {
			return nil, err
		}
	}
}

// distAttempt is one attempt of distUpdate: aborted reports a lock met
// by a body (err is that lock), final an outcome not to retry (no
// timestamp, or a body aborted the batch).
func (x *executor) distAttempt(ctx context.Context, db int, ks [][]byte, fns []func(keyspace.Txn) error) (errs []error, aborted, final bool, err error) {
	t, err := x.newDistTxn(ctx)
	if err != nil {
		return nil, false, true, err
	}
	defer t.done()
	t.prefetch(db, ks)
	errs = make([]error, len(fns))
	for i, fn := range fns {
		sp := t.Savepoint()
		if errs[i] = fn(t); errs[i] != nil {
			if errors.Is(errs[i], commands.ErrAbortBatch) {
				return errs, false, true, errs[i]
			}
			if isLocked(errs[i]) {
				return errs, true, false, errs[i]
			}
			t.RollbackTo(sp)
		}
	}
	return errs, false, false, t.commit()
}

// distView runs fn in a distributed read-only transaction.
func (x *executor) distView(ctx context.Context, db int, ks [][]byte, fn func(keyspace.Txn) error) error {
	t, err := x.newDistTxn(ctx)
	if err != nil {
		return err
	}
	defer t.done()
	t.prefetch(db, ks)
	if err := fn(t); err != nil {
		return err
	}
	if !t.Empty() {
		return errors.New("cluster: read-only command wrote")
	}
	return nil
}

// isLocked reports a lock a read gave up on.
func isLocked(err error) bool {
	var le *mvcc.KeyLockedError
	return errors.As(err, &le)
}

// ---- the Store entry points' slow paths ----

// slowPath reports errors of the local fast path that a retry after lock
// resolution, or a distributed transaction, may get past.
func slowPath(err error) bool {
	if errors.As(err, new(*commands.NotLocalError)) {
		return false // forwarded whole (its Cause may be ErrNoRegion)
	}
	return isLocked(err) || errors.Is(err, ErrCrossRegion) || errors.Is(err, ErrNoRegion)
}

// updateBatchSlow continues UpdateBatch after the fast path failed with
// err (slowPath): it resolves the lock met and runs the batch again, or
// runs it as a distributed transaction when its keys span regions.
func (x *executor) updateBatchSlow(ctx context.Context, db int, ks [][]byte, fns []func(keyspace.Txn) error, err error) ([]error, error) {
	var errs []error
	var w lockWait
	for !w.expired() {
		var le *mvcc.KeyLockedError
		switch {
		case errors.As(err, &le):
			if rerr := x.resolveLock(ctx, le, &w); rerr != nil {
				return nil, rerr
			}
		case errors.Is(err, ErrCrossRegion), errors.Is(err, ErrNoRegion):
			return x.distUpdate(ctx, db, ks, fns)
		default:
			return errs, err
		}
		if errs, err = x.updateBatchLocal(ctx, db, ks, fns); err == nil || !slowPath(err) {
			return errs, err
		}
	}
	return errs, err
}

// viewSlow is updateBatchSlow for View.
func (x *executor) viewSlow(ctx context.Context, db int, ks [][]byte, fn func(keyspace.Txn) error, err error) error {
	var w lockWait
	for !w.expired() {
		var le *mvcc.KeyLockedError
		switch {
		case errors.As(err, &le):
			if rerr := x.resolveLock(ctx, le, &w); rerr != nil {
				return rerr
			}
		case errors.Is(err, ErrCrossRegion), errors.Is(err, ErrNoRegion):
			return x.distView(ctx, db, ks, fn)
		default:
			return err
		}
		if err = x.viewLocal(ctx, db, ks, fn); err == nil || !slowPath(err) {
			return err
		}
	}
	return err
}
