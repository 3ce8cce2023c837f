package rpc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"

	"github.com/skerrydb/skerry/regionraft"
)

var quietLog = slog.New(slog.DiscardHandler)

// testHandler records raft messages and runs configurable snapshot and
// forward functions.
type testHandler struct {
	mu      sync.Mutex
	stepped []regionraft.RaftMessage
	stepC   chan struct{} // signalled (non-blocking) after every Step
	stepErr error

	snapshot func(ctx context.Context, m regionraft.RaftMessage, data io.Reader) error
	forward  func(ctx context.Context, req *ForwardRequest) (*ForwardResponse, error)
}

func newTestHandler() *testHandler { return &testHandler{stepC: make(chan struct{}, 1)} }

func (h *testHandler) Step(m regionraft.RaftMessage) error {
	h.mu.Lock()
	h.stepped = append(h.stepped, m)
	err := h.stepErr
	h.mu.Unlock()
	select {
	case h.stepC <- struct{}{}:
	default:
	}
	return err
}

func (h *testHandler) ReceiveSnapshot(ctx context.Context, m regionraft.RaftMessage, data io.Reader) error {
	if h.snapshot == nil {
		_, err := io.Copy(io.Discard, data)
		return err
	}
	return h.snapshot(ctx, m, data)
}

func (h *testHandler) Forward(ctx context.Context, req *ForwardRequest) (*ForwardResponse, error) {
	if h.forward == nil {
		return nil, errors.New("no forward handler")
	}
	return h.forward(ctx, req)
}

func (h *testHandler) messages() []regionraft.RaftMessage {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]regionraft.RaftMessage(nil), h.stepped...)
}

// waitSteps waits until at least n messages were stepped.
func (h *testHandler) waitSteps(t *testing.T, n int) []regionraft.RaftMessage {
	t.Helper()
	deadline := time.NewTimer(10 * time.Second)
	defer deadline.Stop()
	for {
		if ms := h.messages(); len(ms) >= n {
			return ms
		}
		select {
		case <-h.stepC:
		case <-deadline.C:
			t.Fatalf("got %d raft messages, want %d", len(h.messages()), n)
		}
	}
}

// mapResolver resolves from a map; it counts lookups.
type mapResolver struct {
	mu      sync.Mutex
	addrs   map[uint64]string
	lookups int
}

func newResolver() *mapResolver { return &mapResolver{addrs: map[uint64]string{}} }

func (r *mapResolver) set(store uint64, addr string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.addrs[store] = addr
}

func (r *mapResolver) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.lookups
}

var errNoStore = errors.New("test: no such store")

func (r *mapResolver) StoreAddr(_ context.Context, store uint64) (string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.lookups++
	a, ok := r.addrs[store]
	if !ok {
		return "", fmt.Errorf("%w: %d", errNoStore, store)
	}
	return a, nil
}

// startServer serves h on a fresh 127.0.0.1 port (or addr, when given).
func startServer(t *testing.T, h Handler, opts ServerOptions, addr string) (*Server, string) {
	t.Helper()
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	var ln net.Listener
	var err error
	// The port of a stopped server is normally free at once; allow the
	// kernel a moment when it is not.
	for i := 0; i < 50; i++ {
		if ln, err = net.Listen("tcp", addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	if opts.Logger == nil {
		opts.Logger = quietLog
	}
	s, err := NewServer(h, opts)
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- s.Serve(ln) }()
	t.Cleanup(func() {
		s.Stop()
		if err := <-served; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return s, ln.Addr().String()
}

func newTestClient(t *testing.T, self uint64, r Resolver, opts ClientOptions) *Client {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = quietLog
	}
	c, err := NewClient(self, r, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// raftMsg builds a small raft message from store 1 to store `to`; index
// identifies it.
func raftMsg(to uint64, index uint64) regionraft.RaftMessage {
	return regionraft.RaftMessage{
		RegionID: 7,
		From:     regionraft.Peer{ID: 11, StoreID: 1},
		To:       regionraft.Peer{ID: 10 + to, StoreID: to},
		Epoch:    regionraft.Epoch{ConfVer: 2, Version: 3},
		Msg: &raftpb.Message{
			Type: raftpb.MessageType_MsgApp.Enum(), To: proto.Uint64(10 + to), From: proto.Uint64(11),
			Term: proto.Uint64(5), Index: proto.Uint64(index),
			Entries: []*raftpb.Entry{{Term: proto.Uint64(5), Index: proto.Uint64(index + 1), Data: []byte("payload")}},
		},
	}
}

// counterValue reads a counter (or one child of a vector).
func counterValue(t *testing.T, c prometheus.Collector) float64 {
	t.Helper()
	ch := make(chan prometheus.Metric, 16)
	c.Collect(ch)
	close(ch)
	var sum float64
	for m := range ch {
		var pb dto.Metric
		if err := m.Write(&pb); err != nil {
			t.Fatal(err)
		}
		sum += pb.GetCounter().GetValue()
	}
	return sum
}

// waitFor polls cond until it holds or 10 s pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func raftMsgSnap() raftpb.MessageType { return raftpb.MessageType_MsgSnap }
