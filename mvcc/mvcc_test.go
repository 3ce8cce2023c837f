package mvcc_test

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand"
	"strings"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/skerrydb/skerry/mvcc"
	"github.com/skerrydb/skerry/mvcc/engine"
	"github.com/skerrydb/skerry/mvcc/engine/pebbleengine"
	"github.com/skerrydb/skerry/mvcc/keys"
)

func openMem(t *testing.T) *pebbleengine.Engine {
	t.Helper()
	e, err := pebbleengine.Open(pebbleengine.Options{Dir: "db", FS: vfs.NewMem()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

func apply(t *testing.T, e engine.Engine, mods []mvcc.Modify) {
	t.Helper()
	b := e.NewBatch()
	defer b.Close()
	// Through the Raft command encoding, as a replica applies it.
	err := mvcc.DecodeModifies(mvcc.EncodeModifies(mods), func(m mvcc.Modify) error {
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
}

func commit(t *testing.T, e engine.Engine, ts uint64, ms ...mvcc.Mutation) {
	t.Helper()
	mods, err := mvcc.OnePC(mvcc.NewReader(e, ts), ms, ts, ts)
	if err != nil {
		t.Fatal(err)
	}
	apply(t, e, mods)
}

func get(t *testing.T, e engine.Engine, ts uint64, k string) string {
	t.Helper()
	v, ok, err := mvcc.NewReader(e, ts).Get([]byte(k))
	if err != nil {
		t.Fatal(err)
	}
	if !ok {
		return "<none>"
	}
	return string(v)
}

func scan(t *testing.T, e engine.Engine, ts uint64, reverse bool) string {
	t.Helper()
	var out []string
	err := mvcc.NewReader(e, ts).Scan(nil, nil, reverse, func(k, v []byte) error {
		out = append(out, fmt.Sprintf("%s=%d", k, len(v)))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return strings.Join(out, " ")
}

func TestVersionsVisibleByTimestamp(t *testing.T) {
	e := openMem(t)
	long := strings.Repeat("x", mvcc.ShortValueMax+1)
	commit(t, e, 10, mvcc.Mutation{Key: []byte("a"), Value: []byte("v10")})
	commit(t, e, 20, mvcc.Mutation{Key: []byte("a"), Value: []byte(long)}, mvcc.Mutation{Key: []byte("ab"), Value: []byte("")})
	commit(t, e, 30, mvcc.Mutation{Key: []byte("a"), Delete: true})
	for _, c := range []struct {
		ts   uint64
		key  string
		want string
	}{
		{9, "a", "<none>"}, {10, "a", "v10"}, {19, "a", "v10"}, {20, "a", long},
		{29, "a", long}, {30, "a", "<none>"}, {100, "a", "<none>"},
		{19, "ab", "<none>"}, {20, "ab", ""},
	} {
		if got := get(t, e, c.ts, c.key); got != c.want {
			t.Errorf("get %s@%d = %.10q, want %.10q", c.key, c.ts, got, c.want)
		}
	}
	if got, want := scan(t, e, 25, false), "a=256 ab=0"; got != want {
		t.Errorf("scan@25 = %q, want %q", got, want)
	}
	if got, want := scan(t, e, 25, true), "ab=0 a=256"; got != want {
		t.Errorf("reverse scan@25 = %q, want %q", got, want)
	}
	if got, want := scan(t, e, 35, false), "ab=0"; got != want {
		t.Errorf("scan@35 = %q, want %q", got, want)
	}
}

func TestWriteConflictAndLock(t *testing.T) {
	e := openMem(t)
	commit(t, e, 10, mvcc.Mutation{Key: []byte("k"), Value: []byte("1")})
	_, err := mvcc.OnePC(mvcc.NewReader(e, 5), []mvcc.Mutation{{Key: []byte("k"), Value: []byte("2")}}, 5, 12)
	var wc *mvcc.WriteConflictError
	if !errors.As(err, &wc) || wc.ConflictCommitTS != 10 {
		t.Fatalf("want write conflict at 10, got %v", err)
	}
	// A lock of a transaction started at 15 blocks readers at >= 15 only.
	l := mvcc.Lock{Kind: mvcc.LockPut, Primary: []byte("k"), StartTS: 15, TTLMs: 3000}
	apply(t, e, []mvcc.Modify{{Op: mvcc.OpPut, Key: keys.LockKey([]byte("k")), Value: l.Encode()}})
	if got := get(t, e, 14, "k"); got != "1" {
		t.Fatalf("reader below the lock got %q", got)
	}
	var kl *mvcc.KeyLockedError
	if _, _, err := mvcc.NewReader(e, 16).Get([]byte("k")); !errors.As(err, &kl) || kl.Lock.StartTS != 15 || !bytes.Equal(kl.Lock.Primary, []byte("k")) {
		t.Fatalf("want KeyLockedError, got %v", err)
	}
	if err := mvcc.NewReader(e, 16).Scan(nil, nil, false, func(k, v []byte) error { return nil }); !errors.As(err, &kl) {
		t.Fatalf("scan over a lock: want KeyLockedError, got %v", err)
	}
	if _, err := mvcc.OnePC(mvcc.NewReader(e, 20), []mvcc.Mutation{{Key: []byte("k"), Value: []byte("3")}}, 20, 20); !errors.As(err, &kl) {
		t.Fatalf("1PC over a lock: want KeyLockedError, got %v", err)
	}
}

func TestRecordCodecs(t *testing.T) {
	w := mvcc.Write{Kind: mvcc.WritePut, StartTS: 99, HasShort: true, ShortValue: []byte("v")}
	got, err := mvcc.DecodeWrite(w.Encode())
	if err != nil || got.Kind != w.Kind || got.StartTS != 99 || string(got.ShortValue) != "v" {
		t.Fatalf("write round trip: %+v %v", got, err)
	}
	if _, err := mvcc.DecodeWrite([]byte{'X', 0, 0, 0, 0, 0, 0, 0, 0, 0}); !errors.Is(err, mvcc.ErrCorruptRecord) {
		t.Fatalf("bad kind: %v", err)
	}
	l := mvcc.Lock{Kind: mvcc.LockDelete, Primary: []byte("p"), StartTS: 3, TTLMs: 7}
	gl, err := mvcc.DecodeLock(l.Encode())
	if err != nil || gl.Kind != l.Kind || string(gl.Primary) != "p" || gl.TTLMs != 7 || gl.HasShort {
		t.Fatalf("lock round trip: %+v %v", gl, err)
	}
}

func FuzzDecodeModifies(f *testing.F) {
	f.Add(mvcc.EncodeModifies([]mvcc.Modify{{Op: mvcc.OpPut, Key: []byte("k"), Value: []byte("v")}, {Op: mvcc.OpDelete, Key: []byte("d")}}))
	f.Add([]byte{1, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		var ms []mvcc.Modify
		if err := mvcc.DecodeModifies(b, func(m mvcc.Modify) error { ms = append(ms, m); return nil }); err != nil {
			return
		}
		// Re-encoding what decoded must decode to the same modifications.
		var again []mvcc.Modify
		if err := mvcc.DecodeModifies(mvcc.EncodeModifies(ms), func(m mvcc.Modify) error { again = append(again, m); return nil }); err != nil {
			t.Fatalf("re-encoded command does not decode: %v", err)
		}
		if len(again) != len(ms) {
			t.Fatalf("round trip changed the count: %d != %d", len(again), len(ms))
		}
		for i := range ms {
			if again[i].Op != ms[i].Op || !bytes.Equal(again[i].Key, ms[i].Key) || !bytes.Equal(again[i].Value, ms[i].Value) {
				t.Fatalf("round trip changed modification %d", i)
			}
		}
	})
}

func FuzzDecodeRecords(f *testing.F) {
	f.Add((&mvcc.Write{Kind: mvcc.WritePut, StartTS: 1, HasShort: true, ShortValue: []byte("x")}).Encode())
	f.Add((&mvcc.Lock{Kind: mvcc.LockPut, Primary: []byte("p"), StartTS: 1}).Encode())
	f.Fuzz(func(t *testing.T, b []byte) {
		mvcc.DecodeWrite(b)
		mvcc.DecodeLock(b)
	})
}

// Scan agrees with Get on random histories: many versions per key
// (forcing the forward scan's Next-then-seek path), deletes, long values,
// and snapshots between, before and after the commits.
func TestScanMatchesGetOnRandomHistories(t *testing.T) {
	e := openMem(t)
	rng := randSource(7)
	long := strings.Repeat("y", mvcc.ShortValueMax+3)
	keysUsed := map[string]bool{}
	ts := uint64(10)
	for i := 0; i < 400; i++ {
		k := fmt.Sprintf("k%02d", rng.Intn(30))
		keysUsed[k] = true
		m := mvcc.Mutation{Key: []byte(k), Value: []byte(fmt.Sprint(i))}
		switch rng.Intn(6) {
		case 0:
			m = mvcc.Mutation{Key: []byte(k), Delete: true}
		case 1:
			m.Value = []byte(long + fmt.Sprint(i))
		}
		commit(t, e, ts, m)
		ts += uint64(1 + rng.Intn(3))
	}
	for _, at := range []uint64{5, 10, 11, 50, 200, 400, 777, ts + 10} {
		var want []string
		for i := 0; i < 30; i++ {
			k := fmt.Sprintf("k%02d", i)
			if v := get(t, e, at, k); v != "<none>" {
				want = append(want, fmt.Sprintf("%s=%d", k, len(v)))
			}
		}
		if got := scan(t, e, at, false); got != strings.Join(want, " ") {
			t.Fatalf("scan@%d:\n got %s\nwant %s", at, got, strings.Join(want, " "))
		}
		for i, j := 0, len(want)-1; i < j; i, j = i+1, j-1 {
			want[i], want[j] = want[j], want[i]
		}
		if got := scan(t, e, at, true); got != strings.Join(want, " ") {
			t.Fatalf("reverse scan@%d:\n got %s\nwant %s", at, got, strings.Join(want, " "))
		}
	}
}

func randSource(seed int64) *rand.Rand { return rand.New(rand.NewSource(seed)) }
