package cluster_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/skerrydb/skerry/cluster/clustertest"
	"github.com/skerrydb/skerry/commands"
	"github.com/skerrydb/skerry/mvcc/keys"
	"github.com/skerrydb/skerry/pd/pdclient"
)

// convergeWithin is how soon after a topology change a smart client must
// be routed right again (issue 6).
const convergeWithin = 5 * time.Second

// TestSmartClientsConverge runs a go-redis ClusterClient against three
// nodes in redirect mode and changes the topology three times: a region
// split, a leader transfer and a node crash. After each change, within
// convergeWithin, a window of requests must have under 1% of them
// forwarded or redirected, as counted by the nodes'
// skerry_cluster_requests_total counters; meanwhile every node's CLUSTER
// SLOTS, sampled over and over, covers the 16384 slots with no gap and
// no overlap.
func TestSmartClientsConverge(t *testing.T) {
	skipUnderRace(t)
	cfgs := clustertest.ClusterConfigs(t, 3)
	var eps, addrs []string
	for i := range cfgs {
		cfgs[i].ClusterRedirect = true
		eps = append(eps, "http://"+cfgs[i].PDClientAddr)
		addrs = append(addrs, cfgs[i].Addr)
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
	first := awaitFirstRegion(t, ctx, pdc)

	slots := startSlotsSampler(addrs)
	defer func() {
		n, err := slots.stop()
		t.Logf("CLUSTER SLOTS sampled %d times", n)
		if err != nil {
			t.Error(err)
		}
		if n < 10 {
			t.Errorf("CLUSTER SLOTS sampled only %d times", n)
		}
	}()

	// go-redis reloads its slot map on -MOVED, and otherwise only every
	// ClusterStateReloadInterval (60 s by default). A crashed node sends
	// no MOVED, so without a periodic reload the client would keep dialing
	// it: the test reloads every second, as a deployment that wants fast
	// failover would configure (Redis Cluster's own failover needs it too).
	cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs, ClusterStateReloadInterval: time.Second})
	defer cc.Close()
	l := &convergenceLoad{cc: cc, c: c, rng: rand.New(rand.NewPCG(6, 6)), pdc: pdc, addrs: addrs}
	// Warm up: the client has learnt the map and every key exists.
	awaitProto(t, 10*time.Second, "a clean window before any change", func() error { return l.window(ctx) })
	t.Logf("cluster up and client warm after %v", time.Since(start))

	// (a) Split the region at slot 8192 (as skerry ctl split does).
	rs := splitInTwo(t, ctx, pdc, first.Region.ID)
	l.converge(t, ctx, "the split")

	// (b) Move the upper half's leadership to another voter.
	upper := rs[1]
	var to pdclient.Peer
	for _, p := range upper.Region.Peers {
		if p.StoreID != upper.Leader.StoreID && !p.Learner {
			to = p
			break
		}
	}
	if err := pdc.AddOperator(ctx, upper.Region.ID, pdclient.Operator{Kind: pdclient.OpTransferLeader, Peer: to}); err != nil {
		t.Fatal(err)
	}
	awaitProto(t, 20*time.Second, "the leader transfer", func() error {
		rs, err := pdc.ScanRegions(ctx, upper.Region.StartKey, upper.Region.EndKey, 0)
		if err != nil {
			return err
		}
		if len(rs) == 0 || rs[0].Leader.StoreID == upper.Leader.StoreID {
			return fmt.Errorf("regions %+v", rs)
		}
		return nil
	})
	l.converge(t, ctx, "the leader transfer")

	// (c) Crash a node that leads a region.
	rs, err = pdc.ScanRegions(ctx, nil, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	victim := -1
	for i, n := range c.Nodes {
		for _, r := range rs {
			if r.Leader.StoreID == n.StoreID() {
				victim = i
			}
		}
	}
	if victim < 0 {
		t.Fatalf("no node leads a region: %+v", rs)
	}
	t.Logf("crashing node %d", victim+1)
	l.mu.Lock()
	c.Crash(victim)
	l.mu.Unlock()
	l.converge(t, ctx, "the crash")
	t.Logf("done after %v", time.Since(start))
}

// convergenceLoad is the client's bounded load and the nodes' counters.
type convergenceLoad struct {
	cc  *redis.ClusterClient
	c   *clustertest.Cluster
	rng *rand.Rand
	mu  sync.Mutex // held while c.Nodes changes

	pdc   *pdclient.Client
	addrs []string
}

const (
	loadKeys    = 2000 // keys over as many slots as they hash to
	loadWindow  = 150  // requests in one measured window: <1% is at most 1 misrouted
	loadWorkers = 8
)

// routes sums the route counters of the running nodes, by node index.
func (l *convergenceLoad) routes() map[int]commands.RouteCounts {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := map[int]commands.RouteCounts{}
	for i, n := range l.c.Nodes {
		if n != nil {
			out[i] = n.RequestRoutes()
		}
	}
	return out
}

