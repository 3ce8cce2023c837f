package cluster_test

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
	"github.com/redis/go-redis/v9"

	"github.com/skerrydb/skerry/cluster/clustertest"
	"github.com/skerrydb/skerry/cluster/rpc"
	"github.com/skerrydb/skerry/pd/pdclient"
)

// The register model: each key is an integer register, absent at first,
// that GET reads, SET overwrites and INCR increments (absent reads as 0).
// A history is checked per key (a set of linearizable registers is
// linearizable, Herlihy and Wing's locality).

// regOp is the kind of a register operation.
type regOp uint8

const (
	regGet regOp = iota
	regSet
	regIncr
)

// regInput is an operation's call: the key and, for SET, the value.
type regInput struct {
	op  regOp
	key string
	val int64
}

// regOutput is its reply. unknown marks a write whose outcome the client
// never learnt (a timeout, a reset connection, an error reply): it may
// have applied once or not at all, at any time after its call, so it is
// recorded as pending until the end of the history.
type regOutput struct {
	val     int64
	exists  bool
	unknown bool
}

// regState is a register's value; the zero value is an absent key.
type regState struct {
	val    int64
	exists bool
}

var registerModel = porcupine.Model{
	Partition: func(history []porcupine.Operation) [][]porcupine.Operation {
		byKey := map[string][]porcupine.Operation{}
		for _, op := range history {
			k := op.Input.(regInput).key
			byKey[k] = append(byKey[k], op)
		}
		out := make([][]porcupine.Operation, 0, len(byKey))
		for _, ops := range byKey {
			out = append(out, ops)
		}
		slices.SortFunc(out, func(a, b []porcupine.Operation) int {
			return cmp.Compare(a[0].Input.(regInput).key, b[0].Input.(regInput).key)
		})
		return out
	},
	Init: func() any { return regState{} },
	Step: func(state, input, output any) (bool, any) {
		st, in, out := state.(regState), input.(regInput), output.(regOutput)
		switch in.op {
		case regGet:
			return out.exists == st.exists && out.val == st.val, st
		case regSet:
			return true, regState{val: in.val, exists: true}
		case regIncr:
			next := regState{val: st.val + 1, exists: true}
			return out.unknown || out.val == next.val, next
		}
		return false, st
	},
	DescribeOperation: func(input, output any) string {
		in, out := input.(regInput), output.(regOutput)
		var res string
		switch {
		case out.unknown:
			res = "?"
		case in.op == regSet:
			res = "OK"
		case !out.exists:
			res = "nil"
		default:
			res = fmt.Sprint(out.val)
		}
		switch in.op {
		case regGet:
			return fmt.Sprintf("GET %s -> %s", in.key, res)
		case regSet:
			return fmt.Sprintf("SET %s %d -> %s", in.key, in.val, res)
		}
		return fmt.Sprintf("INCR %s -> %s", in.key, res)
	},
	DescribeState: func(state any) string {
		if st := state.(regState); st.exists {
			return fmt.Sprint(st.val)
		}
		return "nil"
	},
}

// checkLinearizable checks history against registerModel within timeout
// and logs the result; unless porcupine finds the history linearizable,
// it writes porcupine's visualization into a directory from dir and logs
// its path.
func checkLinearizable(t *testing.T, history []porcupine.Operation, timeout time.Duration, dir func() string) porcupine.CheckResult {
	t.Helper()
	start := time.Now()
	res := porcupine.CheckOperationsTimeout(registerModel, history, timeout)
	t.Logf("porcupine: %s for %d operations in %v", res, len(history), time.Since(start))
	if res == porcupine.Ok {
		return res
	}
	res2, info := porcupine.CheckOperationsVerbose(registerModel, history, timeout)
	path := filepath.Join(dir(), "linearizability.html")
	if err := porcupine.VisualizePath(registerModel, info, path); err != nil {
		t.Logf("visualization: %v", err)
	} else {
		t.Logf("visualization of the history (%s on the verbose rerun): %s", res2, path)
	}
	return res
}

