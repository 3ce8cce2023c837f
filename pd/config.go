package pd

import (
	"fmt"
	"net/url"
	"strings"
	"time"

	"go.uber.org/zap"
)

// Defaults for Config fields left zero.
const (
	DefaultName             = "pd"
	DefaultClientURL        = "http://127.0.0.1:2379"
	DefaultPeerURL          = "http://127.0.0.1:2380"
	DefaultTSOSaveInterval  = 3 * time.Second
	DefaultLeaderLease      = 3 * time.Second
	DefaultMaxReplicas      = 3
	DefaultMaxStoreDownTime = 30 * time.Minute
	DefaultScheduleInterval = time.Second
	DefaultOperatorTimeout  = 10 * time.Minute
	DefaultSplitBytes       = 96 << 20
	DefaultSplitKeys        = 960_000
	DefaultGCLifeTime       = 10 * time.Minute
)

// Config configures an embedded PD member. Zero fields take the documented
// defaults; call Validate (Start does) to check the rest.
type Config struct {
	// DataDir holds etcd's data (WAL and backend); conventionally
	// <node data dir>/pd. Required.
	DataDir string
	// Name is this member's name in InitialCluster. Default "pd".
	Name string
	// ClientURL is where etcd serves clients (http://host:port; only
	// 127.0.0.1 or another IP, no host names). Default
	// http://127.0.0.1:2379.
	ClientURL string
	// PeerURL is where etcd serves its peers. Default
	// http://127.0.0.1:2380.
	PeerURL string
	// InitialCluster is "name=peerURL,..." for the members that form a new
	// cluster (1, 3 or 5 members). Default "<Name>=<PeerURL>" (a single-member cluster). It is
	// ignored once DataDir holds a member.
	InitialCluster string
	// TSOSaveInterval is how far ahead of the issued timestamps the TSO
	// window is persisted: a restarted leader skips at most this much
	// time. Default 3s; minimum 1ms.
	TSOSaveInterval time.Duration
	// LeaderLease is the TTL of the PD leader's etcd lease: a leader that
	// cannot renew it stops serving, and another member takes over about
	// this long after a leader dies without resigning. Rounded up to whole
	// seconds (etcd's lease unit). Default 3s; minimum 1s.
	LeaderLease time.Duration
	// MaxReplicas is the number of voters PD keeps per region. Default 3.
	// Replica scheduling and balancing pause while fewer stores are Up
	// (and not down) than this.
	MaxReplicas int
	// MaxStoreDownTime is how long a store may go without a heartbeat
	// before it is down and its replicas are replaced. Default 30m.
	MaxStoreDownTime time.Duration
	// ScheduleInterval is how often the leader runs the balancers (leader
	// and region balance) and retires drained Offline stores. Default 1s;
	// negative disables the periodic run (the replica and split checkers
	// still run on every region heartbeat).
	ScheduleInterval time.Duration
	// OperatorTimeout: an operator whose steps are not all seen done by
	// then is dropped (the checkers then look at the region afresh).
	// Default 10m.
	OperatorTimeout time.Duration
	// SplitBytes and SplitKeys: a region reported above either (bytes,
	// keys) is asked to split. Defaults 96 MiB and 960000.
	SplitBytes uint64
	SplitKeys  uint64
	// GCLifeTime is how long MVCC versions stay readable after they are
	// overwritten: the GC safe point is at most this far behind the TSO,
	// and further behind while a store reports an older running
	// transaction (every store reports its running transactions, so
	// correctness does not depend on it; it is the retention window).
	// Default 10m; minimum 1ms.
	GCLifeTime time.Duration
	// Logger receives etcd's and PD's logs. Default: errors only, as JSON
	// on stderr (etcd is chatty at info level).
	Logger *zap.Logger
	// Now is the clock of the TSO. Default time.Now; tests inject one.
	Now func() time.Time

	// unsafeNoFsync disables etcd's fsyncs; tests only.
	unsafeNoFsync bool
	// startTimeout bounds Start when its ctx has no deadline. Default 30s.
	startTimeout time.Duration
	// tickMs and electionMs override etcd's heartbeat interval and
	// election timeout (ms); tests only. Defaults: etcd's (100, 1000).
	tickMs, electionMs uint
	// beforeServe, if set, runs after a member that won the election has
	// loaded its state and before it serves (it may block: a slow
	// takeover); tests only.
	beforeServe func()
	// afterResign, if set, runs in Close after the election has stopped
	// (and the leadership, if held, was resigned) and before etcd stops;
	// tests only.
	afterResign func()
	// onNotLeader, if set, is called with the leader URL of every
	// not-leader answer this member gives ("" while it is taking over or
	// knows no leader); tests only.
	onNotLeader func(leaderURL string)
}

