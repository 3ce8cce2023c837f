package keyspace_test

import (
	"fmt"
	"testing"

	"github.com/skerrydb/skerry/commands/keyspace"
	"github.com/skerrydb/skerry/commands/keyspace/keyspacetest"
)

// countingTxn counts the records Scan hands out.
type countingTxn struct {
	keyspace.Txn
	visited int
}

func (c *countingTxn) Scan(lower, upper []byte, reverse bool, fn func(k, v []byte) error) error {
	return c.Txn.Scan(lower, upper, reverse, func(k, v []byte) error {
		c.visited++
		return fn(k, v)
	})
}

// Walking the keyspace visits each collection's first member once, not all
// of its members.
func TestForEachKeySkipsMembers(t *testing.T) {
	st := keyspacetest.NewStore(1000)
	d := keyspace.New(st.Txn(), 0)
	for i := 0; i < 5; i++ {
		key := []byte(fmt.Sprint("h", i))
		m := d.NewCollection(keyspace.TypeHash)
		for j := 0; j < 200; j++ {
			if err := d.Txn().Set(d.MemberKey(key, &m, fmt.Append(nil, j)), nil); err != nil {
				t.Fatal(err)
			}
		}
		m.Size = 200
		if err := d.SaveCollection(key, &m); err != nil {
			t.Fatal(err)
		}
		if err := d.SetString([]byte(fmt.Sprint("s", i)), []byte("v"), 0); err != nil {
			t.Fatal(err)
		}
	}
	ct := &countingTxn{Txn: st.Txn()}
	var got []string
	if err := keyspace.New(ct, 0).ForEachKey(func(key []byte, m *keyspace.Meta) error {
		got = append(got, string(key)+":"+m.Type.String())
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(got) != 10 {
		t.Fatalf("ForEachKey saw %v, want 5 hashes and 5 strings", got)
	}
	// 10 metadata records + at most one member per collection.
	if ct.visited > 15 {
		t.Fatalf("ForEachKey visited %d records for 10 keys", ct.visited)
	}
}
