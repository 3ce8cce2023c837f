package cluster

import (
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/skerrydb/skerry/cluster/rpc"
)

// ErrInvalidConfig is wrapped by every Config.Validate error.
var ErrInvalidConfig = errors.New("cluster: invalid config")

// Config is a node's configuration (the flags of `skerry server`).
type Config struct {
	// Addr is the RESP listen address. Default 127.0.0.1:6379.
	Addr string
	// DataDir holds the node's Pebble store (DataDir/db) and, on PD nodes,
	// the embedded etcd (DataDir/pd). Default ./data.
	DataDir string
	// StatusAddr serves /metrics, /health and /debug/pprof over HTTP.
	// Default 127.0.0.1:20180; "" after Validate never happens, "off"
	// disables it.
	StatusAddr string
	// PeerAddr is the internal RPC address (node to node). Default
	// 127.0.0.1:20160. Unused by a single node today.
	PeerAddr string
	// PDClientAddr and PDPeerAddr are the embedded PD's etcd client and
	// peer addresses. Defaults 127.0.0.1:2379 and 127.0.0.1:2380.
	PDClientAddr string
	PDPeerAddr   string
	// InitialCluster is the embedded PD membership, "name=http://host:port,...".
	// Default: this node alone.
	InitialCluster string
	// PD runs an embedded PD member on this node (flag --pd, default true
	// from the command line). A node without one needs Join.
	PD bool
	// PDName is this node's PD member name in InitialCluster. Default "pd".
	PDName string
	// InitialReplicas is how many replicas the first region of a new
	// multi-node cluster starts with (capped by the PD members in
	// InitialCluster): the first node waits until that many stores have
	// registered. Default 3.
	InitialReplicas int
	// MaxStoreDownTime: PD rebuilds elsewhere the replicas of a store
	// silent for this long (embedded PD only). Default 30 min (as TiKV).
	MaxStoreDownTime time.Duration
	// SplitBytes and SplitKeys: PD asks a region's leader to split it once
	// it holds more than this many bytes or keys (embedded PD only; 0: PD's
	// defaults, 96 MiB and 960,000 keys as in TiKV).
	SplitBytes uint64
	SplitKeys  uint64
	// SplitCheckInterval is how often a region leader measures its
	// region's size for PD (a scan of the region). Default 1 min.
	SplitCheckInterval time.Duration
	// Join lists the PD client endpoints (http://host:port) of the cluster
	// this node joins; empty: the node's own PD member is enough.
	Join []string
	// RequirePass is the password of the default user; "" means none.
	// Never logged.
	RequirePass string
	// MaxClients is Redis maxclients. Default 10000.
	MaxClients int
	// ProtoMaxBulkLen is Redis proto-max-bulk-len in bytes. Default 512 MiB.
	ProtoMaxBulkLen int64
	// CacheBytes bounds the in-memory cache of newest key versions the
	// leader reads through (mvcc.VersionCache). Default 256 MiB.
	CacheBytes int
	// ExpirePeriod is how often the active expirer runs. Default 100ms.
	ExpirePeriod time.Duration
	// GCPeriod is how often the collector of deleted collections' members
	// runs. Default 100ms.
	GCPeriod time.Duration
	// GCLifeTime is how long overwritten and deleted MVCC versions stay
	// readable before they may be collected: PD's GC safe point is at most
	// this far behind its TSO, and further while a transaction older than
	// that runs (embedded PD only; flag --gc-life-time). 0: 10 min
	// (pd.DefaultGCLifeTime, as TiDB's tikv_gc_life_time); minimum 1ms.
	GCLifeTime time.Duration
	// StoreHeartbeatInterval is how often a cluster node sends PD its
	// store heartbeat (liveness, region counts, and the oldest running
	// transaction, which holds the GC safe point back). Default 10s.
	StoreHeartbeatInterval time.Duration
	// VersionGCPeriod is how often a node reads the GC safe point from PD
	// and collects, on every region it leads, the versions below it.
	// Default 1 min.
	VersionGCPeriod time.Duration
	// ShutdownTimeout bounds a graceful stop. Default 10s.
	ShutdownTimeout time.Duration
	// ClusterRedirect makes the node act as a Redis Cluster node (flag
	// --cluster-redirect): a command whose keys another node leads is
	// answered -MOVED slot ip:port instead of being forwarded, and INFO
	// reports cluster_enabled:1. Default false: forward (any node serves
	// any key; the CLUSTER commands still describe the slot map).
	ClusterRedirect bool
	// RPCFilter, if set, is asked about every internal RPC this node sends
	// (raft messages, snapshots, forwarded commands) and may drop or delay
	// it (rpc.ClientOptions.Filter; e.g. rpc.Partition.Filter). For tests
	// only: fault injection. Default nil (deliver everything). It does not
	// touch PD traffic.
	RPCFilter func(from, to uint64, kind rpc.Kind) rpc.Action
}

// Validate fills defaults and checks the configuration.
func (c *Config) Validate() error {
	if c.Addr == "" {
		c.Addr = "127.0.0.1:6379"
	}
	if c.DataDir == "" {
		c.DataDir = "./data"
	}
	if c.StatusAddr == "" {
		c.StatusAddr = "127.0.0.1:20180"
	}
	if c.PeerAddr == "" {
		c.PeerAddr = "127.0.0.1:20160"
	}
	if c.PDClientAddr == "" {
		c.PDClientAddr = "127.0.0.1:2379"
	}
	if c.PDPeerAddr == "" {
		c.PDPeerAddr = "127.0.0.1:2380"
	}
	if c.PDName == "" {
		c.PDName = "pd"
	}
	if c.SplitCheckInterval == 0 {
		c.SplitCheckInterval = time.Minute
	}
	if c.InitialReplicas == 0 {
		c.InitialReplicas = 3
	}
	if c.CacheBytes == 0 {
		c.CacheBytes = 256 << 20
	}
	if c.GCPeriod == 0 {
		c.GCPeriod = 100 * time.Millisecond
	}
	if c.StoreHeartbeatInterval == 0 {
		c.StoreHeartbeatInterval = 10 * time.Second
	}
	if c.VersionGCPeriod == 0 {
		c.VersionGCPeriod = time.Minute
	}
	if c.ExpirePeriod == 0 {
		c.ExpirePeriod = 100 * time.Millisecond
	}
	if c.ShutdownTimeout == 0 {
		c.ShutdownTimeout = 10 * time.Second
	}
	for name, a := range map[string]string{"addr": c.Addr, "peer-addr": c.PeerAddr,
		"pd-client-addr": c.PDClientAddr, "pd-peer-addr": c.PDPeerAddr} {
		if _, _, err := net.SplitHostPort(a); err != nil {
			return fmt.Errorf("%w: --%s %q: %v", ErrInvalidConfig, name, a, err)
		}
	}
	if c.StatusAddr != "off" {
		if _, _, err := net.SplitHostPort(c.StatusAddr); err != nil {
			return fmt.Errorf("%w: --status-addr %q: %v", ErrInvalidConfig, c.StatusAddr, err)
		}
	}
	if c.MaxClients < 0 || c.ProtoMaxBulkLen < 0 {
		return fmt.Errorf("%w: negative limit", ErrInvalidConfig)
	}
	if c.GCLifeTime < 0 || (c.GCLifeTime > 0 && c.GCLifeTime < time.Millisecond) || c.VersionGCPeriod < 0 || c.StoreHeartbeatInterval < 0 {
		return fmt.Errorf("%w: --gc-life-time %v or VersionGCPeriod %v", ErrInvalidConfig, c.GCLifeTime, c.VersionGCPeriod)
	}
	return nil
}
