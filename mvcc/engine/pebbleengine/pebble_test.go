package pebbleengine

import (
	"errors"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/skerrydb/skerry/mvcc/engine"
)

func TestIngestSSTs(t *testing.T) {
	fs := vfs.NewMem()
	e, err := Open(Options{Dir: "db", FS: fs, CacheSize: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	b := e.NewBatch()
	for _, k := range []string{"a", "k", "z"} {
		if err := b.Set([]byte(k), []byte("old")); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Commit(true); err != nil {
		t.Fatal(err)
	}
	b = e.NewBatch()
	if err := errors.Join(b.DeleteRange([]byte("a"), []byte("y")), b.Commit(true)); err != nil {
		t.Fatal(err)
	}
	w1, err := e.NewSSTWriter()
	if err != nil {
		t.Fatal(err)
	}
	w2, _ := e.NewSSTWriter()
	if err := errors.Join(w1.Set([]byte("b"), []byte("1")), w1.Set([]byte("c"), []byte("2")), w2.Set([]byte("d"), []byte("3"))); err != nil {
		t.Fatal(err)
	}
	if w1.Size() != 4 {
		t.Fatalf("size %d", w1.Size())
	}
	aborted, _ := e.NewSSTWriter()
	_ = aborted.Set([]byte("x"), []byte("never"))
	aborted.Abort()
	if err := errors.Join(w1.Finish(), w2.Finish()); err != nil {
		t.Fatal(err)
	}
	if err := e.IngestSSTs([]engine.SSTWriter{w1, w2}); err != nil {
		t.Fatal(err)
	}
	w1.Abort() // a no-op once ingested
	check := func(e *Engine) {
		t.Helper()
		want := map[string]string{"a": "", "b": "1", "c": "2", "d": "3", "k": "", "x": "", "z": "old"}
		for k, v := range want {
			got, err := e.Get([]byte(k))
			if v == "" {
				if !errors.Is(err, engine.ErrNotFound) {
					t.Fatalf("%s = %q, %v; want absent", k, got, err)
				}
				continue
			}
			if err != nil || string(got) != v {
				t.Fatalf("%s = %q, %v; want %q", k, got, err, v)
			}
		}
	}
	check(e)
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	e, err = Open(Options{Dir: "db", FS: fs, CacheSize: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	check(e)
	if left, err := fs.List(fs.PathJoin("db", "ingest")); err != nil || len(left) != 0 {
		t.Fatalf("ingest directory after reopen: %v, %v", left, err)
	}
}
