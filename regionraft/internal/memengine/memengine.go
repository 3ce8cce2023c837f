// Package memengine is a small in-memory engine.Engine for regionraft tests:
// a sorted, copy-on-write slice of key/value pairs. Every committed batch
// replaces the slice, so snapshots and iterators are free, consistent views.
//
// Invariants: the published slice is sorted by key, holds no duplicate keys
// and is never mutated after publication. Commit(sync) ignores sync: there is
// no disk; wrappers in tests model durability.
package memengine

import (
	"bytes"
	"errors"
	"sort"
	"sync"

	"github.com/skerrydb/skerry/mvcc/engine"
)

// ErrClosed is returned by operations on a closed Engine or a committed Batch.
var ErrClosed = errors.New("memengine: closed")

type kv struct{ k, v []byte }

// Engine is an in-memory engine.Engine. Safe for concurrent use.
type Engine struct {
	mu     sync.Mutex
	data   []kv // immutable once published
	closed bool
}

var _ engine.Engine = (*Engine)(nil)

// New returns an empty Engine.
func New() *Engine { return &Engine{} }

func (e *Engine) view() ([]kv, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return nil, ErrClosed
	}
	return e.data, nil
}

// Get implements engine.Reader.
func (e *Engine) Get(key []byte) ([]byte, error) {
	d, err := e.view()
	if err != nil {
		return nil, err
	}
	return get(d, key)
}

// NewIter implements engine.Reader.
func (e *Engine) NewIter(lower, upper []byte) (engine.Iterator, error) {
	d, err := e.view()
	if err != nil {
		return nil, err
	}
	return newIter(d, lower, upper), nil
}

// NewSnapshot implements engine.Engine.
func (e *Engine) NewSnapshot() engine.Snapshot {
	d, _ := e.view()
	return &snapshot{data: d}
}

// NewBatch implements engine.Engine.
func (e *Engine) NewBatch() engine.Batch { return &Batch{e: e} }

// Sync implements engine.Engine; it is a no-op.
func (e *Engine) Sync() error {
	_, err := e.view()
	return err
}

// Close implements engine.Engine.
func (e *Engine) Close() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.closed = true
	return nil
}

// Len reports the number of keys (for tests).
func (e *Engine) Len() int {
	d, _ := e.view()
	return len(d)
}

// Clone returns an independent Engine holding the same data.
func (e *Engine) Clone() *Engine {
	d, _ := e.view()
	return &Engine{data: d}
}

// Apply applies the ops of b (which may belong to another Engine) to e
// atomically.
func (e *Engine) Apply(ops []Op) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return ErrClosed
	}
	d := append([]kv(nil), e.data...)
	for _, op := range ops {
		switch op.Kind {
		case OpSet:
			i := search(d, op.Key)
			if i < len(d) && bytes.Equal(d[i].k, op.Key) {
				d[i] = kv{op.Key, op.Value}
			} else {
				d = append(d, kv{})
				copy(d[i+1:], d[i:])
				d[i] = kv{op.Key, op.Value}
			}
		case OpDelete:
			i := search(d, op.Key)
			if i < len(d) && bytes.Equal(d[i].k, op.Key) {
				d = append(d[:i], d[i+1:]...)
			}
		case OpDeleteRange:
			i := search(d, op.Key)
			j := search(d, op.Value)
			if j > i {
				d = append(d[:i], d[j:]...)
			}
		}
	}
	e.data = d
	return nil
}

// OpKind is the kind of one batch operation.
type OpKind int

// Batch operation kinds.
const (
	OpSet OpKind = iota
	OpDelete
	OpDeleteRange // Key is the start, Value the end (exclusive)
)

// Op is one recorded batch operation.
type Op struct {
	Kind       OpKind
	Key, Value []byte
}

// Batch is an engine.Batch of Engine.
type Batch struct {
	e    *Engine
	ops  []Op
	done bool
}

func clone(b []byte) []byte { return append([]byte{}, b...) }

// Set implements engine.Batch.
func (b *Batch) Set(key, value []byte) error {
	if b.done {
		return ErrClosed
	}
	b.ops = append(b.ops, Op{OpSet, clone(key), clone(value)})
	return nil
}

// Delete implements engine.Batch.
func (b *Batch) Delete(key []byte) error {
	if b.done {
		return ErrClosed
	}
	b.ops = append(b.ops, Op{OpDelete, clone(key), nil})
	return nil
}

// DeleteRange implements engine.Batch.
func (b *Batch) DeleteRange(start, end []byte) error {
	if b.done {
		return ErrClosed
	}
	b.ops = append(b.ops, Op{OpDeleteRange, clone(start), clone(end)})
	return nil
}

// Count implements engine.Batch.
func (b *Batch) Count() int { return len(b.ops) }

// Ops returns the recorded operations.
func (b *Batch) Ops() []Op { return b.ops }

// Commit implements engine.Batch.
func (b *Batch) Commit(sync bool) error {
	if b.done {
		return ErrClosed
	}
	b.done = true
	return b.e.Apply(b.ops)
}

// Close implements engine.Batch.
func (b *Batch) Close() error {
	b.done = true
	return nil
}

type snapshot struct{ data []kv }

func (s *snapshot) Get(key []byte) ([]byte, error) { return get(s.data, key) }
func (s *snapshot) NewIter(lower, upper []byte) (engine.Iterator, error) {
	return newIter(s.data, lower, upper), nil
}
func (s *snapshot) Close() error { return nil }

func search(d []kv, key []byte) int {
	return sort.Search(len(d), func(i int) bool { return bytes.Compare(d[i].k, key) >= 0 })
}

func get(d []kv, key []byte) ([]byte, error) {
	i := search(d, key)
	if i < len(d) && bytes.Equal(d[i].k, key) {
		return d[i].v, nil
	}
	return nil, engine.ErrNotFound
}

func newIter(d []kv, lower, upper []byte) *iter {
	lo, hi := 0, len(d)
	if lower != nil {
		lo = search(d, lower)
	}
	if upper != nil {
		hi = search(d, upper)
	}
	if hi < lo {
		hi = lo
	}
	return &iter{d: d[lo:hi], pos: -1}
}

type iter struct {
	d   []kv
	pos int
}

func (it *iter) valid() bool { return it.pos >= 0 && it.pos < len(it.d) }
func (it *iter) SeekGE(k []byte) bool {
	it.pos = search(it.d, k)
	return it.valid()
}
func (it *iter) SeekLT(k []byte) bool {
	it.pos = search(it.d, k) - 1
	return it.valid()
}
func (it *iter) First() bool { it.pos = 0; return it.valid() }
func (it *iter) Last() bool  { it.pos = len(it.d) - 1; return it.valid() }
func (it *iter) Next() bool {
	if it.pos < len(it.d) {
		it.pos++
	}
	return it.valid()
}
func (it *iter) Prev() bool {
	if it.pos >= 0 {
		it.pos--
	}
	return it.valid()
}
func (it *iter) Valid() bool   { return it.valid() }
func (it *iter) Key() []byte   { return it.d[it.pos].k }
func (it *iter) Value() []byte { return it.d[it.pos].v }
func (it *iter) Error() error  { return nil }
func (it *iter) Close() error  { return nil }
