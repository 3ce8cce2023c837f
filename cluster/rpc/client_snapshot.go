package rpc

import (
	"context"
	"fmt"
	"hash/crc32"
	"io"

	"github.com/skerrydb/skerry/regionraft"
)

// SendSnapshot implements regionraft.Transport: it streams m and data to
// m.To.StoreID on a goroutine of its own and returns at once. At most
// MaxSnapshotsPerStore snapshots per target are in flight; more wait. data
// is closed when the stream ends (always), then done is called exactly
// once: nil when the receiving Handler accepted the snapshot, a
// *RemoteError when it refused, ErrUnreachable (wrapped), ErrClosed, or
// the error reading data.
func (c *Client) SendSnapshot(m regionraft.RaftMessage, data io.ReadCloser, done func(error)) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		_ = data.Close()
		done(ErrClosed)
		return
	}
	store := m.To.StoreID
	sem := c.snapSems[store]
	if sem == nil {
		sem = make(chan struct{}, c.opts.MaxSnapshotsPerStore)
		c.snapSems[store] = sem
	}
	c.wg.Add(1)
	c.mu.Unlock()
	go func() {
		defer c.wg.Done()
		err := c.sendSnapshot(c.ctx, sem, m, data)
		if cerr := data.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("rpc: close snapshot data: %w", cerr)
		}
		c.metrics.snapshots.WithLabelValues(result(err)).Inc()
		if err != nil {
			c.log.Warn("rpc: snapshot not delivered", "region", m.RegionID, "store", store, "err", err)
		}
		done(err)
	}()
}

func (c *Client) sendSnapshot(ctx context.Context, sem chan struct{}, m regionraft.RaftMessage, data io.Reader) error {
	store := m.To.StoreID
	select {
	case sem <- struct{}{}:
		defer func() { <-sem }()
	case <-ctx.Done():
		return ErrClosed
	}
	if err := c.filter(ctx, store, KindSnapshot); err != nil {
		if ctx.Err() != nil {
			return ErrClosed
		}
		return err
	}
	cc, err := c.conn(ctx, store)
	if err != nil {
		return err
	}
	sctx, cancel := context.WithCancel(ctx)
	defer cancel() // on early return: the server sees the stream cancelled
	stream, err := cc.NewStream(sctx, &snapshotStreamDesc, methodSnapshot)
	if err != nil {
		return c.callError(sctx, store, cc, err)
	}
	// send returns io.EOF when the server already answered (the receiver
	// returned early): stop sending and read its answer.
	send := func(ch *snapshotChunk) error {
		err := stream.SendMsg(ch)
		if err == nil || err == io.EOF {
			return err
		}
		return c.callError(sctx, store, cc, err)
	}
	err = send(&snapshotChunk{header: &m})
	if err == nil {
		crc := crc32.New(castagnoli)
		var total uint64
		buf := make([]byte, c.opts.SnapshotChunkSize)
		for {
			n, rerr := io.ReadFull(data, buf)
			if rerr != nil && rerr != io.EOF && rerr != io.ErrUnexpectedEOF {
				return fmt.Errorf("rpc: read snapshot data of region %d: %w", m.RegionID, rerr)
			}
			ch := &snapshotChunk{data: buf[:n]}
			crc.Write(buf[:n])
			total += uint64(n)
			if rerr != nil { // end of data: this chunk carries the trailer
				ch.trailer = &snapshotTrailer{size: total, crc: crc.Sum32()}
			}
			// The codec copies buf into the encoded message, so buf is
			// free again when SendMsg returns.
			if err = send(ch); err != nil {
				break
			}
			c.metrics.snapshotBytes.Add(float64(n))
			if ch.trailer != nil {
				break
			}
		}
	}
	if err != nil && err != io.EOF {
		return err
	}
	if err := stream.CloseSend(); err != nil {
		return c.callError(sctx, store, cc, err)
	}
	var reply snapshotDone
	if err := stream.RecvMsg(&reply); err != nil {
		return c.callError(sctx, store, cc, err)
	}
	if reply.err != nil {
		return reply.err.remoteError()
	}
	return nil
}
