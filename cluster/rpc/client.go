package rpc

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	"github.com/skerrydb/skerry/regionraft"
)

// Resolver maps store ids to their internal RPC addresses (host:port). The
// node implements it through PD. The Client caches answers and asks again
// after a connection to the store failed. It is called concurrently, from
// the Client's sender goroutines and callers of Forward.
type Resolver interface {
	StoreAddr(ctx context.Context, storeID uint64) (string, error)
}

// Defaults of ClientOptions.
const (
	DefaultQueueSize            = 4096
	DefaultMaxBatchBytes        = 4 << 20
	DefaultSnapshotChunkSize    = 1 << 20
	DefaultMaxSnapshotsPerStore = 2
	DefaultMinBackoff           = 50 * time.Millisecond
	DefaultMaxBackoff           = time.Second
	DefaultDialTimeout          = 5 * time.Second
	DefaultKeepaliveTime        = 10 * time.Second
	DefaultKeepaliveTimeout     = 3 * time.Second
)

// ClientOptions configures a Client.
type ClientOptions struct {
	// TLS, if set, dials with this config (cloned): RootCAs to verify
	// servers, Certificates for mTLS. ServerName defaults to the host of
	// the resolved address. Default nil: plaintext.
	TLS *tls.Config
	// QueueSize bounds the raft messages queued per target store; Send
	// drops (and counts) messages beyond it. Default 4096.
	QueueSize int
	// MaxBatchBytes bounds the encoded size of one raft stream message; a
	// larger queue is sent as several. Default 4 MiB.
	MaxBatchBytes int
	// MaxMsgSize bounds one sent or received gRPC message, in bytes (a
	// forwarded command's reply included). Default 128 MiB; the receiving
	// server's MaxRecvMsgSize must be at least as large.
	MaxMsgSize int
	// SnapshotChunkSize is the data bytes per snapshot stream message.
	// Default 1 MiB.
	SnapshotChunkSize int
	// MaxSnapshotsPerStore bounds concurrent outgoing snapshots per target
	// store; more wait their turn. Default 2.
	MaxSnapshotsPerStore int
	// MinBackoff and MaxBackoff bound the exponential wait between
	// reconnection attempts to a store (raft streams and gRPC's own
	// reconnects). Defaults 50 ms and 1 s.
	MinBackoff, MaxBackoff time.Duration
	// DialTimeout bounds one connection attempt (TCP and TLS handshake).
	// Default 5 s.
	DialTimeout time.Duration
	// KeepaliveTime is the idle time after which a connection is pinged,
	// KeepaliveTimeout how long the ping may go unanswered before the
	// connection is declared dead. Defaults 10 s and 3 s (gRPC's minimum
	// KeepaliveTime is 10 s).
	KeepaliveTime, KeepaliveTimeout time.Duration
	// Filter, if set, is asked about every raft message, snapshot and
	// forwarded command before it leaves (fault injection for tests and
	// the chaos harness; see Partition). It must be fast and must not
	// block. Default nil: everything is delivered, at no cost.
	Filter func(from, to uint64, kind Kind) Action
	// Logger receives the client's log lines. Default slog.Default().
	Logger *slog.Logger
}

// Validate fills zero fields with their defaults and checks the result.
func (o *ClientOptions) Validate() error {
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	defD := func(v *time.Duration, d time.Duration) {
		if *v == 0 {
			*v = d
		}
	}
	def(&o.QueueSize, DefaultQueueSize)
	def(&o.MaxBatchBytes, DefaultMaxBatchBytes)
	def(&o.MaxMsgSize, DefaultMaxMsgSize)
	def(&o.SnapshotChunkSize, DefaultSnapshotChunkSize)
	def(&o.MaxSnapshotsPerStore, DefaultMaxSnapshotsPerStore)
	defD(&o.MinBackoff, DefaultMinBackoff)
	defD(&o.MaxBackoff, DefaultMaxBackoff)
	defD(&o.DialTimeout, DefaultDialTimeout)
	defD(&o.KeepaliveTime, DefaultKeepaliveTime)
	defD(&o.KeepaliveTimeout, DefaultKeepaliveTimeout)
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	switch {
	case o.QueueSize < 1, o.MaxSnapshotsPerStore < 1:
		return fmt.Errorf("%w: QueueSize and MaxSnapshotsPerStore must be positive", ErrInvalidOptions)
	case o.MaxMsgSize < 1<<20:
		return fmt.Errorf("%w: MaxMsgSize %d < 1 MiB", ErrInvalidOptions, o.MaxMsgSize)
	case o.MaxBatchBytes < 1 || o.MaxBatchBytes > o.MaxMsgSize/2:
		return fmt.Errorf("%w: MaxBatchBytes %d must be in [1, MaxMsgSize/2]", ErrInvalidOptions, o.MaxBatchBytes)
	case o.SnapshotChunkSize < 1 || o.SnapshotChunkSize > o.MaxMsgSize/2:
		return fmt.Errorf("%w: SnapshotChunkSize %d must be in [1, MaxMsgSize/2]", ErrInvalidOptions, o.SnapshotChunkSize)
	case o.MinBackoff < 0 || o.MaxBackoff < o.MinBackoff:
		return fmt.Errorf("%w: need 0 <= MinBackoff <= MaxBackoff", ErrInvalidOptions)
	case o.DialTimeout < 0 || o.KeepaliveTime < 0 || o.KeepaliveTimeout < 0:
		return fmt.Errorf("%w: negative duration", ErrInvalidOptions)
	}
	return nil
}

