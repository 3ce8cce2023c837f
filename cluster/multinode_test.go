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
	"github.com/skerrydb/skerry/pd/pdclient"
)

// TestThreeNodesServeAnyKeyFromAnyNode starts three PD-member nodes: the
// first region is replicated on all three, and every node serves every
// key (the followers forward to the leader).
func TestThreeNodesServeAnyKeyFromAnyNode(t *testing.T) {
	c := clustertest.StartCluster(t, clustertest.ClusterConfigs(t, 3))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	clients := make([]*redis.Client, 3)
	for i, n := range c.Nodes {
		clients[i] = redis.NewClient(&redis.Options{Addr: n.Addr(), MaxRetries: -1})
		defer clients[i].Close()
	}
	for i := range 30 {
		cl := clients[i%3]
		key := fmt.Sprintf("k%d", i)
		if err := cl.Set(ctx, key, i, 0).Err(); err != nil {
			t.Fatalf("SET %s via node %d: %v", key, i%3+1, err)
		}
	}
	for i := range 30 {
		for j, cl := range clients {
			v, err := cl.Get(ctx, fmt.Sprintf("k%d", i)).Int()
			if err != nil || v != i {
				t.Fatalf("GET k%d via node %d: %v %v", i, j+1, v, err)
			}
		}
	}
	// A transaction through a follower runs on the leader as one.
	for j, cl := range clients {
		_, err := cl.TxPipelined(ctx, func(p redis.Pipeliner) error {
			p.Incr(ctx, "counter")
			p.Incr(ctx, "counter")
			return nil
		})
		if err != nil {
			t.Fatalf("MULTI/EXEC via node %d: %v", j+1, err)
		}
	}
	if v, err := clients[0].Get(ctx, "counter").Int(); err != nil || v != 6 {
		t.Fatalf("counter = %v %v, want 6", v, err)
	}
}

// TestLeaderCrashLosesNoAcknowledgedWrite stops the node leading the
// region while clients write through the others: a new leader takes over
// and every acknowledged write is readable afterwards.
func TestLeaderCrashLosesNoAcknowledgedWrite(t *testing.T) {
	t.Run("region leader", func(t *testing.T) { testLeaderCrash(t, false) })
	// The node that crashes leads PD too: the survivors' routing must not
	// wait on a PD that is electing its own leader.
	t.Run("region and PD leader", func(t *testing.T) { testLeaderCrash(t, true) })
}

func testLeaderCrash(t *testing.T, withPD bool) {
	c := clustertest.StartCluster(t, clustertest.ClusterConfigs(t, 3))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	leader := waitLeader(t, c)
	if withPD {
		awaitProto(t, 20*time.Second, "the region leader to be PD's leader", func() error {
			pdl := slices.IndexFunc(c.Nodes, cluster.IsPDLeader)
			if pdl < 0 {
				return fmt.Errorf("no PD leader")
			}
			if leader = waitLeader(t, c); leader == pdl {
				return nil
			}
			if err := cluster.TransferRegionLeader(ctx, c.Nodes[leader], c.Nodes[pdl].StoreID()); err != nil {
				return err
			}
			return fmt.Errorf("region leader on node %d, PD leader on node %d", leader+1, pdl+1)
		})
	}
	var survivors []*redis.Client
	for i, n := range c.Nodes {
		if i != leader {
			cl := redis.NewClient(&redis.Options{Addr: n.Addr(), MaxRetries: -1})
			defer cl.Close()
			survivors = append(survivors, cl)
		}
	}
	acked := map[string]bool{}
	write := func(i int) error {
		key := fmt.Sprintf("w%d", i)
		err := survivors[i%2].Set(ctx, key, i, 0).Err()
		if err == nil {
			acked[key] = true
		}
		return err
	}
	for i := range 50 {
		if err := write(i); err != nil {
			t.Fatalf("write %d before the crash: %v", i, err)
		}
	}
	stopped := time.Now()
	c.Crash(leader)
	var firstOK time.Duration
	for i := 50; i < 150; i++ {
		if err := write(i); err == nil && firstOK == 0 {
			firstOK = time.Since(stopped)
		}
	}
	t.Logf("first acknowledged write %v after the leader stopped", firstOK)
	if firstOK == 0 {
		t.Fatal("no write succeeded after the leader stopped")
	}
	// The cluster issue's bound: an election takes 1-2 s (20 ticks of
	// 50 ms, randomized up to 2x); a split vote (two followers drawing
	// the same tick, 1 in 20) adds another 1-2 s.
	if firstOK > 3*time.Second {
		t.Fatalf("a new leader took %v to serve writes, more than 3 s", firstOK)
	}
	for key := range acked {
		if _, err := survivors[0].Get(ctx, key).Result(); err != nil {
			t.Fatalf("acknowledged %s lost: %v", key, err)
		}
	}
	// The old leader comes back as a follower and catches up.
	c.Restart(leader)
	back := redis.NewClient(&redis.Options{Addr: c.Nodes[leader].Addr(), MaxRetries: -1})
	defer back.Close()
	if v, err := back.Get(ctx, "w149").Int(); err != nil && acked["w149"] || err == nil && v != 149 {
		t.Fatalf("w149 via the restarted node: %v %v", v, err)
	}
}

