package cluster_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/skerrydb/skerry/cluster"
	"github.com/skerrydb/skerry/cluster/clustertest"
	"github.com/skerrydb/skerry/cluster/rpc"
	"github.com/skerrydb/skerry/pd/pdclient"
)

// End-to-end scenarios of a real in-process cluster: splits under load,
// scale out and drain, full restart, minority partition. Each waits for
// cluster state by polling with a deadline.

// splitConfigs plans n PD-member nodes that split regions early: PD splits
// a region above splitKeys engine keys, measured every 200 ms.
func splitConfigs(t *testing.T, n int, splitKeys uint64) []cluster.Config {
	cfgs := clustertest.ClusterConfigs(t, n)
	for i := range cfgs {
		cfgs[i].SplitKeys = splitKeys
		cfgs[i].SplitCheckInterval = 200 * time.Millisecond
	}
	return cfgs
}

// dialPD connects to the PD members of cfgs (the ones running one).
func dialPD(t *testing.T, cfgs []cluster.Config) *pdclient.Client {
	t.Helper()
	var eps []string
	for _, c := range cfgs {
		if c.PD {
			eps = append(eps, "http://"+c.PDClientAddr)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	pdc, err := pdclient.Dial(ctx, eps)
	if err != nil {
		t.Fatalf("dial pd: %v", err)
	}
	t.Cleanup(pdc.Close)
	return pdc
}

// checkCoverage reports whether regions (in key order, as ScanRegions
// returns them) cover the whole keyspace with no gap and no overlap.
func checkCoverage(regions []pdclient.RegionInfo) error {
	if len(regions) == 0 {
		return errors.New("no region")
	}
	if len(regions[0].Region.StartKey) != 0 {
		return fmt.Errorf("first region %d starts at %q, not at the start", regions[0].Region.ID, regions[0].Region.StartKey)
	}
	for i := 1; i < len(regions); i++ {
		prev, cur := regions[i-1].Region, regions[i].Region
		if len(prev.EndKey) == 0 || !bytes.Equal(prev.EndKey, cur.StartKey) {
			return fmt.Errorf("region %d ends at %q but region %d starts at %q", prev.ID, prev.EndKey, cur.ID, cur.StartKey)
		}
	}
	if last := regions[len(regions)-1].Region; len(last.EndKey) != 0 {
		return fmt.Errorf("last region %d ends at %q, not at the end", last.ID, last.EndKey)
	}
	return nil
}

// scanAll returns PD's region map.
func scanAll(pdc *pdclient.Client) ([]pdclient.RegionInfo, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	return pdc.ScanRegions(ctx, nil, nil, 0)
}

// waitFor polls cond every 50 ms until it returns nil or d passes, then
// fails with cond's last error.
func waitFor(t *testing.T, d time.Duration, what string, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v: %v", what, d, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitRegions waits until PD's map holds at least n regions covering the
// keyspace, each with a known leader, and returns it.
func waitRegions(t *testing.T, pdc *pdclient.Client, n int, d time.Duration) []pdclient.RegionInfo {
	t.Helper()
	var regions []pdclient.RegionInfo
	waitFor(t, d, fmt.Sprintf("%d regions in PD", n), func() error {
		var err error
		if regions, err = scanAll(pdc); err != nil {
			return err
		}
		if err := checkCoverage(regions); err != nil {
			return err
		}
		if len(regions) < n {
			return fmt.Errorf("%d regions", len(regions))
		}
		for _, r := range regions {
			if r.Leader.ID == 0 {
				return fmt.Errorf("region %d has no leader", r.Region.ID)
			}
		}
		return nil
	})
	return regions
}

// clientsOf opens one client per running node of c.
func clientsOf(t *testing.T, c *clustertest.Cluster) []*redis.Client {
	var out []*redis.Client
	for _, n := range c.Nodes {
		if n == nil {
			continue
		}
		cl := redis.NewClient(&redis.Options{Addr: n.Addr(), MaxRetries: -1,
			ReadTimeout: 15 * time.Second, ContextTimeoutEnabled: true})
		t.Cleanup(func() { cl.Close() })
		out = append(out, cl)
	}
	return out
}

// ledger records what clients were told. A SET is acknowledged with its
// value; an INCR counter's final value must lie between its acknowledged
// and its attempted increments (a failed INCR may have applied).
type ledger struct {
	mu      sync.Mutex
	set     map[string]string // acknowledged SETs
	tried   map[string]string // SETs that failed: value absent or this
	acked   map[string]int64  // acknowledged INCRs per counter
	started map[string]int64  // attempted INCRs per counter
	errs    int
	lastErr error
}

func newLedger() *ledger {
	return &ledger{set: map[string]string{}, tried: map[string]string{},
		acked: map[string]int64{}, started: map[string]int64{}}
}

func (l *ledger) failed(err error) {
	l.errs++
	l.lastErr = err
}

// doSet runs SET key val and records the outcome.
func (l *ledger) doSet(ctx context.Context, cl *redis.Client, key, val string) error {
	err := cl.Set(ctx, key, val, 0).Err()
	l.mu.Lock()
	defer l.mu.Unlock()
	if err != nil {
		l.tried[key] = val
		l.failed(err)
		return err
	}
	l.set[key] = val
	delete(l.tried, key)
	return nil
}

// doIncr runs INCR key and records the outcome.
func (l *ledger) doIncr(ctx context.Context, cl *redis.Client, key string) error {
	l.mu.Lock()
	l.started[key]++
	l.mu.Unlock()
	n, err := cl.Incr(ctx, key).Result()
	l.mu.Lock()
	defer l.mu.Unlock()
	if err != nil {
		l.failed(err)
		return err
	}
	l.acked[key]++
	if n < l.acked[key] || n > l.started[key] {
		return fmt.Errorf("%w: INCR %s returned %d after %d acknowledged, %d attempted", errProtocol, key, n, l.acked[key], l.started[key])
	}
	return nil
}

// verify reads every recorded key through cl (batches of 50 in pipelines,
// 8 at a time) and checks it against what was acknowledged.
func (l *ledger) verify(ctx context.Context, cl *redis.Client) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	var ks []string
	for k := range l.set {
		ks = append(ks, k)
	}
	for k := range l.tried {
		ks = append(ks, k)
	}
	for k := range l.started {
		ks = append(ks, k)
	}
	sem := make(chan struct{}, 8)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var errs []error
	for start := 0; start < len(ks); start += 50 {
		batch := ks[start:min(start+50, len(ks))]
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if err := l.verifyBatch(ctx, cl, batch); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// verifyBatch checks keys in one pipeline; l.mu is held by the caller.
func (l *ledger) verifyBatch(ctx context.Context, cl *redis.Client, ks []string) error {
	pipe := cl.Pipeline()
	cmds := make([]*redis.StringCmd, len(ks))
	for i, k := range ks {
		cmds[i] = pipe.Get(ctx, k)
	}
	_, _ = pipe.Exec(ctx) // errors are per command
	for i, key := range ks {
		v, err := cmds[i].Result()
		if err != nil && !errors.Is(err, redis.Nil) {
			return fmt.Errorf("GET %s: %w", key, err)
		}
		absent := errors.Is(err, redis.Nil)
		if want, ok := l.set[key]; ok {
			if absent || v != want {
				return fmt.Errorf("acknowledged %s=%q reads %q (absent %v)", key, want, v, absent)
			}
			continue
		}
		if want, ok := l.tried[key]; ok {
			if !absent && v != want {
				return fmt.Errorf("unacknowledged %s=%q reads %q", key, want, v)
			}
			continue
		}
		var n int64
		if !absent {
			if _, err := fmt.Sscan(v, &n); err != nil {
				return fmt.Errorf("counter %s reads %q", key, v)
			}
		}
		if n < l.acked[key] || n > l.started[key] {
			return fmt.Errorf("counter %s = %d, acknowledged %d, attempted %d", key, n, l.acked[key], l.started[key])
		}
	}
	return nil
}

// writeLoad runs `writers` goroutines, each writing `perWriter` distinct
// keys (spread over slots by their names) through the clients in turn: a
// SET per key and, for one key in five, a few INCRs of a counter. It
// returns the first protocol violation.
func writeLoad(ctx context.Context, l *ledger, clients []*redis.Client, seed uint64, prefix string, writers, perWriter int) error {
	var wg sync.WaitGroup
	errs := make([]error, writers)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(seed, uint64(w)))
			for i := range perWriter {
				if ctx.Err() != nil {
					return
				}
				cl := clients[rng.IntN(len(clients))]
				key := fmt.Sprintf("%s:%d:%d", prefix, w, i)
				_ = l.doSet(ctx, cl, key, fmt.Sprintf("v%d", rng.Uint32()))
				if i%5 == 0 {
					ctr := fmt.Sprintf("%s:ctr:%d:%d", prefix, w, i)
					for range 1 + rng.IntN(3) {
						if err := l.doIncr(ctx, cl, ctr); err != nil && errors.Is(err, errProtocol) {
							errs[w] = err
							return
						}
					}
				}
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

var errProtocol = errors.New("protocol violation")

// TestSplitsUnderWriteLoad: writers run while PD splits the first region
// several times; afterwards PD's map covers the keyspace with several
// regions, and every acknowledged write reads back from every node.
func TestSplitsUnderWriteLoad(t *testing.T) {
	skipUnderRace(t)
	cfgs := splitConfigs(t, 3, 100)
	c := clustertest.StartCluster(t, cfgs)
	pdc := dialPD(t, cfgs)
	clients := clientsOf(t, c)
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()

	l := newLedger()
	start := time.Now()
	// Rounds of writers until PD shows a split made while they ran:
	// writes that finish before the first split check prove nothing
	// (one round took under 2 s once writes skipped the ReadIndex round).
	var during []pdclient.RegionInfo
	for round := 0; round < 10 && len(during) < 2 && ctx.Err() == nil; round++ {
		if err := writeLoad(ctx, l, clients, uint64(1+round), fmt.Sprintf("s%d", round), 8, 80); err != nil {
			t.Fatal(err)
		}
		var err error
		if during, err = scanAll(pdc); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("wrote %d keys, %d counters in %v (%d regions by then); %d errors (last: %v)",
		len(l.set), len(l.started), time.Since(start), len(during), l.errs, l.lastErr)
	if len(during) < 2 {
		t.Fatal("no split happened while the writers ran")
	}
	if l.errs > len(l.set)/20 {
		t.Fatalf("%d of the writes failed (last: %v)", l.errs, l.lastErr)
	}
	regions := waitRegions(t, pdc, 4, 20*time.Second)
	t.Logf("%d regions after %v", len(regions), time.Since(start))
	for i, cl := range clients {
		if err := l.verify(ctx, cl); err != nil {
			t.Fatalf("via node %d: %v", i+1, err)
		}
		t.Logf("verified via node %d after %v", i+1, time.Since(start))
	}
}

// TestScaleOutAndDrain: a fourth node joins a three-node cluster with
// several regions; PD's balancers give it replicas and at least one
// leadership. Then the store is set Offline: PD drains it and marks it
// Tombstone. The data stay intact throughout.
func TestScaleOutAndDrain(t *testing.T) {
	skipUnderRace(t)
	cfgs := splitConfigs(t, 3, 100)
	joiner := clustertest.Config(t, t.TempDir())
	joiner.PeerAddr = "127.0.0.1:" + fmt.Sprint(clustertest.FreePort(t))
	joiner.SplitCheckInterval = 200 * time.Millisecond
	for _, c := range cfgs {
		joiner.Join = append(joiner.Join, "http://"+c.PDClientAddr)
	}
	c := clustertest.StartCluster(t, append(cfgs, joiner))
	pdc := dialPD(t, cfgs)
	clients := clientsOf(t, c)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	l := newLedger()
	start := time.Now()
	if err := writeLoad(ctx, l, clients[:3], 2, "o", 8, 60); err != nil {
		t.Fatal(err)
	}
	if l.errs > 0 {
		t.Fatalf("%d writes failed (last: %v)", l.errs, l.lastErr)
	}
	regions := waitRegions(t, pdc, 4, 20*time.Second)
	t.Logf("%d regions after %v", len(regions), time.Since(start))

	fourth := c.Nodes[3]
	store := fourth.StoreID()
	waitFor(t, 30*time.Second, "the joined store holds replicas and leads", func() error {
		if fourth.RegionCount() == 0 || fourth.LeaderCount() == 0 {
			return fmt.Errorf("%d replicas, %d leaders", fourth.RegionCount(), fourth.LeaderCount())
		}
		return nil
	})
	t.Logf("joined store: %d replicas, %d leaders after %v", fourth.RegionCount(), fourth.LeaderCount(), time.Since(start))
	for i, cl := range clients {
		if err := l.verify(ctx, cl); err != nil {
			t.Fatalf("after the scale out, via node %d: %v", i+1, err)
		}
	}

	drainStart := time.Now()
	sctx, scancel := context.WithTimeout(ctx, 5*time.Second)
	err := pdc.SetStoreState(sctx, store, pdclient.StoreOffline)
	scancel()
	if err != nil {
		t.Fatalf("set store %d offline: %v", store, err)
	}
	// Writes keep working while the store drains.
	if err := writeLoad(ctx, l, clients[:3], 3, "d", 4, 20); err != nil {
		t.Fatal(err)
	}
	t.Logf("offline at %v, wrote while draining until %v", drainStart.Sub(start), time.Since(start))
	waitFor(t, 40*time.Second, "the offline store drained and tombstoned", func() error {
		regions, err := scanAll(pdc)
		if err != nil {
			return err
		}
		for _, r := range regions {
			if _, ok := r.Region.StorePeer(store); ok {
				return fmt.Errorf("region %d still has a replica on store %d", r.Region.ID, store)
			}
		}
		gctx, gcancel := context.WithTimeout(ctx, 3*time.Second)
		defer gcancel()
		st, err := pdc.GetStore(gctx, store)
		if err != nil {
			return err
		}
		if st.State != pdclient.StoreTombstone {
			return fmt.Errorf("store %d is %v", store, st.State)
		}
		return nil
	})
	t.Logf("drained after %v", time.Since(start))
	for i, cl := range clients[:3] {
		if err := l.verify(ctx, cl); err != nil {
			t.Fatalf("after the drain, via node %d: %v", i+1, err)
		}
	}
	t.Logf("verified after %v", time.Since(start))
	if l.errs > 0 {
		t.Fatalf("%d writes failed (last: %v)", l.errs, l.lastErr)
	}
}

// TestFullRestart crashes every node of a cluster with several regions at
// once (a power loss: a graceful stop of the last nodes would wait for
// leader hand-offs to nodes already gone) and starts them all again on
// their data: everything acknowledged is there, and the cluster takes
// writes again.
func TestFullRestart(t *testing.T) {
	skipUnderRace(t)
	cfgs := splitConfigs(t, 3, 100)
	c := clustertest.StartCluster(t, cfgs)
	pdc := dialPD(t, cfgs)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	clients := clientsOf(t, c)
	l := newLedger()
	if err := writeLoad(ctx, l, clients, 4, "r", 8, 40); err != nil {
		t.Fatal(err)
	}
	before := waitRegions(t, pdc, 2, 20*time.Second)
	c.CrashAll()
	start := time.Now()
	c.RestartAll()
	t.Logf("%d regions; restarted in %v", len(before), time.Since(start))
	clients = clientsOf(t, c)
	for i, cl := range clients {
		if err := l.verify(ctx, cl); err != nil {
			t.Fatalf("after the restart, via node %d: %v", i+1, err)
		}
		t.Logf("verified via node %d after %v", i+1, time.Since(start))
	}
	if err := writeLoad(ctx, l, clients, 5, "a", 2, 30); err != nil {
		t.Fatal(err)
	}
	if l.errs > 0 {
		t.Fatalf("%d writes failed (last: %v)", l.errs, l.lastErr)
	}
	if err := l.verify(ctx, clients[0]); err != nil {
		t.Fatal(err)
	}
	t.Logf("verified after %v", time.Since(start))
}

// TestMinorityPartition cuts the internal traffic (raft and forwarding;
// PD stays reachable) between the node leading the region and the other
// two. The isolated old leader acknowledges no write, the majority elects
// a leader and serves, reads through the isolated node never return a
// value older than an acknowledged write, and after healing every node
// converges on the acknowledged values.
func TestMinorityPartition(t *testing.T) {
	cfgs := clustertest.ClusterConfigs(t, 3)
	part := &rpc.Partition{}
	for i := range cfgs {
		cfgs[i].RPCFilter = part.Filter
	}
	c := clustertest.StartCluster(t, cfgs)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	clients := clientsOf(t, c)
	l := newLedger()
	if err := writeLoad(ctx, l, clients, 6, "m", 4, 10); err != nil {
		t.Fatal(err)
	}
	if err := l.doSet(ctx, clients[0], "p", "v0"); err != nil {
		t.Fatal(err)
	}
	old := waitLeader(t, c)
	var majority []int
	for i := range c.Nodes {
		if i != old {
			majority = append(majority, i)
			part.Cut(c.Nodes[old].StoreID(), c.Nodes[i].StoreID())
		}
	}
	cut := time.Now()
	isolated := clients[old]

	// Reads through the isolated node run all along: one that starts after
	// the majority acknowledged p=v1 must fail or see v1, never v0.
	var ackedAt setFlag
	stopReads := make(chan struct{})
	readsDone := make(chan error, 1)
	go func() {
		reads, ok := 0, 0
		defer func() { t.Logf("%d reads through the isolated node, %d answered", reads, ok) }()
		for {
			select {
			case <-stopReads:
				readsDone <- nil
				return
			default:
			}
			after := ackedAt.set()
			rctx, rcancel := context.WithTimeout(ctx, 300*time.Millisecond)
			v, err := isolated.Get(rctx, "p").Result()
			rcancel()
			reads++
			if err == nil {
				ok++
				if after && v != "v1" {
					readsDone <- fmt.Errorf("a read through the isolated node started after p=v1 was acknowledged returned %q", v)
					return
				}
			}
		}
	}()

	// The majority elects a leader and acknowledges writes.
	maj := clients[majority[0]]
	waitFor(t, 15*time.Second, "a write through the majority", func() error {
		wctx, wcancel := context.WithTimeout(ctx, 3*time.Second)
		defer wcancel()
		return maj.Set(wctx, "p", "v1", 0).Err()
	})
	ackedAt.mark()
	l.mu.Lock()
	l.set["p"] = "v1"
	l.mu.Unlock()
	t.Logf("majority acknowledged a write %v after the cut", time.Since(cut))
	if err := writeLoad(ctx, l, []*redis.Client{clients[majority[0]], clients[majority[1]]}, 7, "n", 4, 10); err != nil {
		t.Fatal(err)
	}

	// The isolated node cannot acknowledge a write: its proposal never
	// commits and forwarding is cut. (The node itself keeps the command
	// waiting until the partition heals: the client's timeout ends it.)
	wctx, wcancel := context.WithTimeout(ctx, 3*time.Second)
	err := isolated.Set(wctx, "q", "minority", 0).Err()
	wcancel()
	if err == nil {
		t.Fatal("the isolated old leader acknowledged a write")
	}
	l.mu.Lock()
	l.tried["q"] = "minority"
	l.mu.Unlock()
	t.Logf("write through the isolated node failed: %v", err)
	close(stopReads)
	if err := <-readsDone; err != nil {
		t.Fatal(err)
	}

	part.HealAll()
	healed := time.Now()
	waitFor(t, 15*time.Second, "the old leader catches up", func() error {
		rctx, rcancel := context.WithTimeout(ctx, 3*time.Second)
		defer rcancel()
		v, err := isolated.Get(rctx, "p").Result()
		if err != nil {
			return err
		}
		if v != "v1" {
			return fmt.Errorf("p = %q", v)
		}
		return nil
	})
	t.Logf("converged %v after healing", time.Since(healed))
	for i, cl := range clients {
		if err := l.verify(ctx, cl); err != nil {
			t.Fatalf("after healing, via node %d: %v", i+1, err)
		}
	}
	if err := l.doSet(ctx, isolated, "after", "heal"); err != nil {
		t.Fatalf("write through the healed node: %v", err)
	}
}

// setFlag is a flag set once, read by another goroutine.
type setFlag struct {
	mu sync.Mutex
	at time.Time
}

func (a *setFlag) mark() {
	a.mu.Lock()
	a.at = time.Now()
	a.mu.Unlock()
}

// set reports whether mark was called.
func (a *setFlag) set() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return !a.at.IsZero()
}

// skipUnderRace skips a long multi-node scenario in the race-detector pass
// (it runs in the plain pass; the race pass still covers the shorter
// multi-node tests).
func skipUnderRace(t *testing.T) {
	t.Helper()
	if raceEnabled {
		t.Skip("multi-node scenario: run without -race")
	}
}
