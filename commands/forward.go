package commands

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

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

// ErrCrossRegion is the Store's signal that a command's (or
// transaction's) keys live in different regions. The cluster's Store
// catches it itself and runs the body as a distributed transaction
// (cluster/dtxn.go), so clients do not see it; a Store without that path
// answers it, and a pipelined batch that meets it runs its commands one by
// one.
var ErrCrossRegion = &ReplyError{"ERR the keys of this command are in different regions"}

// ErrNotDelivered, wrapped by a Forwarder's error, says the command
// certainly did not run on the target (no connection, refused before it
// was sent), so it may be tried again. Any other error leaves the outcome
// unknown and is returned to the client, as a dropped connection to Redis
// would: retrying an INCR whose reply was lost could apply it twice.
var ErrNotDelivered = errors.New("commands: forwarded command not delivered")

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

// restoreState sets c's connection state to st.
func restoreState(c *resp.Client, st ForwardState) {
	c.DB, c.Proto, c.Multi, c.Queue, c.Watched = st.DB, st.Proto, st.Multi, st.Queue, st.Watched
}

// DefaultForwardTimeout is Env.ForwardTimeout's default: longer than a
// leader election (about 1-2 s).
const DefaultForwardTimeout = 5 * time.Second

// forwarding paces the attempts of one command to find where it runs.
type forwarding struct {
	timeout time.Duration
	start   time.Time
	delay   time.Duration
	seen    []uint64 // nodes forwarded to since the last backoff
}

// fresh reports whether node may be tried now (not yet in this round).
func (f *forwarding) fresh(node uint64) bool {
	if node == 0 || len(f.seen) >= 3 || slices.Contains(f.seen, node) {
		return false
	}
	f.seen = append(f.seen, node)
	return true
}

// backoff waits before the next attempt (10 ms doubling to 200 ms), or
// returns ErrClusterDown once the deadline has passed.
func (f *forwarding) backoff(ctx context.Context) error {
	now := time.Now()
	if f.start.IsZero() {
		f.start = now
	}
	if now.Sub(f.start) > f.timeout {
		return ErrClusterDown
	}
	f.delay = min(max(2*f.delay, 10*time.Millisecond), 200*time.Millisecond)
	f.seen = f.seen[:0]
	t := time.NewTimer(f.delay)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
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
