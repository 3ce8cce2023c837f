package rpc

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/skerrydb/skerry/internal/leakcheck"
	"github.com/skerrydb/skerry/regionraft"
)

func TestRaftDeliveredInOrderAndBatched(t *testing.T) {
	h2, h3 := newTestHandler(), newTestHandler()
	_, a2 := startServer(t, h2, ServerOptions{}, "")
	_, a3 := startServer(t, h3, ServerOptions{}, "")
	r := newResolver()
	r.set(2, a2)
	r.set(3, a3)
	c := newTestClient(t, 1, r, ClientOptions{})

	const rounds, per = 40, 50
	var idx uint64
	for range rounds {
		msgs := make([]regionraft.RaftMessage, 0, 2*per)
		for range per {
			idx++
			msgs = append(msgs, raftMsg(2, idx), raftMsg(3, idx))
		}
		c.Send(msgs)
		clear(msgs) // Send must not retain the slice
	}
	for _, h := range []*testHandler{h2, h3} {
		got := h.waitSteps(t, rounds*per)
		if len(got) != rounds*per {
			t.Fatalf("got %d messages, want %d", len(got), rounds*per)
		}
		for i, m := range got {
			if m.Msg.GetIndex() != uint64(i+1) {
				t.Fatalf("message %d has index %d: out of order", i, m.Msg.GetIndex())
			}
		}
	}
	sent := counterValue(t, c.metrics.raftSent)
	batches := counterValue(t, c.metrics.raftBatches)
	if sent != 2*rounds*per {
		t.Fatalf("sent metric %v, want %d", sent, 2*rounds*per)
	}
	// 4000 messages queued in 40 bursts: one stream message per burst at
	// most, usually far fewer.
	if batches > 2*rounds || batches < 2 {
		t.Fatalf("%v batches for %v messages: no batching", batches, sent)
	}
	if b := counterValue(t, c.metrics.raftBytes); b < sent*10 {
		t.Fatalf("bytes metric %v too small", b)
	}
	t.Logf("%v messages in %v batches", sent, batches)
}

func TestRaftBatchSplitByMaxBatchBytes(t *testing.T) {
	h := newTestHandler()
	_, addr := startServer(t, h, ServerOptions{}, "")
	r := newResolver()
	r.set(2, addr)
	// A blocking resolver gate: the first message opens the stream only
	// after the rest are queued, so the queue is drained in one go.
	gate := &gateResolver{next: r, entered: make(chan struct{}), release: make(chan struct{})}
	c := newTestClient(t, 1, gate, ClientOptions{MaxBatchBytes: 4096})
	c.Send([]regionraft.RaftMessage{raftMsg(2, 1)})
	<-gate.entered
	var msgs []regionraft.RaftMessage
	for i := uint64(2); i <= 200; i++ {
		msgs = append(msgs, raftMsg(2, i))
	}
	c.Send(msgs)
	close(gate.release)
	got := h.waitSteps(t, 200)
	for i, m := range got {
		if m.Msg.GetIndex() != uint64(i+1) {
			t.Fatalf("message %d has index %d", i, m.Msg.GetIndex())
		}
	}
	// Message 1 alone, then 199 messages of ~60 bytes in 4 KiB batches.
	batches := counterValue(t, c.metrics.raftBatches)
	bytes := counterValue(t, c.metrics.raftBytes)
	if batches < 3 || batches > 10 {
		t.Fatalf("%v batches for %v bytes at 4 KiB per batch", batches, bytes)
	}
}

// gateResolver blocks the first lookup until release is closed (or ctx
// ends).
type gateResolver struct {
	next    Resolver
	once    sync.Once
	entered chan struct{}
	release chan struct{}
}

func (g *gateResolver) StoreAddr(ctx context.Context, store uint64) (string, error) {
	g.once.Do(func() { close(g.entered) })
	select {
	case <-g.release:
	case <-ctx.Done():
		return "", ctx.Err()
	}
	return g.next.StoreAddr(ctx, store)
}

