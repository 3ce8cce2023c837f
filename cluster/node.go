package cluster

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/skerrydb/skerry/cluster/rpc"
	"github.com/skerrydb/skerry/commands"
	"github.com/skerrydb/skerry/mvcc"
	"github.com/skerrydb/skerry/mvcc/engine"
	"github.com/skerrydb/skerry/mvcc/engine/pebbleengine"
	"github.com/skerrydb/skerry/mvcc/keys"
	"github.com/skerrydb/skerry/pd"
	"github.com/skerrydb/skerry/pd/pdclient"
	"github.com/skerrydb/skerry/regionraft"
	"github.com/skerrydb/skerry/resp"
)

// RedisVersion is the Redis version Skerry answers as.
const RedisVersion = "7.0.15"

// Node is one running Skerry server: storage, embedded PD, the Raft store,
// the RESP front door and the status endpoint, started and stopped in
// order.
type Node struct {
	cfg    Config
	log    *slog.Logger
	ctx    context.Context
	cancel context.CancelFunc

	engine   *pebbleengine.Engine
	pd       *pd.Server
	pdc      *pdclient.Client
	routes   *routeCache // PD's answers for regions with no local replica
	raft     *regionraft.Store
	exec     *executor
	expirer  *activeExpirer
	gc       *collector
	vgc      *versionGC
	resp     *resp.Server
	respLn   net.Listener
	status   *http.Server
	statusLn net.Listener
	metrics  *metrics
	storeID  uint64
	rpcc     *rpc.Client // nil on a single node
	rpcs     *rpc.Server
	disp     atomic.Pointer[commands.Dispatcher]
	abrupt   atomic.Bool // Stop without handing leadership off (tests)

	wg           sync.WaitGroup
	shutdownReq  chan struct{}
	shutdownOnce sync.Once
	closeOnce    sync.Once
	closeErr     error
}

