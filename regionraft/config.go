package regionraft

import (
	"errors"
	"fmt"
	"io"
	"log"
	"os"
	"time"

	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"

	"github.com/skerrydb/skerry/mvcc/engine"
)

// Applier turns committed commands into engine writes. Implemented by the
// layer above (the MVCC apply of the node).
type Applier interface {
	// Apply adds the effects of one committed command of region to b, in log
	// order, on every replica. It must be deterministic. It runs on the
	// store's raft goroutine: keep it short and never block. Effects of
	// commands applied earlier in the same round are in b, not yet in the
	// engine, so Apply should write modifications computed at proposal time
	// rather than read-modify-write the engine. It must not retain b. An
	// error is a bug or corruption and stops the store (*FatalError).
	// index is the log index of the entry carrying the command: ProposeEpoch
	// commands of one round share an entry, so consecutive calls (with the
	// same b) may have the same index.
	Apply(b engine.Batch, region *Region, index uint64, cmd []byte) error
}

// RaftMessage is one raft message of one region, addressed peer to peer.
// Peer IDs identify the raft node; StoreIDs tell the transport where to
// deliver.
type RaftMessage struct {
	RegionID uint64
	From, To Peer
	// Epoch is the sender's region epoch (for stale-peer detection later).
	Epoch Epoch
	Msg   *raftpb.Message
}

// Transport delivers raft messages to other stores. Send must not block for
// long (queue and return) and must not retain msgs' slice after returning;
// the messages themselves may be kept. Delivery may fail silently: raft
// retries. Called from the store's raft goroutine only.
//
// Snapshots travel separately: a MsgSnap message goes through SendSnapshot
// together with the region's data, an opaque byte stream produced by this
// package. The transport streams it in chunks to the target store, where it
// is handed to (*Store).ReceiveSnapshot(ctx, m, stream); the receiving store
// reads the whole stream before the snapshot takes effect.
type Transport interface {
	Send(msgs []RaftMessage)
	// SendSnapshot delivers m (a MsgSnap) and its data stream to
	// m.To.StoreID. It returns at once: the transport reads data on its own
	// goroutine, closes data when done (always), and then calls done exactly
	// once with nil if the receiving store accepted the snapshot, or the
	// error otherwise. done must not block.
	SendSnapshot(m RaftMessage, data io.ReadCloser, done func(error))
}

// ErrNoTransport is reported by NopTransport.SendSnapshot.
var ErrNoTransport = errors.New("regionraft: no transport")

// NopTransport drops every message; enough for single-voter regions.
type NopTransport struct{}

// Send implements Transport.
func (NopTransport) Send([]RaftMessage) {}

// SendSnapshot implements Transport: it fails at once.
func (NopTransport) SendSnapshot(_ RaftMessage, data io.ReadCloser, done func(error)) {
	_ = data.Close()
	done(ErrNoTransport)
}

// Defaults of Config.
const (
	DefaultTickInterval       = 50 * time.Millisecond
	DefaultElectionTick       = 20
	DefaultHeartbeatTick      = 4
	DefaultRaftLogGCThreshold = 10000
	DefaultRaftLogGCSizeLimit = 64 << 20
	DefaultMaxBatchProposals  = 4096
	DefaultMaxSizePerMsg      = 1 << 20
	DefaultMaxInflightMsgs    = 256
	DefaultEntryCacheSize     = 1024
	DefaultSnapshotBatchBytes = 4 << 20
	// DefaultHibernateTicks and DefaultHibernateCheckTicks are multiples of
	// ElectionTick.
	DefaultHibernateTicks      = 2
	DefaultHibernateCheckTicks = 3
)

