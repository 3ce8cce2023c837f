package cluster_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/skerrydb/skerry/cluster"
	"github.com/skerrydb/skerry/cluster/clustertest"
	"github.com/skerrydb/skerry/cluster/ctl"
	"github.com/skerrydb/skerry/mvcc/keys"
	"github.com/skerrydb/skerry/pd/pdclient"
)

// splitAt is the slot where splitCluster cuts the keyspace in two.
const splitAt = 8192

// splitCluster starts three nodes, splits the keyspace at slot splitAt
// (as `skerry ctl split` does) and moves the right region's leadership to
// another node than the left one's, so a transaction over both halves
// spans two regions led by two nodes. It returns a client per node.
func splitCluster(t *testing.T) (*clustertest.Cluster, []*redis.Client) {
	t.Helper()
	cfgs := clustertest.ClusterConfigs(t, 3)
	c := clustertest.StartCluster(t, cfgs)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	x, pdc := dialCtl(t, ctx, c), dialPD(t, cfgs)
	splitKey, err := ctl.SlotSplitKey(splitAt)
	if err != nil {
		t.Fatal(err)
	}
	var regions []pdclient.RegionInfo
	for {
		if regions, err = pdc.ScanRegions(ctx, nil, nil, 0); err == nil && len(regions) == 1 && regions[0].Leader.ID != 0 {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("no region with a leader in PD: %v %v", regions, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := x.Split(ctx, regions[0].Region.ID, splitKey); err != nil {
		t.Fatalf("split: %v", err)
	}
	for {
		regions, err = pdc.ScanRegions(ctx, nil, nil, 0)
		if err == nil && len(regions) == 2 && regions[0].Leader.ID != 0 && regions[1].Leader.ID != 0 {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("split regions not in PD: %v %v", regions, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if regions[0].Leader.StoreID == regions[1].Leader.StoreID {
		for _, p := range regions[1].Region.Peers {
			if p.StoreID != regions[0].Leader.StoreID {
				if err := x.TransferLeader(ctx, regions[1].Region.ID, p.StoreID); err != nil {
					t.Fatalf("transfer leader: %v", err)
				}
				break
			}
		}
	}
	clients := make([]*redis.Client, len(c.Nodes))
	for i, n := range c.Nodes {
		clients[i] = redis.NewClient(&redis.Options{Addr: n.Addr(), MaxRetries: -1})
		t.Cleanup(func() { clients[i].Close() })
	}
	return c, clients
}

// dialCtl connects a ctl client (as `skerry ctl` uses) to c's PD and
// closes it when the test ends.
func dialCtl(t *testing.T, ctx context.Context, c *clustertest.Cluster) *ctl.Ctl {
	t.Helper()
	x, err := ctl.Dial(ctx, ctl.Config{Endpoints: []string{"http://" + c.Cfgs[0].PDClientAddr}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { x.Close() })
	return x
}

// sideKeys returns n key names whose slots are below splitAt (left) or
// not (right), prefixed with p.
func sideKeys(p string, n int, right bool) []string {
	var out []string
	for i := 0; len(out) < n; i++ {
		k := p + strconv.Itoa(i)
		if (keys.Slot([]byte(k)) >= splitAt) == right {
			out = append(out, k)
		}
	}
	return out
}

// mixedKeys returns 2n keys, alternating left and right.
func mixedKeys(p string, n int) []string {
	l, r := sideKeys(p, n, false), sideKeys(p, n, true)
	out := make([]string, 0, 2*n)
	for i := range n {
		out = append(out, l[i], r[i])
	}
	return out
}

func testCtx(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// TestDistributedTransactions runs the cross-region scenarios on one
// split cluster (starting one takes seconds).
func TestDistributedTransactions(t *testing.T) {
	c, clients := splitCluster(t)
	t.Run("MultiKeyCommands", func(t *testing.T) { testDistMultiKey(t, clients) })
	t.Run("MultiExec", func(t *testing.T) { testDistMultiExec(t, clients) })
	t.Run("BlindSetAfterPrewrite", func(t *testing.T) { testDistBlindSet(t, c, clients) })
	t.Run("WriteSkew", func(t *testing.T) { testDistWriteSkew(t, clients) })
	t.Run("LostUpdate", func(t *testing.T) { testDistLostUpdate(t, clients) })
	t.Run("Bank", func(t *testing.T) { testDistBank(t, clients, "acct", nil) })
	t.Run("BankDuringSplit", func(t *testing.T) {
		testDistBank(t, clients, "split", func() { splitRightHalf(t, c) })
	})
	t.Run("KeylessCommands", func(t *testing.T) { testDistKeyless(t, c, clients) })
	t.Run("Prefetch", func(t *testing.T) { testDistPrefetch(t, c, clients) })
	t.Run("InPieces", func(t *testing.T) { testDistInPieces(t, c, clients) })
	t.Run("SlowCommitStaysAlive", func(t *testing.T) { testDistSlowCommit(t, c, clients) })
	t.Run("CoordinatorCrash", func(t *testing.T) { testDistCoordinatorCrash(t, c, clients) })
	t.Run("CoordinatorCrashBeforeCommit", func(t *testing.T) { testDistCrashBeforeCommit(t, c, clients) })
	var committed, conflicts, resolved int64
	for _, n := range c.Nodes {
		a, b, r := cluster.DTxnStats(n)
		committed, conflicts, resolved = committed+a, conflicts+b, resolved+r
	}
	t.Logf("distributed transactions: %d committed, %d conflicts rerun, %d locks resolved", committed, conflicts, resolved)
	if committed == 0 || resolved == 0 {
		t.Fatal("the scenarios did not exercise the distributed path")
	}
}

func testDistMultiKey(t *testing.T, clients []*redis.Client) {
	ctx := testCtx(t, 20*time.Second)
	ks := mixedKeys("mk", 4)
	for i, cl := range clients {
		args := make([]any, 0, 2*len(ks))
		for _, k := range ks {
			args = append(args, k, fmt.Sprintf("v%d-%s", i, k))
		}
		if err := cl.MSet(ctx, args...).Err(); err != nil {
			t.Fatalf("MSET via node %d: %v", i+1, err)
		}
		for j, rd := range clients {
			vals, err := rd.MGet(ctx, ks...).Result()
			if err != nil {
				t.Fatalf("MGET via node %d: %v", j+1, err)
			}
			for n, k := range ks {
				if want := fmt.Sprintf("v%d-%s", i, k); vals[n] != want {
					t.Fatalf("MGET via node %d: %s = %v, want %s", j+1, k, vals[n], want)
				}
			}
		}
	}
	start := time.Now()
	for i := range 10 {
		if err := clients[0].MSet(ctx, ks[0], i, ks[1], i).Err(); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("cross-region MSET: %v each", time.Since(start)/10)
	if n, err := clients[1].Exists(ctx, ks...).Result(); err != nil || n != int64(len(ks)) {
		t.Fatalf("EXISTS = %d %v, want %d", n, err, len(ks))
	}
	if ok, err := clients[2].MSetNX(ctx, ks[0], "x", "mk-fresh", "y").Result(); err != nil || ok {
		t.Fatalf("MSETNX over an existing key = %v %v, want false", ok, err)
	}
	if n, err := clients[2].Del(ctx, ks...).Result(); err != nil || n != int64(len(ks)) {
		t.Fatalf("DEL = %d %v, want %d", n, err, len(ks))
	}
	vals, err := clients[0].MGet(ctx, ks...).Result()
	if err != nil {
		t.Fatal(err)
	}
	for n, v := range vals {
		if v != nil {
			t.Fatalf("%s = %v after DEL", ks[n], v)
		}
	}
	// A pipeline (no MULTI) over both regions runs as one batch.
	cmds, err := clients[1].Pipelined(ctx, func(p redis.Pipeliner) error {
		for n, k := range ks {
			p.Set(ctx, k, n, 0)
		}
		p.MGet(ctx, ks...)
		return nil
	})
	if err != nil {
		t.Fatalf("pipeline: %v", err)
	}
	got := cmds[len(ks)].(*redis.SliceCmd).Val()
	for n := range ks {
		if got[n] != strconv.Itoa(n) {
			t.Fatalf("pipelined MGET = %v", got)
		}
	}
	// RENAME across regions moves the value atomically.
	l, r := sideKeys("rn", 1, false)[0], sideKeys("rn", 1, true)[0]
	if err := clients[0].Set(ctx, l, "moved", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if err := clients[1].Rename(ctx, l, r).Err(); err != nil {
		t.Fatalf("RENAME across regions: %v", err)
	}
	if v, err := clients[2].Get(ctx, r).Result(); err != nil || v != "moved" {
		t.Fatalf("GET %s = %q %v", r, v, err)
	}
	if n, err := clients[2].Exists(ctx, l).Result(); err != nil || n != 0 {
		t.Fatalf("source still exists: %d %v", n, err)
	}
}

func testDistMultiExec(t *testing.T, clients []*redis.Client) {
	ctx := testCtx(t, 20*time.Second)
	a, b := sideKeys("me", 1, false)[0], sideKeys("me", 1, true)[0]
	for i, cl := range clients {
		cmds, err := cl.TxPipelined(ctx, func(p redis.Pipeliner) error {
			p.Set(ctx, a, i, 0)
			p.Incr(ctx, b)
			p.Get(ctx, a)
			return nil
		})
		if err != nil {
			t.Fatalf("MULTI/EXEC via node %d: %v", i+1, err)
		}
		if got := cmds[2].(*redis.StringCmd).Val(); got != strconv.Itoa(i) {
			t.Fatalf("GET inside EXEC = %q, want %d", got, i)
		}
	}
	if v, err := clients[0].Get(ctx, b).Int(); err != nil || v != len(clients) {
		t.Fatalf("%s = %d %v, want %d", b, v, err, len(clients))
	}
	// A runtime error inside EXEC leaves the others applied.
	cmds, _ := clients[1].TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Set(ctx, a, "text", 0)
		p.Incr(ctx, a) // not an integer
		p.Set(ctx, b, "after", 0)
		return nil
	})
	if len(cmds) != 3 || cmds[1].Err() == nil {
		t.Fatalf("EXEC replies %v: want the INCR to fail", cmds)
	}
	if v, err := clients[2].Get(ctx, b).Result(); err != nil || v != "after" {
		t.Fatalf("%s = %q %v, want after", b, v, err)
	}
}

// watchTxn runs WATCH keys, fn, MULTI ... EXEC until EXEC commits or
// the context ends.
func watchTxn(ctx context.Context, cl *redis.Client, fn func(tx *redis.Tx) error, ks ...string) error {
	for ctx.Err() == nil {
		err := cl.Watch(ctx, fn, ks...)
		if errors.Is(err, redis.TxFailedErr) {
			continue
		}
		return err
	}
	return ctx.Err()
}

func testDistWriteSkew(t *testing.T, clients []*redis.Client) {
	ctx := testCtx(t, 20*time.Second)
	d1, d2 := sideKeys("doc", 1, false)[0], sideKeys("doc", 1, true)[0]
	for round := range 15 {
		if err := clients[0].MSet(ctx, d1, 1, d2, 1).Err(); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		for i, me := range []string{d1, d2} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				cl := clients[i]
				err := cl.Watch(ctx, func(tx *redis.Tx) error {
					vals, err := tx.MGet(ctx, d1, d2).Result()
					if err != nil {
						return err
					}
					if vals[0] != "1" || vals[1] != "1" {
						return nil // the other doctor is off already
					}
					_, err = tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
						p.Set(ctx, me, 0, 0)
						return nil
					})
					return err
				}, d1, d2)
				if err != nil && !errors.Is(err, redis.TxFailedErr) {
					t.Errorf("round %d: %v", round, err)
				}
			}()
		}
		wg.Wait()
		vals, err := clients[2].MGet(ctx, d1, d2).Result()
		if err != nil {
			t.Fatal(err)
		}
		if vals[0] == "0" && vals[1] == "0" {
			t.Fatalf("round %d: both doctors went off call (write skew)", round)
		}
	}
}

func testDistLostUpdate(t *testing.T, clients []*redis.Client) {
	ctx := testCtx(t, 20*time.Second)
	cnt, other := sideKeys("cnt", 1, false)[0], sideKeys("cnt", 1, true)[0]
	workers, each := 4, 10
	if raceEnabled {
		workers, each = 3, 4 // the race detector slows every round trip
	}
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cl := clients[w%len(clients)]
			for range each {
				err := watchTxn(ctx, cl, func(tx *redis.Tx) error {
					n, err := tx.Get(ctx, cnt).Int()
					if err != nil && !errors.Is(err, redis.Nil) {
						return err
					}
					_, err = tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
						p.Set(ctx, cnt, n+1, 0)
						p.Set(ctx, other, w, 0) // the other region: a 2PC commit
						return nil
					})
					return err
				}, cnt)
				if err != nil {
					t.Errorf("worker %d: %v", w, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if v, err := clients[0].Get(ctx, cnt).Int(); err != nil || v != workers*each {
		t.Fatalf("counter = %d %v, want %d", v, err, workers*each)
	}
}

// testDistBank moves money between accounts in both regions with
// WATCH/MULTI/EXEC while auditors read all of them; during, if set, runs
// while the transfers do.
func testDistBank(t *testing.T, clients []*redis.Client, prefix string, during func()) {
	ctx := testCtx(t, 20*time.Second)
	accts := mixedKeys(prefix, 4)
	const start = 100
	total := start * len(accts)
	args := make([]any, 0, 2*len(accts))
	for _, a := range accts {
		args = append(args, a, start)
	}
	if err := clients[0].MSet(ctx, args...).Err(); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var stop atomic.Bool
	var transfers atomic.Int64
	rounds := 12
	if raceEnabled {
		rounds = 4
	}
	for w := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 7))
			cl := clients[w%len(clients)]
			for range rounds {
				from, to := accts[rng.IntN(len(accts))], accts[rng.IntN(len(accts))]
				if from == to {
					continue
				}
				amount := 1 + rng.IntN(20)
				err := watchTxn(ctx, cl, func(tx *redis.Tx) error {
					vals, err := tx.MGet(ctx, from, to).Result()
					if err != nil {
						return err
					}
					f, _ := strconv.Atoi(vals[0].(string))
					g, _ := strconv.Atoi(vals[1].(string))
					if f < amount {
						return nil
					}
					_, err = tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
						p.Set(ctx, from, f-amount, 0)
						p.Set(ctx, to, g+amount, 0)
						return nil
					})
					return err
				}, from, to)
				if err != nil {
					t.Errorf("transfer: %v", err)
					return
				}
				transfers.Add(1)
			}
		}()
	}
	// Readers: every snapshot of all accounts sums to the total.
	var rwg sync.WaitGroup
	rwg.Add(1)
	audits := 0
	go func() {
		defer rwg.Done()
		for !stop.Load() && ctx.Err() == nil {
			vals, err := clients[audits%len(clients)].MGet(ctx, accts...).Result()
			if err != nil {
				t.Errorf("audit: %v", err)
				return
			}
			sum := 0
			for _, v := range vals {
				n, _ := strconv.Atoi(v.(string))
				sum += n
			}
			if sum != total {
				t.Errorf("audit %d: accounts sum to %d, want %d", audits, sum, total)
				return
			}
			audits++
		}
	}()
	if during != nil {
		during()
	}
	wg.Wait()
	stop.Store(true)
	rwg.Wait()
	vals, err := clients[1].MGet(ctx, accts...).Result()
	if err != nil {
		t.Fatal(err)
	}
	sum := 0
	for _, v := range vals {
		n, _ := strconv.Atoi(v.(string))
		sum += n
	}
	if sum != total {
		t.Fatalf("accounts sum to %d after %d transfers, want %d", sum, transfers.Load(), total)
	}
	t.Logf("%d transfers, %d audits", transfers.Load(), audits)
}

