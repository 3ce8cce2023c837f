package cluster_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/skerrydb/skerry/cluster"
	"github.com/skerrydb/skerry/cluster/clustertest"
	"github.com/skerrydb/skerry/mvcc/keys"
	"github.com/skerrydb/skerry/pd/pdclient"
)

// TestRedisClusterClientInRedirectMode runs three nodes with
// --cluster-redirect, splits the keyspace at slot 8192 and moves one half's
// leader to another node. The slot map every node reports must match PD's
// regions (full coverage, no overlap, leaders as masters, the other voters
// as replicas), a plain client gets -MOVED from a node that does not lead
// the key, and go-redis's cluster client reads and writes keys of every
// slot range.
func TestRedisClusterClientInRedirectMode(t *testing.T) {
	cfgs := clustertest.ClusterConfigs(t, 3)
	var eps []string
	for i := range cfgs {
		cfgs[i].ClusterRedirect = true
		eps = append(eps, "http://"+cfgs[i].PDClientAddr)
	}
	c := clustertest.StartCluster(t, cfgs)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	pdc, err := pdclient.Dial(ctx, eps)
	if err != nil {
		t.Fatal(err)
	}
	defer pdc.Close()

	start := time.Now()
	splitAndSpreadLeaders(t, ctx, pdc)
	t.Logf("split and leaders spread after %v", time.Since(start))
	addrOf := map[uint64]string{} // store -> RESP address
	for i, n := range c.Nodes {
		addrOf[n.StoreID()] = c.Cfgs[i].Addr
	}
	// owner is the node PD says leads slot now (PD's leader balancer
	// may move leaders at any time).
	owner := func(slot int) string {
		rs, err := pdc.ScanRegions(ctx, nil, nil, 0)
		if err != nil {
			return ""
		}
		for _, r := range rs {
			if slot < 8192 == (len(r.Region.StartKey) == 0) {
				return addrOf[r.Leader.StoreID]
			}
		}
		return ""
	}

	// Every node reports the same map: 0-8191 and 8192-16383, each led by
	// its region's leader, replicated on the two other nodes.
	plain := make([]*redis.Client, len(c.Nodes))
	for i, n := range c.Nodes {
		plain[i] = redis.NewClient(&redis.Options{Addr: n.Addr(), MaxRetries: -1})
		defer plain[i].Close()
	}
	for i, cl := range plain {
		awaitProto(t, 10*time.Second, fmt.Sprintf("node %d's CLUSTER SLOTS", i+1), func() error {
			//lint:ignore SA1019 CLUSTER SLOTS is what cluster clients (go-redis too) route by
			slots, err := cl.ClusterSlots(ctx).Result()
			if err != nil {
				return err
			}
			next := 0
			for _, s := range slots {
				if s.Start != next || s.End < s.Start {
					return fmt.Errorf("range %d-%d after %d: %+v", s.Start, s.End, next, slots)
				}
				next = s.End + 1
				if len(s.Nodes) != 3 {
					return fmt.Errorf("range %d-%d has %d nodes", s.Start, s.End, len(s.Nodes))
				}
				if s.Nodes[0].Addr != owner(s.Start) || s.Nodes[0].Addr != owner(s.End) {
					return fmt.Errorf("range %d-%d served by %s, want %s", s.Start, s.End, s.Nodes[0].Addr, owner(s.Start))
				}
				seen := map[string]bool{}
				for _, n := range s.Nodes {
					if seen[n.Addr] || len(n.ID) != 40 {
						return fmt.Errorf("range %d-%d nodes %+v", s.Start, s.End, s.Nodes)
					}
					seen[n.Addr] = true
				}
			}
			if next != keys.NumSlots {
				return fmt.Errorf("slots end at %d: %+v", next, slots)
			}
			return nil
		})
	}

	// CLUSTER NODES, MYID and INFO agree with each other.
	for i, cl := range plain {
		id, err := cl.ClusterMyID(ctx).Result()
		if err != nil || id != cluster.NodeID(pdc.ClusterID(), c.Nodes[i].StoreID()) {
			t.Fatalf("node %d CLUSTER MYID = %q %v", i+1, id, err)
		}
		nodes, err := cl.ClusterNodes(ctx).Result()
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSuffix(nodes, "\n"), "\n")
		if len(lines) != 3 {
			t.Fatalf("node %d CLUSTER NODES: %q", i+1, nodes)
		}
		for _, l := range lines {
			f := strings.Fields(l)
			mine := strings.Contains(f[2], "myself")
			if mine != (f[0] == id) || mine && !strings.HasPrefix(f[1], c.Cfgs[i].Addr+"@") {
				t.Fatalf("node %d CLUSTER NODES line %q", i+1, l)
			}
		}
		info, err := cl.Info(ctx, "cluster").Result()
		if err != nil || !strings.Contains(info, "cluster_enabled:1") {
			t.Fatalf("node %d INFO cluster: %q %v", i+1, info, err)
		}
		ci, err := cl.ClusterInfo(ctx).Result()
		// cluster_size (nodes leading slots) is 1 or 2: PD's leader
		// balancer may move leaders meanwhile.
		if err != nil || !strings.Contains(ci, "cluster_state:ok") || !strings.Contains(ci, "cluster_known_nodes:3") {
			t.Fatalf("node %d CLUSTER INFO: %q %v", i+1, ci, err)
		}
	}

	// A plain client is redirected by a node that does not lead the key,
	// to the one that does (a leader moved meanwhile may redirect again).
	moved := 0
	for i, cl := range plain {
		for _, key := range []string{"a", "b", "c", "foo", "bar"} {
			slot := int(keys.Slot([]byte(key)))
			err := cl.Set(ctx, key, "v", 0).Err()
			for hops := 0; err != nil; hops++ {
				var gotSlot int
				var addr string
				if _, perr := fmt.Sscanf(err.Error(), "MOVED %d %s", &gotSlot, &addr); perr != nil || gotSlot != slot ||
					addr == c.Cfgs[i].Addr || hops == 3 {
					t.Fatalf("SET %s on node %d: %v (slot %d, leader %s)", key, i+1, err, slot, owner(slot))
				}
				moved++
				to := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1})
				err = to.Set(ctx, key, "v", 0).Err()
				to.Close()
			}
		}
	}
	if moved == 0 {
		t.Fatal("no MOVED seen")
	}
	t.Logf("checks done after %v", time.Since(start))

	// The cluster client follows the map (and any MOVED).
	cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: []string{c.Nodes[0].Addr()}})
	defer cc.Close()
	const n = 100
	for i := range n {
		if err := cc.Set(ctx, fmt.Sprintf("key:%d", i), i, 0).Err(); err != nil {
			t.Fatalf("cluster client SET key:%d: %v", i, err)
		}
	}
	t.Logf("cluster client SET done after %v", time.Since(start))
	for i := range n {
		if v, err := cc.Get(ctx, fmt.Sprintf("key:%d", i)).Int(); err != nil || v != i {
			t.Fatalf("cluster client GET key:%d = %v %v", i, v, err)
		}
	}
	t.Logf("cluster client SET/GET done after %v", time.Since(start))
	// A transaction on one slot goes to that slot's leader.
	if _, err := cc.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Incr(ctx, "{tx}n")
		p.Incr(ctx, "{tx}n")
		return nil
	}); err != nil {
		t.Fatalf("cluster client MULTI/EXEC: %v", err)
	}
	if v, err := cc.Get(ctx, "{tx}n").Int(); err != nil || v != 2 {
		t.Fatalf("{tx}n = %v %v", v, err)
	}

	// COUNTKEYSINSLOT and GETKEYSINSLOT see the whole slot from any node
	// (a node that does not lead it forwards them).
	for i := range 5 {
		if err := cc.Set(ctx, fmt.Sprintf("{slotted}%d", i), i, 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	slot := int(keys.Slot([]byte("slotted")))
	t.Logf("tx done after %v", time.Since(start))
	for i, cl := range plain {
		if got, err := cl.ClusterCountKeysInSlot(ctx, slot).Result(); err != nil || got != 5 {
			t.Fatalf("node %d COUNTKEYSINSLOT = %d %v", i+1, got, err)
		}
		if got, err := cl.ClusterGetKeysInSlot(ctx, slot, 3).Result(); err != nil || len(got) != 3 {
			t.Fatalf("node %d GETKEYSINSLOT = %q %v", i+1, got, err)
		}
	}
	t.Logf("all done after %v", time.Since(start))
}

// splitAndSpreadLeaders splits the single first region at slot 8192 and
// moves the leader of the upper half to another store; it returns PD's two
// regions once each has a leader on a different store.
func splitAndSpreadLeaders(t *testing.T, ctx context.Context, pdc *pdclient.Client) {
	t.Helper()
	rs := splitInTwo(t, ctx, pdc, awaitFirstRegion(t, ctx, pdc).Region.ID)
	if rs[0].Leader.StoreID == rs[1].Leader.StoreID {
		var to pdclient.Peer
		for _, p := range rs[1].Region.Peers {
			if p.StoreID != rs[1].Leader.StoreID && !p.Learner {
				to = p
				break
			}
		}
		if err := pdc.AddOperator(ctx, rs[1].Region.ID, pdclient.Operator{Kind: pdclient.OpTransferLeader, Peer: to}); err != nil {
			t.Fatal(err)
		}
	}
	awaitProto(t, 20*time.Second, "leaders on two stores", func() (err error) {
		if rs, err = pdc.ScanRegions(ctx, nil, nil, 0); err != nil {
			return err
		}
		if len(rs) != 2 || rs[0].Leader.ID == 0 || rs[1].Leader.ID == 0 || rs[0].Leader.StoreID == rs[1].Leader.StoreID {
			return fmt.Errorf("regions %+v", rs)
		}
		return nil
	})
}

// splitInTwo splits the cluster's only region at slot 8192 through PD's
// operator (as skerry ctl split does) and waits until both halves have a
// leader; it returns them in key order.
func splitInTwo(t *testing.T, ctx context.Context, pdc *pdclient.Client, regionID uint64) []pdclient.RegionInfo {
	t.Helper()
	op := pdclient.Operator{Kind: pdclient.OpSplit, SplitKeys: [][]byte{keys.SlotPrefix(8192)}}
	if err := pdc.AddOperator(ctx, regionID, op); err != nil {
		t.Fatal(err)
	}
	var rs []pdclient.RegionInfo
	awaitProto(t, 20*time.Second, "the split", func() (err error) {
		if rs, err = pdc.ScanRegions(ctx, nil, nil, 0); err != nil {
			return err
		}
		if len(rs) != 2 || rs[0].Leader.ID == 0 || rs[1].Leader.ID == 0 {
			return fmt.Errorf("regions %+v", rs)
		}
		return nil
	})
	return rs
}

// awaitFirstRegion waits until PD knows the cluster's only region and its
// leader, and returns it.
func awaitFirstRegion(t *testing.T, ctx context.Context, pdc *pdclient.Client) pdclient.RegionInfo {
	t.Helper()
	var first pdclient.RegionInfo
	awaitProto(t, 20*time.Second, "a leader of the first region", func() error {
		rs, err := pdc.ScanRegions(ctx, nil, nil, 0)
		if err != nil {
			return err
		}
		if len(rs) != 1 || rs[0].Leader.ID == 0 {
			return fmt.Errorf("regions %+v", rs)
		}
		first = rs[0]
		return nil
	})
	return first
}

// awaitProto polls check until it returns nil or the deadline passes.
func awaitProto(t *testing.T, d time.Duration, what string, check func() error) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %s: %v", what, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestSingleNodeClusterRedirect: a lone node started with
// --cluster-redirect is a one-node Redis Cluster owning every slot.
func TestSingleNodeClusterRedirect(t *testing.T) {
	cfg := clustertest.Config(t, t.TempDir())
	cfg.ClusterRedirect = true
	n := clustertest.Start(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cl := redis.NewClient(&redis.Options{Addr: n.Addr()})
	defer cl.Close()
	//lint:ignore SA1019 CLUSTER SLOTS is what cluster clients (go-redis too) route by
	slots, err := cl.ClusterSlots(ctx).Result()
	if err != nil || len(slots) != 1 || slots[0].Start != 0 || slots[0].End != keys.NumSlots-1 ||
		len(slots[0].Nodes) != 1 || slots[0].Nodes[0].Addr != n.Addr() {
		t.Fatalf("CLUSTER SLOTS = %+v %v", slots, err)
	}
	if got, err := cl.ConfigGet(ctx, "cluster-enabled").Result(); err != nil || got["cluster-enabled"] != "yes" {
		t.Fatalf("CONFIG GET cluster-enabled = %v %v", got, err)
	}
	cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: []string{n.Addr()}})
	defer cc.Close()
	for i := range 20 {
		if err := cc.Set(ctx, fmt.Sprintf("k%d", i), i, 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	if v, err := cc.Get(ctx, "k7").Int(); err != nil || v != 7 {
		t.Fatalf("GET k7 = %v %v", v, err)
	}
}
