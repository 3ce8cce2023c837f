package txn

import (
	"bytes"
	"sort"

	"github.com/skerrydb/skerry/mvcc"
)

// WriteSet is a transaction's buffered writes, one mutation per key (the
// last write wins), with savepoints. Txn (one region) and the cluster's
// distributed transaction both buffer their writes in one. The zero value
// is empty and ready to use. Not safe for concurrent use.
type WriteSet struct {
	writes map[string]mvcc.Mutation
	// undo records how to revert writes made since the oldest live
	// savepoint; nil while no savepoint is taken.
	undo []undoRecord
	save bool
}

type undoRecord struct {
	key  string
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

// put records m as key's write (m.Key is set to a copy of key).
func (w *WriteSet) put(key []byte, m mvcc.Mutation) {
	if w.writes == nil {
		w.writes = make(map[string]mvcc.Mutation, 2)
	}
	k := string(key)
	m.Key = []byte(k)
	if w.save {
		prev, had := w.writes[k]
		w.undo = append(w.undo, undoRecord{key: k, prev: prev, had: had})
	}
	w.writes[k] = m
}

// Lookup returns the buffered write of key, if any.
func (w *WriteSet) Lookup(key []byte) (mvcc.Mutation, bool) {
	m, ok := w.writes[string(key)]
	return m, ok
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
			w.writes[u.key] = u.prev
		} else {
			delete(w.writes, u.key)
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
	out := make([]mvcc.Mutation, 0, len(w.writes))
	for _, m := range w.writes {
		if bytes.Compare(m.Key, lower) >= 0 && (upper == nil || bytes.Compare(m.Key, upper) < 0) {
			out = append(out, m)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		c := bytes.Compare(out[i].Key, out[j].Key)
		if reverse {
			return c > 0
		}
		return c < 0
	})
	return out
}

// Empty reports whether nothing was written.
func (w *WriteSet) Empty() bool { return len(w.writes) == 0 }