func testDistCoordinatorCrash(t *testing.T, c *clustertest.Cluster, clients []*redis.Client) {
	ctx := testCtx(t, 20*time.Second)
	ks := mixedKeys("crash", 2)
	errCrash := errors.New("injected coordinator crash")
	cluster.SetDTxnHook(c.Nodes[0], func(phase string) error {
		if phase == "primary-committed" {
			return errCrash
		}
		return nil
	})
	err := clients[0].MSet(ctx, ks[0], "a", ks[1], "b", ks[2], "c", ks[3], "d").Err()
	cluster.SetDTxnHook(c.Nodes[0], nil)
	if err != nil {
		t.Fatalf("MSET: %v", err)
	}
	_, _, before := cluster.DTxnStats(c.Nodes[0])
	defer func() {
		var resolved int64
		for _, n := range c.Nodes {
			_, _, r := cluster.DTxnStats(n)
			resolved += r
		}
		if resolved < before+int64(len(ks))-1 {
			t.Errorf("%d locks resolved, want the %d secondaries", resolved-before, len(ks)-1)
		}
	}()
	// The secondaries are still locked; readers on every node find the
	// primary committed and resolve them: single-key reads on the local
	// fast path first, then distributed ones.
	for n, k := range ks {
		if v, err := clients[n%len(clients)].Get(ctx, k).Result(); err != nil || v != string(rune('a'+n)) {
			t.Fatalf("GET %s = %q %v", k, v, err)
		}
	}
	for i, cl := range clients {
		vals, err := cl.MGet(ctx, ks...).Result()
		if err != nil {
			t.Fatalf("MGET via node %d: %v", i+1, err)
		}
		for n, want := range []string{"a", "b", "c", "d"} {
			if vals[n] != want {
				t.Fatalf("MGET via node %d: %s = %v, want %s", i+1, ks[n], vals[n], want)
			}
		}
	}
	for n, k := range ks {
		if v, err := clients[2].Get(ctx, k).Result(); err != nil || v != string(rune('a'+n)) {
			t.Fatalf("GET %s = %q %v", k, v, err)
		}
	}
	// Writes over the resolved keys go through the fast path again.
	if err := clients[1].Set(ctx, ks[3], "e", 0).Err(); err != nil {
		t.Fatalf("SET after resolution: %v", err)
	}
}

