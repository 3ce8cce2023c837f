package pdclient

import (
	"context"
	"sync"
	"time"
)

// Default option values.
const (
	// DefaultMaxBatch is the default largest number of GetTS callers served
	// by one Backend.GetTS call.
	DefaultMaxBatch = 10000
	// DefaultBackendTimeout is the default limit on one Backend call made
	// by the dispatcher on behalf of a batch (a direct call runs under its
	// caller's ctx instead).
	DefaultBackendTimeout = 3 * time.Second
)

// Option configures a Client.
type Option func(*options)

type options struct {
	maxBatch       int
	backendTimeout time.Duration
	retryTimeout   time.Duration // Dial only
}

func defaultOptions() options {
	return options{maxBatch: DefaultMaxBatch, backendTimeout: DefaultBackendTimeout, retryTimeout: DefaultRetryTimeout}
}

// WithMaxBatch caps the number of GetTS callers coalesced into one
// Backend.GetTS call (default DefaultMaxBatch; clamped to [1, MaxLogical-1]).
func WithMaxBatch(n int) Option {
	return func(o *options) { o.maxBatch = n }
}

// WithBackendTimeout limits each Backend.GetTS call made by the dispatcher
// (default DefaultBackendTimeout); 0 means no limit other than Close.
func WithBackendTimeout(d time.Duration) Option {
	return func(o *options) { o.backendTimeout = d }
}

// tsResult is one answer to a queued GetTS.
type tsResult struct {
	ts  uint64
	err error
}

// tsRequest is one queued GetTS caller. done has capacity 1 so whoever
// answers never blocks on a caller that stopped waiting.
type tsRequest struct {
	done chan tsResult
}

var tsRequestPool = sync.Pool{
	New: func() any { return &tsRequest{done: make(chan tsResult, 1)} },
}

// Client is the PD client used by a node. It is safe for concurrent use.
type Client struct {
	b      Backend
	opts   options
	closer func() error // set by Dial: closes its connections

	ctx    context.Context // cancelled by Close: ends the dispatcher's Backend calls
	cancel context.CancelFunc

	mu       sync.Mutex
	inflight bool         // a Backend.GetTS call is running; its owner serves queue next
	queue    []*tsRequest // callers waiting for the next batch, in arrival order
	spare    []*tsRequest // the previous batch's slice, reused
	closed   bool

	wake      chan struct{} // capacity 1: hands the in-flight role to the dispatcher
	stopped   chan struct{} // closed when the dispatcher has exited
	closeOnce sync.Once
}

// New returns a Client over b and starts its timestamp dispatcher; call
// Close to stop it. Closing the Client does not close b.
func New(b Backend, opts ...Option) *Client {
	o := defaultOptions()
	for _, opt := range opts {
		opt(&o)
	}
	o.maxBatch = min(max(o.maxBatch, 1), MaxLogical-1)
	ctx, cancel := context.WithCancel(context.Background())
	c := &Client{
		b:       b,
		opts:    o,
		ctx:     ctx,
		cancel:  cancel,
		wake:    make(chan struct{}, 1),
		stopped: make(chan struct{}),
	}
	go c.dispatch()
	return c
}

// Close stops the dispatcher, failing queued GetTS calls with ErrClosed,
// and waits for it to exit. A caller already inside its own direct
// Backend call (see GetTS) finishes that call under its own ctx. Close is
// idempotent.
func (c *Client) Close() {
	c.closeOnce.Do(func() {
		c.mu.Lock()
		c.closed = true
		queued := c.queue
		c.queue = nil
		close(c.wake)
		c.mu.Unlock()
		for _, r := range queued {
			r.done <- tsResult{err: ErrClosed}
		}
		c.cancel()
	})
	<-c.stopped
	if c.closer != nil {
		c.closer() // idempotent; nothing useful to do with its error
	}
}

