package mvcc_test

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/cockroachdb/datadriven"

	"github.com/skerrydb/skerry/mvcc"
	"github.com/skerrydb/skerry/mvcc/engine"
	"github.com/skerrydb/skerry/mvcc/keys"
)

// percolatorHarness applies the modifications of Percolator actions to a
// real engine, keeping a lock table as the cluster's applier does, and
// renders records and results as text for the data-driven scripts.
type percolatorHarness struct {
	e     engine.Engine
	locks *mvcc.LockTable
}

func newPercolatorHarness(t *testing.T) *percolatorHarness {
	e := openMem(t)
	locks, err := mvcc.NewLockTable(e)
	if err != nil {
		t.Fatal(err)
	}
	return &percolatorHarness{e: e, locks: locks}
}

// reader returns a reader of the engine's current state that consults the
// lock table, as a region leader's does.
func (h *percolatorHarness) reader(ts uint64) *mvcc.Reader {
	return mvcc.NewReaderWithLocks(h.e, ts, h.locks)
}

// apply commits mods through the Raft command encoding, adding locked keys
// to the lock table before the batch and removing unlocked ones after it.
func (h *percolatorHarness) apply(t testing.TB, mods []mvcc.Modify) {
	t.Helper()
	b := h.e.NewBatch()
	defer b.Close()
	var unlocked [][]byte
	err := mvcc.DecodeModifies(mvcc.EncodeModifies(mods), func(m mvcc.Modify) error {
		if uk, err := keys.DecodeLockKey(m.Key); err == nil {
			if m.Op == mvcc.OpDelete {
				unlocked = append(unlocked, uk)
			} else {
				h.locks.Add(uk)
			}
		}
		if m.Op == mvcc.OpDelete {
			return b.Delete(m.Key)
		}
		return b.Set(m.Key, m.Value)
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Commit(true); err != nil {
		t.Fatal(err)
	}
	for _, k := range unlocked {
		h.locks.Remove(k)
	}
}

func lockKindName(k mvcc.LockKind) string {
	switch k {
	case mvcc.LockPut:
		return "put"
	case mvcc.LockDelete:
		return "delete"
	case mvcc.LockLock:
		return "lock-only"
	}
	return fmt.Sprintf("kind(%d)", k)
}

func writeKindName(k mvcc.WriteKind) string {
	switch k {
	case mvcc.WritePut:
		return "put"
	case mvcc.WriteDelete:
		return "delete"
	case mvcc.WriteLock:
		return "lock"
	case mvcc.WriteRollback:
		return "rollback"
	}
	return fmt.Sprintf("kind(%d)", k)
}

func formatLock(l *mvcc.Lock) string {
	s := fmt.Sprintf("%s start=%d primary=%s ttl=%d", lockKindName(l.Kind), l.StartTS, l.Primary, l.TTLMs)
	if l.HasShort {
		s += fmt.Sprintf(" value=%q", l.ShortValue)
	}
	return s
}

func formatWrite(w *mvcc.Write) string {
	s := fmt.Sprintf("%s start=%d", writeKindName(w.Kind), w.StartTS)
	if w.HasShort {
		s += fmt.Sprintf(" value=%q", w.ShortValue)
	}
	if w.OverlappedRollback {
		s += " overlapped-rollback"
	}
	return s
}

// formatRecord renders one physical MVCC record; value is nil for a
// deletion.
func formatRecord(t testing.TB, k, value []byte) string {
	t.Helper()
	if uk, err := keys.DecodeLockKey(k); err == nil {
		if value == nil {
			return fmt.Sprintf("lock %s", uk)
		}
		l, err := mvcc.DecodeLock(value)
		if err != nil {
			t.Fatal(err)
		}
		return fmt.Sprintf("lock %s: %s", uk, formatLock(&l))
	}
	if uk, ts, err := keys.DecodeWriteKey(k); err == nil {
		if value == nil {
			return fmt.Sprintf("write %s@%d", uk, ts)
		}
		w, err := mvcc.DecodeWrite(value)
		if err != nil {
			t.Fatal(err)
		}
		return fmt.Sprintf("write %s@%d: %s", uk, ts, formatWrite(&w))
	}
	if uk, ts, err := keys.DecodeDataKey(k); err == nil {
		if value == nil {
			return fmt.Sprintf("data %s@%d", uk, ts)
		}
		return fmt.Sprintf("data %s@%d: %d bytes", uk, ts, len(value))
	}
	t.Fatalf("not an MVCC key: %x", k)
	return ""
}

func (h *percolatorHarness) formatMods(t testing.TB, mods []mvcc.Modify) string {
	if len(mods) == 0 {
		return "(no modifications)\n"
	}
	var sb strings.Builder
	for _, m := range mods {
		if m.Op == mvcc.OpDelete {
			fmt.Fprintf(&sb, "delete %s\n", formatRecord(t, m.Key, nil))
		} else {
			fmt.Fprintf(&sb, "put %s\n", formatRecord(t, m.Key, m.Value))
		}
	}
	return sb.String()
}

// rawDump lists every MVCC record in the engine: locks, then write
// records, then data records, each in key order.
func (h *percolatorHarness) rawDump(t testing.TB) string {
	var sb strings.Builder
	for _, rng := range [][2][]byte{
		pair(keys.LockRange(nil, nil)), pair(keys.WriteRange(nil, nil)), pair(keys.DataRange(nil, nil)),
	} {
		it, err := h.e.NewIter(rng[0], rng[1])
		if err != nil {
			t.Fatal(err)
		}
		for ok := it.First(); ok; ok = it.Next() {
			sb.WriteString(formatRecord(t, it.Key(), it.Value()))
			sb.WriteByte('\n')
		}
		if err := it.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if sb.Len() == 0 {
		return "(empty)\n"
	}
	return sb.String()
}

func pair(a, b []byte) [2][]byte { return [2][]byte{a, b} }

// formatErr renders an action's error by its type, never by its text.
func formatErr(err error) string {
	var kl *mvcc.KeyLockedError
	var wc *mvcc.WriteConflictError
	var ce *mvcc.CommittedError
	var pm *mvcc.PrimaryMismatchError
	switch {
	case errors.As(err, &kl):
		return fmt.Sprintf("error: key locked: key=%s lock=(%s)\n", kl.Key, formatLock(&kl.Lock))
	case errors.As(err, &wc):
		return fmt.Sprintf("error: write conflict: key=%s start=%d conflict-commit=%d\n", wc.Key, wc.StartTS, wc.ConflictCommitTS)
	case errors.As(err, &ce):
		return fmt.Sprintf("error: already committed: key=%s start=%d commit=%d\n", ce.Key, ce.StartTS, ce.CommitTS)
	case errors.As(err, &pm):
		return fmt.Sprintf("error: primary mismatch: key=%s lock=(%s)\n", pm.Key, formatLock(&pm.Lock))
	case errors.Is(err, mvcc.ErrTxnRolledBack):
		return "error: transaction rolled back\n"
	case errors.Is(err, mvcc.ErrTxnLockNotFound):
		return "error: transaction lock not found\n"
	case errors.Is(err, mvcc.ErrTxnNotFound):
		return "error: transaction not found\n"
	case errors.Is(err, mvcc.ErrInvalidTxnRequest):
		return "error: invalid request\n"
	}
	return fmt.Sprintf("unexpected error: %v\n", err)
}

// scriptArgs are the arguments of one script command: named numbers and
// strings, bare flags, and the ordered key list / mutations.
type scriptArgs struct {
	td        *datadriven.TestData
	mutations []mvcc.Mutation
	keys      [][]byte
}

func parseScriptArgs(t *testing.T, td *datadriven.TestData) *scriptArgs {
	a := &scriptArgs{td: td}
	for _, arg := range td.CmdArgs {
		last := func() *mvcc.Mutation {
			if len(a.mutations) == 0 {
				t.Fatalf("%s: %s before any k=", td.Pos, arg.Key)
			}
			return &a.mutations[len(a.mutations)-1]
		}
		switch arg.Key {
		case "k":
			k := []byte(arg.SingleVal(t))
			a.keys = append(a.keys, k)
			a.mutations = append(a.mutations, mvcc.Mutation{Key: k})
		case "v":
			last().Value = []byte(arg.SingleVal(t))
		case "vlen":
			n, err := strconv.Atoi(arg.SingleVal(t))
			if err != nil {
				t.Fatalf("%s: vlen: %v", td.Pos, err)
			}
			last().Value = []byte(strings.Repeat("x", n))
		case "del":
			last().Delete = true
		case "lock":
			last().Lock = true
		}
	}
	return a
}

func (a *scriptArgs) u64(t *testing.T, name string) uint64 {
	var s string
	a.td.ScanArgs(t, name, &s)
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		t.Fatalf("%s: %s=%q: %v", a.td.Pos, name, s, err)
	}
	return v
}

func (a *scriptArgs) u64Or(t *testing.T, name string, def uint64) uint64 {
	if !a.td.HasArg(name) {
		return def
	}
	return a.u64(t, name)
}

func (a *scriptArgs) str(t *testing.T, name string) string {
	var s string
	a.td.ScanArgs(t, name, &s)
	return s
}

// TestPercolatorScripts runs testdata/percolator/*: each command runs one
// action against the engine's current state and applies what it returns.
//
//	onepc ts=T k=K v=V ...                 one-phase commit at T (setup)
//	prewrite start=S primary=P [ttl=MS] k=K (v=V | vlen=N | del | lock) ...
//	commit start=S commit=C k=K ...
//	rollback start=S k=K ...
//	check-txn-status primary=P start=S now-ms=MS [rollback-if-not-exist]
//	resolve-lock start=S [commit=C] k=K ...
//	heartbeat primary=P start=S ttl=MS
//	get ts=T k=K ...                        reads, one line per key
//	scan ts=T                               a Reader.Scan of everything
//	scan-locks max-ts=T [limit=N]
//	scan-raw                                every lock, write and data record
//
// Timestamps are raw TSO values: ts>>18 is the physical ms, so a lock
// started at a small ts expires when now-ms exceeds its TTL.
func TestPercolatorScripts(t *testing.T) {
	datadriven.Walk(t, "testdata/percolator", func(t *testing.T, path string) {
		h := newPercolatorHarness(t)
		datadriven.RunTest(t, path, func(t *testing.T, td *datadriven.TestData) string {
			return h.run(t, td)
		})
	})
}

func (h *percolatorHarness) run(t *testing.T, td *datadriven.TestData) string {
	a := parseScriptArgs(t, td)
	// act applies what an action returned and renders it.
	act := func(mods []mvcc.Modify, err error) string {
		if err != nil {
			if len(mods) != 0 {
				t.Fatalf("%s: error with modifications: %v", td.Pos, err)
			}
			return formatErr(err)
		}
		out := h.formatMods(t, mods)
		h.apply(t, mods)
		return out
	}
	switch td.Cmd {
	case "onepc":
		ts := a.u64(t, "ts")
		return act(mvcc.OnePC(h.reader(ts), a.mutations, ts, ts))
	case "prewrite":
		start := a.u64(t, "start")
		return act(mvcc.Prewrite(h.reader(start), a.mutations, []byte(a.str(t, "primary")), start, a.u64Or(t, "ttl", 3000)))
	case "commit":
		start := a.u64(t, "start")
		return act(mvcc.Commit(h.reader(start), a.keys, start, a.u64(t, "commit")))
	case "rollback":
		start := a.u64(t, "start")
		return act(mvcc.Rollback(h.reader(start), a.keys, start))
	case "resolve-lock":
		start := a.u64(t, "start")
		return act(mvcc.ResolveLock(h.reader(start), start, a.u64Or(t, "commit", 0), a.keys))
	case "check-txn-status":
		start := a.u64(t, "start")
		now := a.u64(t, "now-ms") << mvcc.TSLogicalBits
		st, mods, err := mvcc.CheckTxnStatus(h.reader(now), []byte(a.str(t, "primary")), start, now, td.HasArg("rollback-if-not-exist"))
		if err != nil {
			return act(mods, err)
		}
		line := fmt.Sprintf("status: %s action=%s", st.State, st.Action)
		switch st.State {
		case mvcc.TxnCommitted:
			line += fmt.Sprintf(" commit=%d", st.CommitTS)
		case mvcc.TxnLocked:
			line += fmt.Sprintf(" lock=(%s)", formatLock(&st.Lock))
		}
		return line + "\n" + act(mods, nil)
	case "heartbeat":
		start := a.u64(t, "start")
		ttl, mods, err := mvcc.TxnHeartBeat(h.reader(start), []byte(a.str(t, "primary")), start, a.u64(t, "ttl"))
		if err != nil {
			return act(mods, err)
		}
		return fmt.Sprintf("ttl=%d\n", ttl) + act(mods, nil)
	case "get":
		rd := h.reader(a.u64(t, "ts"))
		var sb strings.Builder
		for _, k := range a.keys {
			v, ok, err := rd.Get(k)
			switch {
			case err != nil:
				fmt.Fprintf(&sb, "%s: %s", k, formatErr(err))
			case !ok:
				fmt.Fprintf(&sb, "%s: <none>\n", k)
			default:
				fmt.Fprintf(&sb, "%s: %s\n", k, abbreviate(v))
			}
		}
		return sb.String()
	case "scan":
		var sb strings.Builder
		err := h.reader(a.u64(t, "ts")).Scan(nil, nil, false, func(k, v []byte) error {
			fmt.Fprintf(&sb, "%s: %s\n", k, abbreviate(v))
			return nil
		})
		if err != nil {
			return formatErr(err)
		}
		if sb.Len() == 0 {
			return "(empty)\n"
		}
		return sb.String()
	case "scan-locks":
		ls, err := mvcc.ScanLocks(h.reader(0), nil, nil, a.u64(t, "max-ts"), int(a.u64Or(t, "limit", 0)))
		if err != nil {
			return formatErr(err)
		}
		var sb strings.Builder
		for _, l := range ls {
			fmt.Fprintf(&sb, "%s: %s\n", l.Key, formatLock(&l.Lock))
		}
		if sb.Len() == 0 {
			return "(none)\n"
		}
		return sb.String()
	case "scan-raw":
		return h.rawDump(t)
	}
	t.Fatalf("%s: unknown command %q", td.Pos, td.Cmd)
	return ""
}

// abbreviate prints long generated values by length.
func abbreviate(v []byte) string {
	if len(v) > 32 {
		return fmt.Sprintf("<%d bytes>", len(v))
	}
	return string(v)
}

// ---- exactly-once under retries, on random histories ----

// pAction is one Percolator request of the random history.
type pAction struct {
	name string
	run  func(rd *mvcc.Reader) (outcome string, mods []mvcc.Modify, err error)
}

// errClass renders an error by its type and fields, for comparing two
// outcomes.
func errClass(err error) string {
	if err == nil {
		return "ok"
	}
	return formatErr(err)
}

// Every action, repeated right after it was applied (a retried or
// duplicated request), changes nothing and reports the same outcome; and
// no key ever holds both a commit and a rollback of one transaction.
func TestPercolatorRetriesAreExactlyOnce(t *testing.T) {
	h := newPercolatorHarness(t)
	rng := randSource(42)
	keyNames := []string{"a", "b", "c", "d", "e"}
	type txnState struct {
		start uint64
		keys  [][]byte
	}
	var txns []txnState
	ts := uint64(100)
	next := func() uint64 { ts += uint64(1 + rng.Intn(3)); return ts }
	randomKeys := func() [][]byte {
		perm := rng.Perm(len(keyNames))
		n := 1 + rng.Intn(3)
		var ks [][]byte
		for _, i := range perm[:n] {
			ks = append(ks, []byte(keyNames[i]))
		}
		return ks
	}
	// Mostly recent transactions (whose locks are likely still there),
	// sometimes any.
	pick := func() txnState {
		if n := len(txns); n > 3 && rng.Intn(3) != 0 {
			return txns[n-1-rng.Intn(3)]
		}
		return txns[rng.Intn(len(txns))]
	}
	outcomes := map[string]int{}

	for step := 0; step < 600; step++ {
		var act pAction
		switch op := rng.Intn(7); {
		case op == 0 || len(txns) == 0:
			tx := txnState{start: next(), keys: randomKeys()}
			txns = append(txns, tx)
			var muts []mvcc.Mutation
			for i, k := range tx.keys {
				m := mvcc.Mutation{Key: k, Value: []byte(fmt.Sprint(tx.start))}
				switch rng.Intn(5) {
				case 0:
					m.Lock = true
				case 1:
					m.Delete = true
				case 2:
					m.Value = []byte(strings.Repeat("v", mvcc.ShortValueMax+1+i))
				}
				muts = append(muts, m)
			}
			primary := tx.keys[0]
			ttl := uint64(rng.Intn(20))
			act = pAction{"prewrite", func(rd *mvcc.Reader) (string, []mvcc.Modify, error) {
				mods, err := mvcc.Prewrite(rd, muts, primary, tx.start, ttl)
				return "", mods, err
			}}
		case op == 1:
			tx := pick()
			// Late or retried prewrite of an old transaction.
			muts := []mvcc.Mutation{{Key: tx.keys[0], Value: []byte("late")}}
			act = pAction{"late-prewrite", func(rd *mvcc.Reader) (string, []mvcc.Modify, error) {
				mods, err := mvcc.Prewrite(rd, muts, tx.keys[0], tx.start, 5)
				return "", mods, err
			}}
		case op == 2:
			tx := pick()
			commitTS := next()
			if rng.Intn(2) == 0 {
				// Commit at the start timestamp of a later transaction
				// on the same primary, so that rollbacks and commits
				// overlap on one write key.
				for _, o := range txns {
					if o.start > tx.start && bytes.Equal(o.keys[0], tx.keys[0]) {
						commitTS = o.start
						break
					}
				}
			}
			act = pAction{"commit", func(rd *mvcc.Reader) (string, []mvcc.Modify, error) {
				mods, err := mvcc.Commit(rd, tx.keys, tx.start, commitTS)
				return "", mods, err
			}}
		case op == 3:
			tx := pick()
			act = pAction{"rollback", func(rd *mvcc.Reader) (string, []mvcc.Modify, error) {
				mods, err := mvcc.Rollback(rd, tx.keys, tx.start)
				return "", mods, err
			}}
		case op == 4:
			tx := pick()
			now := uint64(rng.Intn(8)) << mvcc.TSLogicalBits
			rollback := rng.Intn(2) == 0
			act = pAction{"check-txn-status", func(rd *mvcc.Reader) (string, []mvcc.Modify, error) {
				st, mods, err := mvcc.CheckTxnStatus(rd, tx.keys[0], tx.start, now, rollback)
				out := st.State.String()
				if st.State == mvcc.TxnCommitted {
					out += fmt.Sprint(st.CommitTS)
				}
				return out, mods, err
			}}
		case op == 5:
			tx := pick()
			var commitTS uint64
			if rng.Intn(2) == 0 {
				commitTS = next()
			}
			act = pAction{"resolve-lock", func(rd *mvcc.Reader) (string, []mvcc.Modify, error) {
				mods, err := mvcc.ResolveLock(rd, tx.start, commitTS, tx.keys)
				return "", mods, err
			}}
		default:
			tx := pick()
			ttl := uint64(rng.Intn(40))
			act = pAction{"heartbeat", func(rd *mvcc.Reader) (string, []mvcc.Modify, error) {
				got, mods, err := mvcc.TxnHeartBeat(rd, tx.keys[0], tx.start, ttl)
				return fmt.Sprint(got), mods, err
			}}
		}

		out1, mods, err1 := act.run(h.reader(math.MaxUint64))
		if err1 != nil && len(mods) != 0 {
			t.Fatalf("step %d %s: error %v with modifications", step, act.name, err1)
		}
		h.apply(t, mods)
		before := h.rawDump(t)
		out2, mods2, err2 := act.run(h.reader(math.MaxUint64))
		h.apply(t, mods2)
		if after := h.rawDump(t); after != before {
			t.Fatalf("step %d %s: retry changed the state:\nbefore:\n%safter:\n%s", step, act.name, before, after)
		}
		if errClass(err1) != errClass(err2) || out1 != out2 {
			t.Fatalf("step %d %s: retry answered %q/%v, first %q/%v", step, act.name, out2, err2, out1, err1)
		}
		if checkNoCommitAndRollback(t, h, step) > 0 {
			outcomes["overlapped-rollback seen"]++
		}
		outcomes[act.name+" "+strings.TrimSpace(strings.SplitN(errClass(err1), ":", 3)[0]+" "+out1)]++
	}
	// The history must exercise successes and failures of the actions, or
	// the test proves little.
	for _, want := range []string{"prewrite ok", "commit ok", "rollback ok", "late-prewrite error", "commit error", "rollback error", "check-txn-status ok locked", "check-txn-status ok rolled-back", "resolve-lock ok", "overlapped-rollback seen"} {
		if outcomes[want] == 0 {
			t.Errorf("no %q in the history: %v", want, outcomes)
		}
	}
	t.Logf("outcomes: %v", outcomes)
}

// checkNoCommitAndRollback fails if a key holds both a commit record and
// a rollback mark of one transaction.
// It returns the number of commit records flagged with an overlapped
// rollback.
func checkNoCommitAndRollback(t *testing.T, h *percolatorHarness, step int) (overlapped int) {
	t.Helper()
	committed := map[string]bool{}
	rolledBack := map[string]bool{}
	h.forEachWrite(t, func(uk []byte, cts uint64, w mvcc.Write, _, _ []byte) {
		if w.Kind == mvcc.WriteRollback {
			rolledBack[fmt.Sprintf("%s@%d", uk, w.StartTS)] = true
		} else {
			committed[fmt.Sprintf("%s@%d", uk, w.StartTS)] = true
		}
		if w.OverlappedRollback {
			rolledBack[fmt.Sprintf("%s@%d", uk, cts)] = true
			overlapped++
		}
	})
	var bad []string
	for k := range committed {
		if rolledBack[k] {
			bad = append(bad, k)
		}
	}
	sort.Strings(bad)
	if len(bad) > 0 {
		t.Fatalf("step %d: committed and rolled back: %v\n%s", step, bad, h.rawDump(t))
	}
	return overlapped
}

func TestWriteRecordFlagsCompatible(t *testing.T) {
	// A record written before the flags byte existed (hasShort 0 or 1)
	// decodes as before.
	old := []byte{'P', 0, 0, 0, 0, 0, 0, 0, 9, 1, 'v'}
	w, err := mvcc.DecodeWrite(old)
	if err != nil || !w.HasShort || string(w.ShortValue) != "v" || w.OverlappedRollback || w.StartTS != 9 {
		t.Fatalf("old record: %+v %v", w, err)
	}
	w = mvcc.Write{Kind: mvcc.WritePut, StartTS: 3, HasShort: true, ShortValue: []byte("x"), OverlappedRollback: true}
	got, err := mvcc.DecodeWrite(w.Encode())
	if err != nil || !got.OverlappedRollback || !got.HasShort || string(got.ShortValue) != "x" {
		t.Fatalf("round trip: %+v %v", got, err)
	}
	if _, err := mvcc.DecodeWrite([]byte{'P', 0, 0, 0, 0, 0, 0, 0, 9, 0x80}); !errors.Is(err, mvcc.ErrCorruptRecord) {
		t.Fatalf("unknown flag: %v", err)
	}
	if _, err := mvcc.DecodeLock((&mvcc.Lock{Kind: 'Z', Primary: []byte("p")}).Encode()); !errors.Is(err, mvcc.ErrCorruptRecord) {
		t.Fatalf("unknown lock kind: %v", err)
	}
}

func TestLockExpiredUsesPhysicalTime(t *testing.T) {
	l := mvcc.Lock{StartTS: 1000<<mvcc.TSLogicalBits | 77, TTLMs: 50}
	for _, c := range []struct {
		nowMs uint64
		want  bool
	}{{1000, false}, {1050, false}, {1051, true}} {
		if got := l.Expired(c.nowMs<<mvcc.TSLogicalBits | 5); got != c.want {
			t.Errorf("Expired at %d ms = %v, want %v", c.nowMs, got, c.want)
		}
	}
}

// forEachWrite calls fn with every write record in the engine, decoded,
// and its raw key and value.
func (h *percolatorHarness) forEachWrite(t *testing.T, fn func(uk []byte, cts uint64, w mvcc.Write, k, v []byte)) {
	t.Helper()
	lower, upper := keys.WriteRange(nil, nil)
	it, err := h.e.NewIter(lower, upper)
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	for ok := it.First(); ok; ok = it.Next() {
		uk, cts, err := keys.DecodeWriteKey(it.Key())
		if err != nil {
			t.Fatal(err)
		}
		w, err := mvcc.DecodeWrite(it.Value())
		if err != nil {
			t.Fatal(err)
		}
		fn(uk, cts, w, it.Key(), it.Value())
	}
}
