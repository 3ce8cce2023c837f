package pebbleengine

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/skerrydb/skerry/mvcc/engine"
)

// The WAL is written ahead with zeros, and a crash at any point (synced
// data kept, unsynced data kept or lost at random) recovers every synced
// write: Pebble takes the zeros after the last record for the end of the
// log.
func TestZeroedWALTailRecovers(t *testing.T) {
	for seed := int64(1); seed <= 6; seed++ {
		fs := vfs.NewCrashableMem()
		e, err := Open(Options{Dir: "db", FS: fs, CacheSize: 1 << 20})
		if err != nil {
			t.Fatal(err)
		}
		rng := rand.New(rand.NewPCG(uint64(seed), 7))
		val := strings.Repeat("v", 1000)
		n := 500 + rng.IntN(2500) // up to ~3 MB of WAL: several zero chunks
		for i := 0; i < n; i++ {
			b := e.NewBatch()
			if err := errors.Join(b.Set([]byte(fmt.Sprintf("k%05d", i)), []byte(val)), b.Commit(true)); err != nil {
				t.Fatal(err)
			}
		}
		unsynced := e.NewBatch()
		if err := errors.Join(unsynced.Set([]byte("unsynced"), []byte("x")), unsynced.Commit(false)); err != nil {
			t.Fatal(err)
		}
		var wal vfs.FileInfo
		names, _ := fs.List("db")
		for _, name := range names {
			if isWAL(name) {
				if st, err := fs.Stat(fs.PathJoin("db", name)); err == nil && (wal == nil || st.Size() > wal.Size()) {
					wal = st
				}
			}
		}
		if wal == nil || wal.Size() < 2*zeroChunk || wal.Size()%zeroChunk != 0 {
			t.Fatalf("seed %d: WAL %v not written ahead in whole chunks", seed, wal)
		}
		crashed := fs.CrashClone(vfs.CrashCloneCfg{UnsyncedDataPercent: rng.IntN(101), RNG: rng})
		if err := e.Close(); err != nil {
			t.Fatal(err)
		}
		e2, err := Open(Options{Dir: "db", FS: crashed, CacheSize: 1 << 20})
		if err != nil {
			t.Fatalf("seed %d: reopen after a crash: %v", seed, err)
		}
		for i := 0; i < n; i++ {
			if v, err := e2.Get([]byte(fmt.Sprintf("k%05d", i))); err != nil || string(v) != val {
				t.Fatalf("seed %d: synced k%05d after the crash: %d bytes, %v", seed, i, len(v), err)
			}
		}
		if _, err := e2.Get([]byte("unsynced")); err != nil && !errors.Is(err, engine.ErrNotFound) {
			t.Fatal(err)
		}
		// And it keeps going: writes after recovery survive a clean reopen.
		b := e2.NewBatch()
		if err := errors.Join(b.Set([]byte("after"), []byte("y")), b.Commit(true), e2.Close()); err != nil {
			t.Fatal(err)
		}
		e3, err := Open(Options{Dir: "db", FS: crashed, CacheSize: 1 << 20})
		if err != nil {
			t.Fatal(err)
		}
		if v, err := e3.Get([]byte("after")); err != nil || string(v) != "y" {
			t.Fatalf("seed %d: write after recovery: %q %v", seed, v, err)
		}
		_ = e3.Close()
	}
}

// One fdatasync slower than rawSlowSync sends the next rawBackoff down the
// normal path; with one P the raw path is never taken (it would stop every
// goroutine while the disk works).
func TestWALSyncGoesNormalAfterASlowOne(t *testing.T) {
	var s walSync
	if !s.useRaw(2) {
		t.Fatal("2 Ps, no slow sync yet: want raw")
	}
	if s.useRaw(1) {
		t.Fatal("1 P: want the normal path")
	}
	s.observe(rawSlowSync)
	if !s.useRaw(2) {
		t.Fatal("a sync of exactly rawSlowSync is not slow: want raw")
	}
	s.observe(rawSlowSync + time.Microsecond)
	for i := 0; i < rawBackoff; i++ {
		if s.useRaw(2) {
			t.Fatalf("call %d after a slow sync went raw", i)
		}
	}
	if !s.useRaw(2) {
		t.Fatal("raw not resumed after the backoff")
	}
}
