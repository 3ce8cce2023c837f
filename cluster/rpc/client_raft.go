package rpc

import (
	"context"
	"math/rand/v2"
	"sync"
	"time"

	"google.golang.org/grpc"

	"github.com/skerrydb/skerry/regionraft"
)

// Send implements regionraft.Transport: it queues each message for its
// target store's sender goroutine and returns at once. A full queue, a
// filter or a closed Client drop the message (counted); raft retransmits.
func (c *Client) Send(msgs []regionraft.RaftMessage) {
	if c.opts.Filter != nil {
		c.sendFiltered(msgs)
		return
	}
	// Raft emits messages grouped by region; runs to one store share a
	// lock round trip.
	for len(msgs) > 0 {
		to, n := msgs[0].To.StoreID, 1
		for n < len(msgs) && msgs[n].To.StoreID == to {
			n++
		}
		run := msgs[:n]
		msgs = msgs[n:]
		s := c.sender(to)
		if s == nil {
			c.metrics.dropClosed.Add(float64(len(run)))
			continue
		}
		if dropped := s.enqueue(run...); dropped > 0 {
			c.metrics.dropQueueFull.Add(float64(dropped))
		}
	}
}

// sendFiltered is Send with a Filter: it asks about every message.
func (c *Client) sendFiltered(msgs []regionraft.RaftMessage) {
	for _, m := range msgs {
		act := c.opts.Filter(c.self, m.To.StoreID, KindRaft)
		switch {
		case act.Drop:
			c.metrics.dropFiltered.Inc()
		case act.Delay > 0:
			c.sendLater(m, act.Delay)
		default:
			c.enqueue(m)
		}
	}
}

// enqueue queues one message, counting a drop.
func (c *Client) enqueue(m regionraft.RaftMessage) {
	s := c.sender(m.To.StoreID)
	switch {
	case s == nil:
		c.metrics.dropClosed.Inc()
	case s.enqueue(m) > 0:
		c.metrics.dropQueueFull.Inc()
	}
}

// sendLater queues m after d (Filter delays).
func (c *Client) sendLater(m regionraft.RaftMessage, d time.Duration) {
	time.AfterFunc(d, func() { c.enqueue(m) })
}

// sender returns store's sender, starting it on first use; nil once closed.
func (c *Client) sender(store uint64) *sender {
	c.mu.RLock()
	s, closed := c.senders[store], c.closed
	c.mu.RUnlock()
	if closed {
		return nil
	}
	if s != nil {
		return s
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil
	}
	if s = c.senders[store]; s == nil {
		s = &sender{c: c, store: store, wake: make(chan struct{}, 1)}
		c.senders[store] = s
		c.wg.Add(1)
		go s.run()
	}
	return s
}

// sender owns the raft stream to one store: it drains everything queued
// into as few stream messages as MaxBatchBytes allows, in queue order.
type sender struct {
	c     *Client
	store uint64
	wake  chan struct{} // capacity 1: "the queue is not empty"

	mu    sync.Mutex
	queue []regionraft.RaftMessage
	spare []regionraft.RaftMessage // the previous queue, reused
}

// enqueue queues what fits of ms and returns how many did not fit (the
// last ones).
func (s *sender) enqueue(ms ...regionraft.RaftMessage) (dropped int) {
	s.mu.Lock()
	room := s.c.opts.QueueSize - len(s.queue)
	if len(ms) > room {
		ms, dropped = ms[:room], len(ms)-room
	}
	s.queue = append(s.queue, ms...)
	s.mu.Unlock()
	if len(ms) > 0 {
		select {
		case s.wake <- struct{}{}:
		default:
		}
	}
	return dropped
}

// take returns everything queued and swaps in the spare buffer.
func (s *sender) take() []regionraft.RaftMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	q := s.queue
	s.queue = s.spare[:0]
	s.spare = nil
	return q
}

// recycle hands a sent queue back as the spare, dropping its references.
func (s *sender) recycle(q []regionraft.RaftMessage) {
	clear(q)
	s.mu.Lock()
	s.spare = q[:0]
	s.mu.Unlock()
}

// raftStream is one open Raft stream.
type raftStream struct {
	// ctx is the stream's context, cancelled only by cancel (unlike
	// stream.Context(), which gRPC cancels when the stream fails).
	ctx    context.Context
	cc     *grpc.ClientConn
	stream grpc.ClientStream
	cancel context.CancelFunc
	broken chan struct{} // closed when the server ended the stream
}

