package mvcc

import (
	"sync"

	"github.com/skerrydb/skerry/mvcc/engine"
	"github.com/skerrydb/skerry/mvcc/keys"
)

// LockTable mirrors which user keys have a lock record in the engine, so a
// reader can skip the lock lookup for an unlocked key (nearly every key:
// locks live only while a two-phase commit is in flight). It may claim a
// lock that is already gone (the reader then looks in the engine and finds
// nothing) but never misses one that is there: the applier adds a key
// before the batch that writes its lock is committed, and removes it only
// after the batch that deletes the lock is committed. Safe for concurrent
// use.
type LockTable struct {
	mu   sync.RWMutex
	keys map[string]struct{}
	// adds counts Add calls: a reader that saw the table empty and adds
	// unchanged knows no two-phase transaction has touched any key in
	// between (see Reader.ShareIterator).
	adds uint64
}

// NewLockTable loads the locks present in r.
func NewLockTable(r engine.Reader) (*LockTable, error) {
	t := &LockTable{keys: map[string]struct{}{}}
	lower, upper := keys.LockRange(nil, nil)
	it, err := r.NewIter(lower, upper)
	if err != nil {
		return nil, err
	}
	defer it.Close()
	for ok := it.First(); ok; ok = it.Next() {
		uk, err := keys.DecodeLockKey(it.Key())
		if err != nil {
			return nil, err
		}
		t.keys[string(uk)] = struct{}{}
	}
	return t, it.Error()
}

// Add records that key may be locked. Call before the lock is committed.
func (t *LockTable) Add(key []byte) {
	t.mu.Lock()
	t.keys[string(key)] = struct{}{}
	t.adds++
	t.mu.Unlock()
}

// Remove records that key's lock is gone. Call only after the deletion is
// committed.
func (t *LockTable) Remove(key []byte) {
	t.mu.Lock()
	delete(t.keys, string(key))
	t.mu.Unlock()
}

// Has reports whether key may be locked.
func (t *LockTable) Has(key []byte) bool {
	t.mu.RLock()
	_, ok := t.keys[string(key)]
	t.mu.RUnlock()
	return ok
}

// Empty reports whether no key may be locked.
func (t *LockTable) Empty() bool {
	t.mu.RLock()
	n := len(t.keys)
	t.mu.RUnlock()
	return n == 0
}

// quiet reports whether no key may be locked, and the number of Adds so
// far. Between two calls that both return empty true with the same adds,
// no lock was written at all.
func (t *LockTable) quiet() (adds uint64, empty bool) {
	t.mu.RLock()
	adds, empty = t.adds, len(t.keys) == 0
	t.mu.RUnlock()
	return adds, empty
}
