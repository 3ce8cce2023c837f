package commands

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/skerrydb/skerry/commands/keyspace"
	"github.com/skerrydb/skerry/resp"
)

// followerStore answers like a node that does not lead the keys' region:
// every call fails with NotLocalError naming node, before running fn.
// While local is set it serves from its own keyspace instead.
type followerStore struct {
	memStore
	node  uint64
	local atomic.Bool
	calls atomic.Int64
	// localAfter > 0: the store becomes local from that call on (it won
	// an election).
	localAfter int64
}

func (f *followerStore) err() error {
	n := f.calls.Add(1)
	if f.local.Load() || (f.localAfter > 0 && n >= f.localAfter) {
		return nil
	}
	return &NotLocalError{Node: f.node, Cause: errors.New("not leader")}
}

func (f *followerStore) Update(ctx context.Context, db int, ks [][]byte, fn func(keyspace.Txn) error) error {
	if err := f.err(); err != nil {
		return err
	}
	return f.memStore.Update(ctx, db, ks, fn)
}

func (f *followerStore) View(ctx context.Context, db int, ks [][]byte, fn func(keyspace.Txn) error) error {
	if err := f.err(); err != nil {
		return err
	}
	return f.memStore.View(ctx, db, ks, fn)
}

func (f *followerStore) UpdateBatch(ctx context.Context, db int, ks [][]byte, fns []func(keyspace.Txn) error) ([]error, error) {
	if err := f.err(); err != nil {
		return nil, err
	}
	return f.memStore.UpdateBatch(ctx, db, ks, fns)
}

// nodesForwarder delivers forwarded commands to in-process dispatchers.
type nodesForwarder struct {
	nodes map[uint64]*Dispatcher
	sent  []uint64
	lost  bool // every reply is lost after the command was sent
}

func (n *nodesForwarder) Forward(_ context.Context, node uint64, st ForwardState, args [][]byte) ([]byte, ForwardState, error) {
	n.sent = append(n.sent, node)
	if n.lost {
		return nil, st, errors.New("reply lost")
	}
	d := n.nodes[node]
	if d == nil {
		return nil, st, fmt.Errorf("node %d: %w", node, ErrNotDelivered)
	}
	return d.ServeForwarded(st, args)
}

// forwardPair is an origin node (a follower) forwarding to a leader
// harness (node 2).
func forwardPair(t *testing.T) (origin *harness, leader *harness, fs *followerStore, fw *nodesForwarder) {
	leader = newHarness(t)
	origin = newHarness(t)
	fs = &followerStore{memStore: memStore{origin.store}, node: 2}
	fw = &nodesForwarder{nodes: map[uint64]*Dispatcher{2: leader.d}}
	origin.d.env.Store = joinStore{fs}
	origin.d.env.Forward = fw
	return origin, leader, fs, fw
}

func TestForwardedCommandsRunOnTheLeader(t *testing.T) {
	o, l, _, fw := forwardPair(t)
	o.expect("+OK\r\n", "SET", "k", "v")
	l.expect("$1\r\nv\r\n", "GET", "k") // it landed on the leader
	o.expect("$1\r\nv\r\n", "GET", "k")
	o.expect("-WRONGTYPE Operation against a key holding the wrong kind of value\r\n", "LPUSH", "k", "x")
	// Connection state travels: the selected database and the protocol.
	o.expect("+OK\r\n", "SELECT", "3")
	o.expect("+OK\r\n", "SET", "k", "three")
	l.expect("$1\r\nv\r\n", "GET", "k")
	l.expect("+OK\r\n", "SELECT", "3")
	l.expect("$5\r\nthree\r\n", "GET", "k")
	o.expect(":1\r\n", "HSET", "h", "f", "x")
	o.c.Proto = 3
	o.expect("%1\r\n$1\r\nf\r\n$1\r\nx\r\n", "HGETALL", "h")
	if len(fw.sent) == 0 || fw.sent[0] != 2 {
		t.Fatalf("forwarded to %v", fw.sent)
	}
}

func TestForwardedTransactionAndWatch(t *testing.T) {
	o, l, _, _ := forwardPair(t)
	o.expect("+OK\r\n", "MULTI")
	o.expect("+QUEUED\r\n", "SET", "a", "1")
	o.expect("+QUEUED\r\n", "INCR", "a")
	o.expect("+QUEUED\r\n", "SELECT", "5")
	o.expect("*3\r\n+OK\r\n:2\r\n+OK\r\n", "EXEC")
	if o.c.Multi || o.c.Queue != nil || o.c.DB != 5 {
		t.Fatalf("after a forwarded EXEC: multi %v queue %d db %d", o.c.Multi, len(o.c.Queue), o.c.DB)
	}
	l.expect("$1\r\n2\r\n", "GET", "a")

	// WATCH is recorded through the leader; a change there aborts EXEC.
	o.expect("+OK\r\n", "SELECT", "0")
	o.expect("+OK\r\n", "WATCH", "a")
	if len(o.c.Watched) != 1 || string(o.c.Watched[0].Key) != "a" {
		t.Fatalf("watched %+v", o.c.Watched)
	}
	l.expect("+OK\r\n", "SET", "a", "changed")
	o.expect("+OK\r\n", "MULTI")
	o.expect("+QUEUED\r\n", "SET", "a", "mine")
	o.expect("*-1\r\n", "EXEC")
	l.expect("$7\r\nchanged\r\n", "GET", "a")
	if o.c.Watched != nil {
		t.Fatalf("EXEC must clear the watch set, got %+v", o.c.Watched)
	}
	// Without interference the watched transaction commits.
	o.expect("+OK\r\n", "WATCH", "a")
	o.expect("+OK\r\n", "MULTI")
	o.expect("+QUEUED\r\n", "SET", "a", "mine")
	o.expect("*1\r\n+OK\r\n", "EXEC")
	l.expect("$4\r\nmine\r\n", "GET", "a")
}

