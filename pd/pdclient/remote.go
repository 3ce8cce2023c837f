package pdclient

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// Retry bounds of Dial's Backend.
const (
	// DefaultRetryTimeout bounds how long one call keeps looking for the
	// PD leader (following redirects, waiting out an election) when its
	// ctx has a later or no deadline.
	DefaultRetryTimeout = 10 * time.Second
	minBackoff          = 10 * time.Millisecond
	maxBackoff          = 500 * time.Millisecond
)

// WithRetryTimeout bounds how long one call through Dial's Backend keeps
// looking for the PD leader (default DefaultRetryTimeout).
func WithRetryTimeout(d time.Duration) Option {
	return func(o *options) { o.retryTimeout = d }
}

// Dial connects to the PD members at endpoints ("http://host:port" or
// "host:port", each a member's client URL), finds the leader and returns a
// Client over them. Calls go to the leader; a member that is not the
// leader answers with its leader's URL, which is followed, and transport
// errors or elections are retried against the other members with bounded
// backoff (WithRetryTimeout). Close closes the connections.
func Dial(ctx context.Context, endpoints []string, opts ...Option) (*Client, error) {
	if len(endpoints) == 0 {
		return nil, fmt.Errorf("%w: no PD endpoints", ErrInvalidArgument)
	}
	o := defaultOptions()
	for _, opt := range opts {
		opt(&o)
	}
	r := &remote{retryTimeout: o.retryTimeout, conns: map[string]*grpc.ClientConn{}}
	for _, e := range endpoints {
		addr, err := hostPort(e)
		if err != nil {
			return nil, err
		}
		r.addrs = append(r.addrs, addr)
	}
	var resp ClusterIDResponse
	if err := r.call(ctx, MethodGetClusterID, &Empty{}, &resp); err != nil {
		r.Close()
		return nil, err
	}
	r.clusterID = resp.ClusterID
	c := New(r, opts...)
	c.closer = r.Close
	return c, nil
}

// hostPort turns a client URL or host:port into host:port.
func hostPort(endpoint string) (string, error) {
	s := strings.TrimPrefix(strings.TrimPrefix(endpoint, "http://"), "https://")
	s = strings.TrimSuffix(s, "/")
	if s == "" || strings.Contains(s, "/") || !strings.Contains(s, ":") {
		return "", fmt.Errorf("%w: PD endpoint %q is not [http://]host:port", ErrInvalidArgument, endpoint)
	}
	return s, nil
}

// remote is the Backend of Dial: the PD service over gRPC.
type remote struct {
	retryTimeout time.Duration
	addrs        []string // configured members
	clusterID    uint64

	mu     sync.Mutex
	leader string // host:port of the last known leader, "" if unknown
	next   int    // round-robin position in addrs when the leader is unknown
	conns  map[string]*grpc.ClientConn
	closed bool
}

// conn returns the (lazily created) connection to addr.
func (r *remote) conn(addr string) (*grpc.ClientConn, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil, ErrClosed
	}
	if c, ok := r.conns[addr]; ok {
		return c, nil
	}
	c, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return nil, fmt.Errorf("pdclient: connect %s: %w", addr, err)
	}
	r.conns[addr] = c
	return c, nil
}

// target returns where the next attempt goes, the known leader or else
// the next configured member, and the leader it saw ("" if unknown), to
// hand back to setLeader.
func (r *remote) target() (addr, seen string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.leader != "" {
		return r.leader, r.leader
	}
	a := r.addrs[r.next%len(r.addrs)]
	r.next++
	return a, ""
}

// setLeader records addr as the leader ("" forgets it) unless another
// attempt changed it meanwhile from what the caller saw when it chose its
// target (seen, as returned by target).
func (r *remote) setLeader(seen, addr string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.leader == seen {
		r.leader = addr
	}
}

// Close closes every connection. Idempotent.
func (r *remote) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.closed = true
	var errs []error
	for a, c := range r.conns {
		errs = append(errs, c.Close())
		delete(r.conns, a)
	}
	return errors.Join(errs...)
}

// call invokes method on the PD leader, following redirects and retrying
// elections and transport errors with bounded exponential backoff until
// the retry budget or ctx ends. Errors from the leader are returned at
// once.
//
// A redirect is always recorded, so the next attempt goes to the named
// leader even when it is not followed at once: with a single endpoint, a
// follower's redirect is the only way to learn where the leader is, and a
// leader still taking over (loading its state) answers "not leader,
// unknown" for a moment, after which it must be asked again.
func (r *remote) call(ctx context.Context, method string, req, body any) error {
	ctx, cancel := context.WithTimeout(ctx, r.retryTimeout)
	defer cancel()
	backoff := minBackoff
	hops := 0 // redirects followed at once since the last backoff
	var lastErr error
	for {
		addr, seen := r.target()
		err := r.callOnce(ctx, addr, method, req, body)
		if err == nil {
			r.setLeader(seen, addr)
			return nil
		}
		if errors.Is(err, ErrClosed) && !isRemote(err) {
			return err
		}
		var nl *NotLeaderError
		switch {
		case errors.As(err, &nl):
			lastErr = err
			leader := ""
			if nl.LeaderURL != "" {
				if l, perr := hostPort(nl.LeaderURL); perr == nil && l != addr {
					leader = l
				}
			}
			r.setLeader(seen, leader)
			// Follow a redirect at once, a bounded number of times (two
			// members naming each other during an election must not
			// spin); then back off, still going to the named leader.
			if leader != "" && hops < 2*len(r.addrs)+1 {
				hops++
				continue
			}
		case isRemote(err) && errors.Is(err, ErrClosed):
			lastErr = err
			r.setLeader(seen, "") // the member is shutting down: try the others
		case isRemote(err):
			return err // the leader answered: not a transport problem
		default:
			lastErr = err
			r.setLeader(seen, "") // unreachable: try the others
		}
		hops = 0
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("%w: %s: %w (last error: %w)", ErrUnavailable, method, ctx.Err(), lastErr)
		case <-t.C:
		}
		backoff = min(2*backoff, maxBackoff)
	}
}