func TestQueueFullDropsWithoutBlocking(t *testing.T) {
	gate := &gateResolver{next: newResolver(), entered: make(chan struct{}), release: make(chan struct{})}
	const queue = 16
	c := newTestClient(t, 1, gate, ClientOptions{QueueSize: queue})
	c.Send([]regionraft.RaftMessage{raftMsg(2, 0)})
	<-gate.entered // the sender took message 0 and is stuck resolving
	const n = 10000
	msgs := make([]regionraft.RaftMessage, n)
	for i := range msgs {
		msgs[i] = raftMsg(2, uint64(i+1))
	}
	done := make(chan struct{})
	go func() {
		c.Send(msgs)
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Send blocked on a full queue")
	}
	if got := counterValue(t, c.metrics.dropQueueFull); got != n-queue {
		t.Fatalf("dropped %v, want %d", got, n-queue)
	}
	// Close unblocks the stuck resolver and stops the sender.
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestRaftReconnectsAfterServerRestart(t *testing.T) {
	h1 := newTestHandler()
	srv, addr := startServer(t, h1, ServerOptions{}, "")
	r := newResolver()
	r.set(2, addr)
	c := newTestClient(t, 1, r, ClientOptions{MinBackoff: 10 * time.Millisecond, MaxBackoff: 100 * time.Millisecond})
	c.Send([]regionraft.RaftMessage{raftMsg(2, 1)})
	h1.waitSteps(t, 1)

	srv.Stop()
	h2 := newTestHandler()
	startServer(t, h2, ServerOptions{}, addr) // same address
	// Raft retransmits; so does this loop, until the new server hears it.
	waitFor(t, "delivery after restart", func() bool {
		c.Send([]regionraft.RaftMessage{raftMsg(2, 2)})
		return len(h2.messages()) > 0
	})
}

func TestRaftFollowsStoreToNewAddress(t *testing.T) {
	h1 := newTestHandler()
	srv, addr := startServer(t, h1, ServerOptions{}, "")
	r := newResolver()
	r.set(2, addr)
	c := newTestClient(t, 1, r, ClientOptions{MinBackoff: 10 * time.Millisecond, MaxBackoff: 100 * time.Millisecond})
	c.Send([]regionraft.RaftMessage{raftMsg(2, 1)})
	h1.waitSteps(t, 1)

	srv.Stop()
	h2 := newTestHandler()
	_, addr2 := startServer(t, h2, ServerOptions{}, "")
	r.set(2, addr2)
	waitFor(t, "delivery at the new address", func() bool {
		c.Send([]regionraft.RaftMessage{raftMsg(2, 2)})
		return len(h2.messages()) > 0
	})
}

func TestStepErrorEndsStreamAndSenderRecovers(t *testing.T) {
	h := newTestHandler()
	h.stepErr = regionraft.ErrStopped
	_, addr := startServer(t, h, ServerOptions{}, "")
	r := newResolver()
	r.set(2, addr)
	c := newTestClient(t, 1, r, ClientOptions{MinBackoff: time.Millisecond, MaxBackoff: 10 * time.Millisecond})
	c.Send([]regionraft.RaftMessage{raftMsg(2, 1)})
	h.waitSteps(t, 1)
	h.mu.Lock()
	h.stepErr = nil
	h.mu.Unlock()
	waitFor(t, "a new stream after the step error", func() bool {
		c.Send([]regionraft.RaftMessage{raftMsg(2, 2)})
		return counterValue(t, c.metrics.streamOpens) >= 2 && len(h.messages()) >= 2
	})
}

// snapshotSource is a deterministic pseudo-random snapshot stream.
type snapshotSource struct {
	r      io.Reader
	closed atomic.Bool
	failAt int64 // > 0: Read fails after this many bytes
	read   int64
}

var errSourceBroken = errors.New("test: snapshot source broken")

func newSnapshotSource(size int64, seed uint64) *snapshotSource {
	var key [32]byte
	key[0] = byte(seed)
	key[1] = byte(seed >> 8)
	return &snapshotSource{r: io.LimitReader(rand.NewChaCha8(key), size)}
}

func (s *snapshotSource) Read(p []byte) (int, error) {
	if s.failAt > 0 && s.read+int64(len(p)) > s.failAt {
		return 0, errSourceBroken
	}
	n, err := s.r.Read(p)
	s.read += int64(n)
	return n, err
}

func (s *snapshotSource) Close() error {
	if s.closed.Swap(true) {
		return errors.New("test: closed twice")
	}
	return nil
}

// sendSnapshot calls SendSnapshot and waits for done, checking it is called
// exactly once.
func sendSnapshot(t *testing.T, c *Client, m regionraft.RaftMessage, src io.ReadCloser) error {
	t.Helper()
	var calls atomic.Int32
	doneC := make(chan error, 2)
	c.SendSnapshot(m, src, func(err error) {
		calls.Add(1)
		doneC <- err
	})
	select {
	case err := <-doneC:
		if calls.Load() != 1 {
			t.Fatalf("done called %d times", calls.Load())
		}
		return err
	case <-time.After(30 * time.Second):
		t.Fatal("snapshot never done")
		return nil
	}
}

func snapMsg(to uint64) regionraft.RaftMessage {
	m := raftMsg(to, 100)
	m.Msg.Type = raftMsgSnap().Enum()
	return m
}

func TestSnapshotStreamsLargeDataInChunks(t *testing.T) {
	const size = 24<<20 + 12345
	h := newTestHandler()
	var gotSum [32]byte
	var gotHeader regionraft.RaftMessage
	h.snapshot = func(_ context.Context, m regionraft.RaftMessage, data io.Reader) error {
		gotHeader = m
		hash := sha256.New()
		if _, err := io.Copy(hash, data); err != nil {
			return err
		}
		copy(gotSum[:], hash.Sum(nil))
		return nil
	}
	srv, addr := startServer(t, h, ServerOptions{}, "")
	r := newResolver()
	r.set(2, addr)
	c := newTestClient(t, 1, r, ClientOptions{})

	src := newSnapshotSource(size, 42)
	if err := sendSnapshot(t, c, snapMsg(2), src); err != nil {
		t.Fatal(err)
	}
	if !src.closed.Load() {
		t.Fatal("data not closed")
	}
	want := sha256.New()
	if _, err := io.Copy(want, newSnapshotSource(size, 42)); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(want.Sum(nil), gotSum[:]) {
		t.Fatal("received snapshot differs from the sent one")
	}
	if gotHeader.Msg.GetType() != raftMsgSnap() || gotHeader.RegionID != 7 || gotHeader.To.StoreID != 2 {
		t.Fatalf("header %+v", gotHeader)
	}
	if got := counterValue(t, c.metrics.snapshotBytes); got != size {
		t.Fatalf("client snapshot bytes %v, want %d", got, size)
	}
	if got := counterValue(t, srv.metrics.snapshotBytes); got != size {
		t.Fatalf("server snapshot bytes %v, want %d", got, size)
	}
}

// refusal is a Handler error with a code.
type refusal struct{ code uint32 }

func (r refusal) Error() string   { return fmt.Sprintf("refused with %d", r.code) }
func (r refusal) RPCCode() uint32 { return r.code }

func TestSnapshotReceiverErrorReachesSender(t *testing.T) {
	h := newTestHandler()
	h.snapshot = func(_ context.Context, _ regionraft.RaftMessage, data io.Reader) error {
		// Read a little, then refuse without reading the rest.
		if _, err := io.ReadFull(data, make([]byte, 3<<20)); err != nil {
			return err
		}
		return fmt.Errorf("apply: %w", refusal{code: 42})
	}
	_, addr := startServer(t, h, ServerOptions{}, "")
	r := newResolver()
	r.set(2, addr)
	c := newTestClient(t, 1, r, ClientOptions{})
	const size = 64 << 20
	src := newSnapshotSource(size, 1)
	err := sendSnapshot(t, c, snapMsg(2), src)
	var re *RemoteError
	if !errors.As(err, &re) || re.Code != 42 || !strings.Contains(re.Msg, "refused with 42") {
		t.Fatalf("err = %v, want RemoteError code 42", err)
	}
	if !src.closed.Load() {
		t.Fatal("data not closed")
	}
	if sent := counterValue(t, c.metrics.snapshotBytes); sent >= size {
		t.Fatalf("sender kept sending all %v bytes after the refusal", sent)
	}
}

func TestSnapshotSourceErrorFailsBothSides(t *testing.T) {
	h := newTestHandler()
	recvErr := make(chan error, 1)
	h.snapshot = func(_ context.Context, _ regionraft.RaftMessage, data io.Reader) error {
		_, err := io.Copy(io.Discard, data)
		recvErr <- err
		return err
	}
	_, addr := startServer(t, h, ServerOptions{}, "")
	r := newResolver()
	r.set(2, addr)
	c := newTestClient(t, 1, r, ClientOptions{})
	src := newSnapshotSource(8<<20, 2)
	src.failAt = 5 << 20
	err := sendSnapshot(t, c, snapMsg(2), src)
	if !errors.Is(err, errSourceBroken) {
		t.Fatalf("err = %v, want the source's error", err)
	}
	if !src.closed.Load() {
		t.Fatal("data not closed")
	}
	select {
	case err := <-recvErr:
		if err == nil {
			t.Fatal("receiver saw a complete snapshot from a broken source")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("receiver never finished")
	}
}

func TestSnapshotChecksumMismatchIsNotEOF(t *testing.T) {
	h := newTestHandler()
	recvErr := make(chan error, 1)
	h.snapshot = func(_ context.Context, _ regionraft.RaftMessage, data io.Reader) error {
		_, err := io.Copy(io.Discard, data)
		recvErr <- err
		return err
	}
	_, addr := startServer(t, h, ServerOptions{}, "")
	r := newResolver()
	r.set(2, addr)
	c := newTestClient(t, 1, r, ClientOptions{})
	for _, tc := range []struct {
		name    string
		trailer *snapshotTrailer
		want    error
	}{
		{"bad crc", &snapshotTrailer{size: 5, crc: 1}, ErrSnapshotChecksum},
		{"bad size", &snapshotTrailer{size: 6, crc: 0}, ErrSnapshotChecksum},
		{"no trailer", nil, ErrSnapshotTruncated},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cc, err := c.conn(context.Background(), 2)
			if err != nil {
				t.Fatal(err)
			}
			m := snapMsg(2)
			st, err := cc.NewStream(context.Background(), &snapshotStreamDesc, methodSnapshot)
			if err != nil {
				t.Fatal(err)
			}
			if err := st.SendMsg(&snapshotChunk{header: &m, data: []byte("hello"), trailer: tc.trailer}); err != nil {
				t.Fatal(err)
			}
			if err := st.CloseSend(); err != nil {
				t.Fatal(err)
			}
			var reply snapshotDone
			if err := st.RecvMsg(&reply); err != nil {
				t.Fatal(err)
			}
			if err := <-recvErr; !errors.Is(err, tc.want) {
				t.Fatalf("receiver read error %v, want %v", err, tc.want)
			}
			if reply.err == nil || !strings.Contains(reply.err.msg, tc.want.Error()) {
				t.Fatalf("reply %+v", reply.err)
			}
		})
	}
}

