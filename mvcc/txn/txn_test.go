package txn_test

import (
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/skerrydb/skerry/mvcc"
	"github.com/skerrydb/skerry/mvcc/engine/pebbleengine"
	"github.com/skerrydb/skerry/mvcc/txn"
)

func TestTxnReadsOwnWritesAndMergesScan(t *testing.T) {
	e, err := pebbleengine.Open(pebbleengine.Options{Dir: "db", FS: vfs.NewMem()})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	mods, err := mvcc.OnePC(mvcc.NewReader(e, 10), []mvcc.Mutation{
		{Key: []byte("a"), Value: []byte("1")}, {Key: []byte("c"), Value: []byte("3")}, {Key: []byte("e"), Value: []byte("5")},
	}, 10, 10)
	if err != nil {
		t.Fatal(err)
	}
	b := e.NewBatch()
	for _, m := range mods {
		b.Set(m.Key, m.Value)
	}
	if err := b.Commit(true); err != nil {
		t.Fatal(err)
	}
	tx := txn.New(mvcc.NewReader(e, 20), 1234)
	tx.Set([]byte("b"), []byte("2"))
	tx.Delete([]byte("c"))
	tx.Set([]byte("e"), []byte("55"))
	tx.Set([]byte("f"), []byte("6"))
	if v, ok, _ := tx.Get([]byte("c")); ok {
		t.Fatalf("deleted key visible: %q", v)
	}
	if v, _, _ := tx.Get([]byte("e")); string(v) != "55" {
		t.Fatalf("own write not visible: %q", v)
	}
	for _, c := range []struct {
		reverse bool
		want    string
	}{{false, "a=1 b=2 e=55 f=6"}, {true, "f=6 e=55 b=2 a=1"}} {
		var out []string
		tx.Scan([]byte("a"), nil, c.reverse, func(k, v []byte) error {
			out = append(out, fmt.Sprintf("%s=%s", k, v))
			return nil
		})
		if got := strings.Join(out, " "); got != c.want {
			t.Errorf("scan reverse=%v: %q, want %q", c.reverse, got, c.want)
		}
	}
	ms := tx.Mutations()
	if len(ms) != 4 || string(ms[0].Key) != "b" || !ms[1].Delete || string(ms[3].Key) != "f" {
		t.Fatalf("mutations not sorted or wrong: %+v", ms)
	}
	if tx.NowMs() != 1234 {
		t.Fatal("clock")
	}
}

func TestLatchesSerializeOverlappingKeys(t *testing.T) {
	l := txn.NewLatches(8)
	counter := map[string]int{}
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 500; i++ {
				ks := [][]byte{[]byte("x"), []byte(fmt.Sprint("k", (g+i)%5))}
				if i%50 == 0 {
					ks = nil // whole keyspace
				}
				guard := l.Acquire(ks)
				counter["x"]++ // protected by the latch on "x" (or the global one)
				guard.Release()
			}
		}(g)
	}
	wg.Wait()
	if counter["x"] != 8*500 {
		t.Fatalf("lost updates under latches: %d", counter["x"])
	}
}

func TestSavepointRollback(t *testing.T) {
	e, err := pebbleengine.Open(pebbleengine.Options{Dir: "db", FS: vfs.NewMem()})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	tx := txn.New(mvcc.NewReader(e, 1), 0)
	tx.Set([]byte("a"), []byte("1"))
	sp := tx.Savepoint()
	tx.Set([]byte("a"), []byte("2"))
	tx.Set([]byte("b"), []byte("x"))
	tx.Delete([]byte("a"))
	tx.RollbackTo(sp)
	if v, ok, _ := tx.Get([]byte("a")); !ok || string(v) != "1" {
		t.Fatalf("a after rollback = %q %v", v, ok)
	}
	if _, ok, _ := tx.Get([]byte("b")); ok {
		t.Fatal("b survived the rollback")
	}
	tx.Savepoint()
	tx.Set([]byte("c"), []byte("3"))
	if ms := tx.Mutations(); len(ms) != 2 {
		t.Fatalf("mutations after a kept write: %+v", ms)
	}
}