// testDistCrashBeforeCommit: a coordinator that dies after prewriting
// leaves locks of a transaction that never committed; once their TTL ran
// out, readers roll it back and see the values from before.
func testDistCrashBeforeCommit(t *testing.T, c *clustertest.Cluster, clients []*redis.Client) {
	ctx := testCtx(t, 20*time.Second)
	ks := mixedKeys("dead", 2)
	if err := clients[1].MSet(ctx, ks[0], "old0", ks[1], "old1", ks[2], "old2", ks[3], "old3").Err(); err != nil {
		t.Fatal(err)
	}
	errCrash := errors.New("injected coordinator crash")
	cluster.SetDTxnHook(c.Nodes[0], func(phase string) error {
		if phase == "prewritten" {
			return errCrash
		}
		return nil
	})
	err := clients[0].MSet(ctx, ks[0], "new0", ks[1], "new1", ks[2], "new2", ks[3], "new3").Err()
	cluster.SetDTxnHook(c.Nodes[0], nil)
	if err == nil {
		t.Fatal("MSET succeeded past the injected crash")
	}
	start := time.Now()
	vals, err := clients[2].MGet(ctx, ks...).Result()
	if err != nil {
		t.Fatalf("MGET: %v", err)
	}
	for n, v := range vals {
		if want := "old" + strconv.Itoa(n); v != want {
			t.Fatalf("%s = %v, want %s (the dead transaction must not show)", ks[n], v, want)
		}
	}
	t.Logf("locks of the dead transaction resolved after %v", time.Since(start))
	// Writers get through too.
	if err := clients[1].Set(ctx, ks[0], "after", 0).Err(); err != nil {
		t.Fatalf("SET after rollback: %v", err)
	}
}