// GetTS returns a fresh timestamp, strictly greater than every timestamp
// this Client returned before to the same goroutine and distinct from all
// others it returned.
//
// At most one Backend.GetTS call of this Client runs at a time. A caller
// that finds none running makes its own (count 1, no goroutine switch: the
// cheap uncontended path); callers that arrive meanwhile queue, and the
// dispatcher goroutine serves the whole queue with one Backend.GetTS call
// per batch of up to MaxBatch callers, until the queue is empty.
func (c *Client) GetTS(ctx context.Context) (uint64, error) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return 0, ErrClosed
	}
	if !c.inflight {
		c.inflight = true
		c.mu.Unlock()
		return c.getTSDirect(ctx)
	}
	r := tsRequestPool.Get().(*tsRequest)
	c.queue = append(c.queue, r)
	c.mu.Unlock()
	select {
	case res := <-r.done:
		tsRequestPool.Put(r)
		return res.ts, res.err
	case <-ctx.Done():
		// Whoever serves the queue still owns r: do not recycle it.
		return 0, ctx.Err()
	}
}

// getTSDirect runs the caller's own Backend call, then passes the in-flight
// role to the dispatcher if others queued meanwhile.
func (c *Client) getTSDirect(ctx context.Context) (uint64, error) {
	ts, err := c.b.GetTS(ctx, 1)
	c.mu.Lock()
	if len(c.queue) == 0 || c.closed {
		c.inflight = false
		c.mu.Unlock()
	} else {
		// Never blocks: only the in-flight owner sends, and the dispatcher
		// took the previous token before it gave the role up. Sent under mu
		// so Close cannot close wake in between.
		c.wake <- struct{}{}
		c.mu.Unlock()
	}
	return ts, err
}

// dispatch is the single goroutine that serves queued GetTS callers. It
// sleeps until a direct caller hands it the in-flight role, then serves
// batches until the queue is empty and gives the role up.
func (c *Client) dispatch() {
	defer close(c.stopped)
	for range c.wake {
		for {
			c.mu.Lock()
			if len(c.queue) == 0 || c.closed {
				c.inflight = false
				c.mu.Unlock()
				break
			}
			batch := c.queue
			if len(batch) > c.opts.maxBatch {
				batch = batch[:c.opts.maxBatch:c.opts.maxBatch]
				c.queue = append(c.spare[:0], c.queue[c.opts.maxBatch:]...)
			} else {
				c.queue = c.spare[:0]
			}
			c.mu.Unlock()
			c.serve(batch)
			clear(batch)
			c.spare = batch[:0] // only the dispatcher touches spare
		}
	}
}

// serve asks the Backend for len(batch) timestamps and hands them out in
// queue order.
func (c *Client) serve(batch []*tsRequest) {
	ctx := c.ctx
	if c.opts.backendTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.opts.backendTimeout)
		defer cancel()
	}
	n := uint32(len(batch))
	last, err := c.b.GetTS(ctx, n)
	if err != nil {
		if c.ctx.Err() != nil {
			err = ErrClosed
		}
		for _, r := range batch {
			r.done <- tsResult{err: err}
		}
		return
	}
	first := last - uint64(n) + 1
	for i, r := range batch {
		r.done <- tsResult{ts: first + uint64(i)}
	}
}

// isClosed reports whether Close has been called.
func (c *Client) isClosed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closed
}

// AllocID returns a cluster-unique, never reused, non-zero ID.
func (c *Client) AllocID(ctx context.Context) (uint64, error) {
	if c.isClosed() {
		return 0, ErrClosed
	}
	return c.b.AllocID(ctx)
}

// Bootstrap records the cluster's first store and region unless the cluster
// is already bootstrapped; see Backend.Bootstrap.
func (c *Client) Bootstrap(ctx context.Context, storeID uint64, region []byte) (bootstrapped bool, stored []byte, err error) {
	if c.isClosed() {
		return false, nil, ErrClosed
	}
	return c.b.Bootstrap(ctx, storeID, region)
}

