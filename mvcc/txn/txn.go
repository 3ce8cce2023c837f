package txn

import (
	"bytes"

	"github.com/skerrydb/skerry/mvcc"
)

// Txn buffers writes over a snapshot reader. Reads see the snapshot plus
// the transaction's own writes. Not safe for concurrent use.
type Txn struct {
	WriteSet // Set, Delete, Savepoint, RollbackTo, Mutations, Empty
	rd       *mvcc.Reader
	nowMs    int64
	// reads caches values read from the snapshot: command bodies often read
	// a key's metadata twice (check, then update), and each storage read
	// is a memtable seek.
	reads map[string]cachedRead
	// cache, when set, serves and records the newest versions of keys
	// (see mvcc.VersionCache for who may set it: only transactions that
	// hold the latches of every key they read).
	cache *mvcc.VersionCache
	// plain, when set, tells keys whose newest committed value needs no
	// clean-up when replaced (keyspace.PlainChecker); nil: none is known.
	plain func(key []byte) bool
}

type cachedRead struct {
	value []byte
	ok    bool
}

// New returns a transaction reading through rd whose clock (for expiry)
// reads nowMs.
func New(rd *mvcc.Reader, nowMs int64) *Txn {
	return &Txn{rd: rd, nowMs: nowMs}
}

// UseCache makes the transaction read through c. The caller must hold the
// latch of every key the transaction reads.
func (t *Txn) UseCache(c *mvcc.VersionCache) { t.cache = c }

// UsePlainCheck makes KnownPlain ask f about keys the transaction has
// neither written nor read. f must only answer true for a key whose newest
// committed value, and any pending lock on it, is known to be no
// collection and no expiry (cluster/plainkeys.go).
func (t *Txn) UsePlainCheck(f func(key []byte) bool) { t.plain = f }

// KnownPlain implements keyspace.PlainChecker: a key this transaction
// wrote or read already is answered by its own buffers (false: read it).
func (t *Txn) KnownPlain(key []byte) bool {
	if t.plain == nil {
		return false
	}
	if _, ok := t.Lookup(key); ok {
		return false
	}
	if _, ok := t.reads[string(key)]; ok {
		return false
	}
	return t.plain(key)
}

// NowMs returns the transaction's time in Unix ms.
func (t *Txn) NowMs() int64 { return t.nowMs }

// StartTS returns the read timestamp.
func (t *Txn) StartTS() uint64 { return t.rd.TS() }

// Get returns the value of key.
func (t *Txn) Get(key []byte) ([]byte, bool, error) {
	if m, ok := t.Lookup(key); ok {
		if m.Delete {
			return nil, false, nil
		}
		return m.Value, true, nil
	}
	if r, ok := t.reads[string(key)]; ok {
		return r.value, r.ok, nil
	}
	v, ok, err := t.read(key)
	if err != nil {
		return nil, false, err
	}
	if t.reads == nil {
		t.reads = make(map[string]cachedRead, 2)
	}
	t.reads[string(key)] = cachedRead{v, ok}
	return v, ok, nil
}

// LatestCommitTS returns the commit timestamp of the newest committed put
// or delete of key visible at the transaction's snapshot, 0 if key was
// never written (or its history was garbage-collected). Lock-only and
// rollback records are skipped: a serializable read or an aborted
// transaction does not modify the key. The transaction's own buffered
// writes have no commit timestamp yet and are not counted. A lock of a
// transaction that started at or before the snapshot is reported as a
// *mvcc.KeyLockedError, as Get does, since its commit may be pending.
//
// WATCH compares it between two transactions: any write committed after
// the first one's snapshot changes it, whatever the value written.
func (t *Txn) LatestCommitTS(key []byte) (uint64, error) {
	if err := t.rd.CheckLock(key); err != nil {
		return 0, err
	}
	_, cts, _, err := t.rd.SeekWrite(key, t.rd.TS())
	return cts, err
}

// read reads key from the snapshot, through the version cache if any.
func (t *Txn) read(key []byte) ([]byte, bool, error) {
	if t.cache == nil {
		return t.rd.Get(key)
	}
	if err := t.rd.CheckLock(key); err != nil {
		return nil, false, err
	}
	if v, ok, hit := t.cache.Get(key, t.rd.TS()); hit {
		return v, ok, nil
	}
	v, ok, cts, err := t.rd.GetVersion(key)
	if err != nil {
		return nil, false, err
	}
	t.cache.Put(key, cts, bytes.Clone(v), ok)
	return v, ok, nil
}

// Scan merges the snapshot with buffered writes over [lower, upper).
func (t *Txn) Scan(lower, upper []byte, reverse bool, fn func(k, v []byte) error) error {
	buf := t.InRange(lower, upper, reverse)
	// before reports whether buffered key b comes before stored key k in
	// iteration order.
	before := func(b, k []byte) bool {
		c := bytes.Compare(b, k)
		if reverse {
			return c > 0
		}
		return c < 0
	}
	emit := func(m mvcc.Mutation) error {
		if m.Delete {
			return nil
		}
		return fn(m.Key, m.Value)
	}
	i := 0
	err := t.rd.Scan(lower, upper, reverse, func(k, v []byte) error {
		for i < len(buf) && before(buf[i].Key, k) {
			if err := emit(buf[i]); err != nil {
				return err
			}
			i++
		}
		if i < len(buf) && bytes.Equal(buf[i].Key, k) {
			i++
			return emit(buf[i-1])
		}
		return fn(k, v)
	})
	if err != nil {
		return err
	}
	for ; i < len(buf); i++ {
		if err := emit(buf[i]); err != nil {
			return err
		}
	}
	return nil
}