// Client is this store's side of the internal RPC: it implements
// regionraft.Transport and forwards commands. Safe for concurrent use.
type Client struct {
	self     uint64
	resolver Resolver
	opts     ClientOptions
	log      *slog.Logger
	metrics  *clientMetrics
	dialOpts []grpc.DialOption

	// ctx lives until Close; every goroutine of the Client watches it.
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu       sync.RWMutex
	closed   bool
	conns    map[uint64]*peerConn
	senders  map[uint64]*sender
	snapSems map[uint64]chan struct{}
}

// peerConn is the cached connection to one store.
type peerConn struct {
	addr string
	cc   *grpc.ClientConn
	// stale: a call failed as unreachable; resolve again before next use.
	stale bool
}

var _ regionraft.Transport = (*Client)(nil)

// NewClient returns a Client for store self (its own store id), resolving
// other stores through r. Connections are made lazily.
func NewClient(self uint64, r Resolver, opts ClientOptions) (*Client, error) {
	if r == nil {
		return nil, fmt.Errorf("%w: nil Resolver", ErrInvalidOptions)
	}
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	c := &Client{
		self: self, resolver: r, opts: opts, log: opts.Logger, metrics: newClientMetrics(),
		conns: map[uint64]*peerConn{}, senders: map[uint64]*sender{}, snapSems: map[uint64]chan struct{}{},
	}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	creds := insecure.NewCredentials()
	if opts.TLS != nil {
		creds = credentials.NewTLS(opts.TLS.Clone())
	}
	c.dialOpts = []grpc.DialOption{
		grpc.WithTransportCredentials(creds),
		grpc.WithDefaultCallOptions(
			grpc.ForceCodec(codec{}),
			grpc.MaxCallRecvMsgSize(opts.MaxMsgSize),
			grpc.MaxCallSendMsgSize(opts.MaxMsgSize),
		),
		grpc.WithConnectParams(grpc.ConnectParams{
			Backoff: backoff.Config{
				BaseDelay: opts.MinBackoff, Multiplier: 1.6, Jitter: 0.2, MaxDelay: opts.MaxBackoff,
			},
			MinConnectTimeout: opts.DialTimeout,
		}),
		grpc.WithKeepaliveParams(keepalive.ClientParameters{
			Time: opts.KeepaliveTime, Timeout: opts.KeepaliveTimeout, PermitWithoutStream: true,
		}),
	}
	return c, nil
}

// Collectors returns the client's prometheus collectors (skerry_rpc_*), for
// the caller to register.
func (c *Client) Collectors() []prometheus.Collector { return c.metrics.collectors() }

// Close stops every sender and snapshot goroutine, fails later calls with
// ErrClosed and closes the connections. Queued raft messages are dropped.
// It waits for its goroutines; in-flight Forward calls fail.
func (c *Client) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	c.mu.Unlock()
	c.cancel()
	c.wg.Wait()
	c.mu.Lock()
	conns := c.conns
	c.conns = nil
	c.mu.Unlock()
	var errs []error
	for _, pc := range conns {
		errs = append(errs, pc.cc.Close())
	}
	return errors.Join(errs...)
}

