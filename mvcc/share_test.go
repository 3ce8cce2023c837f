package mvcc_test

import (
	"testing"

	"github.com/skerrydb/skerry/mvcc"
	"github.com/skerrydb/skerry/mvcc/keys"
)

func sharedGet(t *testing.T, rd *mvcc.Reader, k string) string {
	t.Helper()
	v, ok, err := rd.Get([]byte(k))
	if err != nil {
		t.Fatal(err)
	}
	if !ok {
		return "<none>"
	}
	return string(v)
}

// A reader sharing one iterator answers each point read for its own key,
// whatever was read before and in whatever order.
func TestSharedIteratorReadsEachKey(t *testing.T) {
	e := openMem(t)
	commit(t, e, 10, mvcc.Mutation{Key: []byte("a"), Value: []byte("a1")})
	commit(t, e, 20, mvcc.Mutation{Key: []byte("b"), Value: []byte("b1")})
	commit(t, e, 30, mvcc.Mutation{Key: []byte("a"), Value: []byte("a2")})
	commit(t, e, 40, mvcc.Mutation{Key: []byte("c"), Delete: true})
	locks, err := mvcc.NewLockTable(e)
	if err != nil {
		t.Fatal(err)
	}
	rd := mvcc.NewReaderWithLocks(e, 35, locks)
	rd.ShareIterator()
	defer rd.Close()
	for _, want := range []struct{ k, v string }{
		{"b", "b1"}, {"a", "a2"}, {"zz", "<none>"}, {"a", "a2"}, {"c", "<none>"}, {"b", "b1"}, {"", "<none>"},
	} {
		if got := sharedGet(t, rd, want.k); got != want.v {
			t.Fatalf("Get(%q) = %q, want %q", want.k, got, want.v)
		}
	}
	old := mvcc.NewReaderWithLocks(e, 25, locks)
	old.ShareIterator()
	defer old.Close()
	if got := sharedGet(t, old, "a"); got != "a1" {
		t.Fatalf("Get(a) at 25 = %q, want a1", got)
	}
}

// A two-phase transaction does not hold latches for its whole life, so
// its commit can be applied after a latched reader created its shared
// iterator. The reader must then not answer from that iterator's older
// view: this test fails if the lock table's Add is not taken into account
// (the reader would return "v1").
func TestSharedIteratorSeesTwoPhaseCommitAppliedAfterIt(t *testing.T) {
	e := openMem(t)
	k := []byte("k")
	commit(t, e, 10, mvcc.Mutation{Key: k, Value: []byte("v1")})
	locks, err := mvcc.NewLockTable(e)
	if err != nil {
		t.Fatal(err)
	}
	rd := mvcc.NewReaderWithLocks(e, 100, locks)
	rd.ShareIterator()
	defer rd.Close()
	if got := sharedGet(t, rd, "other"); got != "<none>" { // creates the iterator
		t.Fatal(got)
	}

	// Prewrite at 50 (the applier adds the key before the lock is
	// committed), then commit at 60 and remove the lock.
	lock := mvcc.Lock{Kind: mvcc.LockPut, Primary: k, StartTS: 50, TTLMs: 3000, HasShort: true, ShortValue: []byte("v2")}
	locks.Add(k)
	apply(t, e, []mvcc.Modify{{Op: mvcc.OpPut, Key: keys.LockKey(k), Value: lock.Encode()}})
	w := mvcc.Write{Kind: mvcc.WritePut, StartTS: 50, HasShort: true, ShortValue: []byte("v2")}
	apply(t, e, []mvcc.Modify{
		{Op: mvcc.OpPut, Key: keys.WriteKey(k, 60), Value: w.Encode()},
		{Op: mvcc.OpDelete, Key: keys.LockKey(k)},
	})
	locks.Remove(k)

	if got := sharedGet(t, rd, "k"); got != "v2" {
		t.Fatalf("Get(k) after a two-phase commit at 60 = %q, want v2", got)
	}
}

// While a lock is present the reader reads through fresh iterators, and
// reports the lock as Get always does.
func TestSharedIteratorWithLockPresent(t *testing.T) {
	e := openMem(t)
	k := []byte("k")
	commit(t, e, 10, mvcc.Mutation{Key: k, Value: []byte("v1")})
	lock := mvcc.Lock{Kind: mvcc.LockPut, Primary: k, StartTS: 50, TTLMs: 3000}
	apply(t, e, []mvcc.Modify{{Op: mvcc.OpPut, Key: keys.LockKey(k), Value: lock.Encode()}})
	locks, err := mvcc.NewLockTable(e)
	if err != nil {
		t.Fatal(err)
	}
	rd := mvcc.NewReaderWithLocks(e, 100, locks)
	rd.ShareIterator()
	defer rd.Close()
	if got := sharedGet(t, rd, "j"); got != "<none>" {
		t.Fatal(got)
	}
	commit(t, e, 70, mvcc.Mutation{Key: []byte("j"), Value: []byte("j1")})
	if got := sharedGet(t, rd, "j"); got != "j1" {
		t.Fatalf("Get(j) = %q, want j1 (no shared iterator while a lock exists)", got)
	}
	if _, _, err := rd.Get(k); err == nil {
		t.Fatal("Get of a locked key succeeded")
	}
}