// waitLeader returns the index of the node leading the first region.
func waitLeader(t *testing.T, c *clustertest.Cluster) int {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		for i, n := range c.Nodes {
			if n != nil && n.LeaderCount() > 0 {
				return i
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("no leader")
	return -1
}

// TestDeadStoreReplicasAreRebuilt runs three PD nodes and a fourth node
// that joins with --join. When a replica's node stays down longer than
// max-store-down-time, PD rebuilds the replica on the fourth store (learner,
// snapshot, promotion) and removes the dead one; data stay readable.
func TestDeadStoreReplicasAreRebuilt(t *testing.T) {
	cfgs := clustertest.ClusterConfigs(t, 3)
	for i := range cfgs {
		cfgs[i].MaxStoreDownTime = 2 * time.Second
		cfgs[i].StoreHeartbeatInterval = 200 * time.Millisecond
	}
	joiner := clustertest.Config(t, t.TempDir())
	joiner.PeerAddr = "127.0.0.1:" + fmt.Sprint(clustertest.FreePort(t))
	for _, c := range cfgs {
		joiner.Join = append(joiner.Join, "http://"+c.PDClientAddr)
	}
	c := clustertest.StartCluster(t, append(cfgs, joiner))
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	// No retries, and a read timeout beyond a failover: the region's
	// leadership may move while the dead replica is replaced, and on a
	// loaded 2-core machine an election can take more than go-redis's 3 s
	// default (a CI run saw "i/o timeout" on the first GET after the
	// rebuild). What this test checks is that the data survive the
	// rebuild; failover time is bounded by TestLeaderCrashLosesNoAcknowledgedWrite.
	cl := redis.NewClient(&redis.Options{Addr: c.Nodes[3].Addr(), MaxRetries: -1, ReadTimeout: 15 * time.Second})
	defer cl.Close()
	for i := range 200 {
		if err := cl.Set(ctx, fmt.Sprintf("k%d", i), i, 0).Err(); err != nil {
			t.Fatalf("SET through the joined node: %v", err)
		}
	}
	victim := (waitLeader(t, c) + 1) % 3 // a follower replica
	var regionIDs []uint64
	awaitProto(t, 10*time.Second, "the victim's replica", func() error {
		if regionIDs = c.Nodes[victim].RegionIDs(); len(regionIDs) != 1 {
			return fmt.Errorf("victim regions %v", regionIDs)
		}
		return nil
	})
	oldPeer, _ := c.Nodes[victim].LocalPeerID(regionIDs[0])
	victimStore := c.Nodes[victim].StoreID()
	c.Crash(victim)
	joined := c.Nodes[3]
	deadline := time.Now().Add(60 * time.Second)
	for joined.RegionCount() == 0 || !joined.HasVoter() {
		if time.Now().After(deadline) {
			t.Fatal("no replica was rebuilt on the joined store")
		}
		time.Sleep(50 * time.Millisecond)
	}
	for i := range 200 {
		if v, err := cl.Get(ctx, fmt.Sprintf("k%d", i)).Int(); err != nil || v != i {
			t.Fatalf("k%d after the rebuild: %v %v", i, v, err)
		}
	}

	// The victim comes back with a replica removed while it was down: it
	// never applied its removal, so it asks PD, learns that the region
	// went on without it, and destroys it (stale peer check).
	pdc, err := pdclient.Dial(ctx, []string{"http://" + cfgs[(victim+1)%3].PDClientAddr})
	if err != nil {
		t.Fatal(err)
	}
	defer pdc.Close()
	awaitProto(t, 30*time.Second, "the removal of the down replica", func() error {
		r, _, err := pdc.GetRegionByID(ctx, regionIDs[0])
		if err != nil {
			return err
		}
		if _, ok := r.StorePeer(victimStore); ok {
			return fmt.Errorf("region %+v", r)
		}
		return nil
	})
	c.Restart(victim)
	// The check runs after each store heartbeat and needs PD to answer;
	// under a loaded test run PD was once unreachable for 30 s here.
	deadline = time.Now().Add(60 * time.Second)
	for {
		id, ok := c.Nodes[victim].LocalPeerID(regionIDs[0])
		if !ok || id != oldPeer {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("removed replica %d of region %d still on the restarted store", oldPeer, regionIDs[0])
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestIdleRegionLeaderCrash lets the region hibernate (no ticks, no
// heartbeats), crashes its leader, and writes through a follower: the
// request wakes that follower, which probes the dead leader and campaigns
// within an election timeout; the other follower, woken by the pre-vote,
// grants it at once (regionraft doc.go "Hibernation"). Measured 1.1-1.9 s
// on a quiet machine, like a busy region (4-4.5 s before the followers'
// frozen election clocks were run forward); the bound is 5 s because on a
// loaded 2-core machine ticks run late (3.3 s seen while other test suites
// ran). TestLeaderCrashLosesNoAcknowledgedWrite asserts 3 s for a busy
// region, and the regionraft tests bound the idle case in ticks.
func TestIdleRegionLeaderCrash(t *testing.T) {
	c := clustertest.StartCluster(t, clustertest.ClusterConfigs(t, 3))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	leader := waitLeader(t, c)
	follower := (leader + 1) % 3
	cl := redis.NewClient(&redis.Options{Addr: c.Nodes[follower].Addr(), MaxRetries: -1})
	defer cl.Close()
	if err := cl.Set(ctx, "before", "1", 0).Err(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for c.Nodes[0].HibernatedRegions()+c.Nodes[1].HibernatedRegions()+c.Nodes[2].HibernatedRegions() < 3 {
		if time.Now().After(deadline) {
			t.Fatal("the idle region never hibernated on all three nodes")
		}
		time.Sleep(20 * time.Millisecond)
	}
	crashed := time.Now()
	c.Crash(leader)
	for {
		err := cl.Set(ctx, "after", "2", 0).Err()
		if err == nil {
			break
		}
		if time.Since(crashed) > 10*time.Second {
			t.Fatalf("no write acknowledged 10 s after the crash: %v", err)
		}
	}
	took := time.Since(crashed)
	t.Logf("first write %v after the crash of a hibernated leader", took)
	if took > 5*time.Second {
		t.Fatalf("first write %v after the crash of a hibernated leader, want at most 5 s", took)
	}
	if v, err := cl.Get(ctx, "before").Result(); err != nil || v != "1" {
		t.Fatalf("before = %q %v", v, err)
	}
}