// splitRightHalf splits the region holding slot 3*splitAt/2 at that slot,
// as `skerry ctl split` does, and waits for PD to show it.
func splitRightHalf(t *testing.T, c *clustertest.Cluster) {
	ctx := testCtx(t, 15*time.Second)
	eps := []string{"http://" + c.Cfgs[0].PDClientAddr}
	x, err := ctl.Dial(ctx, ctl.Config{Endpoints: eps})
	if err != nil {
		t.Error(err)
		return
	}
	defer x.Close()
	pdc, err := pdclient.Dial(ctx, eps)
	if err != nil {
		t.Error(err)
		return
	}
	defer pdc.Close()
	key, err := ctl.SlotSplitKey(3 * splitAt / 2)
	if err != nil {
		t.Error(err)
		return
	}
	r, _, err := pdc.GetRegion(ctx, key)
	if err != nil {
		t.Error(err)
		return
	}
	if err := x.Split(ctx, r.ID, key); err != nil {
		t.Errorf("split during transfers: %v", err)
	}
}

// testDistSlowCommit holds a distributed transaction between its prewrite
// and its commit for several lock TTLs while a reader waits on its lock:
// the coordinator's heartbeats keep the lock alive, so the reader waits
// for the commit and sees it, and the transaction commits on its first
// attempt (without them, the reader would roll it back as dead).
func testDistSlowCommit(t *testing.T, c *clustertest.Cluster, clients []*redis.Client) {
	ctx := testCtx(t, 20*time.Second)
	a, b := sideKeys("slow", 1, false)[0], sideKeys("slow", 1, true)[0]
	if err := clients[1].MSet(ctx, a, "old", b, "old").Err(); err != nil {
		t.Fatal(err)
	}
	const ttl = 300
	prev := cluster.SetLockTTL(ttl)
	defer cluster.SetLockTTL(prev)
	prewritten, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	cluster.SetDTxnHook(c.Nodes[0], func(phase string) error {
		if phase == "prewritten" {
			once.Do(func() {
				close(prewritten)
				<-release
			})
		}
		return nil
	})
	defer cluster.SetDTxnHook(c.Nodes[0], nil)
	_, conflictsBefore, _ := cluster.DTxnStats(c.Nodes[0])
	beatsBefore := cluster.DTxnHeartbeats(c.Nodes[0])

	wrote := make(chan error, 1)
	go func() { wrote <- clients[0].MSet(ctx, a, "new", b, "new").Err() }()
	select {
	case <-prewritten:
	case err := <-wrote:
		t.Fatalf("MSET ended before its prewrite was held: %v", err)
	}
	read := make(chan *redis.StringCmd, 1)
	go func() { read <- clients[1].Get(ctx, a) }()
	// Hold the transaction until it has outlived its first TTL three
	// times over (a heartbeat goes out every third of a TTL).
	for cluster.DTxnHeartbeats(c.Nodes[0])-beatsBefore < 9 {
		if ctx.Err() != nil {
			close(release)
			t.Fatal("no heartbeats from a held transaction")
		}
		time.Sleep(10 * time.Millisecond)
	}
	close(release)
	if err := <-wrote; err != nil {
		t.Fatalf("MSET: %v", err)
	}
	if got := <-read; got.Err() != nil || got.Val() != "new" {
		t.Fatalf("GET %s waiting on the held lock = %q %v, want new", a, got.Val(), got.Err())
	}
	if _, conflicts, _ := cluster.DTxnStats(c.Nodes[0]); conflicts != conflictsBefore {
		t.Fatalf("the held transaction was rolled back by the reader and rerun (%d conflicts)", conflicts-conflictsBefore)
	}
}

