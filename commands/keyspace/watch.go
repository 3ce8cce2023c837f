package keyspace

import "github.com/skerrydb/skerry/mvcc/keys"

// KeyVersion is what WATCH remembers of a Redis key and EXEC compares:
// the newest commit timestamp of its metadata record, which changes with
// every write of the key (the metadata invariant, doc.go), and whether it
// had a value and whether that value had expired.
type KeyVersion struct {
	CommitTS uint64 // 0: the metadata record was never written
	Exists   bool   // a metadata record exists, expired or not
	Live     bool   // it exists and has not expired at the transaction's time
}

// KeyVersion returns the current version of key, judged at the
// transaction's snapshot and time.
func (d *DB) KeyVersion(key []byte) (KeyVersion, error) {
	mk := keys.MetaKey(d.db, key)
	ts, err := d.txn.LatestCommitTS(mk)
	if err != nil {
		return KeyVersion{}, err
	}
	m, ok, err := d.lookupHeader(key)
	if err != nil {
		return KeyVersion{}, err
	}
	live := ok && (m.ExpireAt == 0 || m.ExpireAt > d.txn.NowMs())
	return KeyVersion{CommitTS: ts, Exists: ok, Live: live}, nil
}

// ModifiedSince reports whether a key whose version was w when it was
// watched counts as modified now, by Redis 7.0's rules:
//   - any write committed since (even of the same value) modifies it,
//     except the deletion of a value that had already expired when WATCH
//     ran (by the active expirer or DEL): Redis calls that no change;
//   - a value that was live at WATCH and has expired since modifies it,
//     deleted or not.
//
// One case differs from Redis: a key that had expired at WATCH, and was
// then recreated and deleted again, reads as unmodified (Redis aborts):
// its absence is the same as at WATCH.
//
// A key absent at WATCH and now absent with no history at all (CommitTS
// 0) is unmodified: MVCC garbage collection removed the deletion it was
// watched after (only a deletion older than the GC life time is
// collected, so a recreation and deletion since would have to be that
// old too).
func (w KeyVersion) ModifiedSince(now KeyVersion) bool {
	if !w.Exists && !now.Exists && now.CommitTS == 0 {
		return false
	}
	if w.CommitTS != now.CommitTS {
		return !(w.Exists && !w.Live && !now.Exists)
	}
	return w.Live && !now.Live
}
