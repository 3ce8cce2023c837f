package pebbleengine

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
	"golang.org/x/sys/unix"
)

// A WAL's SyncData on a real file goes raw (with two Ps or more) and its
// data is on the file; a raw fdatasync's failure is an error value.
func TestRawFdatasyncOnDisk(t *testing.T) {
	if runtime.GOMAXPROCS(0) < 2 {
		t.Skip("raw fdatasync needs two Ps")
	}
	name := filepath.Join(t.TempDir(), "000001.log")
	f, err := walFS{vfs.Default}.Create(name, vfs.WriteCategoryUnspecified)
	if err != nil {
		t.Fatal(err)
	}
	rec := []byte("a wal record")
	if _, err := f.Write(rec); err != nil {
		t.Fatal(err)
	}
	if err := f.SyncData(); err != nil {
		t.Fatal(err)
	}
	if zf := f.(*zeroAheadFile); zf.sync.raws != 1 {
		t.Fatalf("raw fdatasyncs = %d, want 1", zf.sync.raws)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(got, rec) || len(got) < zeroChunk {
		t.Fatalf("file holds %d bytes starting %q, want the record then zeros", len(got), got[:min(len(got), 16)])
	}
	// Far above any open descriptor (and the usual RLIMIT_NOFILE).
	if err := rawFdatasync(1 << 24); !errors.Is(err, unix.EBADF) {
		t.Fatalf("fdatasync of a bad descriptor: %v, want EBADF", err)
	}
}