// TestRegisterModelRejectsStaleRead proves the checker can fail: a read
// that starts after a write of 2 was acknowledged but returns the 1 from
// before is not linearizable, while the same read overlapping the write
// is, and so is a read of a write whose outcome the client never learnt.
func TestRegisterModelRejectsStaleRead(t *testing.T) {
	set := func(client int, key string, v int64, call, ret int64) porcupine.Operation {
		return porcupine.Operation{ClientId: client, Input: regInput{op: regSet, key: key, val: v},
			Output: regOutput{}, Call: call, Return: ret}
	}
	get := func(client int, key string, v int64, call, ret int64) porcupine.Operation {
		return porcupine.Operation{ClientId: client, Input: regInput{op: regGet, key: key},
			Output: regOutput{val: v, exists: true}, Call: call, Return: ret}
	}
	incr := func(client int, key string, v int64, unknown bool, call, ret int64) porcupine.Operation {
		return porcupine.Operation{ClientId: client, Input: regInput{op: regIncr, key: key},
			Output: regOutput{val: v, exists: !unknown, unknown: unknown}, Call: call, Return: ret}
	}
	for _, tc := range []struct {
		name    string
		history []porcupine.Operation
		want    porcupine.CheckResult
	}{
		{"stale read", []porcupine.Operation{
			set(0, "a", 1, 0, 10),
			set(0, "a", 2, 20, 30),
			get(1, "a", 1, 40, 50), // began after SET 2 returned
			get(2, "b", 7, 0, 5),   // another key's history is fine...
			set(2, "b", 7, 1, 2),
		}, porcupine.Illegal},
		{"read overlapping the write", []porcupine.Operation{
			set(0, "a", 1, 0, 10),
			set(0, "a", 2, 20, 30),
			get(1, "a", 1, 25, 50),
		}, porcupine.Ok},
		{"lost increment", []porcupine.Operation{
			incr(0, "c", 1, false, 0, 10),
			incr(1, "c", 1, false, 20, 30), // a second INCR that did not see the first
		}, porcupine.Illegal},
		{"increment of unknown outcome applied", []porcupine.Operation{
			incr(0, "c", 0, true, 0, 1000), // pending until the end
			get(1, "c", 1, 20, 30),
			incr(2, "c", 2, false, 40, 50),
		}, porcupine.Ok},
		{"increment of unknown outcome applied twice", []porcupine.Operation{
			incr(0, "c", 0, true, 0, 1000),
			incr(2, "c", 3, false, 40, 50),
		}, porcupine.Illegal},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := porcupine.CheckOperationsTimeout(registerModel, tc.history, 10*time.Second); got != tc.want {
				t.Fatalf("porcupine says %s, want %s", got, tc.want)
			}
		})
	}
	// The failure path of the cluster test writes a visualization.
	dir := t.TempDir()
	bad := []porcupine.Operation{set(0, "a", 1, 0, 10), set(0, "a", 2, 20, 30), get(1, "a", 1, 40, 50)}
	if res := checkLinearizable(t, bad, 5*time.Second, func() string { return dir }); res != porcupine.Illegal {
		t.Fatalf("checkLinearizable = %s, want Illegal", res)
	}
	if _, err := os.Stat(filepath.Join(dir, "linearizability.html")); err != nil {
		t.Fatalf("no visualization: %v", err)
	}
}

// linWorkload is the register workload's shared state.
type linWorkload struct {
	start   time.Time
	keys    []string
	stop    atomic.Bool
	ok      []atomic.Int64 // operations answered, per node
	nextCID atomic.Int64   // porcupine client ids
	mu      sync.Mutex
	history []porcupine.Operation
	// counts for the log
	unknown, notSent, failedReads atomic.Int64
	lastErr                       atomic.Value // error
}