// Start opens the node's storage, starts the embedded PD, bootstraps the
// first region on a fresh data directory, and starts serving. It returns
// once the node accepts RESP connections.
func Start(ctx context.Context, cfg Config, log *slog.Logger) (_ *Node, err error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.Default()
	}
	n := &Node{cfg: cfg, log: log, shutdownReq: make(chan struct{}), routes: newRouteCache(4096)}
	n.ctx, n.cancel = context.WithCancel(context.Background())
	defer func() {
		if err != nil {
			n.Close()
		}
	}()
	if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
		return nil, fmt.Errorf("cluster: data dir: %w", err)
	}
	if n.engine, err = pebbleengine.Open(pebbleengine.Options{Dir: filepath.Join(cfg.DataDir, "db")}); err != nil {
		return nil, err
	}
	initial := cfg.InitialCluster
	if initial == "" {
		initial = cfg.PDName + "=http://" + cfg.PDPeerAddr
	}
	multi := len(cfg.Join) > 0 || strings.Count(initial, "=") > 1
	if cfg.PD || len(cfg.Join) == 0 {
		n.pd, err = pd.Start(ctx, pd.Config{
			DataDir:          filepath.Join(cfg.DataDir, "pd"),
			Name:             cfg.PDName,
			ClientURL:        "http://" + cfg.PDClientAddr,
			PeerURL:          "http://" + cfg.PDPeerAddr,
			InitialCluster:   initial,
			MaxStoreDownTime: cfg.MaxStoreDownTime,
			SplitBytes:       cfg.SplitBytes,
			SplitKeys:        cfg.SplitKeys,
			GCLifeTime:       cfg.GCLifeTime,
		})
		if err != nil {
			return nil, fmt.Errorf("cluster: start pd: %w", err)
		}
	}
	if multi {
		// The local member may be a follower: talk to whichever member
		// leads (Dial follows the redirects).
		eps := slices.Clone(cfg.Join)
		if n.pd != nil {
			eps = append(eps, "http://"+cfg.PDClientAddr)
		}
		if n.pdc, err = pdclient.Dial(ctx, eps); err != nil {
			return nil, fmt.Errorf("cluster: connect to pd: %w", err)
		}
	} else {
		n.pdc = pdclient.New(n.pd)
	}
	storeID, err := n.storeIdent(ctx)
	if err != nil {
		return nil, err
	}
	n.storeID = storeID
	tracker := &expiryTracker{}
	tracker.markAll()
	gcMarks := &gcTracker{}
	gcMarks.markAll()
	cache := mvcc.NewVersionCache(cfg.CacheBytes)
	locks, err := mvcc.NewLockTable(n.engine)
	if err != nil {
		return nil, fmt.Errorf("cluster: load locks: %w", err)
	}
	plain := newPlainKeys(n.engine, log)
	var transport regionraft.Transport
	if multi {
		n.rpcc, err = rpc.NewClient(storeID, storeResolver{n.pdc}, rpc.ClientOptions{Logger: log, Filter: cfg.RPCFilter})
		if err != nil {
			return nil, err
		}
		transport = n.rpcc
	}
	n.raft, err = regionraft.NewStore(regionraft.Config{
		StoreID:   storeID,
		Engine:    n.engine,
		Transport: transport,
		Applier:   &applier{expiry: tracker, gc: gcMarks, locks: locks, cache: cache},
		// The version cache is only valid while this node leads without
		// interruption (mvcc.VersionCache): forget it on every change.
		// So are plainKeys' clear bits, until the new leader's scan.
		OnLeaderChange: func(region uint64, leader bool) {
			cache.Clear()
			plain.leaderChanged(region, leader)
		},
		Logger: raftLogger{log},
	})
	if err != nil {
		return nil, err
	}
	if multi {
		if err := n.serveRPC(); err != nil {
			return nil, err
		}
		if err := n.register(ctx); err != nil {
			return nil, err
		}
		if err := n.bootstrapCluster(ctx, min(cfg.InitialReplicas, strings.Count(initial, "="))); err != nil {
			return nil, err
		}
	} else if err := n.bootstrap(ctx, storeID); err != nil {
		return nil, err
	}
	n.raft.Start()
	if !multi {
		// A lone node serves only once it leads (at once: it is the
		// only voter). A cluster node serves at once and forwards
		// until its regions have leaders.
		for _, r := range n.raft.Regions() {
			if err := n.raft.WaitLeader(ctx, r.ID); err != nil {
				return nil, fmt.Errorf("cluster: region %d has no leader: %w", r.ID, err)
			}
		}
	}
	plain.barrier, plain.region = n.raft.ReadBarrier, n.raft.Region
	n.exec = newExecutor(n.engine, n.pdc, n.raft, locks, cache)
	n.exec.plain = plain
	n.exec.self = storeID
	if multi {
		n.exec.route = n.routeViaPD
		n.exec.leaderOf = n.leaderViaPD
		n.exec.remote = n.rpcc.TxnKV
		n.exec.pdRegion = n.pdc.GetRegion
	}
	n.expirer = &activeExpirer{tracker: tracker, engine: n.engine, oracle: n.pdc, store: n.exec, locks: locks,
		period: cfg.ExpirePeriod, batch: 200, log: log, leads: n.leads}
	n.gc = &collector{tracker: gcMarks, engine: n.engine, oracle: n.pdc, store: n.exec, locks: locks,
		period: cfg.GCPeriod, batch: 256, budget: 8192, log: log, backlog: map[uint16]uint64{}, leads: n.leads}
	n.vgc = &versionGC{engine: n.engine, raft: n.raft, storeID: storeID, safePoint: n.pdc.GCSafePoint,
		oracle: n.pdc, active: &n.exec.active, used: &n.exec.safePoint, pdSeen: &n.exec.pdSafePoint, period: cfg.VersionGCPeriod,
		batch: versionGCBatch, pause: versionGCPause, log: log}

	stats := commands.NewStats()
	params := redisConfigParams(&cfg)
	if cfg.ClusterRedirect {
		params["cluster-enabled"] = "yes"
	}
	cmdCfg := commands.NewConfig(params)
	env := &commands.Env{
		Store:     n.exec,
		Config:    cmdCfg,
		StartTime: time.Now(),
		Shutdown:  n.requestShutdown,
		RunID:     randomHex(20),
		Version:   RedisVersion,
		Stats:     stats,
	}
	if multi {
		env.Forward = forwarder{rpc: n.rpcc, routes: n.routes}
	}
	if multi || cfg.ClusterRedirect {
		// The slot map for Redis Cluster clients (CLUSTER SLOTS, MOVED).
		self := pdclient.Store{ID: storeID, RESPAddr: cfg.Addr, PeerAddr: cfg.PeerAddr}
		env.Cluster = &topology{pdc: n.pdc, self: self, cluster: n.pdc.ClusterID(), local: n.localRegions}
		env.ClusterRedirect = cfg.ClusterRedirect
	}
	disp := commands.NewDispatcher(n.ctx, commands.NewRedisTable(), env)
	n.disp.Store(disp)
	n.resp = resp.NewServer(resp.Config{
		Addr:            cfg.Addr,
		MaxClients:      cfg.MaxClients,
		ProtoMaxBulkLen: cfg.ProtoMaxBulkLen,
		AuthRequired: func(c *resp.Client) bool {
			return !c.Authenticated && cmdCfg.RequirePass() != ""
		},
	}, disp)
	env.Clients = n.resp.Clients
	cmdCfg.Watch(func(name, value string) {
		v, err := strconv.ParseInt(value, 10, 64)
		if err != nil {
			return // CONFIG SET stores these normalised to integers
		}
		switch name {
		case "maxclients":
			n.resp.SetLimits(int(v), 0, 0)
		case "proto-max-bulk-len":
			n.resp.SetLimits(0, v, 0)
		case "client-query-buffer-limit":
			n.resp.SetLimits(0, 0, v)
		}
	})
	env.ServerStats = func() commands.ServerStats {
		s := n.resp.Stats()
		return commands.ServerStats{
			TotalConnections: s.TotalConnectionsReceived, RejectedConns: s.RejectedConnections,
			ConnectedClients: s.ConnectedClients, TotalCommands: s.TotalCommandsProcessed,
			NetInputBytes: s.TotalNetInputBytes, NetOutputBytes: s.TotalNetOutputBytes,
		}
	}
	n.metrics = newMetrics(n, stats)
	if cfg.StatusAddr != "off" {
		if err := n.startStatus(); err != nil {
			return nil, err
		}
	}
	if multi {
		pl := &placement{storeID: storeID, pdc: n.pdc, raft: n.raft, log: log,
			storeEvery: cfg.StoreHeartbeatInterval, regionEvery: time.Second, sizeEvery: cfg.SplitCheckInterval, ops: n.exec.ops,
			minStartTS: n.exec.minStartTS}
		n.wg.Add(1)
		go func() { defer n.wg.Done(); pl.run(n.ctx) }()
	}
	n.wg.Add(1)
	go func() { defer n.wg.Done(); n.expirer.run(n.ctx) }()
	n.wg.Add(1)
	go func() { defer n.wg.Done(); n.gc.run(n.ctx) }()
	n.wg.Add(1)
	go func() { defer n.wg.Done(); n.exec.plain.run(n.ctx) }()
	n.wg.Add(1)
	go func() { defer n.wg.Done(); n.vgc.run(n.ctx) }()

	if n.respLn, err = net.Listen("tcp", cfg.Addr); err != nil {
		return nil, fmt.Errorf("cluster: listen %s: %w", cfg.Addr, err)
	}
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		if err := n.resp.Serve(n.respLn); err != nil && !errors.Is(err, net.ErrClosed) && !errors.Is(err, resp.ErrServerClosed) {
			n.log.Error("resp server stopped", "err", err)
		}
	}()
	log.Info("skerry node ready", "addr", n.respLn.Addr().String(), "data-dir", cfg.DataDir,
		"store", storeID, "status-addr", cfg.StatusAddr)
	return n, nil
}