// IsBootstrapped reports whether the cluster has been bootstrapped.
func (c *Client) IsBootstrapped(ctx context.Context) (bool, error) {
	if c.isClosed() {
		return false, ErrClosed
	}
	return c.b.IsBootstrapped(ctx)
}

// PutStore records a store's addresses; see Backend.PutStore.
func (c *Client) PutStore(ctx context.Context, store Store) error {
	if c.isClosed() {
		return ErrClosed
	}
	return c.b.PutStore(ctx, store)
}

// GetStore returns store id, or ErrStoreNotFound.
func (c *Client) GetStore(ctx context.Context, id uint64) (Store, error) {
	if c.isClosed() {
		return Store{}, ErrClosed
	}
	return c.b.GetStore(ctx, id)
}

// GetStores returns every store.
func (c *Client) GetStores(ctx context.Context) ([]Store, error) {
	if c.isClosed() {
		return nil, ErrClosed
	}
	return c.b.GetStores(ctx)
}

// SetStoreState changes a store's state; see Backend.SetStoreState.
func (c *Client) SetStoreState(ctx context.Context, id uint64, state StoreState) error {
	if c.isClosed() {
		return ErrClosed
	}
	return c.b.SetStoreState(ctx, id, state)
}

// StoreHeartbeat reports a store's statistics.
func (c *Client) StoreHeartbeat(ctx context.Context, stats StoreStats) error {
	if c.isClosed() {
		return ErrClosed
	}
	return c.b.StoreHeartbeat(ctx, stats)
}

// RegionHeartbeat reports a region and returns the step to take now, or
// nil; see Backend.RegionHeartbeat.
func (c *Client) RegionHeartbeat(ctx context.Context, hb RegionHeartbeat) (*Operator, error) {
	if c.isClosed() {
		return nil, ErrClosed
	}
	return c.b.RegionHeartbeat(ctx, hb)
}

// GetRegion returns the region holding key and its leader.
func (c *Client) GetRegion(ctx context.Context, key []byte) (Region, Peer, error) {
	if c.isClosed() {
		return Region{}, Peer{}, ErrClosed
	}
	return c.b.GetRegion(ctx, key)
}

// GetRegionByID returns region id and its leader.
func (c *Client) GetRegionByID(ctx context.Context, id uint64) (Region, Peer, error) {
	if c.isClosed() {
		return Region{}, Peer{}, ErrClosed
	}
	return c.b.GetRegionByID(ctx, id)
}

// ScanRegions returns regions in key order; see Backend.ScanRegions.
func (c *Client) ScanRegions(ctx context.Context, start, end []byte, limit int) ([]RegionInfo, error) {
	if c.isClosed() {
		return nil, ErrClosed
	}
	return c.b.ScanRegions(ctx, start, end, limit)
}

// AskSplit allocates the IDs for splitting region.
func (c *Client) AskSplit(ctx context.Context, region Region) (uint64, []uint64, error) {
	if c.isClosed() {
		return 0, nil, ErrClosed
	}
	return c.b.AskSplit(ctx, region)
}

// ReportSplit reports a finished split.
func (c *Client) ReportSplit(ctx context.Context, left, right Region) error {
	if c.isClosed() {
		return ErrClosed
	}
	return c.b.ReportSplit(ctx, left, right)
}

// AddOperator schedules an administrative step for a region.
func (c *Client) AddOperator(ctx context.Context, regionID uint64, op Operator) error {
	if c.isClosed() {
		return ErrClosed
	}
	return c.b.AddOperator(ctx, regionID, op)
}

// GCSafePoint returns the GC safe point; see Backend.GCSafePoint.
func (c *Client) GCSafePoint(ctx context.Context) (uint64, error) {
	if c.isClosed() {
		return 0, ErrClosed
	}
	return c.b.GCSafePoint(ctx)
}

// ClusterID returns the cluster's ID.
func (c *Client) ClusterID() uint64 {
	return c.b.ClusterID()
}
