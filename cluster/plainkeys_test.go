package cluster_test

import (
	"context"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/skerrydb/skerry/cluster"
	"github.com/skerrydb/skerry/cluster/clustertest"
	"github.com/skerrydb/skerry/commands/keyspace"
	"github.com/skerrydb/skerry/mvcc/keys"
)

// TestBlindSetCleansUpAfterCollectionsAndExpiries: a SET that replaces a
// key without reading it (plainKeys) is only taken for keys that never held
// a collection or an expiry, including those written before a restart,
// which the new leader's scan must find. Replaced collections still reach
// the collector and replaced expiries leave no index entry; fresh keys skip
// the read.
func TestBlindSetCleansUpAfterCollectionsAndExpiries(t *testing.T) {
	dir := t.TempDir()
	cfg := clustertest.Config(t, dir)
	ctx := context.Background()
	n := clustertest.Start(t, cfg)
	c := client(t, n.Addr())
	const members = 200
	fill := func(c *redis.Client, key string) {
		for i := 0; i < members; i += 50 {
			args := []any{}
			for j := i; j < i+50; j++ {
				args = append(args, fmt.Sprint("f", j), "v")
			}
			if err := c.HSet(ctx, key, args...).Err(); err != nil {
				t.Fatal(err)
			}
		}
	}
	waitScanned(t, n)

	// Written and replaced under one leadership: the write path marks.
	skipped := n.MetaReadsSkipped()
	mustSet(t, c, "fresh", 0)
	if got := n.MetaReadsSkipped(); got != skipped+1 {
		t.Fatalf("SET of a fresh key: %d reads skipped, want %d", got, skipped+1)
	}
	fill(c, "h1")
	mustSet(t, c, "e1", time.Hour)
	setReading(t, n, c, "h1", "e1")
	checkReplaced(t, n, c, "h1", "e1", members)

	// Written before a restart: only the new leader's scan knows. A long
	// value lives in a data record, not in its write record.
	fill(c, "h2")
	mustSet(t, c, "e2", time.Hour)
	long := strings.Repeat("v", 1000)
	if err := c.Set(ctx, "long", long, time.Hour).Err(); err != nil {
		t.Fatal(err)
	}
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	n = clustertest.Start(t, cfg)
	c = client(t, n.Addr())
	waitScanned(t, n)
	setReading(t, n, c, "h2", "e2", "long")
	checkReplaced(t, n, c, "h2", "e2", members)
	skipped = n.MetaReadsSkipped()
	if e := expiryEntries(t, n, "long"); e != 0 {
		t.Fatalf("long has %d expiry index entries after SET, want 0", e)
	}
	mustSet(t, c, "fresh2", time.Minute)
	if got := n.MetaReadsSkipped(); got != skipped+1 {
		t.Fatalf("after a restart, SET EX of a fresh key: %d reads skipped, want %d", got-skipped, 1)
	}
	// Its expiry was noted on the way: the next SET reads and clears it.
	setReading(t, n, c, "fresh2")
	if d, err := c.TTL(ctx, "fresh2").Result(); err != nil || d != -1 {
		t.Fatalf("TTL fresh2 = %v, %v; want -1", d, err)
	}
	if e := expiryEntries(t, n, "fresh2"); e != 0 {
		t.Fatalf("fresh2 has %d expiry index entries after SET, want 0", e)
	}
}

func waitScanned(t *testing.T, n *cluster.Node) {
	t.Helper()
	eventually(t, 20*time.Second, "the leader's plain-key scan", func() bool { return n.PlainScans() >= 1 })
}

// setReading SETs each key without a TTL and fails if any of them was
// written without reading its old value.
func setReading(t *testing.T, n *cluster.Node, c *redis.Client, ks ...string) {
	t.Helper()
	for _, k := range ks {
		before := n.MetaReadsSkipped()
		mustSet(t, c, k, 0)
		if n.MetaReadsSkipped() != before {
			t.Fatalf("SET %s skipped the read of its old value", k)
		}
	}
}

func mustSet(t *testing.T, c *redis.Client, key string, ttl time.Duration) {
	t.Helper()
	if err := c.Set(context.Background(), key, "x", ttl).Err(); err != nil {
		t.Fatalf("SET %s: %v", key, err)
	}
}

// checkReplaced checks that hash (a hash of members fields, just replaced
// by a string) has its members collected, and that key (a key with a TTL,
// just replaced by a string without one) has no TTL and no expiry index
// entry left.
func checkReplaced(t *testing.T, n *cluster.Node, c *redis.Client, hash, key string, members int) {
	t.Helper()
	ctx := context.Background()
	if typ, err := c.Type(ctx, hash).Result(); err != nil || typ != "string" {
		t.Fatalf("TYPE %s = %q, %v", hash, typ, err)
	}
	eventually(t, 20*time.Second, "the collector to remove "+hash+"'s members", func() bool {
		return memberRecords(t, n, hash) == 0
	})
	if d, err := c.TTL(ctx, key).Result(); err != nil || d != -1 {
		t.Fatalf("TTL %s = %v, %v; want -1", key, d, err)
	}
	if e := expiryEntries(t, n, key); e != 0 {
		t.Fatalf("%s has %d expiry index entries after SET, want 0", key, e)
	}
}