// CloseAbruptly stops the node like Close but without handing its
// leaderships off first: to the rest of the cluster it looks like a crash
// (tests use it; acknowledged data is durable either way).
func (n *Node) CloseAbruptly() error {
	n.abrupt.Store(true)
	// Commands in flight end now (their outcome is unknown, as a crash
	// leaves it): a forwarded write waiting on a proposal that can no
	// longer commit would otherwise hold rpcs.Stop, which waits for
	// every handler, for ever.
	n.cancel()
	// Off the network, as a crash would be: no more raft messages in or
	// out, no forwarded commands, while the rest shuts down. Connections
	// close at once, as a killed process's do, so peers fail over instead
	// of waiting on a drain.
	if n.rpcs != nil {
		n.rpcs.Kill()
	}
	if n.rpcc != nil {
		_ = n.rpcc.Close()
	}
	return n.Close()
}

// handOffLeaders transfers the leadership of every region led here to
// another voter before a graceful stop, so clients see no election pause.
// Each transfer is bounded; a region whose transfer fails just elects a
// leader after the stop, as after a crash.
func (n *Node) handOffLeaders() {
	// One budget for all regions: when the other nodes are stopping too
	// (a whole cluster shut down), every transfer would wait in vain.
	budget, cancelAll := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancelAll()
	for _, r := range n.leads().regions {
		for _, p := range r.Peers {
			if p.StoreID == n.storeID || p.Learner || budget.Err() != nil {
				continue
			}
			ctx, cancel := context.WithTimeout(budget, time.Second)
			err := n.raft.TransferLeader(ctx, r.ID, p.ID)
			cancel()
			if err != nil {
				n.log.Info("leader hand-off failed", "region", r.ID, "to-store", p.StoreID, "err", err)
				continue
			}
			break
		}
	}
}

