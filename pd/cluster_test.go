package pd

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/skerrydb/skerry/pd/pdclient"
)

// startCluster starts n PD members together (a member's Start returns only
// once a quorum is up) with fast etcd timings, and closes them at test end.
func startCluster(t *testing.T, n int) []*Server {
	t.Helper()
	return startClusterWith(t, n, nil)
}

// startClusterWith is startCluster with tweak (if not nil) applied to
// each member's Config.
func startClusterWith(t *testing.T, n int, tweak func(*Config)) []*Server {
	t.Helper()
	for attempt := 0; ; attempt++ {
		servers, err := tryStartCluster(t, n, tweak)
		if err == nil {
			t.Cleanup(func() { closeAll(servers) })
			return servers
		}
		if attempt == 2 {
			t.Fatalf("start %d PD members: %v", n, err)
		}
	}
}

func tryStartCluster(t *testing.T, n int, tweak func(*Config)) ([]*Server, error) {
	cfgs := make([]Config, n)
	var initial []string
	for i := range cfgs {
		cfgs[i] = Config{
			DataDir:          t.TempDir(),
			Name:             fmt.Sprintf("pd%d", i),
			ClientURL:        fmt.Sprintf("http://127.0.0.1:%d", freePort(t)),
			PeerURL:          fmt.Sprintf("http://127.0.0.1:%d", freePort(t)),
			LeaderLease:      time.Second,
			ScheduleInterval: -1,
			Logger:           zap.NewNop(),
			unsafeNoFsync:    true,
			tickMs:           10,
			electionMs:       100,
		}
		if tweak != nil {
			tweak(&cfgs[i])
		}
		initial = append(initial, cfgs[i].Name+"="+cfgs[i].PeerURL)
	}
	servers := make([]*Server, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range cfgs {
		cfgs[i].InitialCluster = strings.Join(initial, ",")
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			servers[i], errs[i] = Start(ctx, cfgs[i])
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		closeAll(servers)
		return nil, err
	}
	return servers, nil
}

// closeAll closes the members one by one: an etcd leader that stops hands
// its leadership to a peer first, which takes etcd's whole request timeout
// if that peer is stopping too.
func closeAll(servers []*Server) {
	for _, s := range servers {
		if s != nil {
			s.Close()
		}
	}
}

// waitLeader polls until exactly one of servers (ignoring closed ones)
// serves as PD leader and returns it.
func waitPDLeader(t *testing.T, servers []*Server) *Server {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var leaders []*Server
		for _, s := range servers {
			if !s.closed.Load() && s.IsLeader() {
				leaders = append(leaders, s)
			}
		}
		if len(leaders) == 1 {
			return leaders[0]
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d PD leaders", len(leaders))
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestMultiMemberElectionAndRedirect(t *testing.T) {
	servers := startCluster(t, 3)
	leader := waitPDLeader(t, servers)
	ctx := context.Background()
	var followerURLs []string
	for _, s := range servers {
		if s.ClusterID() != leader.ClusterID() {
			t.Fatalf("cluster IDs differ: %d vs %d", s.ClusterID(), leader.ClusterID())
		}
		if s == leader {
			continue
		}
		followerURLs = append(followerURLs, s.ClientURL())
		_, err := s.GetTS(ctx, 1)
		var nl *pdclient.NotLeaderError
		if !errors.As(err, &nl) || !errors.Is(err, pdclient.ErrNotLeader) {
			t.Fatalf("follower GetTS err = %v, want *NotLeaderError", err)
		}
		if nl.LeaderURL != leader.ClientURL() {
			t.Fatalf("follower names leader %q, want %q", nl.LeaderURL, leader.ClientURL())
		}
	}

	// Only followers as endpoints: the client must follow the redirect.
	c, err := pdclient.Dial(ctx, followerURLs, pdclient.WithRetryTimeout(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if c.ClusterID() != leader.ClusterID() {
		t.Fatalf("Dial cluster ID %d, want %d", c.ClusterID(), leader.ClusterID())
	}
	checkConcurrentTS(t, func() (uint64, error) { return c.GetTS(ctx) }, func(int) {})

	// Errors keep their identity over the wire.
	if _, err := c.GetStore(ctx, 77); !errors.Is(err, pdclient.ErrStoreNotFound) {
		t.Fatalf("remote GetStore err = %v, want ErrStoreNotFound", err)
	}
	if _, _, err := c.GetRegion(ctx, []byte("k")); !errors.Is(err, pdclient.ErrRegionNotFound) {
		t.Fatalf("remote GetRegion err = %v", err)
	}
	// The metadata calls work remotely.
	if err := c.PutStore(ctx, pdclient.Store{ID: 1, PeerAddr: "127.0.0.1:20160", RESPAddr: "127.0.0.1:6379"}); err != nil {
		t.Fatal(err)
	}
	st, err := c.GetStore(ctx, 1)
	if err != nil || st.RESPAddr != "127.0.0.1:6379" || st.State != pdclient.StoreUp {
		t.Fatalf("GetStore = %+v, %v", st, err)
	}
	if err := c.StoreHeartbeat(ctx, pdclient.StoreStats{StoreID: 1, RegionCount: 1}); err != nil {
		t.Fatal(err)
	}
	r := pdclient.Region{ID: 10, Epoch: pdclient.Epoch{ConfVer: 1, Version: 1}, Peers: []pdclient.Peer{{ID: 11, StoreID: 1}}}
	if _, err := c.RegionHeartbeat(ctx, pdclient.RegionHeartbeat{Region: r, Leader: r.Peers[0]}); err != nil {
		t.Fatal(err)
	}
	got, l, err := c.GetRegion(ctx, []byte("anything"))
	if err != nil || got.ID != 10 || l.ID != 11 {
		t.Fatalf("GetRegion = %+v %+v %v", got, l, err)
	}
	if id, err := c.AllocID(ctx); err != nil || id == 0 {
		t.Fatalf("AllocID = %d, %v", id, err)
	}
}

// TestClientThroughFollowerWhileLeaderTakesOver: the PD leader resigns and
// the member that wins next is slow to load its state. A client that
// knows only the remaining follower is redirected to the new leader, which
// answers "leader unknown" while it loads; the client must keep going back
// to it rather than stop following the follower's redirect (it once did,
// and the call ran out of budget although a leader was serving: the
// multi-node start-up failure "no PD leader reachable ... not PD leader
// (leader at X)").
func TestClientThroughFollowerWhileLeaderTakesOver(t *testing.T) {
	var hold atomic.Bool
	taking := make(chan string, 3) // ClientURL of a member held in takeover
	release := make(chan struct{})
	var releaseOnce sync.Once
	unblock := func() { releaseOnce.Do(func() { close(release) }) }
	var unknownAnswers atomic.Int64 // "leader unknown" answers while held
	servers := startClusterWith(t, 3, func(c *Config) {
		url := c.ClientURL
		c.beforeServe = func() {
			if hold.Load() {
				taking <- url
				<-release
			}
		}
		c.onNotLeader = func(leaderURL string) {
			if leaderURL == "" && hold.Load() {
				unknownAnswers.Add(1)
			}
		}
	})
	defer unblock() // before the members close (deferred cleanups run later)
	old := waitPDLeader(t, servers)
	hold.Store(true)
	old.Close() // resigns: one of the others takes over, and is held

	var newURL string
	select {
	case newURL = <-taking:
	case <-time.After(10 * time.Second):
		t.Fatal("no member took over")
	}
	var follower *Server
	for _, s := range servers {
		if s != old && s.ClientURL() != newURL {
			follower = s
		}
	}
	// The follower names the held member (its election key exists).
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if _, err := follower.AllocID(ctx); !errors.Is(err, pdclient.ErrNotLeader) || !strings.Contains(err.Error(), newURL) {
		t.Fatalf("follower AllocID err = %v, want a redirect to %s", err, newURL)
	}

	c, err := pdclient.Dial(ctx, []string{follower.ClientURL()}, pdclient.WithRetryTimeout(10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	type result struct {
		id  uint64
		err error
	}
	done := make(chan result, 1)
	go func() {
		id, err := c.AllocID(ctx)
		done <- result{id, err}
	}()
	// The client keeps coming back to the held member (a client that
	// forgot the redirect would ask it once, then only the follower).
	deadline := time.Now().Add(5 * time.Second)
	for unknownAnswers.Load() < 3 {
		if time.Now().After(deadline) {
			t.Fatalf("the taking-over member was asked %d times; the client stopped following the redirect", unknownAnswers.Load())
		}
		time.Sleep(time.Millisecond)
	}
	unblock()
	r := <-done
	if r.err != nil || r.id == 0 {
		t.Fatalf("AllocID through the follower = %d, %v", r.id, r.err)
	}
}

// TestCloseHandsEtcdLeadershipOnFirst closes a PD leader that also leads
// etcd's raft. etcd hands its leadership on when it stops; a successor
// whose takeover raced that hand-off had requests dropped and stalled for a
// whole LeaderLease without serving timestamps (cluster
// TestLeaderCrashLosesNoAcknowledgedWrite: 3 s). Close now moves etcd's
// leadership before it resigns, so the successor begins serving on an etcd
// led by another member, at its first attempt.
func TestCloseHandsEtcdLeadershipOnFirst(t *testing.T) {
	var mu sync.Mutex
	byName := map[string]*Server{}
	var servedUnder []uint64 // etcd's leader whenever a member began serving
	var failedRounds atomic.Int64
	servers := startClusterWith(t, 3, func(c *Config) {
		name := c.Name
		// etcd's default timings (100 ms heartbeat, 1 s election), as a
		// node runs it: its leadership moves in about a heartbeat.
		c.tickMs, c.electionMs = 0, 0
		c.Logger = zap.New(takeoverFailures{&failedRounds})
		c.beforeServe = func() {
			mu.Lock()
			defer mu.Unlock()
			if s := byName[name]; s != nil {
				servedUnder = append(servedUnder, s.etcd.Server.Lead())
			}
		}
	})
	mu.Lock()
	for _, s := range servers {
		byName[s.cfg.Name] = s
	}
	mu.Unlock()
	old := waitPDLeader(t, servers)
	oldID := uint64(old.etcd.Server.MemberID())
	// Make the PD leader etcd's leader too.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for old.etcd.Server.Lead() != oldID {
		for _, s := range servers {
			if id := uint64(s.etcd.Server.MemberID()); s.etcd.Server.Lead() == id && id != oldID {
				if err := s.etcd.Server.MoveLeader(ctx, id, oldID); err != nil {
					t.Fatalf("move etcd leadership to the PD leader: %v", err)
				}
			}
		}
		select {
		case <-ctx.Done():
			t.Fatal("the PD leader never led etcd")
		case <-time.After(5 * time.Millisecond): // poll, as waitPDLeader does
		}
	}
	mu.Lock()
	mark := len(servedUnder)
	mu.Unlock()
	failedRounds.Store(0)

	// Between its resignation and etcd's stop, the closing member waits
	// for a successor to serve: what made the race likely (the successor
	// is quick, etcd's hand-off on stop takes a few heartbeats) made sure.
	old.cfg.afterResign = func() { waitPDLeader(t, servers) }
	old.Close()
	next := waitPDLeader(t, servers)
	if _, err := next.GetTS(ctx, 1); err != nil {
		t.Fatalf("GetTS on the successor: %v", err)
	}
	mu.Lock()
	served := slices.Clone(servedUnder[mark:])
	mu.Unlock()
	if len(served) == 0 || served[0] == oldID {
		t.Fatalf("the successor began serving while the closed member led etcd (leaders at each start: %v, closed %d)", served, oldID)
	}
	if n := failedRounds.Load(); n != 0 {
		t.Fatalf("%d takeovers failed after the close", n)
	}
}

// takeoverFailures is a zap core that counts the failed election rounds
// of members that had won: their takeover or first lease renewal failed.
// (A campaign still waiting may fail with "leader changed" when etcd's
// leadership moves; it retries at once and costs nothing.)
type takeoverFailures struct{ n *atomic.Int64 }

func (c takeoverFailures) Enabled(zapcore.Level) bool        { return true }
func (c takeoverFailures) With([]zapcore.Field) zapcore.Core { return c }
func (c takeoverFailures) Check(e zapcore.Entry, ce *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	return ce.AddCore(e, c)
}
func (c takeoverFailures) Write(e zapcore.Entry, fs []zapcore.Field) error {
	if e.Message != "pd: election round failed" {
		return nil
	}
	for _, f := range fs {
		if err, ok := f.Interface.(error); ok && !strings.HasPrefix(err.Error(), "pd: campaign:") {
			c.n.Add(1)
		}
	}
	return nil
}
func (c takeoverFailures) Sync() error { return nil }

// TestLeaderFailover closes the PD leader member: another member takes
// over, serves timestamps strictly above every one issued before, and
// knows the stores and regions the old leader persisted.
func TestLeaderFailover(t *testing.T) {
	for _, crash := range []bool{false, true} {
		t.Run(fmt.Sprintf("crash=%v", crash), func(t *testing.T) { testLeaderFailover(t, crash) })
	}
}

// testLeaderFailover: with crash, the leader does not resign and the
// others take over only when its lease expires.
func testLeaderFailover(t *testing.T, crash bool) {
	servers := startCluster(t, 3)
	old := waitPDLeader(t, servers)
	ctx := context.Background()
	var urls []string
	for _, s := range servers {
		urls = append(urls, s.ClientURL())
	}
	c, err := pdclient.Dial(ctx, urls, pdclient.WithRetryTimeout(8*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var last uint64
	for range 100 {
		ts, err := c.GetTS(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if ts <= last {
			t.Fatalf("ts %d after %d", ts, last)
		}
		last = ts
	}
	lastID, err := c.AllocID(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.PutStore(ctx, pdclient.Store{ID: 3, PeerAddr: "127.0.0.1:1"}); err != nil {
		t.Fatal(err)
	}
	r := pdclient.Region{ID: 20, StartKey: []byte("a"), Epoch: pdclient.Epoch{ConfVer: 1, Version: 2}, Peers: []pdclient.Peer{{ID: 21, StoreID: 3}}}
	if _, err := c.RegionHeartbeat(ctx, pdclient.RegionHeartbeat{Region: r, Leader: r.Peers[0]}); err != nil {
		t.Fatal(err)
	}

	old.crashOnClose.Store(crash)
	closedAt := time.Now()
	old.Close()
	ts, err := c.GetTS(ctx) // retried by the client until a new leader serves
	t.Logf("new leader serves %v after the close", time.Since(closedAt))
	if err != nil {
		t.Fatal(err)
	}
	if ts <= last {
		t.Fatalf("after failover ts %d <= %d issued by the old leader", ts, last)
	}
	next := waitPDLeader(t, servers)
	if next == old {
		t.Fatal("closed member still leads")
	}
	if id, err := c.AllocID(ctx); err != nil || id <= lastID {
		t.Fatalf("AllocID after failover = %d, %v (last %d)", id, err, lastID)
	}
	if st, err := c.GetStore(ctx, 3); err != nil || st.PeerAddr != "127.0.0.1:1" {
		t.Fatalf("store after failover = %+v, %v", st, err)
	}
	got, _, err := c.GetRegion(ctx, []byte("b"))
	if err != nil || got.ID != 20 || got.Epoch.Version != 2 {
		t.Fatalf("region after failover = %+v, %v", got, err)
	}
	// A stale heartbeat is still rejected by the new leader.
	stale := r
	stale.Epoch.Version = 1
	if _, err := c.RegionHeartbeat(ctx, pdclient.RegionHeartbeat{Region: stale}); !errors.Is(err, pdclient.ErrStaleRegion) {
		t.Fatalf("stale heartbeat err = %v, want ErrStaleRegion", err)
	}
}

// BenchmarkGetTSRemote measures GetTS through Dial's gRPC Backend and the
// Client's batching, against one member.
func BenchmarkGetTSRemote(b *testing.B) {
	s := startTestServer(b, b.TempDir(), nil)
	c, err := pdclient.Dial(context.Background(), []string{s.ClientURL()})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	for _, par := range []int{1, 64} {
		b.Run(fmt.Sprintf("goroutines=%dxGOMAXPROCS", par), func(b *testing.B) {
			b.SetParallelism(par)
			b.RunParallel(func(pb *testing.PB) {
				ctx := context.Background()
				for pb.Next() {
					if _, err := c.GetTS(ctx); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}
