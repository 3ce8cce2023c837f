package mvcc_test

import (
	"fmt"
	"testing"

	"github.com/skerrydb/skerry/mvcc"
	"github.com/skerrydb/skerry/mvcc/keys"
)

func TestVersionCacheVisibilityAndBounds(t *testing.T) {
	c := mvcc.NewVersionCache(64 * 1024)
	k := []byte("k")
	if _, _, hit := c.Get(k, 100); hit {
		t.Fatal("empty cache hit")
	}
	c.Put(k, 10, []byte("v10"), true)
	if v, ok, hit := c.Get(k, 10); !hit || !ok || string(v) != "v10" {
		t.Fatalf("Get at the commit ts: %q %v %v", v, ok, hit)
	}
	// A reader at an older snapshot must go to the engine.
	if _, _, hit := c.Get(k, 9); hit {
		t.Fatal("served a version newer than the read timestamp")
	}
	// An older version never replaces a newer one.
	c.Put(k, 5, []byte("v5"), true)
	if v, _, _ := c.Get(k, 20); string(v) != "v10" {
		t.Fatalf("older Put replaced newer: %q", v)
	}
	c.Put(k, 30, nil, false)
	if _, ok, hit := c.Get(k, 30); !hit || ok {
		t.Fatal("a deletion must be cached as absent")
	}
	c.Invalidate(k)
	if _, _, hit := c.Get(k, 100); hit {
		t.Fatal("hit after Invalidate")
	}
	// The byte bound holds: filling far beyond it keeps few entries.
	for i := 0; i < 10000; i++ {
		c.Put([]byte(fmt.Sprint("key", i)), 1, make([]byte, 100), true)
	}
	hits := 0
	for i := 0; i < 10000; i++ {
		if _, _, hit := c.Get([]byte(fmt.Sprint("key", i)), 1); hit {
			hits++
		}
	}
	if hits == 0 || hits*(100+64) > 64*1024*2 {
		t.Fatalf("%d entries kept for a 64 KiB cache", hits)
	}
	c.Clear()
	if _, _, hit := c.Get([]byte("key9999"), 1); hit {
		t.Fatal("hit after Clear")
	}
}

func TestLockTableLoadsAndGuardsReads(t *testing.T) {
	e := openMem(t)
	l := mvcc.Lock{Kind: mvcc.LockPut, Primary: []byte("p"), StartTS: 5}
	apply(t, e, []mvcc.Modify{{Op: mvcc.OpPut, Key: keys.LockKey([]byte("p")), Value: l.Encode()}})
	lt, err := mvcc.NewLockTable(e)
	if err != nil {
		t.Fatal(err)
	}
	if !lt.Has([]byte("p")) || lt.Has([]byte("q")) || lt.Empty() {
		t.Fatal("lock table did not load the engine's locks")
	}
	// A reader with the table still sees the lock.
	if _, _, err := mvcc.NewReaderWithLocks(e, 10, lt).Get([]byte("p")); err == nil {
		t.Fatal("lock hidden by the lock table")
	}
	lt.Remove([]byte("p"))
	if !lt.Empty() {
		t.Fatal("Remove")
	}
}