// serveRPC starts the internal RPC server on the peer address.
func (n *Node) serveRPC() error {
	srv, err := rpc.NewServer(rpcHandler{n}, rpc.ServerOptions{Logger: n.log})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", n.cfg.PeerAddr)
	if err != nil {
		return fmt.Errorf("cluster: listen %s: %w", n.cfg.PeerAddr, err)
	}
	n.rpcs = srv
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		if err := srv.Serve(ln); err != nil && !errors.Is(err, net.ErrClosed) {
			n.log.Error("internal rpc server stopped", "err", err)
		}
	}()
	return nil
}

// leads snapshots the regions this node leads.
func (n *Node) leads() ledSlots { return ledBy(n.raft, n.storeID) }

// Addr returns the RESP listen address.
func (n *Node) Addr() string { return n.respLn.Addr().String() }

// StatusAddr returns the HTTP status address, or "" when disabled.
func (n *Node) StatusAddr() string {
	if n.statusLn == nil {
		return ""
	}
	return n.statusLn.Addr().String()
}

// ShutdownRequested is closed when a client runs SHUTDOWN.
func (n *Node) ShutdownRequested() <-chan struct{} { return n.shutdownReq }

func (n *Node) requestShutdown() {
	n.shutdownOnce.Do(func() { close(n.shutdownReq) })
}

// Close stops the node in reverse start order: no new connections, then
// background work, Raft, PD and finally storage. Everything acknowledged is
// already durable, so Close loses nothing even if it is never called.
func (n *Node) Close() error {
	n.closeOnce.Do(func() {
		var errs []error
		if n.resp != nil {
			errs = append(errs, n.resp.Close())
		}
		if n.status != nil {
			errs = append(errs, n.status.Close())
		}
		if n.rpcc != nil && n.raft != nil && !n.abrupt.Load() {
			n.handOffLeaders() // before the node stops answering raft
		}
		n.cancel()
		if n.rpcs != nil {
			n.rpcs.Stop() // no more raft messages or forwarded commands
		}
		n.wg.Wait()
		if n.raft != nil {
			n.raft.Stop()
		}
		if n.rpcc != nil {
			errs = append(errs, n.rpcc.Close())
		}
		if n.pdc != nil {
			n.pdc.Close()
		}
		if n.pd != nil {
			errs = append(errs, n.pd.Close())
		}
		if n.engine != nil {
			errs = append(errs, n.engine.Close())
		}
		n.closeErr = errors.Join(errs...)
	})
	return n.closeErr
}