func TestSnapshotConcurrencyBoundedPerStore(t *testing.T) {
	h := newTestHandler()
	var active, peak atomic.Int32
	release := make(chan struct{})
	h.snapshot = func(_ context.Context, _ regionraft.RaftMessage, data io.Reader) error {
		n := active.Add(1)
		defer active.Add(-1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		<-release
		_, err := io.Copy(io.Discard, data)
		return err
	}
	_, addr := startServer(t, h, ServerOptions{}, "")
	r := newResolver()
	r.set(2, addr)
	c := newTestClient(t, 1, r, ClientOptions{MaxSnapshotsPerStore: 2})
	const n = 5
	errs := make(chan error, n)
	for i := range n {
		c.SendSnapshot(snapMsg(2), newSnapshotSource(1000, uint64(i)), func(err error) { errs <- err })
	}
	waitFor(t, "two snapshots in the receiver", func() bool { return active.Load() == 2 })
	close(release)
	for range n {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if p := peak.Load(); p != 2 {
		t.Fatalf("peak concurrent snapshots %d, want 2", p)
	}
}

func TestForwardRoundTrip(t *testing.T) {
	h := newTestHandler()
	var got ForwardRequest
	h.forward = func(_ context.Context, req *ForwardRequest) (*ForwardResponse, error) {
		got = ForwardRequest{DB: req.DB, Proto: req.Proto, User: req.User, Hops: req.Hops}
		for _, a := range req.Args {
			got.Args = append(got.Args, bytes.Clone(a))
		}
		if string(req.Args[0]) == "FAIL" {
			return nil, fmt.Errorf("wrapped: %w", refusal{code: 7})
		}
		if string(req.Args[0]) == "PLAIN" {
			return nil, errors.New("plain failure")
		}
		return &ForwardResponse{Reply: []byte("$5\r\nhello\r\n")}, nil
	}
	srv, addr := startServer(t, h, ServerOptions{}, "")
	r := newResolver()
	r.set(2, addr)
	c := newTestClient(t, 1, r, ClientOptions{})
	ctx := context.Background()

	req := &ForwardRequest{DB: 3, Proto: 3, User: "alice", Args: [][]byte{[]byte("GET"), []byte("k"), {}}, Hops: 1}
	resp, err := c.Forward(ctx, 2, req)
	if err != nil {
		t.Fatal(err)
	}
	if string(resp.Reply) != "$5\r\nhello\r\n" {
		t.Fatalf("reply %q", resp.Reply)
	}
	if got.DB != 3 || got.Proto != 3 || got.User != "alice" || got.Hops != 1 || len(got.Args) != 3 ||
		string(got.Args[1]) != "k" || len(got.Args[2]) != 0 {
		t.Fatalf("handler got %+v", got)
	}

	_, err = c.Forward(ctx, 2, &ForwardRequest{Proto: 2, Args: [][]byte{[]byte("FAIL")}})
	var re *RemoteError
	if !errors.As(err, &re) || re.Code != 7 || re.Msg != "wrapped: refused with 7" {
		t.Fatalf("err = %#v, want RemoteError code 7", err)
	}
	_, err = c.Forward(ctx, 2, &ForwardRequest{Proto: 2, Args: [][]byte{[]byte("PLAIN")}})
	if !errors.As(err, &re) || re.Code != 0 || re.Msg != "plain failure" {
		t.Fatalf("err = %#v, want RemoteError code 0", err)
	}

	// Unknown store: the resolver's error, wrapped as unreachable and
	// certainly not sent.
	if _, err := c.Forward(ctx, 9, req); !errors.Is(err, ErrUnreachable) || !errors.Is(err, errNoStore) || !errors.Is(err, ErrNotSent) {
		t.Fatalf("unknown store: %v", err)
	}
	// Stopped server: unreachable, and not sent (no connection carried it).
	srv.Stop()
	if _, err := c.Forward(ctx, 2, req); !errors.Is(err, ErrUnreachable) || !errors.Is(err, ErrNotSent) {
		t.Fatalf("stopped server: %v", err)
	}
	// The failure marked the address stale: the next call resolves again.
	lookups := r.count()
	if _, err := c.Forward(ctx, 2, req); !errors.Is(err, ErrUnreachable) {
		t.Fatalf("stopped server: %v", err)
	}
	if r.count() != lookups+1 {
		t.Fatalf("%d lookups after an unreachable call, want %d", r.count(), lookups+1)
	}
	// Deadline: the context's error.
	dctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := c.Forward(dctx, 2, req); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: %v", err)
	}
	if v := counterValue(t, c.metrics.forwards.WithLabelValues("remote_error")); v != 2 {
		t.Fatalf("remote_error forwards %v", v)
	}
}

func TestPartitionFilter(t *testing.T) {
	h := newTestHandler()
	h.forward = func(context.Context, *ForwardRequest) (*ForwardResponse, error) {
		return &ForwardResponse{Reply: []byte("+OK\r\n")}, nil
	}
	_, addr := startServer(t, h, ServerOptions{}, "")
	r := newResolver()
	r.set(2, addr)
	var p Partition
	c := newTestClient(t, 1, r, ClientOptions{Filter: p.Filter})
	req := &ForwardRequest{Proto: 2, Args: [][]byte{[]byte("PING")}}
	ctx := context.Background()

	p.Cut(2, 1)
	c.Send([]regionraft.RaftMessage{raftMsg(2, 1), raftMsg(2, 2)})
	if got := counterValue(t, c.metrics.dropFiltered); got != 2 {
		t.Fatalf("filtered %v, want 2", got)
	}
	if _, err := c.Forward(ctx, 2, req); !errors.Is(err, ErrUnreachable) {
		t.Fatalf("forward across a cut: %v", err)
	}
	src := newSnapshotSource(10, 1)
	if err := sendSnapshot(t, c, snapMsg(2), src); !errors.Is(err, ErrUnreachable) || !src.closed.Load() {
		t.Fatalf("snapshot across a cut: %v (closed %v)", err, src.closed.Load())
	}
	if len(h.messages()) != 0 {
		t.Fatal("a raft message crossed the cut")
	}

	p.HealAll()
	if _, err := c.Forward(ctx, 2, req); err != nil {
		t.Fatal(err)
	}
	c.Send([]regionraft.RaftMessage{raftMsg(2, 3)})
	if got := h.waitSteps(t, 1); got[0].Msg.GetIndex() != 3 {
		t.Fatalf("got index %d", got[0].Msg.GetIndex())
	}
}

func TestFilterDelay(t *testing.T) {
	h := newTestHandler()
	_, addr := startServer(t, h, ServerOptions{}, "")
	r := newResolver()
	r.set(2, addr)
	const delay = 50 * time.Millisecond
	c := newTestClient(t, 1, r, ClientOptions{Filter: func(_, _ uint64, k Kind) Action {
		return Action{Delay: delay}
	}})
	start := time.Now()
	c.Send([]regionraft.RaftMessage{raftMsg(2, 1)})
	h.waitSteps(t, 1)
	if d := time.Since(start); d < delay {
		t.Fatalf("delivered after %v, before the %v delay", d, delay)
	}
}

func TestCloseStopsEverything(t *testing.T) {
	h := newTestHandler()
	block := make(chan struct{})
	h.snapshot = func(ctx context.Context, _ regionraft.RaftMessage, data io.Reader) error {
		select {
		case <-block:
		case <-ctx.Done():
		}
		_, err := io.Copy(io.Discard, data)
		return err
	}
	srv, addr := startServer(t, h, ServerOptions{}, "")
	r := newResolver()
	r.set(2, addr)
	r.set(3, "127.0.0.1:1") // nothing listens: its sender keeps retrying
	c, err := NewClient(1, r, ClientOptions{Logger: quietLog, MinBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	c.Send([]regionraft.RaftMessage{raftMsg(2, 1), raftMsg(3, 1), raftMsg(4, 1)}) // 4: resolve fails
	h.waitSteps(t, 1)
	snapErr := make(chan error, 1)
	src := newSnapshotSource(64<<20, 3)
	c.SendSnapshot(snapMsg(2), src, func(err error) { snapErr <- err })

	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-snapErr; !errors.Is(err, ErrClosed) {
		t.Fatalf("in-flight snapshot: %v, want ErrClosed", err)
	}
	if !src.closed.Load() {
		t.Fatal("data not closed")
	}
	// After Close: everything fails fast, nothing is started.
	c.Send([]regionraft.RaftMessage{raftMsg(2, 2)})
	if v := counterValue(t, c.metrics.dropClosed); v != 1 {
		t.Fatalf("closed drops %v", v)
	}
	if _, err := c.Forward(context.Background(), 2, &ForwardRequest{}); !errors.Is(err, ErrClosed) {
		t.Fatalf("Forward after Close: %v", err)
	}
	src2 := newSnapshotSource(1, 1)
	if err := sendSnapshot(t, c, snapMsg(2), src2); !errors.Is(err, ErrClosed) || !src2.closed.Load() {
		t.Fatalf("SendSnapshot after Close: %v", err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	srv.Stop()
	if leaked := leakcheck.Wait(5*time.Second, "skerry/cluster/rpc.", "google.golang.org/grpc"); leaked != "" {
		t.Fatalf("goroutines left after Close and Stop:\n%s", leaked)
	}
}

func TestServerStopEndsRaftStreamsPromptly(t *testing.T) {
	h := newTestHandler()
	srv, addr := startServer(t, h, ServerOptions{StopTimeout: 20 * time.Second}, "")
	r := newResolver()
	r.set(2, addr)
	c := newTestClient(t, 1, r, ClientOptions{})
	c.Send([]regionraft.RaftMessage{raftMsg(2, 1)})
	h.waitSteps(t, 1)
	start := time.Now()
	srv.Stop()
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("Stop took %v with an open raft stream", d)
	}
}

func TestServerStopCutsSlowCallsAfterTimeout(t *testing.T) {
	h := newTestHandler()
	entered := make(chan struct{})
	h.forward = func(ctx context.Context, _ *ForwardRequest) (*ForwardResponse, error) {
		close(entered)
		<-ctx.Done() // a slow command; it honours its context
		return nil, ctx.Err()
	}
	srv, addr := startServer(t, h, ServerOptions{StopTimeout: 50 * time.Millisecond}, "")
	r := newResolver()
	r.set(2, addr)
	c := newTestClient(t, 1, r, ClientOptions{})
	errC := make(chan error, 1)
	go func() {
		_, err := c.Forward(context.Background(), 2, &ForwardRequest{Proto: 2, Args: [][]byte{[]byte("SLOW")}})
		errC <- err
	}()
	<-entered
	srv.Stop()
	if err := <-errC; !errors.Is(err, ErrUnreachable) {
		t.Fatalf("forward cut by Stop: %v, want ErrUnreachable", err)
	}
}

// TestForwardCutMidCall: a server killed while it runs a forwarded command
// (a crash mid-call) leaves the outcome unknown: unreachable, but not
// ErrNotSent, so the caller must not run the command elsewhere.
func TestForwardCutMidCall(t *testing.T) {
	h := newTestHandler()
	running := make(chan struct{})
	h.forward = func(ctx context.Context, _ *ForwardRequest) (*ForwardResponse, error) {
		close(running)
		<-ctx.Done() // until the server is killed
		return nil, ctx.Err()
	}
	srv, addr := startServer(t, h, ServerOptions{}, "")
	r := newResolver()
	r.set(2, addr)
	c := newTestClient(t, 1, r, ClientOptions{})
	errC := make(chan error, 1)
	go func() {
		_, err := c.Forward(context.Background(), 2, &ForwardRequest{Proto: 2, Args: [][]byte{[]byte("INCR"), []byte("k")}})
		errC <- err
	}()
	<-running
	srv.Kill()
	err := <-errC
	if !errors.Is(err, ErrUnreachable) || errors.Is(err, ErrNotSent) {
		t.Fatalf("cut mid-call: %v, want unreachable and not ErrNotSent", err)
	}
}
