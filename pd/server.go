package pd

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/server/v3/embed"
	"go.etcd.io/etcd/server/v3/etcdserver/api/v3client"
	"go.uber.org/zap"
	"google.golang.org/grpc"

	"github.com/skerrydb/skerry/pd/pdclient"
)

var _ pdclient.Backend = (*Server)(nil)

// Server is a running PD member. One member of the PD cluster, elected
// through etcd, serves as PD leader; the others answer every call with a
// *pdclient.NotLeaderError naming it. Its methods are safe for concurrent
// use; after Close they fail with pdclient.ErrClosed.
type Server struct {
	cfg       Config
	etcd      *embed.Etcd
	client    *clientv3.Client // in-process: no network hop
	clusterID uint64

	// lead is non-nil while this member serves as PD leader.
	lead atomic.Pointer[leadership]
	// ready is set once client and clusterID are set (the gRPC service
	// may be called before).
	ready atomic.Bool

	stopElection context.CancelFunc
	electionDone chan struct{}
	closed       atomic.Bool
	// crashOnClose (tests only) makes Close skip resigning, as if the
	// process died: the other members wait for the lease to expire.
	crashOnClose atomic.Bool
	// quietOnClose, if set, is the default logger's level, raised by
	// closeEtcd.
	quietOnClose *zap.AtomicLevel
	closeOnce    sync.Once
}

// Start starts the embedded etcd member described by cfg, waits until it
// is ready (a multi-member PD needs a quorum of members started), loads or
// creates the cluster ID, joins the PD leader election, and returns once a
// PD leader serves (this member, or another one). It fails with
// ErrStartTimeout if that does not happen before ctx ends (or 30s if ctx
// has no deadline).
func Start(ctx context.Context, cfg Config) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	// etcd logs its listeners' shutdown as errors; the default logger is
	// silenced during Close so a normal stop prints nothing.
	var quietOnClose *zap.AtomicLevel
	if cfg.Logger == nil {
		zc := zap.NewProductionConfig()
		zc.Level = zap.NewAtomicLevelAt(zap.ErrorLevel)
		lg, err := zc.Build()
		if err != nil {
			return nil, fmt.Errorf("pd: build logger: %w", err)
		}
		cfg.Logger, quietOnClose = lg, &zc.Level
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, cfg.startTimeout)
		defer cancel()
	}
	s := &Server{cfg: cfg, quietOnClose: quietOnClose}
	ecfg, err := etcdConfig(cfg)
	if err != nil {
		return nil, err
	}
	ecfg.ServiceRegister = func(gs *grpc.Server) { gs.RegisterService(&serviceDesc, s) }
	e, err := embed.StartEtcd(ecfg)
	if err != nil {
		return nil, fmt.Errorf("pd: start etcd: %w", err)
	}
	s.etcd = e
	if err := s.init(ctx); err != nil {
		s.closeEtcd()
		return nil, err
	}
	electionCtx, stop := context.WithCancel(context.Background())
	s.stopElection = stop
	s.electionDone = make(chan struct{})
	go s.runElection(electionCtx)
	if err := s.waitLeader(ctx); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// etcdConfig translates cfg into etcd's embed configuration.
func etcdConfig(cfg Config) (*embed.Config, error) {
	cu, err := parseURL(cfg.ClientURL)
	if err != nil {
		return nil, fmt.Errorf("%w: ClientURL: %w", ErrInvalidConfig, err)
	}
	pu, err := parseURL(cfg.PeerURL)
	if err != nil {
		return nil, fmt.Errorf("%w: PeerURL: %w", ErrInvalidConfig, err)
	}
	ec := embed.NewConfig()
	ec.Name = cfg.Name
	ec.Dir = cfg.DataDir
	ec.ListenClientUrls = []url.URL{cu}
	ec.AdvertiseClientUrls = []url.URL{cu}
	ec.ListenPeerUrls = []url.URL{pu}
	ec.AdvertisePeerUrls = []url.URL{pu}
	ec.InitialCluster = cfg.InitialCluster
	ec.ClusterState = embed.ClusterStateFlagNew
	ec.Logger = "zap"
	ec.LogLevel = "error"
	ec.ZapLoggerBuilder = embed.NewZapLoggerBuilder(cfg.Logger)
	// The TSO window rewrites one key every few seconds: keep history short.
	ec.AutoCompactionMode = embed.CompactorModePeriodic
	ec.AutoCompactionRetention = "1h"
	ec.UnsafeNoFsync = cfg.unsafeNoFsync
	if cfg.tickMs > 0 {
		ec.TickMs, ec.ElectionMs = cfg.tickMs, cfg.electionMs
	}
	return ec, nil
}

