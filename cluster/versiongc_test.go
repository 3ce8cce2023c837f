package cluster_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/skerrydb/skerry/cluster"
	"github.com/skerrydb/skerry/cluster/clustertest"
	"github.com/skerrydb/skerry/commands/keyspace"
	"github.com/skerrydb/skerry/mvcc/engine"
	"github.com/skerrydb/skerry/mvcc/keys"
	"github.com/skerrydb/skerry/pd/pdclient"
)

// versionCounts counts the write and data records of the metadata record
// of Redis key key (database 0) in e.
func versionCounts(t *testing.T, e engine.Engine, key string) (writes, data int) {
	t.Helper()
	uk := keys.MetaKey(0, []byte(key))
	count := func(lower, upper []byte) int {
		it, err := e.NewIter(lower, upper)
		if err != nil {
			t.Fatal(err)
		}
		defer it.Close()
		n := 0
		for ok := it.First(); ok; ok = it.Next() {
			n++
		}
		if err := it.Error(); err != nil {
			t.Fatal(err)
		}
		return n
	}
	wp := keys.WriteKeyVersionless(uk)
	dp, _ := keys.DataRange(uk, nil) // its lower bound: the versionless data prefix
	return count(wp, keys.PrefixEnd(wp)), count(dp, keys.PrefixEnd(dp))
}

// TestVersionGCCollectsOldVersions: a key overwritten many times keeps
// every version until the safe point passes them; then the leader's
// collector deletes all but the newest (with the data records of long
// values), the latest value still reads, a deleted key loses all its
// versions, and WATCH/MULTI/EXEC still behaves.
func TestVersionGCCollectsOldVersions(t *testing.T) {
	cfg := clustertest.Config(t, t.TempDir())
	cfg.GCLifeTime = 50 * time.Millisecond
	cfg.VersionGCPeriod = 20 * time.Millisecond
	n := clustertest.Start(t, cfg)
	e := cluster.Engine(n)
	ctx := context.Background()
	c := client(t, n.Addr())

	const overwrites = 40
	long := strings.Repeat("x", 300) // above mvcc.ShortValueMax: a data record
	for i := 0; i < overwrites; i++ {
		if err := c.Set(ctx, "k", i, 0).Err(); err != nil {
			t.Fatal(err)
		}
		if err := c.Set(ctx, "big", long+string(rune('a'+i%26)), 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Set(ctx, "gone", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if err := c.Del(ctx, "gone").Err(); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "old versions to be collected", func() bool {
		kw, _ := versionCounts(t, e, "k")
		bw, bd := versionCounts(t, e, "big")
		gw, _ := versionCounts(t, e, "gone")
		return kw == 1 && bw == 1 && bd == 1 && gw == 0
	})
	// The collector counts a batch once its proposal returns, which may be
	// after the deletions are visible here: wait for the count as well.
	eventually(t, 10*time.Second, "the collector to count its deletions", func() bool {
		deleted, sp := cluster.MVCCGCStats(n)
		return deleted >= 2*(overwrites-1)+2 && sp != 0
	})
	if got, err := c.Get(ctx, "k").Result(); err != nil || got != "39" {
		t.Fatalf("GET k = %q, %v", got, err)
	}
	if got, err := c.Get(ctx, "big").Result(); err != nil || got != long+string(rune('a'+(overwrites-1)%26)) {
		t.Fatalf("GET big = %d bytes, %v", len(got), err)
	}
	if got, err := c.Exists(ctx, "gone").Result(); err != nil || got != 0 {
		t.Fatalf("EXISTS gone = %d, %v", got, err)
	}

	// WATCH of a key whose old versions are gone: unmodified, EXEC runs.
	err := c.Watch(ctx, func(tx *redis.Tx) error {
		_, err := tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
			p.Set(ctx, "k", "watched", 0)
			return nil
		})
		return err
	}, "k")
	if err != nil {
		t.Fatalf("WATCH/MULTI/EXEC of an unmodified key: %v", err)
	}
	// Modified after WATCH: EXEC aborts, even once GC has run meanwhile.
	err = c.Watch(ctx, func(tx *redis.Tx) error {
		if err := c.Set(ctx, "k", "other", 0).Err(); err != nil {
			return err
		}
		before, _ := cluster.MVCCGCStats(n)
		eventually(t, 10*time.Second, "another collection round", func() bool {
			d, _ := cluster.MVCCGCStats(n)
			return d > before
		})
		_, err := tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
			p.Set(ctx, "k", "lost", 0)
			return nil
		})
		return err
	}, "k")
	if err != redis.TxFailedErr {
		t.Fatalf("EXEC after a write to the watched key: %v, want aborted", err)
	}
	if got, err := c.Get(ctx, "k").Result(); err != nil || got != "other" {
		t.Fatalf("GET k = %q, %v", got, err)
	}

	// WATCH of a deleted key whose deletion is collected before EXEC:
	// still unmodified.
	if err := c.Set(ctx, "gone2", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if err := c.Del(ctx, "gone2").Err(); err != nil {
		t.Fatal(err)
	}
	err = c.Watch(ctx, func(tx *redis.Tx) error {
		eventually(t, 10*time.Second, "the deletion to be collected", func() bool {
			w, _ := versionCounts(t, e, "gone2")
			return w == 0
		})
		_, err := tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
			p.Set(ctx, "gone2", "new", 0)
			return nil
		})
		return err
	}, "gone2")
	if err != nil {
		t.Fatalf("EXEC after the watched deletion was collected: %v", err)
	}
}