// memberRecords counts the member records of every version of key in db 0.
func memberRecords(t *testing.T, n *cluster.Node, key string) int {
	t.Helper()
	count := 0
	err := n.Store().View(context.Background(), 0, nil, func(txn keyspace.Txn) error {
		count = 0
		lower := keys.MetaKey(0, []byte(key))
		return txn.Scan(lower, keys.PrefixEnd(lower), false, func(k, _ []byte) error {
			if _, _, suffix, ok := keys.DecodeMetaKey(k); ok && len(suffix) > 0 {
				count++
			}
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	return count
}

// expiryEntries counts key's entries in its slot's expiry index (db 0).
func expiryEntries(t *testing.T, n *cluster.Node, key string) int {
	t.Helper()
	count := 0
	lower, upper := keys.ExpiryIndexRange(keys.Slot([]byte(key)), math.MaxInt64)
	err := n.Store().View(context.Background(), 0, nil, func(txn keyspace.Txn) error {
		count = 0
		return txn.Scan(lower, upper, false, func(k, _ []byte) error {
			if db, kk, _, ok := keys.DecodeExpiryIndexKey(k); ok && db == 0 && string(kk) == key {
				count++
			}
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	return count
}

// testDistBlindSet: values written by a distributed transaction reach the
// region leaders as prewrites, which must mark their keys as well, and a
// region whose leadership moves is known to its new leader only through
// its scan: a later SET of either key reads, so the hash's members are
// collected and the expiry index entry removed.
func testDistBlindSet(t *testing.T, c *clustertest.Cluster, clients []*redis.Client) {
	ctx := testCtx(t, 30*time.Second)
	skipped := func() (s int64) {
		for _, n := range c.Nodes {
			s += n.MetaReadsSkipped()
		}
		return s
	}
	fl, fr := sideKeys("blindfresh", 1, false)[0], sideKeys("blindfresh", 1, true)[0]
	eventually(t, 20*time.Second, "both regions' leaders to skip reads of fresh keys", func() bool {
		before := skipped()
		mustSet(t, clients[0], fl, 0)
		mustSet(t, clients[0], fr, 0)
		return skipped() == before+2
	})
	l, r := sideKeys("blind", 1, false)[0], sideKeys("blind", 1, true)[0]
	const members = 100
	_, err := clients[1].TxPipelined(ctx, func(p redis.Pipeliner) error {
		args := []any{}
		for i := range members {
			args = append(args, fmt.Sprint("f", i), "v")
		}
		p.HSet(ctx, l, args...)
		p.Set(ctx, r, "x", time.Hour)
		return nil
	})
	if err != nil {
		t.Fatalf("MULTI/EXEC: %v", err)
	}
	moveToThirdNode(t, c, l, r)
	before := skipped()
	mustSet(t, clients[2], l, 0)
	mustSet(t, clients[2], r, 0)
	if got := skipped(); got != before {
		t.Fatalf("SET over keys written by a distributed transaction skipped %d reads", got-before)
	}
	checkReplaced(t, c.Nodes[0], clients[0], l, r, members)
}

// moveToThirdNode moves the leadership of key l's region to the node that
// leads neither l's nor r's region, and waits until that node's scan of
// it is done: from then on only that scan can know what l holds, since l
// was written under another leader.
func moveToThirdNode(t *testing.T, c *clustertest.Cluster, l, r string) {
	t.Helper()
	ctx := testCtx(t, 20*time.Second)
	x, pdc := dialCtl(t, ctx, c), dialPD(t, c.Cfgs)
	lr, ll, err := pdc.GetRegion(ctx, keys.MetaKey(0, []byte(l)))
	if err != nil {
		t.Fatal(err)
	}
	_, rl, err := pdc.GetRegion(ctx, keys.MetaKey(0, []byte(r)))
	if err != nil {
		t.Fatal(err)
	}
	var target *cluster.Node
	for _, n := range c.Nodes {
		if id := n.StoreID(); id != ll.StoreID && id != rl.StoreID {
			target = n
		}
	}
	if target == nil {
		t.Fatalf("no third node: left led by %d, right by %d", ll.StoreID, rl.StoreID)
	}
	scans := target.PlainScans()
	if err := x.TransferLeader(ctx, lr.ID, target.StoreID()); err != nil {
		t.Fatalf("transfer leader: %v", err)
	}
	eventually(t, 20*time.Second, "the new leader's scan", func() bool {
		_, leader, err := pdc.GetRegion(ctx, keys.MetaKey(0, []byte(l)))
		return err == nil && leader.StoreID == target.StoreID() && target.PlainScans() > scans
	})
}
