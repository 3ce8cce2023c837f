package cluster_test

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/datadriven"
	"github.com/redis/go-redis/v9"

	"github.com/skerrydb/skerry/cluster/clustertest"
	"github.com/skerrydb/skerry/cluster/rpc"
	"github.com/skerrydb/skerry/mvcc/keys"
	"github.com/skerrydb/skerry/pd/pdclient"
)

// TestScenarioScripts runs the fault scenarios in testdata/scenarios: each
// file starts its own in-process cluster and drives it with the commands
// of scenario.run (see there). Outputs never contain timings, node ids or
// other run-dependent values, so the expected text is the assertion;
// `within=` bounds are asserted inside the commands.
func TestScenarioScripts(t *testing.T) {
	skipUnderRace(t)
	datadriven.Walk(t, "testdata/scenarios", func(t *testing.T, path string) {
		s := &scenario{t: t, names: map[string]int{}, acked: map[string]string{}, faults: &scriptFaults{}}
		datadriven.RunTest(t, path, s.run)
	})
}

// scriptFaults is the fault-injecting filter every node of a scenario
// shares: cut pairs of stores (both directions), one-way drops and delays
// of raft messages.
type scriptFaults struct {
	mu    sync.RWMutex
	cut   map[[2]uint64]bool
	drop  map[[2]uint64]bool          // one way: from, to
	delay map[[2]uint64]time.Duration // one way: from, to
}

func (f *scriptFaults) filter(from, to uint64, kind rpc.Kind) rpc.Action {
	f.mu.RLock()
	defer f.mu.RUnlock()
	a, b := min(from, to), max(from, to)
	if f.cut[[2]uint64{a, b}] || f.drop[[2]uint64{from, to}] {
		return rpc.Action{Drop: true}
	}
	if kind == rpc.KindRaft {
		return rpc.Action{Delay: f.delay[[2]uint64{from, to}]}
	}
	return rpc.Action{}
}

func (f *scriptFaults) reset() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cut, f.drop, f.delay = map[[2]uint64]bool{}, map[[2]uint64]bool{}, map[[2]uint64]time.Duration{}
}

// scenario is one script's cluster and what it has been told.
type scenario struct {
	t        *testing.T
	c        *clustertest.Cluster
	pdc      *pdclient.Client
	stores   []uint64 // store id of node i (0-based), fixed at start
	clients  []*redis.Client
	names    map[string]int    // aliases bound by "name"
	acked    map[string]string // every acknowledged SET: key -> value
	faults   *scriptFaults
	deadline time.Time // of the whole script
}

