package mvcc_test

import (
	"bytes"
	"errors"
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/cockroachdb/datadriven"

	"github.com/skerrydb/skerry/mvcc"
	"github.com/skerrydb/skerry/mvcc/keys"
)

// TestGCScripts runs testdata/gc/*: the commands of TestPercolatorScripts
// plus
//
//	gc safe-point=S [limit=N] [start=K] [end=K]
//
// which calls mvcc.GC from start until it returns no resume key, printing
// and applying each call's deletions. Every gc command also checks that
// reads at every timestamp >= S answer the same before and after, and that
// a second pass deletes nothing.
func TestGCScripts(t *testing.T) {
	datadriven.Walk(t, "testdata/gc", func(t *testing.T, path string) {
		h := newPercolatorHarness(t)
		datadriven.RunTest(t, path, func(t *testing.T, td *datadriven.TestData) string {
			if td.Cmd == "gc" {
				return h.runGC(t, td)
			}
			return h.run(t, td)
		})
	})
}

func (h *percolatorHarness) runGC(t *testing.T, td *datadriven.TestData) string {
	a := parseScriptArgs(t, td)
	sp := a.u64(t, "safe-point")
	limit := int(a.u64Or(t, "limit", 1000))
	var start, end []byte
	if td.HasArg("start") {
		start = []byte(a.str(t, "start"))
	}
	if td.HasArg("end") {
		end = []byte(a.str(t, "end"))
	}
	points := h.readPointsAtOrAbove(t, sp)
	before := h.readsAt(points)
	var sb strings.Builder
	for call := 1; ; call++ {
		if call > 1000 {
			t.Fatalf("%s: gc does not finish", td.Pos)
		}
		mods, resume, err := mvcc.GC(h.reader(0), start, end, sp, limit)
		if err != nil {
			return sb.String() + formatErr(err)
		}
		sb.WriteString(h.formatMods(t, mods))
		h.apply(t, mods)
		if resume == nil {
			break
		}
		fmt.Fprintf(&sb, "resume at %s\n", resume)
		start = resume
	}
	if after := h.readsAt(points); after != before {
		t.Fatalf("%s: reads at or above the safe point changed:\nbefore:\n%safter:\n%s", td.Pos, before, after)
	}
	if td.HasArg("start") || td.HasArg("end") {
		return sb.String()
	}
	if mods, resume, err := mvcc.GC(h.reader(0), nil, nil, sp, 1<<20); err != nil || len(mods) != 0 || resume != nil {
		t.Fatalf("%s: second gc pass: %d deletions, resume %q, %v", td.Pos, len(mods), resume, err)
	}
	return sb.String()
}

// readPoints are the user keys and timestamps readsAtOrAbove reads.
type readPoints struct {
	keys []string
	ts   []uint64
}

