package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/rueidis"

	"github.com/skerrydb/skerry/cluster/playground"
	"github.com/skerrydb/skerry/mvcc/keys"
	"github.com/skerrydb/skerry/pd/pdclient"
)

// startPlayground runs `skerry playground --nodes n --data-dir dir` with
// playgroundFlags, waits until it says it is up, and stops it
// (SIGINT) when the test ends. It returns node 1's RESP port; node i
// serves on base+i-1.
func startPlayground(t *testing.T, bin string, n int, dir string, playgroundFlags ...string) int {
	t.Helper()
	base := playgroundBase(t, n)
	args := append([]string{"playground", "--nodes", strconv.Itoa(n), "--port", strconv.Itoa(base),
		"--data-dir", dir}, playgroundFlags...)
	args = append(args, "--", "--log-level", "warn")
	pg := exec.Command(bin, args...)
	out, err := pg.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	pg.Stderr = os.Stderr
	if err := pg.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	up := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			t.Log("playground: " + sc.Text())
			if strings.Contains(sc.Text(), "playground is up") {
				close(up)
			}
		}
		exited <- pg.Wait()
	}()
	t.Cleanup(func() {
		_ = pg.Process.Signal(syscall.SIGINT)
		select {
		case err := <-exited:
			if err != nil {
				t.Errorf("playground exit: %v", err)
			}
		case <-time.After(30 * time.Second):
			_ = pg.Process.Kill()
			t.Error("playground did not stop on SIGINT")
		}
	})
	select {
	case <-up:
	case err := <-exited:
		t.Fatalf("playground exited while starting: %v", err)
	case <-time.After(90 * time.Second):
		t.Fatal("playground not up")
	}
	return base
}

// await polls check until it returns nil or d has passed.
func await(t *testing.T, d time.Duration, what string, check func() error) {
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

// slotOwners returns, per slot range, the RESP address of its master as
// node addr reports it, checking that the ranges cover every slot.
func slotOwners(ctx context.Context, addr string) ([]redis.ClusterSlot, error) {
	cl := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1})
	defer cl.Close()
	//lint:ignore SA1019 CLUSTER SLOTS is what cluster clients route by
	slots, err := cl.ClusterSlots(ctx).Result()
	if err != nil {
		return nil, err
	}
	next := 0
	for _, s := range slots {
		if s.Start != next || len(s.Nodes) == 0 {
			return nil, fmt.Errorf("CLUSTER SLOTS of %s: range %d-%d after %d", addr, s.Start, s.End, next-1)
		}
		next = s.End + 1
	}
	if next != keys.NumSlots {
		return nil, fmt.Errorf("CLUSTER SLOTS of %s ends at %d", addr, next)
	}
	return slots, nil
}

// ownerOf returns the master of slot in slots.
func ownerOf(slots []redis.ClusterSlot, slot int) string {
	for _, s := range slots {
		if s.Start <= slot && slot <= s.End {
			return s.Nodes[0].Addr
		}
	}
	return ""
}

// keyInSlots returns a key "prefix<n>" whose slot is in [lo, hi].
func keyInSlots(prefix string, lo, hi int) string {
	for i := 0; ; i++ {
		k := prefix + strconv.Itoa(i)
		if s := int(keys.Slot([]byte(k))); lo <= s && s <= hi {
			return k
		}
	}
}