// TestVersionGCWaitsForRunningTransaction: a transaction running on the
// node holds the safe point below its start ts, however long it runs;
// once it ends the safe point moves past it.
func TestVersionGCWaitsForRunningTransaction(t *testing.T) {
	cfg := clustertest.Config(t, t.TempDir())
	cfg.GCLifeTime = 20 * time.Millisecond
	cfg.VersionGCPeriod = 10 * time.Millisecond
	n := clustertest.Start(t, cfg)
	ctx := context.Background()
	c := client(t, n.Addr())
	if err := c.Set(ctx, "h", "v1", 0).Err(); err != nil {
		t.Fatal(err)
	}
	started := make(chan uint64)
	release := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- n.Store().View(ctx, 0, [][]byte{[]byte("h")}, func(txn keyspace.Txn) error {
			started <- txn.StartTS()
			<-release
			_, _, err := txn.Get(keys.MetaKey(0, []byte("h")))
			return err
		})
	}()
	startTS := <-started
	// Rounds go by, well past the life time: the safe point stays below.
	eventually(t, 10*time.Second, "rounds well past the life time", func() bool {
		_, sp := cluster.MVCCGCStats(n)
		if sp >= startTS {
			t.Fatalf("safe point %d passed the running transaction's start %d", sp, startTS)
		}
		return sp != 0 && time.Since(time.UnixMilli(pdclient.PhysicalMs(startTS))) > 10*cfg.GCLifeTime
	})
	if _, sp := cluster.MVCCGCStats(n); sp >= startTS {
		t.Fatalf("safe point %d passed the running transaction's start %d", sp, startTS)
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "the safe point to pass the finished transaction", func() bool {
		_, sp := cluster.MVCCGCStats(n)
		return sp >= startTS
	})
}

// TestVersionGCCluster: on three nodes, the region leader's deletions
// reach every replica through Raft, and a transaction running on one node
// holds every node's safe point back through its store heartbeat to PD.
func TestVersionGCCluster(t *testing.T) {
	cfgs := clustertest.ClusterConfigs(t, 3)
	for i := range cfgs {
		cfgs[i].GCLifeTime = 50 * time.Millisecond
		cfgs[i].VersionGCPeriod = 50 * time.Millisecond
		cfgs[i].StoreHeartbeatInterval = 50 * time.Millisecond
	}
	c := clustertest.StartCluster(t, cfgs)
	ctx := context.Background()
	cl := client(t, c.Nodes[0].Addr())
	for i := 0; i < 20; i++ {
		if err := cl.Set(ctx, "k", i, 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, 15*time.Second, "old versions collected on every replica", func() bool {
		for _, n := range c.Nodes {
			if w, _ := versionCounts(t, cluster.Engine(n), "k"); w != 1 {
				return false
			}
		}
		return true
	})
	if got, err := cl.Get(ctx, "k").Result(); err != nil || got != "19" {
		t.Fatalf("GET k = %q, %v", got, err)
	}

	// A transaction held open on the leader (one region: it leads "h").
	var leader *cluster.Node
	eventually(t, 10*time.Second, "a leader", func() bool {
		for _, n := range c.Nodes {
			if cluster.LeadsAny(n) {
				leader = n
				return true
			}
		}
		return false
	})
	started := make(chan uint64, 1)
	release := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- leader.Store().View(ctx, 0, [][]byte{[]byte("h")}, func(txn keyspace.Txn) error {
			started <- txn.StartTS()
			<-release
			return nil
		})
	}()
	var startTS uint64
	select {
	case startTS = <-started:
	case err := <-done:
		t.Fatalf("transaction on the leader: %v", err)
	}
	eventually(t, 10*time.Second, "rounds well past the life time", func() bool {
		for _, n := range c.Nodes {
			if _, sp := cluster.MVCCGCStats(n); sp >= startTS {
				t.Fatalf("store %d: safe point %d passed the running transaction's start %d", n.StoreID(), sp, startTS)
			}
		}
		return time.Since(time.UnixMilli(pdclient.PhysicalMs(startTS))) > 20*cfgs[0].GCLifeTime
	})
	for _, n := range c.Nodes {
		if _, sp := cluster.MVCCGCStats(n); sp >= startTS {
			t.Fatalf("store %d: safe point %d passed the running transaction's start %d", n.StoreID(), sp, startTS)
		}
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "the safe point to pass the finished transaction everywhere", func() bool {
		for _, n := range c.Nodes {
			if _, sp := cluster.MVCCGCStats(n); sp < startTS {
				return false
			}
		}
		return true
	})
}