// readPointsAtOrAbove returns every user key with a record and every
// timestamp from sp on where an answer may change.
func (h *percolatorHarness) readPointsAtOrAbove(t testing.TB, sp uint64) readPoints {
	t.Helper()
	userKeys := map[string]bool{}
	tss := map[uint64]bool{sp: true, sp + 1: true}
	for _, fam := range [][2][]byte{pair(keys.LockRange(nil, nil)), pair(keys.WriteRange(nil, nil))} {
		it, err := h.e.NewIter(fam[0], fam[1])
		if err != nil {
			t.Fatal(err)
		}
		for ok := it.First(); ok; ok = it.Next() {
			if uk, err := keys.DecodeLockKey(it.Key()); err == nil {
				userKeys[string(uk)] = true
				l, err := mvcc.DecodeLock(it.Value())
				if err != nil {
					t.Fatal(err)
				}
				tss[l.StartTS], tss[l.StartTS-1] = true, true
				continue
			}
			uk, cts, err := keys.DecodeWriteKey(it.Key())
			if err != nil {
				t.Fatal(err)
			}
			userKeys[string(uk)] = true
			tss[cts], tss[cts-1], tss[cts+1] = true, true, true
		}
		if err := it.Close(); err != nil {
			t.Fatal(err)
		}
	}
	var ks []string
	for k := range userKeys {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	var ts []uint64
	for x := range tss {
		if x >= sp {
			ts = append(ts, x)
		}
	}
	sort.Slice(ts, func(i, j int) bool { return ts[i] < ts[j] })
	return readPoints{keys: ks, ts: ts}
}

// readsAt renders what Get returns for every key at every timestamp of
// p, and a Scan at each of those timestamps.
func (h *percolatorHarness) readsAt(p readPoints) string {
	var sb strings.Builder
	for _, x := range p.ts {
		rd := h.reader(x)
		for _, k := range p.keys {
			v, ok, err := rd.Get([]byte(k))
			fmt.Fprintf(&sb, "@%d %s: ok=%v err=%s %x\n", x, k, ok, errClass(err), v)
		}
		err := rd.Scan(nil, nil, false, func(k, v []byte) error {
			fmt.Fprintf(&sb, "@%d scan %s=%x\n", x, k, v)
			return nil
		})
		fmt.Fprintf(&sb, "@%d scan: %s\n", x, errClass(err))
	}
	return sb.String()
}

// On random histories of one-phase and two-phase transactions, rollbacks
// and lock-only records, GC at a random safe point, in random small
// batches, changes no read at or above the safe point, leaves locks and
// newer records alone, keeps at most one version at or below the safe
// point per key, and a second pass finds nothing; and once the locks left
// behind (some of transactions below the safe point) are resolved, reads
// still agree with a twin engine that never collected.
func TestGCPreservesReadsAboveSafePoint(t *testing.T) {
	for seed := int64(1); seed <= 16; seed++ {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			h := newPercolatorHarness(t)
			// twin has the same history and is never collected.
			twin := newPercolatorHarness(t)
			both := func(mods []mvcc.Modify) { h.apply(t, mods); twin.apply(t, mods) }
			rng := randSource(seed)
			keyNames := []string{"a", "b", "c", "d"}
			ts := uint64(10)
			next := func() uint64 { ts += uint64(1 + rng.Intn(3)); return ts }
			mutation := func(k string) mvcc.Mutation {
				m := mvcc.Mutation{Key: []byte(k), Value: []byte(fmt.Sprint(ts))}
				switch rng.Intn(6) {
				case 0:
					m.Delete = true
				case 1:
					m.Lock = true
				case 2:
					m.Value = bytes.Repeat([]byte{'v'}, mvcc.ShortValueMax+1+rng.Intn(3))
				}
				return m
			}
			for step := 0; step < 60; step++ {
				k := keyNames[rng.Intn(len(keyNames))]
				k2 := keyNames[rng.Intn(len(keyNames))]
				keysOf := [][]byte{[]byte(k)}
				muts := []mvcc.Mutation{mutation(k)}
				if k2 != k {
					keysOf = append(keysOf, []byte(k2))
					muts = append(muts, mutation(k2))
				}
				start := next()
				switch rng.Intn(5) {
				case 0, 1: // one-phase commit
					mods, err := mvcc.OnePC(h.reader(start), muts, start, start)
					if err == nil {
						both(mods)
					}
				default: // two-phase: commit, roll back, or leave locked
					mods, err := mvcc.Prewrite(h.reader(start), muts, keysOf[0], start, 1000)
					if err != nil {
						// A rollback of a transaction that never
						// prewrote: a bare rollback record.
						if mods, err := mvcc.Rollback(h.reader(start), keysOf, start); err == nil {
							both(mods)
						}
						continue
					}
					both(mods)
					switch r := rng.Intn(8); {
					case r < 5:
						commitTS := next()
						mods, err = mvcc.Commit(h.reader(commitTS), keysOf, start, commitTS)
					case r < 7:
						mods, err = mvcc.Rollback(h.reader(start), keysOf, start)
					default:
						continue // left locked
					}
					if err != nil {
						t.Fatalf("step %d: %v", step, err)
					}
					both(mods)
				}
			}
			sp := 10 + uint64(rng.Int63n(int64(ts-10+2)))
			points := h.readPointsAtOrAbove(t, sp)
			before := h.readsAt(points)
			locksBefore, aboveBefore := h.recordsNotCollectable(t, sp)
			var start []byte
			for call := 0; ; call++ {
				if call > 10000 {
					t.Fatal("gc does not finish")
				}
				mods, resume, err := mvcc.GC(h.reader(0), start, nil, sp, 1+rng.Intn(4))
				if err != nil {
					t.Fatal(err)
				}
				h.apply(t, mods)
				// Each call's deletions alone keep the reads.
				if got := h.readsAt(points); got != before {
					t.Fatalf("safe point %d, call %d: reads changed:\nbefore:\n%safter:\n%s", sp, call, before, got)
				}
				if resume == nil {
					break
				}
				start = resume
			}
			locksAfter, aboveAfter := h.recordsNotCollectable(t, sp)
			if locksAfter != locksBefore || aboveAfter != aboveBefore {
				t.Fatalf("gc touched locks or records above %d:\n%s%s\nvs\n%s%s", sp, locksBefore, aboveBefore, locksAfter, aboveAfter)
			}
			h.checkOneVersionAtOrBelow(t, sp)
			if mods, _, err := mvcc.GC(h.reader(0), nil, nil, sp, 1<<20); err != nil || len(mods) != 0 {
				t.Fatalf("second pass: %d deletions, %v", len(mods), err)
			}

			// The locks left (some from below the safe point) resolved
			// alike on both: reads at or above it still agree.
			ls, err := mvcc.ScanLocks(twin.reader(0), nil, nil, ^uint64(0), 0)
			if err != nil {
				t.Fatal(err)
			}
			byTxn := map[uint64][][]byte{}
			var starts []uint64
			for _, l := range ls {
				if byTxn[l.Lock.StartTS] == nil {
					starts = append(starts, l.Lock.StartTS)
				}
				byTxn[l.Lock.StartTS] = append(byTxn[l.Lock.StartTS], l.Key)
			}
			for _, st := range starts {
				var commitTS uint64
				if rng.Intn(3) != 0 {
					commitTS = next()
				}
				for _, hh := range []*percolatorHarness{h, twin} {
					mods, err := mvcc.ResolveLock(hh.reader(0), st, commitTS, byTxn[st])
					if err != nil {
						t.Fatalf("resolve %d: %v", st, err)
					}
					hh.apply(t, mods)
				}
			}
			all := twin.readPointsAtOrAbove(t, sp)
			if got, want := h.readsAt(all), twin.readsAt(all); got != want {
				t.Fatalf("after resolving the locks, gc at %d changed reads:\ngc:\n%sno gc:\n%s", sp, got, want)
			}
		})
	}
}