// redisCLI runs redis-cli with args and returns its trimmed output.
func redisCLI(t *testing.T, cli string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, cli, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("redis-cli %v: %v: %s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}

// checkRedisCLIFollowsMoved writes and reads key through a node that does
// not own its slot with `redis-cli -c`, after checking that the node
// answers a plain redis-cli with -MOVED.
func checkRedisCLIFollowsMoved(t *testing.T, cli string, ctx context.Context, addrs []string, key, value string) {
	t.Helper()
	var slots []redis.ClusterSlot
	await(t, 10*time.Second, "a full slot map", func() (err error) {
		slots, err = slotOwners(ctx, addrs[0])
		return err
	})
	owner := ownerOf(slots, int(keys.Slot([]byte(key))))
	i := slices.IndexFunc(addrs, func(a string) bool { return a != owner })
	_, port, _ := strings.Cut(addrs[i], ":")
	if out := redisCLI(t, cli, "-p", port, "SET", key, value); !strings.Contains(out, "MOVED") {
		// Only if the leader moved here meanwhile is there nothing to
		// follow. The slot map a node serves is cached for up to a
		// second (topologyMaxAge), so the move shows in it a little
		// later; a node that served a slot it does not lead would keep
		// naming the old owner and fail here.
		await(t, 5*time.Second, "the slot map to show the leader that served "+key, func() error {
			now, err := slotOwners(ctx, addrs[0])
			if err != nil {
				return err
			}
			if o := ownerOf(now, int(keys.Slot([]byte(key)))); o == owner {
				return fmt.Errorf("plain redis-cli SET %s to %s (owner %s): %q, want -MOVED", key, addrs[i], owner, out)
			}
			return nil
		})
		t.Logf("plain redis-cli to %s: %q (the slot's leader moved)", addrs[i], out)
	}
	if out := redisCLI(t, cli, "-c", "-p", port, "SET", key, value); !strings.HasSuffix(out, "OK") {
		t.Fatalf("redis-cli -c SET %s through %s: %q", key, addrs[i], out)
	}
	if out := redisCLI(t, cli, "-c", "-p", port, "GET", key); !strings.HasSuffix(out, value) {
		t.Fatalf("redis-cli -c GET %s through %s: %q", key, addrs[i], out)
	}
}

// TestClusterClientsOnPlayground runs a 3-process playground in redirect
// mode (`skerry playground --cluster-redirect`) and drives it with rueidis in cluster
// mode and `redis-cli -c`: first on the fresh cluster (one region), then
// after splitting the keyspace at slot 8192 and moving one half's leader,
// so the clients must route to two nodes and follow -MOVED, and MSET/MGET
// across the halves run as distributed transactions.
func TestClusterClientsOnPlayground(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	bin := buildSkerry(t)
	const n = 3
	base := startPlayground(t, bin, n, t.TempDir(), "--cluster-redirect")
	var addrs, eps []string
	for i := range n {
		addrs = append(addrs, "127.0.0.1:"+strconv.Itoa(base+i))
		eps = append(eps, "http://127.0.0.1:"+strconv.Itoa(base+playground.PDClientOffset+i))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	for _, a := range addrs {
		await(t, 20*time.Second, "CLUSTER SLOTS of "+a, func() error { _, err := slotOwners(ctx, a); return err })
	}
	cli, cliErr := exec.LookPath("redis-cli")

	// rueidis finds the cluster through CLUSTER SLOTS. Skerry has no
	// client-side caching (CLIENT TRACKING), hence DisableCache.
	rc, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: addrs, DisableCache: true})
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	if _, ok := rc.Nodes()[addrs[0]]; !ok || len(rc.Nodes()) < 2 {
		t.Fatalf("rueidis is not in cluster mode: nodes %v", rc.Nodes())
	}

	// Multi-key commands across slots: on the fresh cluster (one region),
	// and again after the split, when the keys' regions are led by two
	// nodes and the command runs as a distributed transaction.
	crossSlot := func(t *testing.T, prefix string) {
		var mk []string
		halves := map[bool]bool{}
		for _, c := range "abcdefgh" {
			k := prefix + string(c)
			mk = append(mk, k)
			halves[keys.Slot([]byte(k)) < 8192] = true
		}
		if len(halves) < 2 {
			t.Fatalf("keys %v all on one side of slot 8192", mk)
		}
		// Args, not Keys: rueidis refuses to build a cross-slot command
		// with Keys; sent as is, any node serves it.
		var kv []string
		for i, k := range mk {
			kv = append(kv, k, strconv.Itoa(i+1))
		}
		if err := rc.Do(ctx, rc.B().Arbitrary("MSET").Args(kv...).Build()).Error(); err != nil {
			t.Fatalf("MSET across slots: %v", err)
		}
		got, err := rc.Do(ctx, rc.B().Arbitrary("MGET").Args(mk...).Build()).AsStrSlice()
		if err != nil || strings.Join(got, ",") != "1,2,3,4,5,6,7,8" {
			t.Fatalf("MGET across slots = %q %v", got, err)
		}
		// rueidis's own helpers split by slot.
		m, err := rueidis.MGet(rc, ctx, mk)
		if err != nil || len(m) != len(mk) {
			t.Fatalf("rueidis.MGet = %v %v", m, err)
		}
		for i, k := range mk {
			msg := m[k]
			if v, err := msg.ToString(); err != nil || v != strconv.Itoa(i+1) {
				t.Fatalf("rueidis.MGet %s = %q %v", k, v, err)
			}
		}
	}
	t.Run("cross-slot MSET/MGET in one region", func(t *testing.T) { crossSlot(t, "m:") })
	t.Run("redis-cli -c, one region", func(t *testing.T) {
		if cliErr != nil {
			t.Skip("redis-cli is not installed (Debian: apt-get install redis-tools)")
		}
		checkRedisCLIFollowsMoved(t, cli, ctx, addrs, "cli:one", "first")
	})

	// Split at slot 8192 and put the halves' leaders on two nodes.
	pdc, err := pdclient.Dial(ctx, eps)
	if err != nil {
		t.Fatal(err)
	}
	defer pdc.Close()
	splitAndSpread(t, ctx, pdc)
	await(t, 20*time.Second, "two slot owners", func() error {
		for _, a := range addrs {
			slots, err := slotOwners(ctx, a)
			if err != nil {
				return err
			}
			if ownerOf(slots, 0) == ownerOf(slots, keys.NumSlots-1) {
				return fmt.Errorf("%s: one owner: %+v", a, slots)
			}
		}
		return nil
	})

	t.Run("cross-region MSET/MGET", func(t *testing.T) { crossSlot(t, "x:") })

	t.Run("rueidis families", func(t *testing.T) {
		// Keys on both sides of the split.
		for _, half := range [][2]int{{0, 8191}, {8192, keys.NumSlots - 1}} {
			str := keyInSlots("s:", half[0], half[1])
			hash := keyInSlots("h:", half[0], half[1])
			list := keyInSlots("l:", half[0], half[1])
			set := keyInSlots("set:", half[0], half[1])
			zset := keyInSlots("z:", half[0], half[1])
			do := func(c rueidis.Completed) rueidis.RedisResult { return rc.Do(ctx, c) }
			if err := do(rc.B().Set().Key(str).Value("10").Build()).Error(); err != nil {
				t.Fatalf("SET %s: %v", str, err)
			}
			if v, err := do(rc.B().Incrby().Key(str).Increment(5).Build()).AsInt64(); err != nil || v != 15 {
				t.Fatalf("INCRBY %s = %d %v", str, v, err)
			}
			if v, err := do(rc.B().Append().Key(str).Value("x").Build()).AsInt64(); err != nil || v != 3 {
				t.Fatalf("APPEND %s = %d %v", str, v, err)
			}
			if v, err := do(rc.B().Get().Key(str).Build()).ToString(); err != nil || v != "15x" {
				t.Fatalf("GET %s = %q %v", str, v, err)
			}
			if err := do(rc.B().Hset().Key(hash).FieldValue().FieldValue("f", "1").FieldValue("g", "2").Build()).Error(); err != nil {
				t.Fatalf("HSET %s: %v", hash, err)
			}
			if m, err := do(rc.B().Hgetall().Key(hash).Build()).AsStrMap(); err != nil || m["f"] != "1" || m["g"] != "2" || len(m) != 2 {
				t.Fatalf("HGETALL %s = %v %v", hash, m, err)
			}
			if err := do(rc.B().Rpush().Key(list).Element("a", "b", "c").Build()).Error(); err != nil {
				t.Fatalf("RPUSH %s: %v", list, err)
			}
			if v, err := do(rc.B().Lrange().Key(list).Start(0).Stop(-1).Build()).AsStrSlice(); err != nil || strings.Join(v, "") != "abc" {
				t.Fatalf("LRANGE %s = %q %v", list, v, err)
			}
			if err := do(rc.B().Sadd().Key(set).Member("x", "y", "x").Build()).Error(); err != nil {
				t.Fatalf("SADD %s: %v", set, err)
			}
			if v, err := do(rc.B().Smembers().Key(set).Build()).AsStrSlice(); err != nil || len(v) != 2 {
				t.Fatalf("SMEMBERS %s = %q %v", set, v, err)
			}
			if err := do(rc.B().Zadd().Key(zset).ScoreMember().ScoreMember(2, "two").ScoreMember(1, "one").Build()).Error(); err != nil {
				t.Fatalf("ZADD %s: %v", zset, err)
			}
			if v, err := do(rc.B().Zrange().Key(zset).Min("0").Max("-1").Build()).AsStrSlice(); err != nil || strings.Join(v, ",") != "one,two" {
				t.Fatalf("ZRANGE %s = %q %v", zset, v, err)
			}
			if v, err := do(rc.B().Zscore().Key(zset).Member("two").Build()).AsFloat64(); err != nil || v != 2 {
				t.Fatalf("ZSCORE %s = %v %v", zset, v, err)
			}
		}
	})

	t.Run("rueidis DoMulti across slots", func(t *testing.T) {
		const count = 300
		sets := make(rueidis.Commands, count)
		gets := make(rueidis.Commands, count)
		halves := map[bool]int{}
		for i := range count {
			k := "p:" + strconv.Itoa(i)
			halves[keys.Slot([]byte(k)) < 8192]++
			sets[i] = rc.B().Set().Key(k).Value(strconv.Itoa(i * 7)).Build()
			gets[i] = rc.B().Get().Key(k).Build()
		}
		if halves[true] == 0 || halves[false] == 0 {
			t.Fatalf("keys all in one half: %v", halves)
		}
		for i, r := range rc.DoMulti(ctx, sets...) {
			if err := r.Error(); err != nil {
				t.Fatalf("pipelined SET %d: %v", i, err)
			}
		}
		for i, r := range rc.DoMulti(ctx, gets...) {
			if v, err := r.ToString(); err != nil || v != strconv.Itoa(i*7) {
				t.Fatalf("pipelined GET %d = %q %v", i, v, err)
			}
		}
	})

	t.Run("MYSHARDID and INFO cluster", func(t *testing.T) {
		seen := map[string]bool{}
		for _, a := range addrs {
			cl := redis.NewClient(&redis.Options{Addr: a})
			id, err := cl.Do(ctx, "CLUSTER", "MYSHARDID").Text()
			info, ierr := cl.Info(ctx, "cluster").Result()
			cl.Close()
			if err != nil || len(id) != 40 || seen[id] {
				t.Fatalf("%s CLUSTER MYSHARDID = %q %v (seen %v)", a, id, err, seen)
			}
			seen[id] = true
			if ierr != nil || info != "# Cluster\r\ncluster_enabled:1\r\n" {
				t.Fatalf("%s INFO cluster = %q %v", a, info, ierr)
			}
		}
	})

	t.Run("redis-cli -c, two owners", func(t *testing.T) {
		if cliErr != nil {
			t.Skip("redis-cli is not installed (Debian: apt-get install redis-tools)")
		}
		for _, half := range [][2]int{{0, 8191}, {8192, keys.NumSlots - 1}} {
			checkRedisCLIFollowsMoved(t, cli, ctx, addrs, keyInSlots("cli:", half[0], half[1]), "v"+strconv.Itoa(half[0]))
		}
	})
}

// splitAndSpread splits the first region at slot 8192 through PD (as
// `skerry ctl split` does) and, if both halves are led by one store,
// moves the upper half's leadership to another voter.
func splitAndSpread(t *testing.T, ctx context.Context, pdc *pdclient.Client) {
	t.Helper()
	var rs []pdclient.RegionInfo
	await(t, 20*time.Second, "a leader of the first region", func() (err error) {
		if rs, err = pdc.ScanRegions(ctx, nil, nil, 0); err != nil {
			return err
		}
		if len(rs) != 1 || rs[0].Leader.ID == 0 {
			return fmt.Errorf("regions %+v", rs)
		}
		return nil
	})
	split := pdclient.Operator{Kind: pdclient.OpSplit, SplitKeys: [][]byte{keys.SlotPrefix(8192)}}
	if err := pdc.AddOperator(ctx, rs[0].Region.ID, split); err != nil {
		t.Fatal(err)
	}
	await(t, 20*time.Second, "the split", func() (err error) {
		if rs, err = pdc.ScanRegions(ctx, nil, nil, 0); err != nil {
			return err
		}
		if len(rs) != 2 || rs[0].Leader.ID == 0 || rs[1].Leader.ID == 0 {
			return fmt.Errorf("regions %+v", rs)
		}
		return nil
	})
	if rs[0].Leader.StoreID == rs[1].Leader.StoreID {
		for _, p := range rs[1].Region.Peers {
			if p.StoreID != rs[1].Leader.StoreID && !p.Learner {
				op := pdclient.Operator{Kind: pdclient.OpTransferLeader, Peer: p}
				if err := pdc.AddOperator(ctx, rs[1].Region.ID, op); err != nil {
					t.Fatal(err)
				}
				break
			}
		}
	}
	await(t, 20*time.Second, "leaders on two stores", func() (err error) {
		if rs, err = pdc.ScanRegions(ctx, nil, nil, 0); err != nil {
			return err
		}
		if len(rs) != 2 || rs[0].Leader.StoreID == 0 || rs[0].Leader.StoreID == rs[1].Leader.StoreID {
			return fmt.Errorf("regions %+v", rs)
		}
		return nil
	})
}
