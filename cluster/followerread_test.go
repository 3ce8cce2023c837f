package cluster_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/skerrydb/skerry/cluster/clustertest"
	"github.com/skerrydb/skerry/cluster/rpc"
)

// TestReadOnlyConnectionReadsOnFollower: a READONLY connection to a node
// holding a follower replica reads there (ReadIndex barrier), never
// stale, without forwarding: the forward RPCs are cut while raft traffic
// flows. Writes on that connection still go to the leader.
func TestReadOnlyConnectionReadsOnFollower(t *testing.T) {
	cfgs := clustertest.ClusterConfigs(t, 3)
	var cutForward atomic.Bool
	var isolated atomic.Uint64 // a store cut from the others (0: none)
	for i := range cfgs {
		cfgs[i].RPCFilter = func(from, to uint64, kind rpc.Kind) rpc.Action {
			iso := isolated.Load()
			return rpc.Action{Drop: kind == rpc.KindForward && cutForward.Load() || iso != 0 && (from == iso || to == iso)}
		}
	}
	c := clustertest.StartCluster(t, cfgs)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	awaitProto(t, 30*time.Second, "a voting replica on every node", func() error {
		for i, n := range c.Nodes {
			if !n.HasVoter() {
				return fmt.Errorf("node %d holds no voter", i+1)
			}
		}
		return nil
	})
	leader := waitLeader(t, c)
	fi := (leader + 1) % 3
	lc := redis.NewClient(&redis.Options{Addr: c.Nodes[leader].Addr(), MaxRetries: -1})
	defer lc.Close()
	ro := redis.NewClient(&redis.Options{Addr: c.Nodes[fi].Addr(), MaxRetries: -1, PoolSize: 2,
		ReadTimeout: 10 * time.Second, ContextTimeoutEnabled: true,
		OnConnect: func(ctx context.Context, cn *redis.Conn) error { return cn.ReadOnly(ctx).Err() }})
	defer ro.Close()

	cutForward.Store(true)
	before := c.Nodes[fi].FollowerReads()
	for i := range 20 {
		key := fmt.Sprintf("fr%d", i%4)
		if err := lc.Set(ctx, key, i, 0).Err(); err != nil {
			t.Fatalf("SET %s on the leader: %v", key, err)
		}
		// Acknowledged before the read starts: the follower must see it.
		if v, err := ro.Get(ctx, key).Int(); err != nil || v != i {
			t.Fatalf("READONLY GET %s on follower node %d = %v, %v; want %d", key, fi+1, v, err, i)
		}
	}
	vals, err := ro.MGet(ctx, "fr0", "fr1", "fr2", "fr3").Result()
	if err != nil || fmt.Sprint(vals) != "[16 17 18 19]" {
		t.Fatalf("READONLY MGET on the follower = %v, %v", vals, err)
	}
	if n := c.Nodes[fi].FollowerReads() - before; n < 21 {
		t.Fatalf("%d follower reads counted on node %d, want >= 21", n, fi+1)
	}

	// Writes of a READONLY connection are forwarded to the leader as before.
	cutForward.Store(false)
	if err := ro.Set(ctx, "fr-w", "x", 0).Err(); err != nil {
		t.Fatalf("SET on a READONLY connection to a follower: %v", err)
	}
	if v, err := lc.Get(ctx, "fr-w").Result(); err != nil || v != "x" {
		t.Fatalf("GET fr-w on the leader = %q, %v", v, err)
	}
	// READWRITE turns follower reads off again: the read is forwarded.
	rw := ro.Conn()
	defer rw.Close()
	if err := rw.ReadWrite(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	n0 := c.Nodes[fi].FollowerReads()
	if v, err := rw.Get(ctx, "fr-w").Result(); err != nil || v != "x" {
		t.Fatalf("GET after READWRITE = %q, %v", v, err)
	}
	if n := c.Nodes[fi].FollowerReads(); n != n0 {
		t.Fatalf("a READWRITE connection's read was served by the follower (%d -> %d)", n0, n)
	}

	// A follower cut off from the others never answers from its own,
	// stale copy: the read fails (here: the client gives up), and after
	// the partition heals it sees the write acknowledged meanwhile.
	isolated.Store(c.Nodes[fi].StoreID())
	if err := lc.Set(ctx, "fr0", "new", 0).Err(); err != nil {
		t.Fatalf("SET on the leader's majority: %v", err)
	}
	short, cancelShort := context.WithTimeout(ctx, 1500*time.Millisecond)
	v, err := ro.Get(short, "fr0").Result()
	cancelShort()
	if err == nil {
		t.Fatalf("READONLY GET on an isolated follower answered %q", v)
	}
	isolated.Store(0)
	awaitProto(t, 20*time.Second, "follower read after healing", func() error {
		short, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		v, err := ro.Get(short, "fr0").Result()
		if err == nil && v != "new" {
			t.Fatalf("READONLY GET after healing = %q, want new", v)
		}
		return err
	})
}
