package cluster_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/skerrydb/skerry/cluster"
	"github.com/skerrydb/skerry/cluster/clustertest"
)

// testDistKeyless checks that the commands that walk the whole keyspace
// (KEYS, DBSIZE, SCAN, RANDOMKEY, FLUSHDB, and an EXEC holding one) see
// every region of a split cluster from every node, not just the region
// the node happens to hold. It uses database 7 so that the other
// scenarios' keys do not count.
func testDistKeyless(t *testing.T, c *clustertest.Cluster, nodes []*redis.Client) {
	ctx := testCtx(t, 30*time.Second)
	clients := make([]*redis.Client, len(nodes))
	for i, n := range nodes {
		clients[i] = redis.NewClient(&redis.Options{Addr: n.Options().Addr, DB: 7, MaxRetries: -1})
		t.Cleanup(func() { clients[i].Close() })
	}
	if err := clients[0].FlushDB(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	// Strings, collections (members to jump over) and a key with a TTL
	// (an expiry index entry to jump over) on both sides of the split.
	strs := mixedKeys("kl", 350) // more than one scan page (kvScanPage) per region
	var want []string
	args := make([]any, 0, 2*len(strs))
	for _, k := range strs {
		args = append(args, k, "v-"+k)
		want = append(want, k)
	}
	if err := clients[1].MSet(ctx, args...).Err(); err != nil {
		t.Fatal(err)
	}
	for _, h := range mixedKeys("klhash", 2) {
		if err := clients[2].HSet(ctx, h, "a", 1, "b", 2, "c", 3).Err(); err != nil {
			t.Fatal(err)
		}
		want = append(want, h)
	}
	for _, k := range mixedKeys("klttl", 1) {
		if err := clients[0].Set(ctx, k, 1, time.Hour).Err(); err != nil {
			t.Fatal(err)
		}
		want = append(want, k)
	}
	// A key in database 0 that FLUSHDB of database 7 must leave alone.
	marker := sideKeys("klmarker", 1, true)[0]
	if err := nodes[0].Set(ctx, marker, "keep", 0).Err(); err != nil {
		t.Fatal(err)
	}
	slices.Sort(want)

	for i, cl := range clients {
		if n, err := cl.DBSize(ctx).Result(); err != nil || n != int64(len(want)) {
			t.Fatalf("DBSIZE via node %d = %d %v, want %d", i+1, n, err, len(want))
		}
		got, err := cl.Keys(ctx, "*").Result()
		if err != nil {
			t.Fatal(err)
		}
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Fatalf("KEYS * via node %d = %v, want %v", i+1, got, want)
		}
		if got, err := cl.Keys(ctx, "klhash*").Result(); err != nil || len(got) != 4 {
			t.Fatalf("KEYS klhash* via node %d = %v %v, want the four hashes", i+1, got, err)
		}
		seen := map[string]int{}
		var cursor uint64
		for calls := 0; ; calls++ {
			if calls > 16384 {
				t.Fatalf("SCAN via node %d does not end", i+1)
			}
			var page []string
			if page, cursor, err = cl.Scan(ctx, cursor, "", 50).Result(); err != nil {
				t.Fatal(err)
			}
			for _, k := range page {
				seen[k]++
			}
			if cursor == 0 {
				break
			}
		}
		for _, k := range want {
			if seen[k] != 1 {
				t.Fatalf("SCAN via node %d returned %s %d times", i+1, k, seen[k])
			}
		}
		if len(seen) != len(want) {
			t.Fatalf("SCAN via node %d returned %d keys, want %d", i+1, len(seen), len(want))
		}
		if k, err := cl.RandomKey(ctx).Result(); err != nil || !slices.Contains(want, k) {
			t.Fatalf("RANDOMKEY via node %d = %q %v", i+1, k, err)
		}
	}

	// A hash larger than a scan page, read in a transaction that also
	// reads the other region: its members come in several pages.
	big := sideKeys("klbig", 1, false)[0]
	fields := make([]any, 0, 1200)
	for i := range 600 {
		fields = append(fields, fmt.Sprintf("f%03d", i), i)
	}
	if err := clients[0].HSet(ctx, big, fields...).Err(); err != nil {
		t.Fatal(err)
	}
	want = append(want, big)
	slices.Sort(want)
	cmds, err := clients[2].TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.HGetAll(ctx, big)
		p.Get(ctx, sideKeys("kl", 1, true)[0])
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if h := cmds[0].(*redis.MapStringStringCmd).Val(); len(h) != 600 || h["f000"] != "0" || h["f599"] != "599" {
		t.Fatalf("HGETALL of a 600-field hash across regions: %d fields", len(h))
	}
	if n, err := clients[1].DBSize(ctx).Result(); err != nil || n != int64(len(want)) {
		t.Fatalf("DBSIZE = %d %v, want %d", n, err, len(want))
	}

	// An EXEC that holds a keyless command sees its own writes on both
	// sides of the split.
	cmds, err = clients[1].TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Set(ctx, sideKeys("klnew", 1, false)[0], 1, 0)
		p.Set(ctx, sideKeys("klnew", 1, true)[0], 1, 0)
		p.DBSize(ctx)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n := cmds[2].(*redis.IntCmd).Val(); n != int64(len(want)+2) {
		t.Fatalf("DBSIZE inside EXEC = %d, want %d", n, len(want)+2)
	}

	// FLUSHDB deletes keys of both regions: one distributed transaction
	// (on the fast path it would write one region's keys through the
	// other region's log).
	before := distCommits(c)
	if err := clients[2].FlushDB(context.Background()).Err(); err != nil {
		t.Fatal(err)
	}
	if after := distCommits(c); after != before+1 {
		t.Fatalf("FLUSHDB made %d distributed commits, want 1", after-before)
	}
	for i, cl := range clients {
		if n, err := cl.DBSize(ctx).Result(); err != nil || n != 0 {
			t.Fatalf("DBSIZE via node %d after FLUSHDB = %d %v", i+1, n, err)
		}
	}
	if v, err := nodes[1].Get(ctx, marker).Result(); err != nil || v != "keep" {
		t.Fatalf("database 0's %s after FLUSHDB of database 7 = %q %v", marker, v, err)
	}
}

func distCommits(c *clustertest.Cluster) int64 {
	var n int64
	for _, node := range c.Nodes {
		committed, _, _ := cluster.DTxnStats(node)
		n += committed
	}
	return n
}
