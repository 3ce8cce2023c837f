package keyspace_test

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/skerrydb/skerry/commands/keyspace"
	"github.com/skerrydb/skerry/commands/keyspace/keyspacetest"
	"github.com/skerrydb/skerry/mvcc/keys"
)

// recordingTxn logs the keys written through it.
type recordingTxn struct {
	keyspace.Txn
	writes []string
}

func (r *recordingTxn) Set(k, v []byte) error {
	r.writes = append(r.writes, "set "+string(k))
	return r.Txn.Set(k, v)
}

func (r *recordingTxn) Delete(k []byte) error {
	r.writes = append(r.writes, "del "+string(k))
	return r.Txn.Delete(k)
}

// newHash stores a hash with the given fields in its own transaction.
func newHash(t *testing.T, st *keyspacetest.Store, key string, fields ...string) keyspace.Meta {
	t.Helper()
	d := keyspace.New(st.Txn(), 0)
	m := d.NewCollection(keyspace.TypeHash)
	for _, f := range fields {
		if err := d.Txn().Set(d.MemberKey([]byte(key), &m, []byte(f)), []byte("v")); err != nil {
			t.Fatal(err)
		}
	}
	m.Size = uint64(len(fields))
	if err := d.SaveCollection([]byte(key), &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func metaTS(t *testing.T, st *keyspacetest.Store, db int, key string) uint64 {
	t.Helper()
	ts, err := st.Txn().LatestCommitTS(keys.MetaKey(db, []byte(key)))
	if err != nil {
		t.Fatal(err)
	}
	return ts
}

// A body that only updates members gets its key's metadata rewritten,
// byte for byte, by Finish.
func TestTouchRewritesMetadataOfMemberOnlyWrites(t *testing.T) {
	st := keyspacetest.NewStore(1000)
	m := newHash(t, st, "h", "a", "b")
	before := metaTS(t, st, 0, "h")
	old, _, _ := st.Txn().Get(keys.MetaKey(0, []byte("h")))
	old = bytes.Clone(old)

	rec := &recordingTxn{Txn: st.Txn()}
	tt := keyspace.NewTouchTxn(rec)
	d := keyspace.New(tt, 0)
	if err := tt.Set(d.MemberKey([]byte("h"), &m, []byte("a")), []byte("new")); err != nil {
		t.Fatal(err)
	}
	if err := tt.Set(d.MemberKey([]byte("h"), &m, []byte("b")), []byte("new")); err != nil {
		t.Fatal(err)
	}
	if err := tt.Finish(); err != nil {
		t.Fatal(err)
	}
	metaKey := string(keys.MetaKey(0, []byte("h")))
	if n := len(rec.writes); n != 3 || rec.writes[2] != "set "+metaKey {
		t.Fatalf("writes = %q, want two members then the metadata once", rec.writes)
	}
	if after := metaTS(t, st, 0, "h"); after <= before {
		t.Fatalf("metadata commit ts %d -> %d: not rewritten", before, after)
	}
	now, _, _ := st.Txn().Get(keys.MetaKey(0, []byte("h")))
	if !bytes.Equal(now, old) {
		t.Fatalf("metadata changed: %x -> %x", old, now)
	}

	// A member delete counts too.
	rec = &recordingTxn{Txn: st.Txn()}
	tt = keyspace.NewTouchTxn(rec)
	if err := tt.Delete(d.MemberKey([]byte("h"), &m, []byte("zz"))); err != nil {
		t.Fatal(err)
	}
	if err := tt.Finish(); err != nil {
		t.Fatal(err)
	}
	if len(rec.writes) != 2 || rec.writes[1] != "set "+metaKey {
		t.Fatalf("member delete: writes = %q", rec.writes)
	}
}

// Bodies that write the metadata themselves, delete the key, or touch
// members of a key that no longer exists get no extra write; expiry index
// and garbage queue entries are not records of a Redis key.
func TestTouchLeavesOtherWritesAlone(t *testing.T) {
	st := keyspacetest.NewStore(1000)
	m := newHash(t, st, "h", "a")
	orphan := newHash(t, st, "gone", "x")
	if _, err := keyspace.New(st.Txn(), 0).Delete([]byte("gone")); err != nil {
		t.Fatal(err)
	}

	for _, c := range []struct {
		name string
		body func(d *keyspace.DB) error
	}{
		{"metadata written", func(d *keyspace.DB) error {
			if err := d.Txn().Set(d.MemberKey([]byte("h"), &m, []byte("b")), nil); err != nil {
				return err
			}
			m2 := m
			m2.Size++
			return d.SaveCollection([]byte("h"), &m2)
		}},
		{"key deleted", func(d *keyspace.DB) error {
			if err := d.Txn().Delete(d.MemberKey([]byte("h"), &m, []byte("a"))); err != nil {
				return err
			}
			_, err := d.Delete([]byte("h"))
			return err
		}},
		{"members of a deleted key", func(d *keyspace.DB) error {
			return d.Txn().Delete(d.MemberKey([]byte("gone"), &orphan, []byte("x")))
		}},
		{"index and queue entries", func(d *keyspace.DB) error {
			if err := d.Txn().Set(keys.ExpiryIndexKey(0, []byte("h"), 5000), nil); err != nil {
				return err
			}
			return d.Txn().Set(keys.GCQueueKey(0, []byte("h"), 7), nil)
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			rec := &recordingTxn{Txn: st.Txn()}
			tt := keyspace.NewTouchTxn(rec)
			if err := c.body(keyspace.New(tt, 0)); err != nil {
				t.Fatal(err)
			}
			n := len(rec.writes)
			if err := tt.Finish(); err != nil {
				t.Fatal(err)
			}
			if len(rec.writes) != n {
				t.Fatalf("Finish wrote %q", rec.writes[n:])
			}
		})
	}
}

// Many keys in one body (past the set's list threshold), in several
// databases: each touched key's metadata is rewritten exactly once, and a
// key of the same name in another database is a different key.
func TestTouchManyKeys(t *testing.T) {
	st := keyspacetest.NewStore(1000)
	const n = 20
	metas := make([]keyspace.Meta, n)
	for i := range metas {
		metas[i] = newHash(t, st, fmt.Sprint("k", i), "f")
	}
	d1 := keyspace.New(st.Txn(), 1)
	m1 := d1.NewCollection(keyspace.TypeSet)
	m1.Size = 1
	if err := d1.Txn().Set(d1.MemberKey([]byte("k0"), &m1, []byte("s")), nil); err != nil {
		t.Fatal(err)
	}
	if err := d1.SaveCollection([]byte("k0"), &m1); err != nil {
		t.Fatal(err)
	}

	rec := &recordingTxn{Txn: st.Txn()}
	tt := keyspace.NewTouchTxn(rec)
	d := keyspace.New(tt, 0)
	for round := 0; round < 3; round++ {
		for i := range metas {
			k := []byte(fmt.Sprint("k", i))
			if err := tt.Set(d.MemberKey(k, &metas[i], []byte("f")), []byte(fmt.Sprint(round))); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tt.Set(keyspace.New(tt, 1).MemberKey([]byte("k0"), &m1, []byte("t")), nil); err != nil {
		t.Fatal(err)
	}
	if err := tt.Finish(); err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for _, w := range rec.writes[3*n+1:] {
		seen[w]++
	}
	if len(seen) != n+1 {
		t.Fatalf("Finish wrote %d distinct records, want %d: %q", len(seen), n+1, rec.writes[3*n+1:])
	}
	for i := 0; i < n; i++ {
		if seen["set "+string(keys.MetaKey(0, []byte(fmt.Sprint("k", i))))] != 1 {
			t.Fatalf("metadata of k%d not rewritten once: %v", i, seen)
		}
	}
	if seen["set "+string(keys.MetaKey(1, []byte("k0")))] != 1 {
		t.Fatal("metadata of k0 in db 1 not rewritten")
	}
}