// Config configures a Store.
type Config struct {
	// StoreID is this node's store id (non-zero). A region's local peer is
	// the one whose StoreID matches.
	StoreID uint64
	// Engine holds every region's raft log, raft state and data. Required.
	Engine engine.Engine
	// Applier applies committed commands. Required.
	Applier Applier
	// Transport sends raft messages to other stores. Default NopTransport.
	Transport Transport
	// TickInterval is the raft logical clock period. Default 50ms.
	TickInterval time.Duration
	// ElectionTick is the election timeout in ticks (randomized up to 2x by
	// raft). Default 20 (1 s at 50 ms ticks). Raft draws each follower's
	// timeout from [ElectionTick, 2*ElectionTick) ticks: two followers
	// that draw the same tick split the vote and the election starts over
	// (another 1-2 s), so finer ticks for the same 1 s make that rarer
	// (1 in 20 elections instead of 1 in 10 at 100 ms ticks).
	ElectionTick int
	// HeartbeatTick is the heartbeat period in ticks. Default 4 (200 ms): five
	// heartbeats per election timeout keeps followers quiet through a lost
	// heartbeat or two without doubling network chatter of a shorter period.
	HeartbeatTick int
	// RaftLogGCThreshold: once a region has more than this many applied
	// entries in its log, the applied prefix is deleted. Default 10000.
	RaftLogGCThreshold uint64
	// RaftLogGCSizeLimit: likewise once its log holds about this many bytes
	// of entries (entries batch a round's commands, so a count alone does
	// not bound the log). Default 64 MiB.
	RaftLogGCSizeLimit uint64
	// MaxBatchProposals bounds how many proposals and reads one loop round
	// drains from the queue (the group-commit size). Default 4096.
	MaxBatchProposals int
	// MaxSizePerMsg bounds the bytes of entries in one append message and
	// of committed entries handed out per Ready. Default 1 MiB.
	MaxSizePerMsg uint64
	// MaxInflightMsgs bounds unacknowledged append messages per follower.
	// Default 256.
	MaxInflightMsgs int
	// EntryCacheSize is the number of recent log entries per region kept in
	// memory to avoid engine reads. Default 1024.
	EntryCacheSize int
	// SnapshotBatchBytes bounds the bytes (keys plus values) of one engine
	// batch while a received snapshot is written: the memory a snapshot
	// takes on the receiving store. Default 4 MiB.
	SnapshotBatchBytes int
	// HibernateTicks is how many consecutive ticks a leader's region must be
	// idle (no request, every peer caught up, nothing in flight) before it
	// hibernates: it stops ticking and tells its followers to stop too.
	// Default 2*ElectionTick (2 s at the defaults).
	HibernateTicks int
	// HibernateCheckTicks: a hibernated follower wakes after a random
	// number of ticks in [HibernateCheckTicks, 2*HibernateCheckTicks) to
	// check that its leader is alive (the leader puts it back to sleep). It
	// bounds how long a crashed leader of an idle region goes unnoticed:
	// a new leader is elected within about 2*HibernateCheckTicks plus four
	// election timeouts. Default 3*ElectionTick (within 10 election
	// timeouts, 10 s at the defaults).
	HibernateCheckTicks int
	// DisableHibernation keeps every peer ticking (the behaviour before
	// hibernation). Every store of a cluster should use the same setting: a
	// store with it set ignores a leader's hibernate heartbeats, so its
	// followers keep waking their hibernated leaders.
	DisableHibernation bool
	// DisableLeaseReads makes every leader read confirm leadership with a
	// ReadIndex round (one quorum heartbeat round per batch of reads)
	// instead of serving reads under a leader lease (lease.go). Every store
	// of a cluster may choose it independently.
	DisableLeaseReads bool
	// OnLeaderChange, if set, is called from the raft goroutine when this
	// store's peer of a region becomes or stops being its leader, before
	// any request is served in the new role. It must not block.
	OnLeaderChange func(regionID uint64, leader bool)
	// Logger receives raft's log lines. Default: raft's logger to stderr.
	Logger raft.Logger
}

// Validate fills zero fields with their defaults and checks the result.
func (c *Config) Validate() error {
	if c.StoreID == 0 {
		return fmt.Errorf("%w: StoreID must be non-zero", ErrInvalidConfig)
	}
	if c.Engine == nil {
		return fmt.Errorf("%w: Engine is required", ErrInvalidConfig)
	}
	if c.Applier == nil {
		return fmt.Errorf("%w: Applier is required", ErrInvalidConfig)
	}
	if c.Transport == nil {
		c.Transport = NopTransport{}
	}
	if c.TickInterval == 0 {
		c.TickInterval = DefaultTickInterval
	}
	if c.ElectionTick == 0 {
		c.ElectionTick = DefaultElectionTick
	}
	if c.HeartbeatTick == 0 {
		c.HeartbeatTick = DefaultHeartbeatTick
	}
	if c.RaftLogGCThreshold == 0 {
		c.RaftLogGCThreshold = DefaultRaftLogGCThreshold
	}
	if c.RaftLogGCSizeLimit == 0 {
		c.RaftLogGCSizeLimit = DefaultRaftLogGCSizeLimit
	}
	if c.MaxBatchProposals == 0 {
		c.MaxBatchProposals = DefaultMaxBatchProposals
	}
	if c.MaxSizePerMsg == 0 {
		c.MaxSizePerMsg = DefaultMaxSizePerMsg
	}
	if c.MaxInflightMsgs == 0 {
		c.MaxInflightMsgs = DefaultMaxInflightMsgs
	}
	if c.EntryCacheSize == 0 {
		c.EntryCacheSize = DefaultEntryCacheSize
	}
	if c.SnapshotBatchBytes == 0 {
		c.SnapshotBatchBytes = DefaultSnapshotBatchBytes
	}
	if c.HibernateTicks == 0 && c.ElectionTick > 0 {
		c.HibernateTicks = DefaultHibernateTicks * c.ElectionTick
	}
	if c.HibernateCheckTicks == 0 && c.ElectionTick > 0 {
		c.HibernateCheckTicks = DefaultHibernateCheckTicks * c.ElectionTick
	}
	if c.Logger == nil {
		c.Logger = &raft.DefaultLogger{Logger: log.New(os.Stderr, "raft ", log.LstdFlags)}
	}
	switch {
	case c.TickInterval < 0:
		return fmt.Errorf("%w: TickInterval %v must be positive", ErrInvalidConfig, c.TickInterval)
	case c.HeartbeatTick < 1:
		return fmt.Errorf("%w: HeartbeatTick %d < 1", ErrInvalidConfig, c.HeartbeatTick)
	case c.ElectionTick <= c.HeartbeatTick:
		return fmt.Errorf("%w: ElectionTick %d must exceed HeartbeatTick %d", ErrInvalidConfig, c.ElectionTick, c.HeartbeatTick)
	case c.HibernateTicks < 1 || c.HibernateCheckTicks < 1:
		return fmt.Errorf("%w: HibernateTicks %d and HibernateCheckTicks %d must be positive", ErrInvalidConfig, c.HibernateTicks, c.HibernateCheckTicks)
	case c.MaxBatchProposals < 1, c.MaxInflightMsgs < 1, c.EntryCacheSize < 1, c.SnapshotBatchBytes < 1:
		return fmt.Errorf("%w: MaxBatchProposals, MaxInflightMsgs, EntryCacheSize and SnapshotBatchBytes must be positive", ErrInvalidConfig)
	}
	return nil
}
