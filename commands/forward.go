package commands

import (
	"context"
	"errors"
	"fmt"

	"github.com/skerrydb/skerry/resp"
)

// NotLocalError is returned by a Store when the keys of a call are served
// by another node (the leader of their region lives there). The Store
// returns it before anything was committed, so the dispatcher may run the
// whole command again on that node (DESIGN.md §3 step 6): see
// Env.Forward. Node is the target's opaque id (its store id); 0 means the
// serving node is not known yet (an election is under way).
type NotLocalError struct {
	Node uint64
	// Cause says why, for logs and for the error reply when forwarding is
	// impossible.
	Cause error
}

// Error implements error.
func (e *NotLocalError) Error() string {
	if e.Node == 0 {
		return fmt.Sprintf("commands: keys served by an unknown node: %v", e.Cause)
	}
	return fmt.Sprintf("commands: keys served by node %d: %v", e.Node, e.Cause)
}

// Unwrap returns the cause.
func (e *NotLocalError) Unwrap() error { return e.Cause }

// ErrClusterDown answers a command whose keys' node could not be reached
// (no leader, node down) within the forwarding deadline. Redis Cluster
// clients retry on it.
var ErrClusterDown = &ReplyError{"CLUSTERDOWN The cluster is down"}

// ForwardState is the part of a connection's state that a command needs
// to run on another node, and that the command may change there.
type ForwardState struct {
	DB      int
	Proto   int
	User    string
	Multi   bool
	Queue   [][][]byte
	Watched []resp.WatchedKey
}

// forwardStateOf captures c's state.
func forwardStateOf(c *resp.Client) ForwardState {
	return ForwardState{DB: c.DB, Proto: c.Proto, User: c.User, Multi: c.Multi, Queue: c.Queue, Watched: c.Watched}
}

// Forwarder runs a command on another node. Implemented by package cluster
// over the internal RPC: it retries while the target changes (leader
// election) up to a deadline and returns ErrClusterDown (or wraps it)
// when it gives up.
type Forwarder interface {
	// Forward runs args on node with connection state st and returns the
	// raw RESP reply to write to the client and the state afterwards.
	Forward(ctx context.Context, node uint64, st ForwardState, args [][]byte) (reply []byte, after ForwardState, err error)
}

// notLocal reports whether err asks for forwarding and the dispatcher can
// forward for client c (a forwarded command never forwards again: the
// origin retries with the new target instead).
func (d *Dispatcher) notLocal(c *resp.Client, err error) (*NotLocalError, bool) {
	var nl *NotLocalError
	if d.env.Forward == nil || c.Forwarded || !errors.As(err, &nl) {
		return nil, false
	}
	return nl, true
}

// forward runs args on the node that serves its keys and writes the reply.
// st is the state the command must start from (for EXEC: the transaction
// as queued); the connection takes the state the remote run ended with.
func (d *Dispatcher) forward(c *resp.Client, nl *NotLocalError, st ForwardState, args [][]byte, w *resp.Writer) error {
	reply, after, err := d.env.Forward.Forward(d.ctx, nl.Node, st, args)
	if err != nil {
		d.replyError(w, ReplyText(err))
		return err
	}
	w.Raw(reply)
	c.DB, c.Proto, c.Watched, c.Multi, c.Queue = after.DB, after.Proto, after.Watched, after.Multi, after.Queue
	w.SetProto(c.Proto)
	return nil
}

// ServeForwarded runs a command forwarded by another node with the given
// connection state and returns its raw reply and the state afterwards. The
// command runs as if the connection had sent it here, authenticated as
// st.User (the sending node has checked authentication). If its keys are
// not served here either, err is the *NotLocalError and nothing ran.
func (d *Dispatcher) ServeForwarded(st ForwardState, args [][]byte) (reply []byte, after ForwardState, err error) {
	if len(args) == 0 {
		return nil, st, fmt.Errorf("commands: empty forwarded command")
	}
	c := &resp.Client{DB: st.DB, Proto: st.Proto, User: st.User, Authenticated: true,
		Multi: st.Multi, Queue: st.Queue, Watched: st.Watched, Forwarded: true}
	if c.Proto == 0 {
		c.Proto = 2
	}
	w := resp.NewWriter(c.Proto)
	cmd, reject := d.prepare(c, args)
	if reject != "" {
		w.Error(reject)
		return w.Bytes(), forwardStateOf(c), nil
	}
	err = d.run(cmd, c, args, w)
	var nl *NotLocalError
	if errors.As(err, &nl) {
		return nil, st, nl
	}
	return w.Bytes(), forwardStateOf(c), nil
}