// withDefaults returns c with zero fields set to their defaults.
func (c Config) withDefaults() Config {
	if c.Name == "" {
		c.Name = DefaultName
	}
	if c.ClientURL == "" {
		c.ClientURL = DefaultClientURL
	}
	if c.PeerURL == "" {
		c.PeerURL = DefaultPeerURL
	}
	if c.InitialCluster == "" {
		c.InitialCluster = c.Name + "=" + c.PeerURL
	}
	if c.TSOSaveInterval == 0 {
		c.TSOSaveInterval = DefaultTSOSaveInterval
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.LeaderLease == 0 {
		c.LeaderLease = DefaultLeaderLease
	}
	if c.MaxReplicas == 0 {
		c.MaxReplicas = DefaultMaxReplicas
	}
	if c.MaxStoreDownTime == 0 {
		c.MaxStoreDownTime = DefaultMaxStoreDownTime
	}
	if c.ScheduleInterval == 0 {
		c.ScheduleInterval = DefaultScheduleInterval
	}
	if c.OperatorTimeout == 0 {
		c.OperatorTimeout = DefaultOperatorTimeout
	}
	if c.SplitBytes == 0 {
		c.SplitBytes = DefaultSplitBytes
	}
	if c.SplitKeys == 0 {
		c.SplitKeys = DefaultSplitKeys
	}
	if c.GCLifeTime == 0 {
		c.GCLifeTime = DefaultGCLifeTime
	}
	if c.startTimeout == 0 {
		c.startTimeout = 30 * time.Second
	}
	return c
}

// Validate reports the first invalid field, wrapping ErrInvalidConfig.
// Zero fields are valid (they take defaults), except DataDir.
func (c *Config) Validate() error {
	d := c.withDefaults()
	if d.DataDir == "" {
		return fmt.Errorf("%w: DataDir is required", ErrInvalidConfig)
	}
	if strings.ContainsAny(d.Name, "=,") {
		return fmt.Errorf("%w: Name %q contains '=' or ','", ErrInvalidConfig, d.Name)
	}
	for _, u := range []struct{ field, v string }{{"ClientURL", d.ClientURL}, {"PeerURL", d.PeerURL}} {
		if _, err := parseURL(u.v); err != nil {
			return fmt.Errorf("%w: %s: %w", ErrInvalidConfig, u.field, err)
		}
	}
	found := false
	for _, m := range strings.Split(d.InitialCluster, ",") {
		name, peer, ok := strings.Cut(m, "=")
		if !ok || name == "" {
			return fmt.Errorf("%w: InitialCluster member %q is not name=peerURL", ErrInvalidConfig, m)
		}
		if _, err := parseURL(peer); err != nil {
			return fmt.Errorf("%w: InitialCluster member %q: %w", ErrInvalidConfig, m, err)
		}
		found = found || name == d.Name
	}
	if !found {
		return fmt.Errorf("%w: InitialCluster %q does not name this member %q", ErrInvalidConfig, d.InitialCluster, d.Name)
	}
	if d.TSOSaveInterval < time.Millisecond {
		return fmt.Errorf("%w: TSOSaveInterval %v is below 1ms", ErrInvalidConfig, d.TSOSaveInterval)
	}
	if d.LeaderLease < time.Second {
		return fmt.Errorf("%w: LeaderLease %v is below 1s", ErrInvalidConfig, d.LeaderLease)
	}
	if d.MaxReplicas < 1 {
		return fmt.Errorf("%w: MaxReplicas %d is below 1", ErrInvalidConfig, d.MaxReplicas)
	}
	if d.MaxStoreDownTime < 0 || d.OperatorTimeout < 0 {
		return fmt.Errorf("%w: negative MaxStoreDownTime or OperatorTimeout", ErrInvalidConfig)
	}
	if d.GCLifeTime < time.Millisecond {
		return fmt.Errorf("%w: GCLifeTime %v is below 1ms", ErrInvalidConfig, d.GCLifeTime)
	}
	return nil
}

// parseURL parses an http(s)://host:port URL.
func parseURL(s string) (url.URL, error) {
	u, err := url.Parse(s)
	if err != nil {
		return url.URL{}, err
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return url.URL{}, fmt.Errorf("URL %q: scheme must be http or https", s)
	}
	if u.Port() == "" {
		return url.URL{}, fmt.Errorf("URL %q has no port", s)
	}
	return *u, nil
}