// run executes one directive. Commands (nodes are 1-based numbers or
// aliases bound by "name"):
//
//	start nodes=N                      start N PD nodes; one region
//	name leader|follower|node=X as=A   bind alias A to a node (follower:
//	                                   the first one without an alias)
//	set node=X key=K val=V [within=D]  SET; with within, retry until OK
//	get node=X key=K [within=D]        GET: value, (nil) or error
//	write node=X keys=N prefix=P       N acknowledged SETs P0..P(N-1)
//	verify [within=D]                  every acknowledged SET, on every live node
//	crash|stop|restart node=X          crash: no hand-off, restart: crash+start
//	restart-all
//	partition                          input "a b | c": cut every pair across
//	drop from=X to=Y                   one-way loss of all internal traffic
//	delay from=X to=Y ms=N             one-way delay of raft messages
//	heal                               remove every fault
//	split slot=S                       split the region at slot S
//	regions within=D                   wait until every region has a leader; count
//	leader within=D                    wait until a live node leads a region
//	leaderless node=X within=D         wait until a region of node X knows no leader
func (s *scenario) run(t *testing.T, d *datadriven.TestData) string {
	s.t = t
	if s.deadline.IsZero() {
		s.deadline = time.Now().Add(3 * time.Minute)
	}
	ctx, cancel := context.WithDeadline(context.Background(), s.deadline)
	defer cancel()
	switch d.Cmd {
	case "start":
		s.start(s.intArg(d, "nodes"))
		return "ok"
	case "name":
		var i int
		switch {
		case d.HasArg("leader"):
			i = s.leader(ctx, 20*time.Second)
		case d.HasArg("follower"):
			// The first live follower not bound to an alias yet.
			l := s.leader(ctx, 20*time.Second)
			i = -1
			for j := range s.c.Nodes {
				if j != l && s.c.Nodes[j] != nil && !s.named(j) {
					i = j
					break
				}
			}
			if i < 0 {
				t.Fatalf("%s: no unnamed live follower", d.Pos)
			}
		default:
			i = s.node(d, "node")
		}
		s.names[s.strArg(d, "as")] = i
		return "ok"
	case "set":
		return s.set(ctx, d)
	case "get":
		return s.get(ctx, d)
	case "write":
		cl := s.clients[s.node(d, "node")]
		n, prefix := s.intArg(d, "keys"), s.strArg(d, "prefix")
		for k := range n {
			key, val := prefix+strconv.Itoa(k), "v"+strconv.Itoa(k)
			if err := cl.Set(ctx, key, val, 0).Err(); err != nil {
				return fmt.Sprintf("SET %s: %v", key, err)
			}
			s.acked[key] = val
		}
		return fmt.Sprintf("%d acknowledged", n)
	case "verify":
		return s.verify(ctx, s.within(d, 20*time.Second))
	case "crash":
		s.c.Crash(s.node(d, "node"))
		return "ok"
	case "stop":
		s.c.Stop(s.node(d, "node"))
		return "ok"
	case "restart":
		s.c.Restart(s.node(d, "node"))
		return "ok"
	case "restart-all":
		s.c.RestartAll()
		return "ok"
	case "partition":
		groups := strings.Split(strings.TrimSpace(d.Input), "|")
		if len(groups) != 2 {
			t.Fatalf("%s: partition wants two groups separated by |", d.Pos)
		}
		s.faults.mu.Lock()
		for _, a := range strings.Fields(groups[0]) {
			for _, b := range strings.Fields(groups[1]) {
				x, y := s.stores[s.resolve(d, a)], s.stores[s.resolve(d, b)]
				s.faults.cut[[2]uint64{min(x, y), max(x, y)}] = true
			}
		}
		s.faults.mu.Unlock()
		return "ok"
	case "drop", "delay":
		from, to := s.stores[s.node(d, "from")], s.stores[s.node(d, "to")]
		s.faults.mu.Lock()
		if d.Cmd == "drop" {
			s.faults.drop[[2]uint64{from, to}] = true
		} else {
			s.faults.delay[[2]uint64{from, to}] = time.Duration(s.intArg(d, "ms")) * time.Millisecond
		}
		s.faults.mu.Unlock()
		return "ok"
	case "heal":
		s.faults.reset()
		return "ok"
	case "split":
		return s.split(ctx, s.intArg(d, "slot"))
	case "regions":
		rs, err := s.awaitRegions(ctx, s.within(d, 20*time.Second), 0)
		if err != nil {
			return err.Error()
		}
		return fmt.Sprintf("%d regions", len(rs))
	case "leader":
		s.leader(ctx, s.within(d, 20*time.Second))
		return "ok"
	case "leaderless":
		i := s.node(d, "node")
		err := s.retry(ctx, s.within(d, 20*time.Second), func() error {
			if n := s.c.Nodes[i]; n == nil || n.LeaderlessRegions() == 0 {
				return errors.New("every region has a leader")
			}
			return nil
		})
		if err != nil {
			return err.Error()
		}
		return "ok"
	}
	t.Fatalf("%s: unknown command %q", d.Pos, d.Cmd)
	return ""
}

func (s *scenario) start(n int) {
	cfgs := clustertest.ClusterConfigs(s.t, n)
	s.faults.reset()
	for i := range cfgs {
		cfgs[i].RPCFilter = s.faults.filter
	}
	s.c = clustertest.StartCluster(s.t, cfgs)
	s.pdc = dialPD(s.t, cfgs)
	s.stores = make([]uint64, n)
	for i, node := range s.c.Nodes {
		s.stores[i] = node.StoreID()
	}
	s.clients = clientsOf(s.t, s.c)
	// Nodes are restarted on the same address: clients reconnect.
}

// named reports whether node i has an alias.
func (s *scenario) named(i int) bool {
	for _, j := range s.names {
		if j == i {
			return true
		}
	}
	return false
}