// testDistPrefetch checks that a cross-region command's reads of its own
// keys come from one read-ahead round (one request per region) rather
// than one round trip per key.
func testDistPrefetch(t *testing.T, c *clustertest.Cluster, clients []*redis.Client) {
	ctx := testCtx(t, 20*time.Second)
	ks := mixedKeys("pf", 4)
	args := make([]any, 0, 2*len(ks))
	for _, k := range ks {
		args = append(args, k, "v")
	}
	before := cluster.DTxnPrefetchHits(c.Nodes[0])
	if err := clients[0].MSet(ctx, args...).Err(); err != nil {
		t.Fatal(err)
	}
	// MSET reads what each of its 8 keys held before overwriting it.
	if hits := cluster.DTxnPrefetchHits(c.Nodes[0]) - before; hits < int64(len(ks)) {
		t.Fatalf("%d of MSET's %d key reads were prefetched", hits, len(ks))
	}
	vals, err := clients[1].MGet(ctx, ks...).Result()
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range vals {
		if v != "v" {
			t.Fatalf("%s = %v after MSET", ks[i], v)
		}
	}
}

// testDistInPieces: a transaction over more keys than one request may
// carry is prewritten and committed in pieces of at most kvBatchKeys keys
// per request, and stays atomic: the MSET lands whole, a DEL removes every
// key.
func testDistInPieces(t *testing.T, c *clustertest.Cluster, clients []*redis.Client) {
	ctx := testCtx(t, 30*time.Second)
	prev := cluster.SetKVBatchKeys(3)
	defer cluster.SetKVBatchKeys(prev)
	var mu sync.Mutex
	most, prewrites := 0, 0
	cluster.SetKVRequestHook(c.Nodes[0], func(op uint32, keys int) {
		mu.Lock()
		defer mu.Unlock()
		if op == cluster.KVOpPrewrite {
			prewrites++
		}
		if op == cluster.KVOpPrewrite || op == cluster.KVOpCommit {
			most = max(most, keys)
		}
	})
	defer cluster.SetKVRequestHook(c.Nodes[0], nil)
	ks := mixedKeys("piece", 20)
	args := make([]any, 0, 2*len(ks))
	for i, k := range ks {
		args = append(args, k, fmt.Sprint(i))
	}
	if err := clients[0].MSet(ctx, args...).Err(); err != nil {
		t.Fatalf("MSET of %d keys: %v", len(ks), err)
	}
	vals, err := clients[1].MGet(ctx, ks...).Result()
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range vals {
		if v != fmt.Sprint(i) {
			t.Fatalf("%s = %v, want %d", ks[i], v, i)
		}
	}
	if n, err := clients[0].Del(ctx, ks...).Result(); err != nil || n != int64(len(ks)) {
		t.Fatalf("DEL = %d %v", n, err)
	}
	if n, err := clients[2].Exists(ctx, ks...).Result(); err != nil || n != 0 {
		t.Fatalf("EXISTS after DEL = %d %v", n, err)
	}
	mu.Lock()
	defer mu.Unlock()
	if most > 3 || prewrites < 7 {
		t.Fatalf("requests carried up to %d keys, %d prewrites (want <= 3 keys, >= 7 prewrites)", most, prewrites)
	}
}
