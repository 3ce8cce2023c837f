package txn

import (
	"bytes"
	"slices"

	"github.com/skerrydb/skerry/mvcc"
)

// WriteSet is a transaction's buffered writes, one mutation per key (the
// last write wins), with savepoints. Txn (one region) and the cluster's
// distributed transaction both buffer their writes in one. The zero value
// is empty and ready to use. Not safe for concurrent use.
//
// Most transactions are one command writing one or two keys, so the writes
// live in a slice searched linearly; an index by key is built only once
// the set outgrows smallWriteSet. (A map per transaction cost a ~900-byte
// allocation per SET, a few percent of a node's CPU.)
type WriteSet struct {
	list  []mvcc.Mutation
	index map[string]int // key → position in list; nil while list is small
	// undo records how to revert writes made since the oldest live
	// savepoint; nil while no savepoint is taken.
	undo []undoRecord
	save bool
}

// smallWriteSet is the size up to which lookups scan the list.
const smallWriteSet = 8

type undoRecord struct {
	key  []byte
	prev mvcc.Mutation
	had  bool
}

// Set buffers a put.
func (w *WriteSet) Set(key, value []byte) error {
	w.put(key, mvcc.Mutation{Value: bytes.Clone(value)})
	return nil
}

// Delete buffers a delete.
func (w *WriteSet) Delete(key []byte) error {
	w.put(key, mvcc.Mutation{Delete: true})
	return nil
}

// find returns key's position in list, or -1.
func (w *WriteSet) find(key []byte) int {
	if w.index != nil {
		if i, ok := w.index[string(key)]; ok {
			return i
		}
		return -1
	}
	for i := range w.list {
		if bytes.Equal(w.list[i].Key, key) {
			return i
		}
	}
	return -1
}

// put records m as key's write (m.Key is set to a copy of key).
func (w *WriteSet) put(key []byte, m mvcc.Mutation) {
	i := w.find(key)
	if i >= 0 {
		m.Key = w.list[i].Key // already a private copy
		if w.save {
			w.undo = append(w.undo, undoRecord{key: m.Key, prev: w.list[i], had: true})
		}
		w.list[i] = m
		return
	}
	m.Key = bytes.Clone(key)
	if m.Key == nil {
		m.Key = []byte{} // an empty key is still a key, not "no key"
	}
	if w.save {
		w.undo = append(w.undo, undoRecord{key: m.Key})
	}
	w.list = append(w.list, m)
	switch {
	case w.index != nil:
		w.index[string(m.Key)] = len(w.list) - 1
	case len(w.list) > smallWriteSet:
		w.index = make(map[string]int, 2*len(w.list))
		for j := range w.list {
			w.index[string(w.list[j].Key)] = j
		}
	}
}

// dropLast drops the newest write. RollbackTo undoes writes newest first,
// so a write it removes (one that added its key) is always the last one.
func (w *WriteSet) dropLast() {
	last := len(w.list) - 1
	if w.index != nil {
		delete(w.index, string(w.list[last].Key))
	}
	w.list[last] = mvcc.Mutation{}
	w.list = w.list[:last]
}

// Lookup returns the buffered write of key, if any.
func (w *WriteSet) Lookup(key []byte) (mvcc.Mutation, bool) {
	if i := w.find(key); i >= 0 {
		return w.list[i], true
	}
	return mvcc.Mutation{}, false
}

// Savepoint marks the current write set; RollbackTo(sp) reverts every
// write made after it. Used to run several commands in one transaction
// where a failing command must leave no trace.
func (w *WriteSet) Savepoint() int {
	w.save = true
	return len(w.undo)
}

// RollbackTo reverts the writes made since sp was taken.
func (w *WriteSet) RollbackTo(sp int) {
	for i := len(w.undo) - 1; i >= sp; i-- {
		u := w.undo[i]
		if u.had {
			w.list[w.find(u.key)] = u.prev
		} else {
			w.dropLast()
		}
	}
	w.undo = w.undo[:sp]
}

// Mutations returns the buffered writes sorted by key.
func (w *WriteSet) Mutations() []mvcc.Mutation {
	return w.InRange(nil, nil, false)
}

// InRange returns the buffered writes with keys in [lower, upper) (upper
// nil: unbounded), sorted by key, descending if reverse.
func (w *WriteSet) InRange(lower, upper []byte, reverse bool) []mvcc.Mutation {
	var out []mvcc.Mutation
	for _, m := range w.list {
		if bytes.Compare(m.Key, lower) >= 0 && (upper == nil || bytes.Compare(m.Key, upper) < 0) {
			if out == nil {
				out = make([]mvcc.Mutation, 0, len(w.list))
			}
			out = append(out, m)
		}
	}
	slices.SortFunc(out, func(a, b mvcc.Mutation) int {
		if reverse {
			return bytes.Compare(b.Key, a.Key)
		}
		return bytes.Compare(a.Key, b.Key)
	})
	return out
}

// Empty reports whether nothing was written.
func (w *WriteSet) Empty() bool { return len(w.list) == 0 }