// storeIdent reads this node's store id, allocating and persisting one on a
// fresh data directory.
func (n *Node) storeIdent(ctx context.Context) (uint64, error) {
	v, err := n.engine.Get(keys.StoreIdentKey())
	if err == nil {
		if len(v) != 9 || v[0] != keys.FormatVersion {
			return 0, fmt.Errorf("cluster: unsupported store ident (format %d)", v[0])
		}
		return binary.BigEndian.Uint64(v[1:]), nil
	}
	if !errors.Is(err, engine.ErrNotFound) {
		return 0, err
	}
	id, err := n.pdc.AllocID(ctx)
	if err != nil {
		return 0, fmt.Errorf("cluster: allocate store id: %w", err)
	}
	b := n.engine.NewBatch()
	defer b.Close()
	ident := binary.BigEndian.AppendUint64([]byte{keys.FormatVersion}, id)
	if err := b.Set(keys.StoreIdentKey(), ident); err != nil {
		return 0, err
	}
	return id, b.Commit(true)
}

// bootstrap creates the first region (the whole keyspace, one voter here)
// when this store has none. PD records it first, atomically, so a crash in
// between is repaired on restart from PD's copy.
func (n *Node) bootstrap(ctx context.Context, storeID uint64) error {
	// Every replica counts, quarantined ones too (Regions does not list
	// them): a store whose only replica is quarantined is not new.
	if fresh, err := n.raft.Fresh(); err != nil || !fresh {
		return err
	}
	regionID, err := n.pdc.AllocID(ctx)
	if err != nil {
		return err
	}
	peerID, err := n.pdc.AllocID(ctx)
	if err != nil {
		return err
	}
	r := regionraft.Region{ID: regionID, Epoch: regionraft.Epoch{ConfVer: 1, Version: 1},
		Peers: []regionraft.Peer{{ID: peerID, StoreID: storeID}}}
	_, stored, err := n.pdc.Bootstrap(ctx, storeID, regionraft.EncodeRegion(&r))
	if err != nil {
		return fmt.Errorf("cluster: bootstrap: %w", err)
	}
	if r, err = regionraft.DecodeRegion(stored); err != nil {
		return fmt.Errorf("cluster: bootstrap region from pd: %w", err)
	}
	if _, ok := r.PeerOnStore(storeID); !ok {
		return fmt.Errorf("cluster: cluster already bootstrapped by another store; use --join")
	}
	return n.raft.BootstrapRegion(r)
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// raftLogger sends etcd raft's log lines to slog at debug level, except
// warnings and errors.
type raftLogger struct{ l *slog.Logger }

func (r raftLogger) Debug(v ...interface{})                   {}
func (r raftLogger) Debugf(format string, v ...interface{})   {}
func (r raftLogger) Info(v ...interface{})                    {}
func (r raftLogger) Infof(format string, v ...interface{})    {}
func (r raftLogger) Warning(v ...interface{})                 { r.l.Warn(fmt.Sprint(v...)) }
func (r raftLogger) Warningf(format string, v ...interface{}) { r.l.Warn(fmt.Sprintf(format, v...)) }
func (r raftLogger) Error(v ...interface{})                   { r.l.Error(fmt.Sprint(v...)) }
func (r raftLogger) Errorf(format string, v ...interface{})   { r.l.Error(fmt.Sprintf(format, v...)) }
func (r raftLogger) Fatal(v ...interface{})                   { panic(fmt.Sprint(v...)) }
func (r raftLogger) Fatalf(format string, v ...interface{})   { panic(fmt.Sprintf(format, v...)) }
func (r raftLogger) Panic(v ...interface{})                   { panic(fmt.Sprint(v...)) }
func (r raftLogger) Panicf(format string, v ...interface{})   { panic(fmt.Sprintf(format, v...)) }

// ExpiredKeys is the number of keys the active expirer has deleted.
func (n *Node) ExpiredKeys() int64 { return n.expirer.expired.Load() }

// StaleExpiryEntries is the number of expiry index entries the expirer
// dropped because their key had been overwritten or given another expiry.
func (n *Node) StaleExpiryEntries() int64 { return n.expirer.stale.Load() }

// GCCollected is the number of orphaned collection members the collector
// has deleted.
func (n *Node) GCCollected() int64 { return n.gc.collected.Load() }

// GCBacklog is the number of orphaned collection members still queued, as
// last seen by the collector.
func (n *Node) GCBacklog() int64 { return n.gc.total.Load() }

// Store returns the node's transactional store, the one commands run on
// (for tools and tests that work below the RESP layer).
func (n *Node) Store() commands.Store { return n.exec }

// PlainScans is how many region scans plainKeys completed (tests).
func (n *Node) PlainScans() int64 { return n.exec.plain.scanned.Load() }

// MetaReadsSkipped is how many writes replaced a key's metadata without
// reading it (plainKeys).
func (n *Node) MetaReadsSkipped() int64 { return n.exec.plain.skipped.Load() }

// CombinedCommands is the number of write commands that ran inside another
// command's transaction because they targeted the same keys concurrently.
func (n *Node) CombinedCommands() int64 { return n.exec.comb.combined.Load() }

// LeaderCount is how many regions this node leads now.
func (n *Node) LeaderCount() int { return len(n.leads().regions) }

// StoreID is this node's store id.
func (n *Node) StoreID() uint64 { return n.storeID }

// RegionCount is how many region replicas this node holds.
func (n *Node) RegionCount() int { return len(n.raft.Regions()) }

// HasVoter reports whether this node holds a voting replica of some region.
func (n *Node) HasVoter() bool {
	for _, r := range n.raft.Regions() {
		if p, ok := r.PeerOnStore(n.storeID); ok && !p.Learner {
			return true
		}
	}
	return false
}

// QuarantinedReplicas maps each region whose replica on this node is
// quarantined (a snapshot replaced its data half-way; PD replaces it) to
// that replica's peer ID.
func (n *Node) QuarantinedReplicas() map[uint64]uint64 {
	out := map[uint64]uint64{}
	for id, p := range n.raft.QuarantinedPeers() {
		out[id] = p.ID
	}
	return out
}

// RegionIDs lists the regions this node holds a published replica of.
func (n *Node) RegionIDs() []uint64 {
	var out []uint64
	for _, r := range n.raft.Regions() {
		out = append(out, r.ID)
	}
	return out
}

// LocalPeerID returns the ID of this node's replica of region regionID,
// if it holds a published one.
func (n *Node) LocalPeerID(regionID uint64) (uint64, bool) {
	r, ok := n.raft.Region(regionID)
	if !ok {
		return 0, false
	}
	p, ok := r.PeerOnStore(n.storeID)
	return p.ID, ok
}

// LeaderlessRegions is how many of this node's region replicas know no
// leader now (an election is running, or the leader is out of reach).
func (n *Node) LeaderlessRegions() int {
	c := 0
	for _, r := range n.raft.Regions() {
		if _, ok := n.raft.Leader(r.ID); !ok {
			c++
		}
	}
	return c
}

// FollowerReads is how many reads this node served on a follower replica
// (READONLY connections; regionraft.Store.FollowerReadBarrier passed).
func (n *Node) FollowerReads() int {
	var m dto.Metric
	if err := n.raft.Metrics().FollowerReads.WithLabelValues("ok").Write(&m); err != nil {
		return 0
	}
	return int(m.GetCounter().GetValue())
}

// HibernatedRegions is how many of this node's region replicas sleep now
// (idle regions stop ticking; regionraft hibernation).
func (n *Node) HibernatedRegions() int {
	var m dto.Metric
	if err := n.raft.Metrics().Hibernated.Write(&m); err != nil {
		return 0
	}
	return int(m.GetGauge().GetValue())
}
