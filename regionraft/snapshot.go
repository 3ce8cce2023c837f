package regionraft

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"

	"github.com/skerrydb/skerry/mvcc/engine"
	"github.com/skerrydb/skerry/mvcc/keys"
)

// Snapshot data stream (FROZEN, version 1), produced by snapStream and read
// by ReceiveSnapshot:
//
//	header: "SKSN" | byte version = 1 | uvarint index | uvarint term |
//	        uvarint len, encoded region descriptor (EncodeRegion)
//	frames: byte 1 | uvarint len(key), key | uvarint len(value), value
//	        — the region's records in ascending key order (the data,
//	        lock and write families, one after the other)
//	end:    byte 0 | uvarint number of key frames |
//	        uint32 CRC-32C (big endian) of every byte before it
//
// index, term and descriptor must equal the MsgSnap's metadata and data.
const (
	snapMagic          = "SKSN"
	snapFormatV1  byte = 1
	snapFrameKV   byte = 1
	snapFrameEnd  byte = 0
	snapChunkSize      = 64 << 10
	// snapMaxKeyValue bounds one key or value in a stream (corrupt length
	// guard; far above any record the MVCC layer writes).
	snapMaxKeyValue = 64 << 20
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// pinnedSnapshot is an engine snapshot shared by the streams of one raft
// snapshot; the last release closes it.
type pinnedSnapshot struct {
	snap  engine.Snapshot
	refs  atomic.Int32
	round uint64 // the round during which it was taken (or before which)
}

func (ps *pinnedSnapshot) release() {
	if ps.refs.Add(-1) == 0 {
		_ = ps.snap.Close()
	}
}

// snapshotHook pins an engine snapshot of p's applied state for the raft
// snapshot raft is about to send. Outside a round the engine holds exactly
// the applied state (every apply batch of earlier rounds is committed);
// during one it does not, so raft is told to retry.
func (s *Store) snapshotHook(p *peer) func(*raftpb.Snapshot) error {
	return func(snap *raftpb.Snapshot) error {
		if s.inRound || p.receiving != 0 {
			return raft.ErrSnapshotTemporarilyUnavailable
		}
		if p.splitTick != 0 && p.region.Epoch.ConfVer == p.splitConfVer &&
			s.tickNo < p.splitTick+splitSnapshotGraceTicks(s.cfg.ElectionTick) {
			return raft.ErrSnapshotTemporarilyUnavailable
		}
		idx := snap.GetMetadata().GetIndex()
		if p.snaps == nil {
			p.snaps = map[uint64]*pinnedSnapshot{}
		}
		if _, ok := p.snaps[idx]; !ok {
			ps := &pinnedSnapshot{snap: s.cfg.Engine.NewSnapshot(), round: s.roundNo}
			ps.refs.Store(1)
			p.snaps[idx] = ps
		}
		return nil
	}
}

// splitSnapshotGraceTicks is how long the leader of a region created by a
// split sends its followers no snapshot: ten election timeouts (10 s at
// the node's defaults). A follower whose store has not applied the split
// yet rejects the new leader's appends (its replica, created by those
// messages, has no log), and raft would answer with a snapshot, which is
// wasted work: the follower's own split makes the same replica from data
// it has. Worse, the snapshot lands on the replica the split just
// created, replacing data half-way if the transfer or the store stops
// (quarantine). Raft retries after ErrSnapshotTemporarilyUnavailable at
// each heartbeat response, so a follower that really needs a snapshot
// gets it once the grace is over (as TiKV's leaders hold snapshots back
// from peers a split is about to create). A membership change ends the
// grace: a replica added since (a learner) has no split to wait for.
func splitSnapshotGraceTicks(electionTick int) uint64 { return 10 * uint64(electionTick) }

// releaseSnaps drops the peer's pins taken before the current round: their
// MsgSnaps were in this round's Ready (or raft gave up on them).
func (s *Store) releaseSnaps(p *peer) {
	for idx, ps := range p.snaps {
		if ps.round < s.roundNo {
			ps.release()
			delete(p.snaps, idx)
		}
	}
}

// sendSnapshot hands a MsgSnap and its data stream to the transport.
func (s *Store) sendSnapshot(p *peer, m RaftMessage) {
	md := m.Msg.GetSnapshot().GetMetadata()
	to := m.Msg.GetTo()
	regionID := p.region.ID
	report := func(err error) {
		s.enqueue(func() {
			q := s.peers[regionID]
			if q == nil {
				return
			}
			st := raft.SnapshotFinish
			s.metrics.Snapshots.WithLabelValues("sent", result(err)).Inc()
			if err != nil {
				st = raft.SnapshotFailure
				s.cfg.Logger.Warningf("regionraft: region %d snapshot to peer %d: %v", regionID, to, err)
			}
			q.rn.ReportSnapshot(to, st)
			s.busy = true
		})
	}
	ps := p.snaps[md.GetIndex()]
	if ps == nil {
		report(fmt.Errorf("regionraft: no engine snapshot pinned at index %d", md.GetIndex()))
		return
	}
	region, err := DecodeRegion(m.Msg.GetSnapshot().GetData())
	if err != nil {
		report(err)
		return
	}
	ps.refs.Add(1)
	st := &snapStream{pin: ps, ranges: dataRanges(&region), crc: crc32.New(castagnoli)}
	st.header(md.GetIndex(), md.GetTerm(), m.Msg.GetSnapshot().GetData())
	s.cfg.Transport.SendSnapshot(m, st, report)
}

// snapStream is the io.ReadCloser of a region's snapshot data: it walks
// the pinned engine snapshot range by range, a chunk at a time.
type snapStream struct {
	mu     sync.Mutex // Close may come from another goroutine than Read
	pin    *pinnedSnapshot
	ranges [][2][]byte
	it     engine.Iterator
	buf    []byte
	off    int
	count  uint64
	crc    hash.Hash32
	ended  bool
	err    error
	closed bool
}

func (st *snapStream) header(index, term uint64, desc []byte) {
	b := append([]byte(snapMagic), snapFormatV1)
	b = binary.AppendUvarint(b, index)
	b = binary.AppendUvarint(b, term)
	b = binary.AppendUvarint(b, uint64(len(desc)))
	st.put(append(b, desc...))
}

func (st *snapStream) put(b []byte) {
	st.crc.Write(b)
	st.buf = append(st.buf, b...)
}

// Read implements io.Reader.
func (st *snapStream) Read(out []byte) (int, error) {
	st.mu.Lock()
	defer st.mu.Unlock()
	for st.off == len(st.buf) {
		if st.err != nil {
			return 0, st.err
		}
		if st.ended {
			return 0, io.EOF
		}
		st.buf, st.off = st.buf[:0], 0
		st.fill()
	}
	n := copy(out, st.buf[st.off:])
	st.off += n
	return n, nil
}

// fill appends about one chunk of frames to buf.
func (st *snapStream) fill() {
	var tmp []byte
	for len(st.buf) < snapChunkSize {
		if st.it == nil {
			if len(st.ranges) == 0 {
				tmp = append(tmp[:0], snapFrameEnd)
				tmp = binary.AppendUvarint(tmp, st.count)
				st.put(tmp)
				st.buf = binary.BigEndian.AppendUint32(st.buf, st.crc.Sum32())
				st.ended = true
				st.release()
				return
			}
			it, err := st.pin.snap.NewIter(st.ranges[0][0], st.ranges[0][1])
			if err != nil {
				st.err = err
				return
			}
			st.ranges = st.ranges[1:]
			st.it = it
			if !it.First() {
				st.closeIter()
				if st.err != nil {
					return
				}
				continue
			}
		} else if !st.it.Next() {
			st.closeIter()
			if st.err != nil {
				return
			}
			continue
		}
		k, v := st.it.Key(), st.it.Value()
		tmp = append(tmp[:0], snapFrameKV)
		tmp = binary.AppendUvarint(tmp, uint64(len(k)))
		tmp = append(tmp, k...)
		tmp = binary.AppendUvarint(tmp, uint64(len(v)))
		tmp = append(tmp, v...)
		st.put(tmp)
		st.count++
	}
}

func (st *snapStream) closeIter() {
	err := st.it.Error()
	st.it.Close()
	st.it = nil
	if err != nil {
		st.err = err
	}
}

func (st *snapStream) release() {
	if st.it != nil {
		st.it.Close()
		st.it = nil
	}
	if !st.closed {
		st.closed = true
		st.pin.release()
	}
}

// Close implements io.Closer: it releases the engine snapshot.
func (st *snapStream) Close() error {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.release()
	if st.err == nil {
		st.err = errors.New("regionraft: snapshot stream closed")
	}
	return nil
}

// ReceiveSnapshot is called by the transport of the receiving store with a
// MsgSnap and its data stream (as produced by the sending store). It
// returns nil once the snapshot is the local peer's durable state, or an
// error (the sender's raft retries later). It creates the local peer if
// there is none.
//
// Raft's in-memory state of the peer is never rolled back (a follower must
// not lose log entries it acknowledged): an initialized peer is frozen (no
// ticks, messages or Ready) while its data are replaced, then the MsgSnap is
// stepped into the same RawNode. If the peer's log already holds the
// snapshot's index and term, nothing is written: raft fast-forwards its
// commit index and the peer applies its own entries.
//
// Order of writes (a crash at any point leaves the old state, or a state
// from which the store restarts):
//
//  1. The stream is read and its records written. On an engine.SSTIngester
//     (Pebble) they go to table files first; only once the whole stream is
//     read and its checksum verified are the region's three family ranges
//     cleared (synced batch) and the files ingested (atomic, durable). On
//     other engines the ranges are cleared and the records written in
//     unsynced batches of about Config.SnapshotBatchBytes (a batch of a
//     whole region could exceed memory), the last one synced.
//  2. Before the first write that touches the data of an initialized peer,
//     a synced batch records RaftSnapshotPendingKey: from then on its data
//     are not its applied state. Should the transfer fail after that, or
//     the store crash before step 3, the peer is quarantined: kept frozen
//     and unpublished (after a restart too) until it is replaced by a newer
//     peer of the region on this store or removed (QuarantinedRegions). An
//     uninitialized peer has no such state: its partial data are
//     unreferenced and cleared by the next attempt.
//  3. The MsgSnap is stepped; its Ready writes descriptor, ConfState, apply
//     state (applied = truncated = snapshot index), hard state and deletes
//     the old log and the pending mark in one synced batch. Only then is the
//     region served.
func (s *Store) ReceiveSnapshot(ctx context.Context, m RaftMessage, data io.Reader) error {
	err := s.receiveSnapshot(ctx, m, data)
	s.metrics.Snapshots.WithLabelValues("received", result(err)).Inc()
	return err
}

func (s *Store) receiveSnapshot(ctx context.Context, m RaftMessage, data io.Reader) (err error) {
	s.mu.Lock()
	if s.stopping {
		s.mu.Unlock()
		return s.stopErr()
	}
	s.recvWG.Add(1)
	s.mu.Unlock()
	defer s.recvWG.Done()
	// Stop waits for this call: a stream blocked in Read is closed (when it
	// can be) once the store stops or ctx ends.
	if c, ok := data.(io.Closer); ok {
		finished := make(chan struct{})
		defer close(finished)
		go func() {
			select {
			case <-s.stopC:
				_ = c.Close()
			case <-ctx.Done():
				_ = c.Close()
			case <-finished:
			}
		}()
	}
	if m.Msg.GetType() != raftpb.MessageType_MsgSnap || m.Msg.GetSnapshot() == nil {
		return fmt.Errorf("%w: not a snapshot message", ErrSnapshotRejected)
	}
	md := m.Msg.GetSnapshot().GetMetadata()
	region, err := DecodeRegion(m.Msg.GetSnapshot().GetData())
	if err != nil {
		return fmt.Errorf("%w: %w", ErrSnapshotRejected, err)
	}
	if region.ID != m.RegionID || m.To.StoreID != s.cfg.StoreID {
		return fmt.Errorf("%w: region %d snapshot addressed to store %d", ErrSnapshotRejected, region.ID, m.To.StoreID)
	}
	if self, ok := region.PeerOnStore(s.cfg.StoreID); !ok || self.ID != m.To.ID {
		return fmt.Errorf("%w: region %d snapshot does not include peer %d", ErrSnapshotRejected, region.ID, m.To.ID)
	}
	br := bufio.NewReaderSize(data, snapChunkSize)
	rd := &snapReader{r: br, crc: crc32.New(castagnoli)}
	if err := rd.header(md.GetIndex(), md.GetTerm(), m.Msg.GetSnapshot().GetData()); err != nil {
		return fmt.Errorf("%w: %w", ErrSnapshotRejected, err)
	}
	token := s.nextProp.Add(1)
	var initialized, fastForward bool
	if err := s.runOnLoop(ctx, func() (err error) {
		initialized, fastForward, err = s.prepareSnapshot(m, &region, token)
		return err
	}); err != nil {
		return err
	}
	if fastForward {
		return s.runOnLoop(ctx, func() error {
			if p := s.peers[region.ID]; p != nil && p.self.ID == m.To.ID && !p.frozen {
				_ = p.rn.Step(m.Msg)
				s.busy = true
			}
			return nil
		})
	}
	var touched bool
	defer s.enqueue(func() { // a no-op once the snapshot was stepped
		p := s.peers[region.ID]
		if p == nil || p.receiving != token {
			return
		}
		p.receiving, p.expectRegion = 0, nil
		if touched && initialized {
			s.quarantine(p, err)
		} else {
			p.frozen = false
		}
	})
	touched, err = s.ingest(ctx, rd, &region, initialized)
	if err != nil {
		return err
	}
	done := make(chan error, 1)
	err = s.runOnLoop(ctx, func() error {
		p := s.peers[region.ID]
		if p == nil || p.receiving != token {
			return fmt.Errorf("%w: region %d peer changed during the transfer", ErrSnapshotRejected, region.ID)
		}
		p.receiving, p.expectRegion, p.frozen = 0, nil, false
		p.knownPeers[m.From.ID] = m.From
		_ = p.rn.Step(m.Msg)
		if p.rn.BasicStatus().GetCommit() < md.GetIndex() {
			if touched && initialized {
				s.quarantine(p, ErrSnapshotRejected)
			}
			return fmt.Errorf("%w: region %d: raft refused the snapshot at %d", ErrSnapshotRejected, region.ID, md.GetIndex())
		}
		p.expectSnap = &expectedSnapshot{index: md.GetIndex(), term: md.GetTerm(), region: region, done: done}
		s.busy = true
		return nil
	})
	if err != nil {
		return err
	}
	return s.wait(ctx, done)
}

// quarantine keeps p frozen and unpublished: its data are not its applied
// state (a snapshot replaced them half-way).
func (s *Store) quarantine(p *peer, cause error) {
	s.cfg.Logger.Errorf("regionraft: region %d peer %d quarantined: its data were partly replaced by a snapshot (%v); replace or remove this replica",
		p.region.ID, p.self.ID, cause)
	p.frozen, p.quarantined = true, true
	s.complete(p.failAll(fmt.Errorf("%w: region %d quarantined", ErrRegionNotFound, p.region.ID), nil))
	s.mu.Lock()
	delete(s.info, p.region.ID)
	s.infoChanged()
	s.mu.Unlock()
}

// QuarantinedRegions lists the regions whose local peer is quarantined
// (see ReceiveSnapshot): frozen replicas the placement driver should
// replace. Safe for concurrent use; empty before Start.
func (s *Store) QuarantinedRegions() []uint64 {
	var out []uint64
	for id := range s.QuarantinedPeers() {
		out = append(out, id)
	}
	slices.Sort(out)
	return out
}

// QuarantinedPeers maps each region whose local peer is quarantined to
// that peer (QuarantinedRegions): the placement driver replaces the peer
// by a newer one, which destroys it. Safe for concurrent use; empty
// before Start or if the raft goroutine does not answer within 5 s.
func (s *Store) QuarantinedPeers() map[uint64]Peer {
	out := map[uint64]Peer{}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = s.runOnLoop(ctx, func() error {
		for id, p := range s.peers {
			if p.quarantined {
				out[id] = p.self
			}
		}
		return nil
	})
	return out
}

func result(err error) string {
	if err != nil {
		return "error"
	}
	return "ok"
}

// prepareSnapshot (raft goroutine) admits a snapshot for the local peer
// m.To, creating it uninitialized if needed, or freezing an initialized one.
// fastForward: the peer's log already holds the snapshot's entry.
func (s *Store) prepareSnapshot(m RaftMessage, region *Region, token uint64) (initialized, fastForward bool, err error) {
	md := m.Msg.GetSnapshot().GetMetadata()
	idx := md.GetIndex()
	p := s.peers[region.ID]
	if p == nil {
		if m.To.ID <= s.tombstones[region.ID] {
			return false, false, fmt.Errorf("%w: region %d peer %d was removed here", ErrSnapshotRejected, region.ID, m.To.ID)
		}
		if p, err = newUninitPeer(&s.cfg, region.ID, m.To); err != nil {
			return false, false, err
		}
		s.registerUninit(p)
	}
	if p.self.ID < m.To.ID { // ours was removed without learning it
		if p = s.replaceStalePeer(p, m.To); p == nil {
			return false, false, s.loopErr
		}
	}
	switch {
	case p.self.ID != m.To.ID:
		return false, false, fmt.Errorf("%w: region %d has local peer %d, not %d", ErrSnapshotRejected, region.ID, p.self.ID, m.To.ID)
	case p.receiving != 0 || p.expectSnap != nil || p.quarantined:
		return false, false, fmt.Errorf("%w: region %d is receiving a snapshot or quarantined", ErrSnapshotRejected, region.ID)
	case p.initialized && p.storage.apply.applied >= idx:
		return false, false, fmt.Errorf("%w: region %d applied %d >= snapshot %d", ErrSnapshotRejected, region.ID, p.storage.apply.applied, idx)
	case s.overlapsOther(region):
		return false, false, fmt.Errorf("%w: region %d overlaps another local region", ErrSnapshotRejected, region.ID)
	}
	if p.initialized {
		if t, err := p.storage.Term(idx); err == nil && t == md.GetTerm() {
			return true, true, nil
		}
		p.frozen = true
	}
	p.receiving = token
	p.expectRegion = region
	return p.initialized, false, nil
}

// registerUninit adds an uninitialized peer (not published: it serves
// nothing until it has a snapshot).
func (s *Store) registerUninit(p *peer) {
	p.storage.snapshotHook = s.snapshotHook(p)
	s.register(p)
}

// sstTargetBytes is the size at which a received snapshot's table file is
// closed and the next one started.
const sstTargetBytes = 64 << 20

// ingest writes the stream's records in place of the region's data (step 1
// of ReceiveSnapshot). touched reports whether the data were modified.
func (s *Store) ingest(ctx context.Context, rd *snapReader, region *Region, initialized bool) (touched bool, err error) {
	ranges := dataRanges(region)
	// touch runs before the first write to the region's data: it marks an
	// initialized peer's data as pending, durably, then clears the ranges.
	touch := func(b engine.Batch) error {
		if touched {
			return nil
		}
		touched = true
		if initialized {
			mb := s.cfg.Engine.NewBatch()
			err := errors.Join(mb.Set(keys.RaftSnapshotPendingKey(region.ID), []byte{1}), mb.Commit(true))
			mb.Close()
			if err != nil {
				return err
			}
		}
		for _, r := range ranges {
			if err := b.DeleteRange(r[0], r[1]); err != nil {
				return err
			}
		}
		return nil
	}
	ing, useSST := s.cfg.Engine.(engine.SSTIngester)
	var ssts []engine.SSTWriter
	ingested := false
	if useSST {
		defer func() {
			if !ingested {
				for _, w := range ssts {
					w.Abort()
				}
			}
		}()
	}
	b := s.cfg.Engine.NewBatch()
	defer func() { b.Close() }()
	if !useSST {
		if err := touch(b); err != nil {
			return touched, err
		}
	}
	size, n := 0, 0
	var last []byte
	for {
		k, v, ok, err := rd.next()
		if err != nil {
			return touched, fmt.Errorf("%w: region %d: %w", ErrSnapshotRejected, region.ID, err)
		}
		if !ok {
			break
		}
		if !inRanges(ranges, k) || (last != nil && bytes.Compare(k, last) <= 0) {
			return touched, fmt.Errorf("%w: region %d: key %x out of range or order", ErrSnapshotRejected, region.ID, k)
		}
		last = append(last[:0], k...)
		if n++; n%4096 == 0 {
			if err := s.ingestAlive(ctx); err != nil {
				return touched, err
			}
		}
		if useSST {
			if len(ssts) == 0 || ssts[len(ssts)-1].Size() >= sstTargetBytes {
				if len(ssts) > 0 {
					if err := ssts[len(ssts)-1].Finish(); err != nil {
						return touched, err
					}
				}
				w, err := ing.NewSSTWriter()
				if err != nil {
					return touched, err
				}
				ssts = append(ssts, w)
			}
			if err := ssts[len(ssts)-1].Set(k, v); err != nil {
				return touched, err
			}
			continue
		}
		if err := b.Set(k, v); err != nil {
			return touched, err
		}
		size += len(k) + len(v)
		if size >= s.cfg.SnapshotBatchBytes {
			if err := s.ingestAlive(ctx); err != nil {
				return touched, err
			}
			if err := b.Commit(false); err != nil {
				return touched, err
			}
			b.Close()
			b, size = s.cfg.Engine.NewBatch(), 0
		}
	}
	if !useSST {
		return touched, b.Commit(true)
	}
	// The whole stream is read and verified: now replace the data.
	if len(ssts) > 0 {
		if err := ssts[len(ssts)-1].Finish(); err != nil {
			return touched, err
		}
	}
	if err := s.ingestAlive(ctx); err != nil {
		return touched, err
	}
	if err := touch(b); err != nil {
		return touched, err
	}
	if err := b.Commit(true); err != nil { // the range deletion, below the tables
		return touched, err
	}
	if len(ssts) > 0 {
		if err := ing.IngestSSTs(ssts); err != nil {
			return touched, err
		}
	}
	ingested = true
	return touched, nil
}

// ingestAlive fails once ctx ends or the store stops (Stop waits for
// ReceiveSnapshot, then the engine may close).
func (s *Store) ingestAlive(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	select {
	case <-s.stopC:
		return s.stopErr()
	default:
		return nil
	}
}

// snapReader parses a snapshot stream.
type snapReader struct {
	r     *bufio.Reader
	crc   hash.Hash32
	count uint64
	key   []byte
	val   []byte
}

func (r *snapReader) readFull(n uint64, dst []byte) ([]byte, error) {
	if n > snapMaxKeyValue {
		return nil, fmt.Errorf("record of %d bytes", n)
	}
	if uint64(cap(dst)) < n {
		dst = make([]byte, n)
	}
	dst = dst[:n]
	if _, err := io.ReadFull(r.r, dst); err != nil {
		return nil, err
	}
	r.crc.Write(dst)
	return dst, nil
}

func (r *snapReader) byte() (byte, error) {
	c, err := r.r.ReadByte()
	if err == nil {
		r.crc.Write([]byte{c})
	}
	return c, err
}

func (r *snapReader) uvarint() (uint64, error) {
	v, err := binary.ReadUvarint(byteReader{r})
	return v, err
}

type byteReader struct{ r *snapReader }

func (b byteReader) ReadByte() (byte, error) { return b.r.byte() }

func (r *snapReader) header(index, term uint64, desc []byte) error {
	h, err := r.readFull(uint64(len(snapMagic)+1), nil)
	if err != nil {
		return err
	}
	if string(h[:len(snapMagic)]) != snapMagic || h[len(snapMagic)] != snapFormatV1 {
		return fmt.Errorf("bad snapshot stream header %x", h)
	}
	i, err := r.uvarint()
	if err != nil {
		return err
	}
	t, err := r.uvarint()
	if err != nil {
		return err
	}
	n, err := r.uvarint()
	if err != nil {
		return err
	}
	d, err := r.readFull(n, nil)
	if err != nil {
		return err
	}
	if i != index || t != term || !bytes.Equal(d, desc) {
		return fmt.Errorf("snapshot stream is for index %d term %d, message for %d/%d", i, t, index, term)
	}
	return nil
}

// next returns the next record; ok is false at the (verified) end.
func (r *snapReader) next() (k, v []byte, ok bool, err error) {
	tag, err := r.byte()
	if err != nil {
		return nil, nil, false, err
	}
	switch tag {
	case snapFrameKV:
		n, err := r.uvarint()
		if err != nil {
			return nil, nil, false, err
		}
		if r.key, err = r.readFull(n, r.key); err != nil {
			return nil, nil, false, err
		}
		if n, err = r.uvarint(); err != nil {
			return nil, nil, false, err
		}
		if r.val, err = r.readFull(n, r.val); err != nil {
			return nil, nil, false, err
		}
		r.count++
		return r.key, r.val, true, nil
	case snapFrameEnd:
		n, err := r.uvarint()
		if err != nil {
			return nil, nil, false, err
		}
		sum := r.crc.Sum32()
		var tail [4]byte
		if _, err := io.ReadFull(r.r, tail[:]); err != nil {
			return nil, nil, false, err
		}
		if n != r.count || binary.BigEndian.Uint32(tail[:]) != sum {
			return nil, nil, false, fmt.Errorf("snapshot stream checksum or count mismatch")
		}
		if _, err := r.r.ReadByte(); err != io.EOF {
			return nil, nil, false, fmt.Errorf("data after the end of the snapshot stream")
		}
		return nil, nil, false, nil
	default:
		return nil, nil, false, fmt.Errorf("unknown snapshot frame %d", tag)
	}
}