// resolve turns a node argument (1-based number or alias) into an index.
func (s *scenario) resolve(d *datadriven.TestData, v string) int {
	if i, ok := s.names[v]; ok {
		return i
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > len(s.stores) {
		s.t.Fatalf("%s: no node %q", d.Pos, v)
	}
	return n - 1
}

func (s *scenario) node(d *datadriven.TestData, key string) int {
	return s.resolve(d, s.strArg(d, key))
}

func (s *scenario) strArg(d *datadriven.TestData, key string) string {
	var v string
	if !d.HasArg(key) {
		s.t.Fatalf("%s: %s wants %s=", d.Pos, d.Cmd, key)
	}
	d.ScanArgs(s.t, key, &v)
	return v
}

func (s *scenario) intArg(d *datadriven.TestData, key string) int {
	n, err := strconv.Atoi(s.strArg(d, key))
	if err != nil {
		s.t.Fatalf("%s: %s=%v", d.Pos, key, err)
	}
	return n
}

// within returns the duration of the within= argument, or def.
func (s *scenario) within(d *datadriven.TestData, def time.Duration) time.Duration {
	if !d.HasArg("within") {
		return def
	}
	w, err := time.ParseDuration(s.strArg(d, "within"))
	if err != nil {
		s.t.Fatalf("%s: within: %v", d.Pos, err)
	}
	return w
}

// errWord condenses a client error to something stable across runs: the
// Redis error code, or "error".
func errWord(err error) string {
	var re redis.Error
	if errors.As(err, &re) {
		if f := strings.Fields(re.Error()); len(f) > 0 {
			return "error " + f[0]
		}
	}
	return "error"
}

func (s *scenario) set(ctx context.Context, d *datadriven.TestData) string {
	cl := s.clients[s.node(d, "node")]
	key, val := s.strArg(d, "key"), s.strArg(d, "val")
	err := s.attempt(ctx, d, func(actx context.Context) error { return cl.Set(actx, key, val, 0).Err() })
	if err != nil {
		return errWord(err)
	}
	s.acked[key] = val
	return "OK"
}

func (s *scenario) get(ctx context.Context, d *datadriven.TestData) string {
	cl := s.clients[s.node(d, "node")]
	key := s.strArg(d, "key")
	var v string
	err := s.attempt(ctx, d, func(actx context.Context) error {
		var err error
		v, err = cl.Get(actx, key).Result()
		if errors.Is(err, redis.Nil) {
			v, err = "(nil)", nil
		}
		return err
	})
	if err != nil {
		return errWord(err)
	}
	return v
}

// attempt runs one client call with a 2 s timeout, or, given within=,
// retries it until it succeeds or that long has passed.
func (s *scenario) attempt(ctx context.Context, d *datadriven.TestData, call func(context.Context) error) error {
	try := func() error {
		actx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		return call(actx)
	}
	if d.HasArg("within") {
		return s.retry(ctx, s.within(d, 0), try)
	}
	return try()
}

// retry runs try until it succeeds or d has passed since the first try.
func (s *scenario) retry(ctx context.Context, d time.Duration, try func() error) error {
	deadline := time.Now().Add(d)
	for {
		err := try()
		if err == nil || time.Now().After(deadline) || ctx.Err() != nil {
			return err
		}
		time.Sleep(20 * time.Millisecond) // a client's retry pause, not a wait for state
	}
}

// verify reads every acknowledged key through every live node until all
// match (the nodes may still be electing or catching up) or d passes.
func (s *scenario) verify(ctx context.Context, d time.Duration) string {
	ks := make([]string, 0, len(s.acked))
	for k := range s.acked {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	live := 0
	for i, n := range s.c.Nodes {
		if n == nil {
			continue
		}
		live++
		err := s.retry(ctx, d, func() error {
			actx, cancel := context.WithTimeout(ctx, 5*time.Second)
			defer cancel()
			pipe := s.clients[i].Pipeline()
			cmds := make([]*redis.StringCmd, len(ks))
			for j, k := range ks {
				cmds[j] = pipe.Get(actx, k)
			}
			if _, err := pipe.Exec(actx); err != nil && !errors.Is(err, redis.Nil) {
				return err
			}
			for j, k := range ks {
				if v, err := cmds[j].Result(); err != nil || v != s.acked[k] {
					return fmt.Errorf("node %d: %s = %q, %v; acknowledged %q", i+1, k, v, err, s.acked[k])
				}
			}
			return nil
		})
		if err != nil {
			return err.Error()
		}
	}
	return fmt.Sprintf("%d keys on %d nodes", len(ks), live)
}

// leader waits until a live node leads a region and returns it.
func (s *scenario) leader(ctx context.Context, d time.Duration) int {
	deadline := time.Now().Add(d)
	for ctx.Err() == nil {
		for i, n := range s.c.Nodes {
			if n != nil && n.LeaderCount() > 0 {
				return i
			}
		}
		if time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	s.t.Fatalf("no leader within %v", d)
	return -1
}

// awaitRegions waits until PD knows regions that cover the keyspace, each
// with a leader, and at least want of them.
func (s *scenario) awaitRegions(ctx context.Context, d time.Duration, want int) ([]pdclient.RegionInfo, error) {
	var rs []pdclient.RegionInfo
	err := s.retry(ctx, d, func() error {
		var err error
		if rs, err = s.pdc.ScanRegions(ctx, nil, nil, 0); err != nil {
			return err
		}
		if err := checkCoverage(rs); err != nil {
			return err
		}
		for _, r := range rs {
			if r.Leader.ID == 0 {
				return fmt.Errorf("region %d has no leader", r.Region.ID)
			}
		}
		if len(rs) < want {
			return fmt.Errorf("%d regions, want %d", len(rs), want)
		}
		return nil
	})
	return rs, err
}

// split splits the region holding slot at the slot's first key.
func (s *scenario) split(ctx context.Context, slot int) string {
	rs, err := s.awaitRegions(ctx, 20*time.Second, 0)
	if err != nil {
		return err.Error()
	}
	at := keys.SlotPrefix(uint16(slot))
	var target *pdclient.RegionInfo
	for i := range rs {
		if rs[i].Region.Contains(at) {
			target = &rs[i]
		}
	}
	if target == nil {
		return "no region holds the slot"
	}
	if err := s.pdc.AddOperator(ctx, target.Region.ID, pdclient.Operator{Kind: pdclient.OpSplit, SplitKeys: [][]byte{at}}); err != nil {
		return err.Error()
	}
	rs2, err := s.awaitRegions(ctx, 20*time.Second, len(rs)+1)
	if err != nil {
		return err.Error()
	}
	return fmt.Sprintf("%d regions", len(rs2))
}