func (s *sender) run() {
	defer s.c.wg.Done()
	ctx := s.c.ctx
	var (
		st      *raftStream
		backoff time.Duration
		scratch []byte
	)
	defer func() {
		if st != nil {
			st.cancel()
		}
	}()
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.wake:
		}
		q := s.take()
		if len(q) == 0 {
			s.recycle(q)
			continue
		}
		if st != nil {
			select {
			case <-st.broken:
				st.cancel()
				st = nil
			default:
			}
		}
		var err error
		if st == nil {
			if st, err = s.open(ctx); err != nil {
				s.c.metrics.dropUnreach.Add(float64(len(q)))
			}
		}
		if err == nil {
			scratch, err = s.sendAll(st, q, scratch)
		}
		s.recycle(q)
		if err == nil {
			backoff = 0
			continue
		}
		if st != nil {
			st.cancel()
			st = nil
		}
		if ctx.Err() != nil {
			return
		}
		s.c.log.Debug("rpc: raft stream failed", "store", s.store, "err", err)
		// Wait before trying again; messages queued meanwhile stay queued
		// (bounded) and go out on the next stream.
		backoff = min(max(2*backoff, s.c.opts.MinBackoff), s.c.opts.MaxBackoff)
		d := backoff/2 + rand.N(backoff/2+1)
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// open starts a Raft stream to the store.
func (s *sender) open(ctx context.Context) (*raftStream, error) {
	cc, err := s.c.conn(ctx, s.store)
	if err != nil {
		s.c.metrics.streamOpens.WithLabelValues("error").Inc()
		return nil, err
	}
	sctx, cancel := context.WithCancel(ctx)
	stream, err := cc.NewStream(sctx, &raftStreamDesc, methodRaft)
	if err != nil {
		err = s.c.callError(sctx, s.store, cc, err) // before cancel: it looks at sctx
		cancel()
		s.c.metrics.streamOpens.WithLabelValues("error").Inc()
		return nil, err
	}
	s.c.metrics.streamOpens.WithLabelValues("ok").Inc()
	st := &raftStream{ctx: sctx, cc: cc, stream: stream, cancel: cancel, broken: make(chan struct{})}
	// The server only answers when it ends the stream: notice that at once
	// rather than on the next failed send. Ends with the stream (cancel).
	s.c.wg.Add(1)
	go func() {
		defer s.c.wg.Done()
		err := stream.RecvMsg(&raftDone{})
		if sctx.Err() == nil {
			_ = s.c.callError(sctx, s.store, cc, err) // marks the address stale if unreachable
		}
		close(st.broken)
	}()
	return st, nil
}

// sendAll writes q to the stream in batches of at most MaxBatchBytes
// (a single larger message goes alone). On error the rest of q is dropped.
func (s *sender) sendAll(st *raftStream, q []regionraft.RaftMessage, scratch []byte) ([]byte, error) {
	m := s.c.metrics
	limit := s.c.opts.MaxBatchBytes
	batch := []byte{formatV1}
	n := 0
	flush := func() error {
		if n == 0 {
			return nil
		}
		// batch is already encoded: hand it over as raw bytes.
		if err := st.stream.SendMsg(encodedMsg(batch)); err != nil {
			return s.c.callError(st.ctx, s.store, st.cc, err)
		}
		m.raftSent.Add(float64(n))
		m.raftBatches.Inc()
		m.raftBytes.Add(float64(len(batch)))
		// gRPC may still hold the sent bytes: start a new buffer.
		batch, n = append(make([]byte, 0, len(batch)), formatV1), 0
		return nil
	}
	for i := range q {
		var err error
		if scratch, err = appendRaftMessage(scratch[:0], &q[i]); err != nil {
			// A message that cannot be encoded is a bug of the sender;
			// drop it rather than the stream.
			s.c.log.Error("rpc: cannot encode raft message", "store", s.store, "err", err)
			m.dropUnreach.Inc()
			continue
		}
		if n > 0 && len(batch)+len(scratch)+2*10 > limit {
			if err := flush(); err != nil {
				m.dropUnreach.Add(float64(len(q) - i + n))
				return scratch, err
			}
		}
		batch = appendBytesField(batch, 1, scratch)
		n++
	}
	if err := flush(); err != nil {
		m.dropUnreach.Add(float64(n))
		return scratch, err
	}
	return scratch, nil
}