// conn returns the connection to store, resolving its address when it is
// not cached or was marked stale.
func (c *Client) conn(ctx context.Context, store uint64) (*grpc.ClientConn, error) {
	c.mu.RLock()
	if c.closed {
		c.mu.RUnlock()
		return nil, ErrClosed
	}
	if pc := c.conns[store]; pc != nil && !pc.stale {
		cc := pc.cc
		c.mu.RUnlock()
		return cc, nil
	}
	c.mu.RUnlock()

	addr, err := c.resolver.StoreAddr(ctx, store)
	if err != nil {
		return nil, fmt.Errorf("%w: store %d: resolve address: %w", ErrUnreachable, store, err)
	}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil, ErrClosed
	}
	pc := c.conns[store]
	if pc != nil && pc.addr == addr {
		pc.stale = false
		c.mu.Unlock()
		return pc.cc, nil
	}
	// passthrough: the Resolver is the only name service; gRPC dials addr
	// as given.
	cc, err := grpc.NewClient("passthrough:///"+addr, c.dialOpts...)
	if err != nil {
		c.mu.Unlock()
		return nil, fmt.Errorf("%w: store %d at %s: %w", ErrUnreachable, store, addr, err)
	}
	c.conns[store] = &peerConn{addr: addr, cc: cc}
	c.mu.Unlock()
	if pc != nil {
		c.log.Info("rpc: store moved", "store", store, "from", pc.addr, "to", addr)
		// Calls still running on the old address fail; they were failing.
		_ = pc.cc.Close()
	}
	return cc, nil
}

// markStale makes the next conn(store) resolve the address again.
func (c *Client) markStale(store uint64, cc *grpc.ClientConn) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if pc := c.conns[store]; pc != nil && pc.cc == cc {
		pc.stale = true
	}
}

// callError classifies the error of a call to store on cc.
func (c *Client) callError(ctx context.Context, store uint64, cc *grpc.ClientConn, err error) error {
	if err == nil {
		return nil
	}
	if ctx.Err() != nil {
		if c.ctx.Err() != nil {
			return ErrClosed
		}
		return ctx.Err()
	}
	switch status.Code(err) {
	case codes.Unavailable:
		c.markStale(store, cc)
		return fmt.Errorf("%w: store %d: %w", ErrUnreachable, store, err)
	case codes.Canceled:
		if c.ctx.Err() != nil {
			return ErrClosed
		}
	}
	return fmt.Errorf("rpc: store %d: %w", store, err)
}

// notSent marks an unreachable-store error as certainly not sent
// (ErrNotSent); other errors are returned as they are.
func notSent(err error) error {
	if errors.Is(err, ErrUnreachable) {
		return fmt.Errorf("%w: %w", ErrNotSent, err)
	}
	return err
}

// filter applies opts.Filter to a snapshot or forward; nil means deliver.
func (c *Client) filter(ctx context.Context, to uint64, kind Kind) error {
	if c.opts.Filter == nil {
		return nil
	}
	act := c.opts.Filter(c.self, to, kind)
	if act.Drop {
		return fmt.Errorf("%w: store %d: %v dropped by filter", ErrUnreachable, to, kind)
	}
	if act.Delay > 0 {
		t := time.NewTimer(act.Delay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// Forward sends req to store and returns its reply. Errors: ErrUnreachable
// (wrapped) when the store cannot be reached, *RemoteError when its
// Handler failed, ctx's error, ErrClosed.
func (c *Client) Forward(ctx context.Context, store uint64, req *ForwardRequest) (*ForwardResponse, error) {
	start := time.Now()
	resp, err := c.forward(ctx, store, req)
	label := "ok"
	var re *RemoteError
	switch {
	case err == nil:
	case errors.As(err, &re):
		label = "remote_error"
	case errors.Is(err, ErrUnreachable):
		label = "unreachable"
	default:
		label = "error"
	}
	c.metrics.forwards.WithLabelValues(label).Inc()
	c.metrics.forwardSeconds.Observe(time.Since(start).Seconds())
	return resp, err
}

func (c *Client) forward(ctx context.Context, store uint64, req *ForwardRequest) (*ForwardResponse, error) {
	if err := c.filter(ctx, store, KindForward); err != nil {
		return nil, notSent(err)
	}
	cc, err := c.conn(ctx, store)
	if err != nil {
		return nil, notSent(err)
	}
	var reply forwardReply
	// gRPC fills p only if the call got a stream on a connection: then
	// the request may have reached the store, even if the connection
	// broke before the reply (a crash mid-call). Without one it was never
	// sent (a failed dial, a connection in backoff).
	var p peer.Peer
	if err := cc.Invoke(ctx, methodForward, req, &reply, grpc.Peer(&p)); err != nil {
		err = c.callError(ctx, store, cc, err)
		if p.Addr == nil && errors.Is(err, ErrUnreachable) {
			err = notSent(err)
		}
		return nil, err
	}
	if reply.err != nil {
		return nil, reply.err.remoteError()
	}
	return &reply.resp, nil
}