func TestForwardedPipelineRunsEachCommand(t *testing.T) {
	o, l, _, fw := forwardPair(t)
	cmds := [][][]byte{{[]byte("SET"), []byte("p"), []byte("1")}, {[]byte("INCR"), []byte("p")}, {[]byte("GET"), []byte("p")}}
	w := resp.NewWriter(2)
	if n := o.d.ServeRESPBatch(o.c, cmds, w); n != 3 {
		t.Fatalf("served %d", n)
	}
	if got := string(w.Bytes()); got != "+OK\r\n:2\r\n$1\r\n2\r\n" {
		t.Fatalf("pipeline replies %q", got)
	}
	l.expect("$1\r\n2\r\n", "GET", "p")
	if len(fw.sent) != 3 {
		t.Fatalf("forwards %v", fw.sent)
	}
}

func TestForwardingFollowsTheLeaderAndRetriesLocally(t *testing.T) {
	o, l, fs, fw := forwardPair(t)
	// Node 2 has lost leadership to node 3.
	third := newHarness(t)
	l.d.env.Store = joinStore{&followerStore{memStore: memStore{l.store}, node: 3}}
	fw.nodes[3] = third.d
	o.expect("+OK\r\n", "SET", "k", "v")
	third.expect("$1\r\nv\r\n", "GET", "k")
	if len(fw.sent) != 2 || fw.sent[0] != 2 || fw.sent[1] != 3 {
		t.Fatalf("forwarded to %v, want [2 3]", fw.sent)
	}
	// Leader unknown everywhere, then this node wins the election: the
	// command runs here after backing off twice.
	fs.node = 0
	fs.localAfter = fs.calls.Load() + 3
	fw.sent = nil
	o.expect("+OK\r\n", "SET", "k", "here")
	if len(fw.sent) != 0 {
		t.Fatalf("nothing to forward to, yet forwarded to %v", fw.sent)
	}
	fs.local.Store(true)
	o.expect("$4\r\nhere\r\n", "GET", "k")
}

func TestForwardingGivesUpWithClusterDown(t *testing.T) {
	o, _, fs, fw := forwardPair(t)
	o.d.env.ForwardTimeout = 30 * time.Millisecond
	fs.node = 0 // no leader anywhere
	o.expect("-CLUSTERDOWN The cluster is down\r\n", "SET", "k", "v")
	fs.node = 9 // a leader that cannot be reached
	o.expect("-CLUSTERDOWN The cluster is down\r\n", "GET", "k")
	if len(fw.sent) == 0 || fw.sent[0] != 9 {
		t.Fatalf("forwarded to %v", fw.sent)
	}
	if fs.calls.Load() < 4 {
		t.Fatalf("retried only %d times", fs.calls.Load())
	}
}

func TestForwardingWithUnknownOutcomeIsNotRetried(t *testing.T) {
	o, _, _, fw := forwardPair(t)
	fw.nodes[2] = nil
	fw.lost = true
	o.expect("-ERR reply lost\r\n", "INCR", "k")
	if len(fw.sent) != 1 {
		t.Fatalf("an INCR whose outcome is unknown was sent %d times", len(fw.sent))
	}
}

// crossRegionStore refuses calls over more than one key, like a node whose
// keys are in different regions.
type crossRegionStore struct{ memStore }

func (s crossRegionStore) UpdateBatch(ctx context.Context, db int, ks [][]byte, fns []func(keyspace.Txn) error) ([]error, error) {
	if len(ks) > 1 {
		return nil, ErrCrossRegion
	}
	return s.memStore.UpdateBatch(ctx, db, ks, fns)
}

func TestPipelineAcrossRegionsRunsCommandByCommand(t *testing.T) {
	h := newHarness(t)
	h.d.env.Store = joinStore{crossRegionStore{memStore{h.store}}}
	cmds := [][][]byte{{[]byte("SET"), []byte("a"), []byte("1")}, {[]byte("SET"), []byte("b"), []byte("2")}, {[]byte("MGET"), []byte("a"), []byte("b")}}
	w := resp.NewWriter(2)
	h.d.ServeRESPBatch(h.c, cmds, w)
	if got := string(w.Bytes()); got != "+OK\r\n+OK\r\n*2\r\n$1\r\n1\r\n$1\r\n2\r\n" {
		t.Fatalf("replies %q", got)
	}
}
