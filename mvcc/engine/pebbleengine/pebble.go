// Package pebbleengine implements engine.Engine on Pebble. It is the only
// package that imports Pebble. It takes a vfs.FS so tests can run on an
// in-memory or error-injecting filesystem. It also implements
// engine.SSTIngester: tables are built under <Dir>/ingest (emptied at Open:
// files left there by a crash were never ingested) and moved into the LSM
// by Ingest.
package pebbleengine

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/objstorage/objstorageprovider"
	"github.com/cockroachdb/pebble/v2/sstable"
	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/skerrydb/skerry/mvcc/engine"
)

// Options configures the engine.
type Options struct {
	// Dir is the directory of the store.
	Dir string
	// FS is the filesystem; nil means the real disk (vfs.Default).
	FS vfs.FS
	// CacheSize is the block cache size in bytes; default 1 GiB. Pebble
	// fills it only with blocks actually read; with 64 MiB, reads of a
	// 100k-member sorted set went to disk for index blocks evicted by the
	// Raft log's churn and ran at half the speed (docs/performance.md).
	CacheSize int64
}

// Engine is a Pebble-backed engine.Engine.
type Engine struct {
	db     *pebble.DB
	cache  interface{ Unref() }
	fs     vfs.FS
	opts   *pebble.Options
	sstDir string // table files being built for ingestion
	sstSeq atomic.Uint64
}

// Open opens (creating if needed) the store at opts.Dir.
func Open(opts Options) (*Engine, error) {
	fs := opts.FS
	if fs == nil {
		fs = vfs.Default
	}
	size := opts.CacheSize
	if size == 0 {
		size = 1 << 30
	}
	cache := pebble.NewCache(size)
	po := &pebble.Options{
		FS:                          walFS{fs},
		Cache:                       cache,
		MemTableSize:                64 << 20,
		MemTableStopWritesThreshold: 4,
		L0CompactionThreshold:       4,
		L0StopWritesThreshold:       1000,
		LBaseMaxBytes:               256 << 20,
		Logger:                      quietLogger{},
	}
	po.EnsureDefaults()
	db, err := pebble.Open(opts.Dir, po)
	if err != nil {
		cache.Unref()
		return nil, fmt.Errorf("pebbleengine: open %s: %w", opts.Dir, err)
	}
	e := &Engine{db: db, cache: cache, fs: fs, opts: po, sstDir: fs.PathJoin(opts.Dir, "ingest")}
	// Tables left by a crash before their ingestion are garbage.
	if err := errors.Join(fs.RemoveAll(e.sstDir), fs.MkdirAll(e.sstDir, 0o755)); err != nil {
		_ = db.Close()
		cache.Unref()
		return nil, fmt.Errorf("pebbleengine: ingest directory: %w", err)
	}
	return e, nil
}

var _ engine.SSTIngester = (*Engine)(nil)

// NewSSTWriter implements engine.SSTIngester.
func (e *Engine) NewSSTWriter() (engine.SSTWriter, error) {
	path := e.fs.PathJoin(e.sstDir, fmt.Sprintf("%06d.sst", e.sstSeq.Add(1)))
	f, err := e.fs.Create(path, vfs.WriteCategoryUnspecified)
	if err != nil {
		return nil, err
	}
	wo := e.opts.MakeWriterOptions(0, e.db.FormatMajorVersion().MaxTableFormat())
	return &sstWriter{fs: e.fs, path: path, w: sstable.NewWriter(objstorageprovider.NewFileWritable(f), wo)}, nil
}

// IngestSSTs implements engine.SSTIngester.
func (e *Engine) IngestSSTs(ws []engine.SSTWriter) error {
	paths := make([]string, 0, len(ws))
	for _, w := range ws {
		sw, ok := w.(*sstWriter)
		if !ok || sw.w != nil {
			return errors.New("pebbleengine: ingest of an unfinished or foreign table")
		}
		paths = append(paths, sw.path)
	}
	if err := e.db.Ingest(context.Background(), paths); err != nil {
		return fmt.Errorf("pebbleengine: ingest: %w", err)
	}
	for _, w := range ws {
		w.(*sstWriter).ingested = true
	}
	return nil
}

type sstWriter struct {
	fs       vfs.FS
	path     string
	w        *sstable.Writer // nil once finished
	size     uint64
	ingested bool
}

func (w *sstWriter) Set(k, v []byte) error {
	w.size += uint64(len(k) + len(v))
	return w.w.Set(k, v)
}