func (w *linWorkload) now() int64 { return time.Since(w.start).Nanoseconds() }

// notSent reports whether err shows the command never left the client
// (the dial failed: the node is down), so it cannot have been applied.
func notSent(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

// run is one worker: bounded operations through cl (fixed to node), each
// recorded as a porcupine operation. A worker that gets an unknown
// outcome continues as a new porcupine client, as its pending operation
// never returns.
func (w *linWorkload) run(ctx context.Context, cl *redis.Client, node int, seed uint64, maxOps int, opTimeout time.Duration) {
	rng := rand.New(rand.NewPCG(seed, 0x11ea))
	cid := int(w.nextCID.Add(1) - 1)
	var mine []porcupine.Operation
	defer func() {
		w.mu.Lock()
		w.history = append(w.history, mine...)
		w.mu.Unlock()
	}()
	// maxOps bounds the operations sent; refused dials (a node down) do
	// not count, so a worker still has work once its node is back.
	for i, sent := 0, 0; sent < maxOps && !w.stop.Load() && ctx.Err() == nil; i++ {
		in := regInput{key: w.keys[rng.IntN(len(w.keys))]}
		switch r := rng.IntN(10); {
		case r < 5:
			in.op = regGet
		case r < 8:
			in.op = regSet
			in.val = int64(seed)*1_000_000_000 + int64(i)*1_000 // unique; INCRs stay below the next
		default:
			in.op = regIncr
		}
		octx, cancel := context.WithTimeout(ctx, opTimeout)
		call := w.now()
		var out regOutput
		var err error
		switch in.op {
		case regGet:
			out.val, err = cl.Get(octx, in.key).Int64()
			out.exists = err == nil
			if errors.Is(err, redis.Nil) {
				err = nil
			}
		case regSet:
			err = cl.Set(octx, in.key, in.val, 0).Err()
		case regIncr:
			out.val, err = cl.Incr(octx, in.key).Result()
			out.exists = err == nil
		}
		ret := w.now()
		cancel()
		if !notSent(err) {
			sent++
		}
		if err == nil {
			w.ok[node].Add(1)
			mine = append(mine, porcupine.Operation{ClientId: cid, Input: in, Output: out, Call: call, Return: ret})
			continue
		}
		w.lastErr.Store(fmt.Errorf("node %d: %w", node+1, err))
		switch {
		case notSent(err):
			w.notSent.Add(1) // never applied: leave it out
		case in.op == regGet:
			w.failedReads.Add(1) // a read changes nothing: leave it out
		default:
			w.unknown.Add(1)
			mine = append(mine, porcupine.Operation{ClientId: cid, Input: in,
				Output: regOutput{unknown: true}, Call: call, Return: -1})
			cid = int(w.nextCID.Add(1) - 1)
		}
		// A client's pause before its next try, not a wait for state: a
		// down node refuses at once, and the loop would only spin.
		time.Sleep(20 * time.Millisecond)
	}
}

// finish returns the history with every pending operation returning
// after all the others (equivalent to never returning).
func (w *linWorkload) finish() []porcupine.Operation {
	w.mu.Lock()
	defer w.mu.Unlock()
	var end int64
	for _, op := range w.history {
		end = max(end, op.Return, op.Call)
	}
	out := slices.Clone(w.history)
	for i := range out {
		if out[i].Return < 0 {
			out[i].Return = end + 1
		}
	}
	return out
}

// awaitOps waits until node's clients (every node's if node < 0) had n
// more operations answered than now.
func (w *linWorkload) awaitOps(t *testing.T, node, n int, what string) {
	t.Helper()
	count := func() int64 {
		if node >= 0 {
			return w.ok[node].Load()
		}
		var s int64
		for i := range w.ok {
			s += w.ok[i].Load()
		}
		return s
	}
	target := count() + int64(n)
	waitFor(t, 20*time.Second, what, func() error {
		if c := count(); c < target {
			return fmt.Errorf("%d of %d operations answered (last error: %v)", c, target, w.lastErr.Load())
		}
		return nil
	})
}

// TestLinearizableRegistersUnderLeaderChanges runs concurrent GET, SET
// and INCR on a few keys through plain clients fixed to each of three
// nodes, while the keys' region changes leaders: PD transfers the
// leadership, the leader is cut off from the others (a minority
// partition), the leader crashes and restarts. Porcupine checks that the
// history of every key is linearizable.
func TestLinearizableRegistersUnderLeaderChanges(t *testing.T) {
	cfgs := clustertest.ClusterConfigs(t, 3)
	part := &rpc.Partition{}
	for i := range cfgs {
		cfgs[i].RPCFilter = part.Filter
	}
	c := clustertest.StartCluster(t, cfgs)
	pdc := dialPD(t, cfgs)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	begun := time.Now()

	const seed = 1
	// maxOps only bounds a run gone wrong: the workers stop with the test
	// (after the last step), and one that ran out early would starve the
	// steps that wait for operations through its node.
	workersPerNode, maxOps, step := 2, 5000, 60
	if raceEnabled {
		workersPerNode, maxOps, step = 1, 2000, 25
	}
	w := &linWorkload{start: time.Now(), keys: []string{"lin:a", "lin:b", "lin:c", "lin:d"},
		ok: make([]atomic.Int64, len(c.Nodes))}
	var wg sync.WaitGroup
	defer func() {
		w.stop.Store(true)
		wg.Wait()
	}()
	for n := range c.Nodes {
		for j := range workersPerNode {
			cl := redis.NewClient(&redis.Options{Addr: c.Nodes[n].Addr(), MaxRetries: -1, PoolSize: 1,
				DialTimeout: time.Second, ContextTimeoutEnabled: true})
			t.Cleanup(func() { cl.Close() })
			wg.Add(1)
			go func() {
				defer wg.Done()
				w.run(ctx, cl, n, seed*100+uint64(n*workersPerNode+j), maxOps, 3*time.Second)
			}()
		}
	}

	w.awaitOps(t, -1, step, "operations before any fault")
	region := awaitFirstRegion(t, ctx, pdc)

	// (1) PD moves the leadership to the next node.
	leader := waitLeader(t, c)
	to := (leader + 1) % len(c.Nodes)
	transferLeaderTo(t, ctx, pdc, c, region.Region.ID, to)
	t.Logf("%v: leadership moved from node %d to node %d", time.Since(begun), leader+1, to+1)
	w.awaitOps(t, -1, step, "operations after the transfer")

	// (2) The leader is cut off from the other two (PD stays reachable):
	// they elect a leader and serve; the old one must serve no stale read.
	leader = waitLeader(t, c)
	var rest []int
	for i := range c.Nodes {
		if i != leader {
			rest = append(rest, i)
			part.Cut(c.Nodes[leader].StoreID(), c.Nodes[i].StoreID())
		}
	}
	t.Logf("%v: node %d cut off", time.Since(begun), leader+1)
	w.awaitOps(t, rest[0], step/2, "operations through the majority")
	w.awaitOps(t, rest[1], step/2, "operations through the majority")
	part.HealAll()
	t.Logf("%v: healed", time.Since(begun))
	w.awaitOps(t, leader, step/3, "operations through the healed node")

	// (3) The leader crashes; the others take over; it restarts.
	leader = waitLeader(t, c)
	crashWithin(t, c, leader, 15*time.Second)
	t.Logf("%v: node %d crashed", time.Since(begun), leader+1)
	for _, i := range []int{(leader + 1) % 3, (leader + 2) % 3} {
		w.awaitOps(t, i, step/2, "operations after the crash")
	}
	c.Restart(leader)
	t.Logf("%v: node %d restarted", time.Since(begun), leader+1)
	w.awaitOps(t, leader, step/3, "operations through the restarted node")

	// (4) The restarted node takes the leadership back (PD transfer):
	// a new leader's first reads must see everything before it.
	transferLeaderTo(t, ctx, pdc, c, region.Region.ID, leader)
	t.Logf("%v: leadership moved back to node %d", time.Since(begun), leader+1)
	w.awaitOps(t, -1, step, "operations after the last transfer")

	w.stop.Store(true)
	wg.Wait()
	history := w.finish()
	var answered [3]int64
	for i := range answered {
		answered[i] = w.ok[i].Load()
	}
	t.Logf("%v: %d operations recorded (answered per node %v), %d writes of unknown outcome, %d failed reads, %d not sent; last error: %v",
		time.Since(begun), len(history), answered, w.unknown.Load(), w.failedReads.Load(), w.notSent.Load(), w.lastErr.Load())
	switch checkLinearizable(t, history, 30*time.Second, func() string { return failureDir(t) }) {
	case porcupine.Ok:
	case porcupine.Illegal:
		t.Fatalf("the history (seed %d) is not linearizable", seed)
	default:
		t.Fatalf("porcupine could not decide within its timeout (seed %d)", seed)
	}
}

// transferLeaderTo asks PD to move region's leadership to node to and
// waits until that node leads it.
func transferLeaderTo(t *testing.T, ctx context.Context, pdc *pdclient.Client, c *clustertest.Cluster, region uint64, to int) {
	t.Helper()
	store := c.Nodes[to].StoreID()
	var peer pdclient.Peer
	waitFor(t, 20*time.Second, "PD knows the region's peer on the target", func() error {
		r, _, err := pdc.GetRegionByID(ctx, region)
		if err != nil {
			return err
		}
		p, ok := r.StorePeer(store)
		if !ok || p.Learner {
			return fmt.Errorf("region %d has no voter on store %d: %+v", region, store, r.Peers)
		}
		peer = p
		return nil
	})
	asked := time.Time{}
	waitFor(t, 20*time.Second, fmt.Sprintf("node %d leads region %d", to+1, region), func() error {
		if n := c.Nodes[to]; n != nil && n.LeaderCount() > 0 {
			return nil
		}
		// Ask (again, every second: a step can be lost while the region
		// has no leader or the old leader is behind).
		if time.Since(asked) > time.Second {
			asked = time.Now()
			if err := pdc.AddOperator(ctx, region, pdclient.Operator{Kind: pdclient.OpTransferLeader, Peer: peer}); err != nil {
				return err
			}
		}
		return errors.New("not yet")
	})
}

// crashWithin crashes node i and panics if that takes longer than d: a
// crash must not wait for anything. The stacks of every goroutine are
// written to a file first, to show what it waits for. It panics rather
// than failing the test because the hung node keeps running on its data
// directory, which the test's cleanup would delete under it (its PD
// member then exits the process with a confusing fatal error).
func crashWithin(t *testing.T, c *clustertest.Cluster, i int, d time.Duration) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		c.Crash(i)
	}()
	select {
	case <-done:
	case <-time.After(d):
		buf := make([]byte, 8<<20)
		buf = buf[:runtime.Stack(buf, true)]
		path := filepath.Join(failureDir(t), "goroutines.txt")
		if err := os.WriteFile(path, buf, 0o644); err != nil {
			t.Log(err)
		}
		panic(fmt.Sprintf("crashing node %d did not return within %v (goroutines in %s)", i+1, d, path))
	}
}

// failureDir returns a new directory for what a failing test leaves for
// its reader (a history's visualization, goroutine stacks). Unlike
// t.TempDir it outlives the test, so the path the test logs can be
// opened afterwards; tests call it only when they fail.
func failureDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "skerry-"+t.Name()+"-")
	if err != nil {
		t.Fatal(err)
	}
	return dir
}
