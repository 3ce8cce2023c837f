package memengine

import (
	"errors"
	"testing"

	"github.com/skerrydb/skerry/mvcc/engine"
)

func TestEngine(t *testing.T) {
	e := New()
	b := e.NewBatch()
	for _, k := range []string{"b", "d", "a", "c", "e"} {
		if err := b.Set([]byte(k), []byte("v"+k)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.Get([]byte("a")); !errors.Is(err, engine.ErrNotFound) {
		t.Fatal("uncommitted write visible")
	}
	if err := b.Commit(true); err != nil {
		t.Fatal(err)
	}
	snap := e.NewSnapshot()
	b = e.NewBatch()
	_ = b.Delete([]byte("a"))
	_ = b.DeleteRange([]byte("c"), []byte("e"))
	_ = b.Set([]byte("b"), []byte("new"))
	if err := b.Commit(false); err != nil {
		t.Fatal(err)
	}
	keys := func(r engine.Reader, lo, hi string) (out string) {
		var l, h []byte
		if lo != "" {
			l = []byte(lo)
		}
		if hi != "" {
			h = []byte(hi)
		}
		it, err := r.NewIter(l, h)
		if err != nil {
			t.Fatal(err)
		}
		defer it.Close()
		for ok := it.First(); ok; ok = it.Next() {
			out += string(it.Key())
		}
		return out
	}
	if got := keys(e, "", ""); got != "be" {
		t.Fatalf("keys = %q", got)
	}
	if got := keys(snap, "b", "e"); got != "bcd" {
		t.Fatalf("snapshot keys = %q", got)
	}
	if v, _ := e.Get([]byte("b")); string(v) != "new" {
		t.Fatalf("b = %q", v)
	}
	it, _ := snap.NewIter(nil, nil)
	if !it.SeekLT([]byte("c")) || string(it.Key()) != "b" || !it.Last() || string(it.Key()) != "e" ||
		!it.Prev() || string(it.Key()) != "d" || !it.SeekGE([]byte("bb")) || string(it.Key()) != "c" {
		t.Fatal("iterator positioning")
	}
	if it.SeekGE([]byte("f")) || it.Valid() {
		t.Fatal("SeekGE past end valid")
	}
	if err := b.Commit(true); !errors.Is(err, ErrClosed) {
		t.Fatalf("second commit: %v", err)
	}
	_ = e.Close()
	if _, err := e.Get([]byte("b")); !errors.Is(err, ErrClosed) {
		t.Fatalf("get after close: %v", err)
	}
}
