package txn_test

import (
	"errors"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/skerrydb/skerry/mvcc"
	"github.com/skerrydb/skerry/mvcc/engine/pebbleengine"
	"github.com/skerrydb/skerry/mvcc/keys"
	"github.com/skerrydb/skerry/mvcc/txn"
)

// TestLatestCommitTS: the commit timestamp of the newest put or delete at
// the snapshot, ignoring lock-only and rollback records, newer commits and
// the transaction's own writes; a pending lock is reported.
func TestLatestCommitTS(t *testing.T) {
	e, err := pebbleengine.Open(pebbleengine.Options{Dir: "db", FS: vfs.NewMem()})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	commit := func(ts uint64, m mvcc.Mutation) {
		t.Helper()
		mods, err := mvcc.OnePC(mvcc.NewReader(e, ts), []mvcc.Mutation{m}, ts, ts)
		if err != nil {
			t.Fatal(err)
		}
		b := e.NewBatch()
		for _, m := range mods {
			b.Set(m.Key, m.Value)
		}
		if err := b.Commit(true); err != nil {
			t.Fatal(err)
		}
	}
	record := func(key []byte, ts uint64, w mvcc.Write) {
		t.Helper()
		b := e.NewBatch()
		b.Set(keys.WriteKey(key, ts), w.Encode())
		if err := b.Commit(true); err != nil {
			t.Fatal(err)
		}
	}
	a, d := []byte("a"), []byte("d")
	commit(10, mvcc.Mutation{Key: a, Value: []byte("1")})
	commit(20, mvcc.Mutation{Key: a, Value: []byte("1")}) // same value: still a new version
	record(a, 25, mvcc.Write{Kind: mvcc.WriteLock, StartTS: 24})
	record(a, 27, mvcc.Write{Kind: mvcc.WriteRollback, StartTS: 27})
	commit(30, mvcc.Mutation{Key: d, Value: []byte("x")})
	commit(40, mvcc.Mutation{Key: d, Delete: true})
	commit(50, mvcc.Mutation{Key: a, Value: []byte("2")})

	for _, c := range []struct {
		key  []byte
		at   uint64
		want uint64
	}{
		{a, 5, 0}, {a, 10, 10}, {a, 15, 10}, {a, 20, 20}, {a, 29, 20}, {a, 60, 50},
		{d, 35, 30}, {d, 45, 40}, {[]byte("never"), 60, 0},
	} {
		tx := txn.New(mvcc.NewReader(e, c.at), 0)
		got, err := tx.LatestCommitTS(c.key)
		if err != nil || got != c.want {
			t.Errorf("LatestCommitTS(%s) at %d = %d, %v; want %d", c.key, c.at, got, err, c.want)
		}
	}

	tx := txn.New(mvcc.NewReader(e, 60), 0)
	tx.Set(a, []byte("own"))
	if got, _ := tx.LatestCommitTS(a); got != 50 {
		t.Errorf("own buffered write counted: %d", got)
	}

	b := e.NewBatch()
	b.Set(keys.LockKey(a), (&mvcc.Lock{Kind: mvcc.LockPut, Primary: a, StartTS: 55, TTLMs: 3000}).Encode())
	if err := b.Commit(true); err != nil {
		t.Fatal(err)
	}
	var locked *mvcc.KeyLockedError
	if _, err := txn.New(mvcc.NewReader(e, 60), 0).LatestCommitTS(a); !errors.As(err, &locked) {
		t.Errorf("pending lock: err = %v, want *KeyLockedError", err)
	}
}
