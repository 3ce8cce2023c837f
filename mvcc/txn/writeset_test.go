package txn

import (
	"bytes"
	"fmt"
	"math/rand"
	"slices"
	"testing"

	"github.com/skerrydb/skerry/mvcc"
)

// The write set behaves like a map with undo snapshots, whether it is
// small (scanned) or large (indexed): random sequences of writes,
// savepoints and rollbacks are checked against that model after every step.
func TestWriteSetMatchesModel(t *testing.T) {
	for seed := int64(1); seed <= 200; seed++ {
		rng := rand.New(rand.NewSource(seed))
		keys := 2 + rng.Intn(30) // some sets stay small, some grow past smallWriteSet
		var w WriteSet
		model := map[string]mvcc.Mutation{}
		var saved []map[string]mvcc.Mutation // model at each savepoint
		var sps []int
		for step := 0; step < 300; step++ {
			k := []byte(fmt.Sprintf("k%02d", rng.Intn(keys)))
			if rng.Intn(50) == 0 {
				k = []byte{} // the empty key is a key too
			}
			switch op := rng.Intn(10); {
			case op < 5:
				v := []byte(fmt.Sprint(step))
				_ = w.Set(k, v)
				v[0] = 'x' // the set keeps its own copy
				model[string(k)] = mvcc.Mutation{Key: k, Value: []byte(fmt.Sprint(step))}
			case op < 7:
				_ = w.Delete(k)
				model[string(k)] = mvcc.Mutation{Key: k, Delete: true}
			case op < 8:
				sps = append(sps, w.Savepoint())
				saved = append(saved, clone(model))
			case len(sps) > 0:
				i := rng.Intn(len(sps))
				w.RollbackTo(sps[i])
				model = clone(saved[i])
				sps, saved = sps[:i], saved[:i]
			}
			check(t, seed, step, &w, model)
		}
	}
}

func clone(m map[string]mvcc.Mutation) map[string]mvcc.Mutation {
	c := make(map[string]mvcc.Mutation, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

func check(t *testing.T, seed int64, step int, w *WriteSet, model map[string]mvcc.Mutation) {
	t.Helper()
	want := make([]string, 0, len(model))
	for k := range model {
		want = append(want, k)
	}
	slices.Sort(want)
	got := w.Mutations()
	if len(got) != len(want) || w.Empty() != (len(want) == 0) {
		t.Fatalf("seed %d step %d: %d writes, model has %d", seed, step, len(got), len(want))
	}
	for i, m := range got {
		exp := model[want[i]]
		if string(m.Key) != want[i] || m.Delete != exp.Delete || !bytes.Equal(m.Value, exp.Value) {
			t.Fatalf("seed %d step %d: write %d is %q=%q (del %v), want %q=%q (del %v)",
				seed, step, i, m.Key, m.Value, m.Delete, want[i], exp.Value, exp.Delete)
		}
		if l, ok := w.Lookup(m.Key); !ok || !bytes.Equal(l.Value, m.Value) || l.Delete != m.Delete {
			t.Fatalf("seed %d step %d: Lookup(%q) = %v, %v", seed, step, m.Key, l, ok)
		}
	}
	if _, ok := w.Lookup([]byte("absent")); ok {
		t.Fatalf("seed %d step %d: Lookup found a key never written", seed, step)
	}
	// A range, both directions.
	lo, hi := []byte("k05"), []byte("k12")
	var in []string
	for _, k := range want {
		if k >= string(lo) && k < string(hi) {
			in = append(in, k)
		}
	}
	fwd, rev := w.InRange(lo, hi, false), w.InRange(lo, hi, true)
	if len(fwd) != len(in) || len(rev) != len(in) {
		t.Fatalf("seed %d step %d: InRange gave %d and %d writes, want %d", seed, step, len(fwd), len(rev), len(in))
	}
	for i, k := range in {
		if string(fwd[i].Key) != k || string(rev[len(in)-1-i].Key) != k {
			t.Fatalf("seed %d step %d: InRange order wrong at %d: %q / %q, want %q", seed, step, i, fwd[i].Key, rev[len(in)-1-i].Key, k)
		}
	}
}
