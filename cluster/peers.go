package cluster

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/skerrydb/skerry/cluster/rpc"
	"github.com/skerrydb/skerry/commands"
	"github.com/skerrydb/skerry/pd/pdclient"
	"github.com/skerrydb/skerry/regionraft"
)

// forwardTimeout bounds one forwarded command on the wire.
const forwardTimeout = 10 * time.Second

// errNotReady answers internal RPCs that arrive while the node starts.
var errNotReady = errors.New("cluster: node is starting")

// storeResolver finds a store's internal RPC address in PD.
type storeResolver struct{ pdc *pdclient.Client }

// StoreAddr implements rpc.Resolver.
func (r storeResolver) StoreAddr(ctx context.Context, storeID uint64) (string, error) {
	st, err := r.pdc.GetStore(ctx, storeID)
	if err != nil {
		return "", err
	}
	if st.PeerAddr == "" {
		return "", fmt.Errorf("cluster: store %d has no peer address", storeID)
	}
	return st.PeerAddr, nil
}

// forwarder sends commands to the node that serves their keys
// (commands.Forwarder over the internal RPC; decision 0004).
type forwarder struct {
	rpc    *rpc.Client
	routes *routeCache // entries naming a node that refused are dropped
}

// Forward implements commands.Forwarder.
func (f forwarder) Forward(ctx context.Context, node uint64, st commands.ForwardState, args [][]byte) ([]byte, commands.ForwardState, error) {
	ctx, cancel := context.WithTimeout(ctx, forwardTimeout)
	defer cancel()
	req := &rpc.ForwardRequest{DB: st.DB, Proto: st.Proto, User: st.User, Args: args, Hops: 1,
		State: encodeForwardState(st)}
	res, err := f.rpc.Forward(ctx, node, req)
	if err != nil {
		var re *rpc.RemoteError
		if errors.Is(err, rpc.ErrNotSent) || (errors.As(err, &re) && re.Code == codeNotReady) {
			f.routes.dropLeader(node)
			return nil, st, fmt.Errorf("%w: %v", commands.ErrNotDelivered, err)
		}
		if errors.Is(err, rpc.ErrUnreachable) {
			// The connection broke after the command was sent: it may
			// have run there (a crash mid-call). Not tried again: an INCR
			// would count twice. The client sees an error, as it would
			// if its own connection to Redis had dropped.
			f.routes.dropLeader(node)
			return nil, st, fmt.Errorf("cluster: connection to node %d lost after the command was sent (it may have run): %w", node, err)
		}
		return nil, st, err
	}
	after, notLocal, err := decodeForwardState(res.State)
	if err != nil {
		return nil, st, err
	}
	if notLocal != nil {
		f.routes.dropLeader(node)
		return nil, st, notLocal
	}
	// The server state lives on the connection; the user cannot change.
	after.User = st.User
	return res.Reply, after, nil
}

// RPC error codes of this node's handler (rpc.Coder). FROZEN.
const (
	codeNotReady uint32 = 1
)

type codedError struct {
	code uint32
	err  error
}

func (e codedError) Error() string   { return e.err.Error() }
func (e codedError) Unwrap() error   { return e.err }
func (e codedError) RPCCode() uint32 { return e.code }

// rpcHandler serves the internal RPC of a node.
type rpcHandler struct{ n *Node }

// Step implements rpc.Handler.
func (h rpcHandler) Step(m regionraft.RaftMessage) error { return h.n.raft.Step(m) }

// ReceiveSnapshot implements rpc.Handler.
func (h rpcHandler) ReceiveSnapshot(ctx context.Context, m regionraft.RaftMessage, data io.Reader) error {
	return h.n.raft.ReceiveSnapshot(ctx, m, data)
}

// Forward implements rpc.Handler: it runs a command another node received.
// A forwarded command is never forwarded again (the dispatcher knows it
// runs for another node); if the keys are not served here either, the
// reply names the node that serves them and the origin goes there.
func (h rpcHandler) Forward(ctx context.Context, req *rpc.ForwardRequest) (*rpc.ForwardResponse, error) {
	disp := h.n.disp.Load()
	if disp == nil {
		return nil, codedError{codeNotReady, errNotReady}
	}
	st, _, err := decodeForwardState(req.State)
	if err != nil {
		return nil, err
	}
	args := make([][]byte, len(req.Args)) // req aliases the RPC's buffer
	for i, a := range req.Args {
		args[i] = append([]byte(nil), a...)
	}
	st.DB, st.Proto, st.User = req.DB, req.Proto, req.User
	reply, after, err := disp.ServeForwarded(st, args)
	var nl *commands.NotLocalError
	if errors.As(err, &nl) {
		return &rpc.ForwardResponse{State: encodeNotLocal(nl.Node)}, nil
	}
	if err != nil {
		return nil, err
	}
	return &rpc.ForwardResponse{Reply: reply, State: encodeForwardState(after)}, nil
}

// TxnKV implements rpc.TxnKVHandler: one transactional action of a
// distributed transaction coordinated by another node (txnkv.go).
func (h rpcHandler) TxnKV(ctx context.Context, req *rpc.TxnKVRequest) (*rpc.TxnKVResponse, error) {
	if h.n.disp.Load() == nil { // the executor is set before the dispatcher
		return nil, codedError{codeNotReady, errNotReady}
	}
	return h.n.exec.serveTxnKV(ctx, req)
}

// routeViaPD finds the node that leads the region of keys this node has no
// single region for, from the route cache or else PD's region map. Keys
// that PD places in different regions get ErrCrossRegion.
func (n *Node) routeViaPD(lks [][]byte) (uint64, error) {
	if len(lks) == 0 {
		return 0, nil
	}
	e, ok := n.routes.lookup(lks[0])
	if !ok {
		ctx, cancel := context.WithTimeout(n.ctx, 2*time.Second)
		defer cancel()
		r, leader, err := n.pdc.GetRegion(ctx, lks[0])
		if err != nil {
			return 0, nil // unknown yet: retried after a backoff
		}
		n.routes.insert(r, leader.StoreID)
		e = routeEntry{region: r, leader: leader.StoreID}
	}
	for _, k := range lks[1:] {
		if !e.region.Contains(k) {
			return 0, ErrCrossRegion
		}
	}
	return e.leader, nil
}

// leaderViaPD returns the store PD names as the leader of region, or 0 when
// PD knows none, cannot be asked, or names this store (whose own peer just
// said it is not the leader: PD's map is older).
func (n *Node) leaderViaPD(region uint64) uint64 {
	ctx, cancel := context.WithTimeout(n.ctx, time.Second)
	defer cancel()
	_, leader, err := n.pdc.GetRegionByID(ctx, region)
	if err != nil || leader.StoreID == n.storeID {
		return 0
	}
	return leader.StoreID
}
