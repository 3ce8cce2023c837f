package cluster_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/skerrydb/skerry/cluster/clustertest"
	"github.com/skerrydb/skerry/commands/keyspace"
	"github.com/skerrydb/skerry/mvcc/keys"
)

// TestCollectorRemovesMembersOfDeletedCollections: DEL of a big hash is one
// write; the collector then deletes every member through Raft, reports
// progress in its metrics, and leaves the live collection alone.
func TestCollectorRemovesMembersOfDeletedCollections(t *testing.T) {
	n := clustertest.Start(t, clustertest.Config(t, t.TempDir()))
	ctx := context.Background()
	st := n.Store()
	const members = 5000
	put := func(key string) {
		err := st.Update(ctx, 0, [][]byte{[]byte(key)}, func(txn keyspace.Txn) error {
			d := keyspace.New(txn, 0)
			m := d.NewCollection(keyspace.TypeHash)
			for i := 0; i < members; i++ {
				if err := txn.Set(d.MemberKey([]byte(key), &m, fmt.Appendf(nil, "f%d", i)), []byte("v")); err != nil {
					return err
				}
			}
			m.Size = members
			return d.SaveCollection([]byte(key), &m)
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	put("doomed")
	put("kept")
	c := client(t, n.Addr())
	if got, err := c.Del(ctx, "doomed").Result(); err != nil || got != 1 {
		t.Fatalf("DEL = %d, %v", got, err)
	}
	eventually(t, 20*time.Second, "the collector to remove every member", func() bool {
		return n.GCCollected() >= members && n.GCBacklog() == 0
	})
	if got := n.GCCollected(); got != members {
		t.Fatalf("collected %d members, want %d", got, members)
	}
	count := func(key string) (members, queued int) {
		err := st.View(ctx, 0, nil, func(txn keyspace.Txn) error {
			lower := keys.MetaKey(0, []byte(key))
			if err := txn.Scan(lower, keys.PrefixEnd(lower), false, func(k, _ []byte) error {
				if _, _, suffix, ok := keys.DecodeMetaKey(k); ok && len(suffix) > 0 {
					members++
				}
				return nil
			}); err != nil {
				return err
			}
			q, err := keyspace.PendingGC(txn, keys.Slot([]byte(key)))
			queued = len(q)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		return members, queued
	}
	if m, q := count("doomed"); m != 0 || q != 0 {
		t.Fatalf("deleted hash: %d member records and %d queue entries left", m, q)
	}
	if m, _ := count("kept"); m != members {
		t.Fatalf("live hash has %d member records, want %d", m, members)
	}
}