// recordsNotCollectable renders every lock (with its data record) and
// every write record committed after sp (with the data record of a put).
func (h *percolatorHarness) recordsNotCollectable(t *testing.T, sp uint64) (locks, above string) {
	var lb, ab strings.Builder
	for _, line := range strings.Split(h.rawDump(t), "\n") {
		if strings.HasPrefix(line, "lock ") {
			lb.WriteString(line + "\n")
		}
	}
	h.forEachWrite(t, func(uk []byte, cts uint64, w mvcc.Write, k, v []byte) {
		if cts <= sp {
			return
		}
		fmt.Fprintf(&ab, "%s\n", formatRecord(t, k, v))
		if w.Kind == mvcc.WritePut && !w.HasShort {
			v, err := h.e.Get(keys.DataKey(uk, w.StartTS))
			if err != nil {
				t.Fatalf("data of %s@%d: %v", uk, cts, err)
			}
			fmt.Fprintf(&ab, "  data %d bytes\n", len(v))
		}
	})
	return lb.String(), ab.String()
}

// checkOneVersionAtOrBelow fails unless every key keeps at most one write
// record at or below sp, a put, and no data record is left without a
// write record or lock that needs it.
func (h *percolatorHarness) checkOneVersionAtOrBelow(t *testing.T, sp uint64) {
	below := map[string]int{}
	needed := map[string]bool{}
	h.forEachWrite(t, func(uk []byte, cts uint64, w mvcc.Write, k, v []byte) {
		if w.Kind == mvcc.WritePut && !w.HasShort {
			needed[fmt.Sprintf("%s@%d", uk, w.StartTS)] = true
		}
		if cts > sp {
			return
		}
		below[string(uk)]++
		if w.Kind != mvcc.WritePut || below[string(uk)] > 1 {
			t.Fatalf("after gc at %d, key %s keeps %s\n%s", sp, uk, formatRecord(t, k, v), h.rawDump(t))
		}
	})
	ls, err := mvcc.ScanLocks(h.reader(0), nil, nil, ^uint64(0), 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range ls {
		needed[fmt.Sprintf("%s@%d", l.Key, l.Lock.StartTS)] = true
	}
	dl, du := keys.DataRange(nil, nil)
	dit, err := h.e.NewIter(dl, du)
	if err != nil {
		t.Fatal(err)
	}
	defer dit.Close()
	for ok := dit.First(); ok; ok = dit.Next() {
		uk, sts, err := keys.DecodeDataKey(dit.Key())
		if err != nil {
			t.Fatal(err)
		}
		if !needed[fmt.Sprintf("%s@%d", uk, sts)] {
			t.Fatalf("after gc at %d, data record %s@%d is orphaned\n%s", sp, uk, sts, h.rawDump(t))
		}
	}
}

func TestGCRejectsNonPositiveLimit(t *testing.T) {
	h := newPercolatorHarness(t)
	if _, _, err := mvcc.GC(h.reader(0), nil, nil, 10, 0); !errors.Is(err, mvcc.ErrInvalidTxnRequest) {
		t.Fatalf("limit 0: %v", err)
	}
}