// init waits for etcd and loads the cluster ID.
func (s *Server) init(ctx context.Context) error {
	select {
	case <-s.etcd.Server.ReadyNotify():
	case err := <-s.etcd.Err():
		return fmt.Errorf("pd: etcd failed while starting: %w", err)
	case <-ctx.Done():
		return fmt.Errorf("%w: %w", ErrStartTimeout, ctx.Err())
	}
	s.client = v3client.New(s.etcd.Server)
	var err error
	if s.clusterID, err = initClusterID(ctx, s.client); err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("%w: %w", ErrStartTimeout, err)
		}
		return err
	}
	s.ready.Store(true)
	return nil
}

// waitLeader polls (bounded by ctx) until some member serves as PD leader:
// etcd has no leader-change notification, and this member may be in the
// middle of taking over.
func (s *Server) waitLeader(ctx context.Context) error {
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		if s.lead.Load() != nil {
			return nil
		}
		if url, err := s.leaderURL(ctx); err == nil && url != "" && url != s.cfg.ClientURL {
			return nil
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			return fmt.Errorf("%w: no PD leader: %w", ErrStartTimeout, ctx.Err())
		}
	}
}

// initClusterID creates the cluster ID on the first start (Unix seconds in
// the high 32 bits, random low bits) and loads it on later ones.
func initClusterID(ctx context.Context, kv clientv3.KV) (uint64, error) {
	id := uint64(time.Now().Unix())<<32 | uint64(rand.Uint32())
	resp, err := kv.Txn(ctx).
		If(clientv3.Compare(clientv3.CreateRevision(keyClusterID), "=", 0)).
		Then(clientv3.OpPut(keyClusterID, encodeUint64(id))).
		Else(clientv3.OpGet(keyClusterID)).
		Commit()
	if err != nil {
		return 0, fmt.Errorf("pd: init cluster id: %w", err)
	}
	if resp.Succeeded {
		return id, nil
	}
	kvs := resp.Responses[0].GetResponseRange().GetKvs()
	if len(kvs) == 0 {
		return 0, fmt.Errorf("%w: %s vanished", ErrCorrupt, keyClusterID)
	}
	return decodeUint64(keyClusterID, kvs[0].Value)
}

// keeperInterval is how often the TSO window keeper looks at the window:
// often enough to extend it long before it runs out.
func keeperInterval(window time.Duration) time.Duration {
	return min(max(window/8, time.Millisecond), 50*time.Millisecond)
}

// Close resigns the PD leadership if this member holds it, then stops
// etcd. It is idempotent.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		s.closed.Store(true)
		if s.IsLeader() && !s.crashOnClose.Load() {
			// etcd hands its raft leadership on when it stops, and
			// requests in flight across that change may be dropped and
			// hang until their deadline. Hand it on now, before the
			// resignation lets another member take PD over: that
			// member's takeover (lease renewal, TSO window, state
			// loads) would otherwise race the change and could stall
			// for a whole LeaderLease (3 s without timestamps). Only
			// the PD leader: another member's stop resigns nothing,
			// and etcd's own hand-off (which a failed attempt here
			// would repeat, up to a request timeout each) is enough.
			if err := s.etcd.Server.TryTransferLeadershipOnShutdown(); err != nil {
				s.cfg.Logger.Warn("pd: etcd leadership transfer before close failed", zap.Error(err))
			}
		}
		if s.stopElection != nil {
			s.stopElection()
			<-s.electionDone
		}
		if s.cfg.afterResign != nil {
			s.cfg.afterResign()
		}
		s.closeEtcd()
	})
	return nil
}

func (s *Server) closeEtcd() {
	if s.quietOnClose != nil {
		s.quietOnClose.SetLevel(zap.FatalLevel)
	}
	if s.client != nil {
		s.client.Close()
	}
	s.etcd.Close()
}

// ClusterID returns the cluster's ID, created by the first start.
func (s *Server) ClusterID() uint64 { return s.clusterID }

// ClientURL returns the URL etcd and the PD gRPC service serve clients on.
func (s *Server) ClientURL() string { return s.cfg.ClientURL }

// IsLeader reports whether this member serves as PD leader now.
func (s *Server) IsLeader() bool { return s.lead.Load() != nil }

// GetTS reserves count consecutive timestamps and returns the LAST one
// (see pdclient.Backend.GetTS). It does not write to etcd unless the
// persisted window has run out.
func (s *Server) GetTS(ctx context.Context, count uint32) (uint64, error) {
	l, err := s.leader(ctx)
	if err != nil {
		return 0, err
	}
	return l.tso.getTS(ctx, count)
}

// AllocID returns a cluster-unique ID, never 0 and never reused.
func (s *Server) AllocID(ctx context.Context) (uint64, error) {
	l, err := s.leader(ctx)
	if err != nil {
		return 0, err
	}
	return l.ids.alloc(ctx)
}