// window sends loadWindow requests (a quarter SET, the rest GET) from loadWorkers goroutines and
// returns nil if all succeeded and under 1% of them were forwarded or
// redirected by the nodes (counted on nodes alive throughout).
func (l *convergenceLoad) window(ctx context.Context) error {
	ks := make([]int, loadWindow)
	for i := range ks {
		ks[i] = l.rng.IntN(loadKeys)
	}
	before := l.routes()
	errs := make([]error, loadWorkers)
	var wg sync.WaitGroup
	for w := range loadWorkers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < len(ks); i += loadWorkers {
				key := fmt.Sprintf("conv:%d", ks[i])
				var err error
				if i%4 == 0 {
					err = l.cc.Set(ctx, key, ks[i], 0).Err()
				} else if v, gerr := l.cc.Get(ctx, key).Int(); gerr != nil && !errors.Is(gerr, redis.Nil) {
					err = gerr
				} else if gerr == nil && v != ks[i] {
					err = fmt.Errorf("GET %s = %d", key, v)
				}
				if err != nil {
					errs[w] = fmt.Errorf("%s: %w", key, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	after := l.routes()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	var sum commands.RouteCounts
	for i, a := range after {
		if b, ok := before[i]; ok {
			d := a.Sub(b)
			for r := range d {
				sum[r] += d[r]
			}
		}
	}
	if sum.Total() < loadWindow {
		return fmt.Errorf("nodes counted %d of %d requests", sum.Total(), loadWindow)
	}
	missed := sum[commands.RouteForwarded] + sum[commands.RouteRedirected]
	if missed*100 >= sum.Total() {
		return fmt.Errorf("%d of %d requests forwarded or redirected (%v)", missed, sum.Total(), sum)
	}
	return nil
}

// converge fails the test unless a clean window starts within
// convergeWithin of now (the change has just taken effect in PD): from
// then on, the share of misrouted requests is under 1%. The window's own
// length does not count: on a loaded machine 200 requests may take
// seconds.
func (l *convergenceLoad) converge(t *testing.T, ctx context.Context, change string) {
	t.Helper()
	start := time.Now()
	deadline := start.Add(convergeWithin)
	for windows := 1; ; windows++ {
		began := time.Now()
		if began.After(deadline) {
			t.Fatalf("after %s: still misrouted after %v (%d windows)", change, began.Sub(start), windows-1)
		}
		err := l.window(ctx)
		if err == nil {
			t.Logf("after %s: routed right from %v on (window %d took %v)", change, began.Sub(start), windows, time.Since(began))
			return
		}
		t.Logf("after %s: window %d (%v): %v", change, windows, time.Since(began), err)
		l.logMaps(t, ctx)
	}
}

// logMaps logs PD's leaders and each node's CLUSTER SLOTS owners, to tell
// a slow client from a wrong map.
func (l *convergenceLoad) logMaps(t *testing.T, ctx context.Context) {
	t.Helper()
	rs, _ := l.pdc.ScanRegions(ctx, nil, nil, 0)
	for _, r := range rs {
		t.Logf("  PD region %d [%x,%x) leader store %d", r.Region.ID, r.Region.StartKey, r.Region.EndKey, r.Leader.StoreID)
	}
	for _, a := range l.addrs {
		cl := redis.NewClient(&redis.Options{Addr: a, MaxRetries: -1, DialTimeout: 200 * time.Millisecond})
		//lint:ignore SA1019 CLUSTER SLOTS is what cluster clients (go-redis too) route by
		sl, err := cl.ClusterSlots(ctx).Result()
		cl.Close()
		var b []string
		for _, r := range sl {
			b = append(b, fmt.Sprintf("%d-%d@%s", r.Start, r.End, r.Nodes[0].Addr))
		}
		t.Logf("  %s: %v %v", a, b, err)
	}
}

// slotsSampler asks every node for CLUSTER SLOTS over and over and keeps
// the first reply that does not partition the 16384 slots.
type slotsSampler struct {
	cancel context.CancelFunc
	done   chan struct{}
	n      int
	err    error
}

func startSlotsSampler(addrs []string) *slotsSampler {
	ctx, cancel := context.WithCancel(context.Background())
	s := &slotsSampler{cancel: cancel, done: make(chan struct{})}
	clients := make([]*redis.Client, len(addrs))
	for i, a := range addrs {
		clients[i] = redis.NewClient(&redis.Options{Addr: a, MaxRetries: -1, DialTimeout: 200 * time.Millisecond})
	}
	go func() {
		defer close(s.done)
		defer func() {
			for _, cl := range clients {
				cl.Close()
			}
		}()
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			cl := clients[i%len(clients)]
			//lint:ignore SA1019 CLUSTER SLOTS is what cluster clients (go-redis too) route by
			slots, err := cl.ClusterSlots(ctx).Result()
			if err != nil {
				continue // a crashed node, or the test is ending
			}
			s.n++
			if err := partitionsSlots(slots); err != nil && s.err == nil {
				s.err = fmt.Errorf("CLUSTER SLOTS of %s: %w", cl.Options().Addr, err)
			}
		}
	}()
	return s
}

// stop ends the sampling and returns the number of replies checked and
// the first bad one.
func (s *slotsSampler) stop() (int, error) {
	s.cancel()
	<-s.done
	return s.n, s.err
}

// partitionsSlots checks that ranges cover 0..16383 in order, each slot
// once, each with an owner.
func partitionsSlots(ranges []redis.ClusterSlot) error {
	next := 0
	for _, r := range ranges {
		if r.Start != next || r.End < r.Start || len(r.Nodes) == 0 || r.Nodes[0].Addr == "" {
			return fmt.Errorf("range %d-%d (%d nodes) after slot %d: %+v", r.Start, r.End, len(r.Nodes), next-1, ranges)
		}
		next = r.End + 1
	}
	if next != keys.NumSlots {
		return fmt.Errorf("slots end at %d: %+v", next, ranges)
	}
	return nil
}