// isRemote reports whether err was sent by a PD member (as opposed to a
// transport failure).
func isRemote(err error) bool {
	var re *remoteError
	var nl *NotLeaderError
	return errors.As(err, &re) || errors.As(err, &nl)
}

// callOnce makes one RPC to addr. An attempt is bounded so that a member
// that hangs does not eat the whole retry budget.
func (r *remote) callOnce(ctx context.Context, addr, method string, req, body any) error {
	c, err := r.conn(addr)
	if err != nil {
		return err
	}
	actx, cancel := context.WithTimeout(ctx, max(r.retryTimeout/4, time.Second))
	defer cancel()
	in, err := EncodeFrame(req)
	if err != nil {
		return err
	}
	var out Frame
	if err := c.Invoke(actx, "/"+ServiceName+"/"+method, in, &out); err != nil {
		return fmt.Errorf("pdclient: %s at %s: %w", method, addr, err)
	}
	reply := Reply[any]{Body: body}
	if err := out.Decode(&reply); err != nil {
		return err
	}
	return reply.Err.Err()
}

var _ Backend = (*remote)(nil)

func (r *remote) ClusterID() uint64 { return r.clusterID }

func (r *remote) GetTS(ctx context.Context, count uint32) (uint64, error) {
	var resp GetTSResponse
	err := r.call(ctx, MethodGetTS, &GetTSRequest{Count: count}, &resp)
	return resp.Last, err
}

func (r *remote) AllocID(ctx context.Context) (uint64, error) {
	var resp AllocIDResponse
	err := r.call(ctx, MethodAllocID, &Empty{}, &resp)
	return resp.ID, err
}

func (r *remote) Bootstrap(ctx context.Context, storeID uint64, region []byte) (bool, []byte, error) {
	var resp BootstrapResponse
	err := r.call(ctx, MethodBootstrap, &BootstrapRequest{StoreID: storeID, Region: region}, &resp)
	return resp.Bootstrapped, resp.Stored, err
}

func (r *remote) IsBootstrapped(ctx context.Context) (bool, error) {
	var resp IsBootstrappedResponse
	err := r.call(ctx, MethodIsBootstrapped, &Empty{}, &resp)
	return resp.Bootstrapped, err
}

func (r *remote) PutStore(ctx context.Context, store Store) error {
	return r.call(ctx, MethodPutStore, &PutStoreRequest{Store: store}, &Empty{})
}

func (r *remote) GetStore(ctx context.Context, id uint64) (Store, error) {
	var resp StoreResponse
	err := r.call(ctx, MethodGetStore, &StoreIDRequest{ID: id}, &resp)
	return resp.Store, err
}

func (r *remote) GetStores(ctx context.Context) ([]Store, error) {
	var resp StoresResponse
	err := r.call(ctx, MethodGetStores, &Empty{}, &resp)
	return resp.Stores, err
}

func (r *remote) SetStoreState(ctx context.Context, id uint64, state StoreState) error {
	return r.call(ctx, MethodSetStoreState, &SetStoreStateRequest{ID: id, State: state}, &Empty{})
}

func (r *remote) StoreHeartbeat(ctx context.Context, stats StoreStats) error {
	return r.call(ctx, MethodStoreHeartbeat, &stats, &Empty{})
}

func (r *remote) RegionHeartbeat(ctx context.Context, hb RegionHeartbeat) (*Operator, error) {
	var resp RegionHeartbeatResponse
	err := r.call(ctx, MethodRegionHeartbeat, &hb, &resp)
	return resp.Operator, err
}

func (r *remote) GetRegion(ctx context.Context, key []byte) (Region, Peer, error) {
	var resp RegionResponse
	err := r.call(ctx, MethodGetRegion, &GetRegionRequest{Key: key}, &resp)
	return resp.Info.Region, resp.Info.Leader, err
}

func (r *remote) GetRegionByID(ctx context.Context, id uint64) (Region, Peer, error) {
	var resp RegionResponse
	err := r.call(ctx, MethodGetRegionByID, &GetRegionByIDRequest{ID: id}, &resp)
	return resp.Info.Region, resp.Info.Leader, err
}

func (r *remote) ScanRegions(ctx context.Context, start, end []byte, limit int) ([]RegionInfo, error) {
	var resp ScanRegionsResponse
	err := r.call(ctx, MethodScanRegions, &ScanRegionsRequest{Start: start, End: end, Limit: limit}, &resp)
	return resp.Regions, err
}

func (r *remote) AskSplit(ctx context.Context, region Region) (uint64, []uint64, error) {
	var resp AskSplitResponse
	err := r.call(ctx, MethodAskSplit, &AskSplitRequest{Region: region}, &resp)
	return resp.NewRegionID, resp.NewPeerIDs, err
}

func (r *remote) ReportSplit(ctx context.Context, left, right Region) error {
	return r.call(ctx, MethodReportSplit, &ReportSplitRequest{Left: left, Right: right}, &Empty{})
}

func (r *remote) GCSafePoint(ctx context.Context) (uint64, error) {
	var resp GCSafePointResponse
	err := r.call(ctx, MethodGCSafePoint, &Empty{}, &resp)
	return resp.SafePoint, err
}

func (r *remote) AddOperator(ctx context.Context, regionID uint64, op Operator) error {
	return r.call(ctx, MethodAddOperator, &AddOperatorRequest{RegionID: regionID, Operator: op}, &Empty{})
}