func (w *sstWriter) Size() uint64 { return w.size }

// Finish closes the table; the file writable syncs it before closing.
func (w *sstWriter) Finish() error {
	err := w.w.Close()
	w.w = nil
	return err
}

func (w *sstWriter) Abort() {
	if w.ingested {
		return
	}
	if w.w != nil {
		_ = w.w.Close()
		w.w = nil
	}
	_ = w.fs.Remove(w.path)
}

// DB exposes the Pebble handle for metrics collection.
func (e *Engine) DB() *pebble.DB { return e.db }

// Get implements engine.Reader.
func (e *Engine) Get(key []byte) ([]byte, error) { return get(e.db, key) }

func get(r pebble.Reader, key []byte) ([]byte, error) {
	v, closer, err := r.Get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, engine.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	out := make([]byte, len(v))
	copy(out, v)
	if err := closer.Close(); err != nil {
		return nil, err
	}
	return out, nil
}

// NewIter implements engine.Reader.
func (e *Engine) NewIter(lower, upper []byte) (engine.Iterator, error) {
	return newIter(e.db, lower, upper)
}

func newIter(r pebble.Reader, lower, upper []byte) (engine.Iterator, error) {
	it, err := r.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: upper})
	if err != nil {
		return nil, err
	}
	return iter{it}, nil
}

// NewSnapshot implements engine.Engine.
func (e *Engine) NewSnapshot() engine.Snapshot { return snapshot{e.db.NewSnapshot()} }

// NewBatch implements engine.Engine.
func (e *Engine) NewBatch() engine.Batch { return &batch{b: e.db.NewBatch()} }

// Sync implements engine.Engine.
func (e *Engine) Sync() error { return e.db.LogData(nil, pebble.Sync) }

// Close implements engine.Engine.
func (e *Engine) Close() error {
	err := e.db.Close()
	e.cache.Unref()
	return err
}

type snapshot struct{ s *pebble.Snapshot }

func (s snapshot) Get(key []byte) ([]byte, error) { return get(s.s, key) }
func (s snapshot) NewIter(lower, upper []byte) (engine.Iterator, error) {
	return newIter(s.s, lower, upper)
}
func (s snapshot) Close() error { return s.s.Close() }

type batch struct {
	b *pebble.Batch
	n int
}

func (b *batch) Set(k, v []byte) error { b.n++; return b.b.Set(k, v, nil) }
func (b *batch) Delete(k []byte) error { b.n++; return b.b.Delete(k, nil) }
func (b *batch) DeleteRange(s, e []byte) error {
	b.n++
	return b.b.DeleteRange(s, e, nil)
}
func (b *batch) Count() int { return b.n }
func (b *batch) Commit(sync bool) error {
	opt := pebble.NoSync
	if sync {
		opt = pebble.Sync
	}
	return b.b.Commit(opt)
}
func (b *batch) Close() error { return b.b.Close() }

type iter struct{ it *pebble.Iterator }

func (i iter) SeekGE(k []byte) bool { return i.it.SeekGE(k) }
func (i iter) SeekLT(k []byte) bool { return i.it.SeekLT(k) }
func (i iter) First() bool          { return i.it.First() }
func (i iter) Last() bool           { return i.it.Last() }
func (i iter) Next() bool           { return i.it.Next() }
func (i iter) Prev() bool           { return i.it.Prev() }
func (i iter) Valid() bool          { return i.it.Valid() }
func (i iter) Key() []byte          { return i.it.Key() }
func (i iter) Value() []byte        { return i.it.Value() }
func (i iter) Error() error         { return i.it.Error() }
func (i iter) Close() error         { return i.it.Close() }

// SetBounds changes the iterator's bounds (Pebble copies them); the
// iterator must be repositioned afterwards. mvcc.Reader uses it to reuse
// one iterator for many point reads.
func (i iter) SetBounds(lower, upper []byte) { i.it.SetBounds(lower, upper) }

// quietLogger drops Pebble's informational logs; errors surface as returned
// errors and fatal conditions still panic.
type quietLogger struct{}

func (quietLogger) Infof(string, ...interface{})  {}
func (quietLogger) Errorf(string, ...interface{}) {}
func (quietLogger) Fatalf(format string, args ...interface{}) {
	panic(fmt.Sprintf(format, args...))
}

var _ engine.Engine = (*Engine)(nil)
