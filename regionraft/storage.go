package regionraft

import (
	"encoding/binary"
	"errors"
	"fmt"

	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"

	"github.com/skerrydb/skerry/mvcc/engine"
	"github.com/skerrydb/skerry/mvcc/keys"
)

// raftInitIndex and raftInitTerm are the log position a bootstrapped region
// starts from (as in TiKV): every replica of a new region begins with the
// same truncated state and a ConfState built from the descriptor, so no
// bootstrap conf-change entries are needed.
const (
	raftInitIndex = 5
	raftInitTerm  = 5
)

// applyState is a region's applied index and log truncation point.
type applyState struct {
	applied    uint64 // every entry <= applied has been applied
	truncIndex uint64 // entries <= truncIndex are deleted
	truncTerm  uint64 // term of the entry at truncIndex
}

// applyStateFormatV1: record under keys.RaftApplyStateKey (FROZEN):
//
//	byte   version = 1
//	uint64 applied index     (big endian)
//	uint64 truncated index   (big endian)
//	uint64 truncated term    (big endian)
const applyStateFormatV1 byte = 1

func (a applyState) encode() []byte {
	b := make([]byte, 0, 25)
	b = append(b, applyStateFormatV1)
	b = binary.BigEndian.AppendUint64(b, a.applied)
	b = binary.BigEndian.AppendUint64(b, a.truncIndex)
	return binary.BigEndian.AppendUint64(b, a.truncTerm)
}

func decodeApplyState(b []byte) (applyState, error) {
	if len(b) != 25 || b[0] != applyStateFormatV1 {
		return applyState{}, fmt.Errorf("%w: apply state record of %d bytes", ErrCorrupt, len(b))
	}
	a := applyState{
		applied:    binary.BigEndian.Uint64(b[1:]),
		truncIndex: binary.BigEndian.Uint64(b[9:]),
		truncTerm:  binary.BigEndian.Uint64(b[17:]),
	}
	if a.applied < a.truncIndex {
		return applyState{}, fmt.Errorf("%w: applied %d < truncated %d", ErrCorrupt, a.applied, a.truncIndex)
	}
	return a, nil
}

// peerStorage is raft.Storage for one region over the engine, with an
// in-memory cache of the newest entries. It is used only by the store's raft
// goroutine (raft calls it from RawNode methods), so it has no lock.
//
// Invariants: entries (truncIndex, last] are in the engine (or in the batch
// being built); cache is a contiguous run of entries ending at last.
type peerStorage struct {
	eng      engine.Engine
	regionID uint64
	region   *Region // the owning peer's descriptor, for snapshot data
	cs       *raftpb.ConfState
	hs       *raftpb.HardState
	apply    applyState
	last     uint64
	cache    []*raftpb.Entry
	cacheCap int
	// cacheBytes is the payload size of cache. A batch entry carries a
	// round's commands (up to MaxSizePerMsg/4), so the cache is bounded in
	// bytes (cacheMaxBytes) as well as in entries.
	cacheBytes int
	// logBytes approximates the payload size of the log (truncIndex, last]
	// since this incarnation loaded it (TiKV's raft_log_size_hint): log GC
	// also runs when it passes Config.RaftLogGCSizeLimit.
	logBytes uint64
	// snapshotHook, if set, is called by Snapshot with the snapshot it
	// returns; it pins an engine snapshot of the same applied state (or
	// fails with raft.ErrSnapshotTemporarilyUnavailable).
	snapshotHook func(*raftpb.Snapshot) error
}

var _ raft.Storage = (*peerStorage)(nil)

func loadPeerStorage(eng engine.Engine, region *Region, cacheCap int) (*peerStorage, error) {
	id := region.ID
	ps := &peerStorage{eng: eng, regionID: id, region: region, cacheCap: cacheCap}
	v, err := eng.Get(keys.RaftHardStateKey(id))
	if err != nil {
		return nil, fmt.Errorf("regionraft: region %d hard state: %w", id, err)
	}
	ps.hs = &raftpb.HardState{}
	if err := proto.Unmarshal(v, ps.hs); err != nil {
		return nil, fmt.Errorf("%w: region %d hard state: %v", ErrCorrupt, id, err)
	}
	v, err = eng.Get(keys.RaftApplyStateKey(id))
	if err != nil {
		return nil, fmt.Errorf("regionraft: region %d apply state: %w", id, err)
	}
	if ps.apply, err = decodeApplyState(v); err != nil {
		return nil, fmt.Errorf("region %d: %w", id, err)
	}
	lo, hi := keys.RaftLogRange(id)
	it, err := eng.NewIter(lo, hi)
	if err != nil {
		return nil, err
	}
	ps.last = ps.apply.truncIndex
	if it.Last() {
		idx, err := keys.RaftLogIndex(it.Key())
		if err != nil {
			it.Close()
			return nil, fmt.Errorf("%w: region %d log key: %v", ErrCorrupt, id, err)
		}
		ps.last = idx
	}
	if err := it.Error(); err != nil {
		it.Close()
		return nil, err
	}
	it.Close()
	if ps.apply.applied > ps.hs.GetCommit() && ps.apply.applied <= ps.last {
		// Applied entries were committed: a commit index below them is
		// stale, not corrupt. It happens after a split: the split's apply
		// writes the new region's hard state (commit raftInitIndex), and
		// an uninitialized peer of that region, created by the new
		// leader's messages, can persist its own hard state (commit 0)
		// in the same round's log batch, after it. A crash before the
		// region's next hard state left a store that could not start.
		ps.hs.Commit = proto.Uint64(ps.apply.applied)
	}
	if ps.last < ps.apply.truncIndex || ps.hs.GetCommit() > ps.last || ps.apply.applied > ps.hs.GetCommit() {
		return nil, fmt.Errorf("%w: region %d: truncated %d, applied %d, commit %d, last %d",
			ErrCorrupt, id, ps.apply.truncIndex, ps.apply.applied, ps.hs.GetCommit(), ps.last)
	}
	// The ConfState record exists once a conf change or a snapshot was
	// applied; before that, the descriptor (as bootstrapped) defines it.
	switch v, err := eng.Get(keys.RaftConfStateKey(id)); {
	case err == nil:
		ps.cs = &raftpb.ConfState{}
		if err := proto.Unmarshal(v, ps.cs); err != nil {
			return nil, fmt.Errorf("%w: region %d conf state: %v", ErrCorrupt, id, err)
		}
	case errors.Is(err, engine.ErrNotFound):
		ps.cs = confStateOf(region)
	default:
		return nil, err
	}
	return ps, nil
}

// newUninitStorage is the storage of a peer created from a message: no log,
// no range, an empty ConfState. Its hard state (term and vote only; commit 0
// as there is no log) is reloaded if an earlier incarnation persisted one,
// so a vote is never forgotten.
func newUninitStorage(eng engine.Engine, region *Region, cacheCap int) (*peerStorage, error) {
	ps := &peerStorage{eng: eng, regionID: region.ID, region: region, cacheCap: cacheCap,
		cs: &raftpb.ConfState{}, hs: &raftpb.HardState{}}
	switch v, err := eng.Get(keys.RaftHardStateKey(region.ID)); {
	case err == nil:
		if err := proto.Unmarshal(v, ps.hs); err != nil {
			return nil, fmt.Errorf("%w: region %d hard state: %v", ErrCorrupt, region.ID, err)
		}
		ps.hs.Commit = nil
	case !errors.Is(err, engine.ErrNotFound):
		return nil, err
	}
	return ps, nil
}

// confStateOf is the ConfState a descriptor implies outside joint consensus.
func confStateOf(r *Region) *raftpb.ConfState {
	cs := &raftpb.ConfState{}
	for _, p := range r.Peers {
		if p.Learner {
			cs.Learners = append(cs.Learners, p.ID)
		} else {
			cs.Voters = append(cs.Voters, p.ID)
		}
	}
	return cs
}

// InitialState implements raft.Storage.
func (ps *peerStorage) InitialState() (*raftpb.HardState, *raftpb.ConfState, error) {
	return proto.CloneOf(ps.hs), proto.CloneOf(ps.cs), nil
}

// FirstIndex implements raft.Storage.
func (ps *peerStorage) FirstIndex() (uint64, error) { return ps.apply.truncIndex + 1, nil }

// LastIndex implements raft.Storage.
func (ps *peerStorage) LastIndex() (uint64, error) { return ps.last, nil }

func (ps *peerStorage) cacheFirst() uint64 {
	if len(ps.cache) == 0 {
		return ps.last + 1
	}
	return ps.cache[0].GetIndex()
}

// Term implements raft.Storage.
func (ps *peerStorage) Term(i uint64) (uint64, error) {
	switch {
	case i == ps.apply.truncIndex:
		return ps.apply.truncTerm, nil
	case i < ps.apply.truncIndex:
		return 0, raft.ErrCompacted
	case i > ps.last:
		return 0, raft.ErrUnavailable
	}
	if cf := ps.cacheFirst(); i >= cf {
		return ps.cache[i-cf].GetTerm(), nil
	}
	e, err := ps.readEntry(i)
	if err != nil {
		return 0, err
	}
	return e.GetTerm(), nil
}

func (ps *peerStorage) readEntry(i uint64) (*raftpb.Entry, error) {
	v, err := ps.eng.Get(keys.RaftLogKey(ps.regionID, i))
	if err != nil {
		return nil, fmt.Errorf("regionraft: region %d log entry %d: %w", ps.regionID, i, err)
	}
	e := &raftpb.Entry{}
	if err := proto.Unmarshal(v, e); err != nil || e.GetIndex() != i {
		return nil, fmt.Errorf("%w: region %d log entry %d", ErrCorrupt, ps.regionID, i)
	}
	return e, nil
}

// Entries implements raft.Storage.
func (ps *peerStorage) Entries(lo, hi, maxSize uint64) ([]*raftpb.Entry, error) {
	if lo <= ps.apply.truncIndex {
		return nil, raft.ErrCompacted
	}
	if hi > ps.last+1 || lo > hi {
		return nil, fmt.Errorf("regionraft: region %d entries [%d, %d) out of bound, last %d: %w",
			ps.regionID, lo, hi, ps.last, raft.ErrUnavailable)
	}
	if lo == hi {
		return nil, nil
	}
	var out []*raftpb.Entry
	var size uint64
	add := func(e *raftpb.Entry) bool {
		s := uint64(proto.Size(e))
		if len(out) > 0 && size+s > maxSize {
			return false
		}
		out = append(out, e)
		size += s
		return true
	}
	cf := ps.cacheFirst()
	if lo < cf {
		end := min(hi, cf)
		it, err := ps.eng.NewIter(keys.RaftLogKey(ps.regionID, lo), keys.RaftLogKey(ps.regionID, end))
		if err != nil {
			return nil, err
		}
		next := lo
		full := false
		for ok := it.First(); ok; ok = it.Next() {
			e := &raftpb.Entry{}
			if err := proto.Unmarshal(it.Value(), e); err != nil || e.GetIndex() != next {
				it.Close()
				return nil, fmt.Errorf("%w: region %d log entry %d", ErrCorrupt, ps.regionID, next)
			}
			next++
			if !add(e) {
				full = true
				break
			}
		}
		err = it.Error()
		it.Close()
		if err != nil {
			return nil, err
		}
		if full {
			return out, nil
		}
		if next != end {
			return nil, fmt.Errorf("%w: region %d log entry %d missing", ErrCorrupt, ps.regionID, next)
		}
		lo = end
	}
	for i := lo; i < hi; i++ {
		if !add(ps.cache[i-cf]) {
			break
		}
	}
	return out, nil
}

// Snapshot implements raft.Storage: the applied state (index, term,
// ConfState) with the encoded region descriptor as Data. The region's data
// travel separately (snapshot.go); snapshotHook pins them.
func (ps *peerStorage) Snapshot() (*raftpb.Snapshot, error) {
	if len(ps.region.Peers) == 0 {
		return nil, raft.ErrSnapshotTemporarilyUnavailable // uninitialized
	}
	term, err := ps.Term(ps.apply.applied)
	if err != nil {
		return nil, err
	}
	snap := &raftpb.Snapshot{
		Data: EncodeRegion(ps.region),
		Metadata: &raftpb.SnapshotMetadata{
			ConfState: proto.CloneOf(ps.cs),
			Index:     proto.Uint64(ps.apply.applied),
			Term:      proto.Uint64(term),
		},
	}
	if ps.snapshotHook != nil {
		if err := ps.snapshotHook(snap); err != nil {
			return nil, err
		}
	}
	return snap, nil
}

// applySnapshot writes to b the state a received snapshot leaves (its data
// were written before): descriptor, ConfState, apply state (applied =
// truncated = snapshot index/term), no log. The hard state comes with the
// same Ready. The in-memory view changes at once; raft reads it only after
// b commits.
func (ps *peerStorage) applySnapshot(b engine.Batch, snap *raftpb.Snapshot, region *Region) error {
	md := snap.GetMetadata()
	idx, term := md.GetIndex(), md.GetTerm()
	cs, err := proto.Marshal(md.GetConfState())
	if err != nil {
		return err
	}
	lo, hi := keys.RaftLogRange(ps.regionID)
	ps.apply = applyState{applied: idx, truncIndex: idx, truncTerm: term}
	if err := errors.Join(
		b.DeleteRange(lo, hi),
		b.Set(keys.RegionStateKey(ps.regionID), EncodeRegion(region)),
		b.Set(keys.RaftConfStateKey(ps.regionID), cs),
		b.Set(keys.RaftApplyStateKey(ps.regionID), ps.apply.encode()),
	); err != nil {
		return err
	}
	ps.cs = proto.CloneOf(md.GetConfState())
	ps.last = idx
	ps.cache, ps.cacheBytes, ps.logBytes = nil, 0, 0
	return nil
}

// setConfState records cs (applied in the same batch as its entry).
func (ps *peerStorage) setConfState(b engine.Batch, cs *raftpb.ConfState) error {
	v, err := proto.Marshal(cs)
	if err != nil {
		return err
	}
	ps.cs = proto.CloneOf(cs)
	return b.Set(keys.RaftConfStateKey(ps.regionID), v)
}

// append writes ents to b, deletes any conflicting tail beyond them, and
// updates the in-memory view (raft reads it only after the batch commits).
func (ps *peerStorage) append(b engine.Batch, ents []*raftpb.Entry) error {
	first, newLast := ents[0].GetIndex(), ents[len(ents)-1].GetIndex()
	if first <= ps.apply.truncIndex || first > ps.last+1 {
		return fmt.Errorf("regionraft: region %d append [%d, %d] to log (%d, %d]",
			ps.regionID, first, newLast, ps.apply.truncIndex, ps.last)
	}
	for _, e := range ents {
		v, err := proto.Marshal(e)
		if err != nil {
			return err
		}
		if err := b.Set(keys.RaftLogKey(ps.regionID, e.GetIndex()), v); err != nil {
			return err
		}
	}
	if newLast < ps.last {
		if err := b.DeleteRange(keys.RaftLogKey(ps.regionID, newLast+1), keys.RaftLogKey(ps.regionID, ps.last+1)); err != nil {
			return err
		}
	}
	// Entries hands out fresh slices, never the cache's, so the cache may be
	// appended to in place. It is trimmed to cacheCap entries only once it
	// holds twice as many: amortized O(1) per entry, not a copy per append.
	added := entriesBytes(ents)
	ps.logBytes += uint64(added)
	if cf := ps.cacheFirst(); len(ps.cache) > 0 && first >= cf {
		if first <= ps.last { // a conflicting suffix is replaced: recount
			ps.cache = append(ps.cache[:first-cf], ents...)
			ps.cacheBytes = entriesBytes(ps.cache)
		} else {
			ps.cache = append(ps.cache, ents...)
			ps.cacheBytes += added
		}
	} else {
		ps.cache = append(ps.cache[:0], ents...)
		ps.cacheBytes = added
	}
	if len(ps.cache) > 2*ps.cacheCap || ps.cacheBytes > 2*cacheMaxBytes {
		// Keep the newest entries within both bounds (at least one).
		drop, bytes := len(ps.cache)-min(len(ps.cache), ps.cacheCap), ps.cacheBytes
		for _, e := range ps.cache[:drop] {
			bytes -= len(e.GetData())
		}
		for drop < len(ps.cache)-1 && bytes > cacheMaxBytes {
			bytes -= len(ps.cache[drop].GetData())
			drop++
		}
		k := copy(ps.cache, ps.cache[drop:])
		clear(ps.cache[k:]) // release the dropped entries
		ps.cache, ps.cacheBytes = ps.cache[:k], bytes
	}
	ps.last = newLast
	return nil
}

func (ps *peerStorage) setHardState(b engine.Batch, hs *raftpb.HardState) error {
	v, err := proto.Marshal(hs)
	if err != nil {
		return err
	}
	ps.hs = proto.CloneOf(hs)
	return b.Set(keys.RaftHardStateKey(ps.regionID), v)
}

// compact deletes the entries <= to (which must be applied) in b and records
// the new truncated state in memory; the caller persists the apply state in
// the same batch.
func (ps *peerStorage) compact(b engine.Batch, to uint64) error {
	if to <= ps.apply.truncIndex {
		return nil
	}
	if to > ps.apply.applied {
		return fmt.Errorf("regionraft: region %d compact to %d beyond applied %d", ps.regionID, to, ps.apply.applied)
	}
	term, err := ps.Term(to)
	if err != nil {
		return err
	}
	if err := b.DeleteRange(keys.RaftLogKey(ps.regionID, 0), keys.RaftLogKey(ps.regionID, to+1)); err != nil {
		return err
	}
	if n := ps.last - ps.apply.truncIndex; n > 0 {
		ps.logBytes = ps.logBytes * (ps.last - to) / n // assume even sizes
	}
	ps.apply.truncIndex, ps.apply.truncTerm = to, term
	if cf := ps.cacheFirst(); len(ps.cache) > 0 && to >= cf {
		ps.cache = append([]*raftpb.Entry(nil), ps.cache[to-cf+1:]...)
		ps.cacheBytes = entriesBytes(ps.cache)
	}
	return nil
}

// cacheMaxBytes bounds the entry cache of a region (see cacheBytes).
const cacheMaxBytes = 8 << 20

func entriesBytes(ents []*raftpb.Entry) int {
	n := 0
	for _, e := range ents {
		n += len(e.GetData())
	}
	return n
}

// writeInitialState writes the raft state of a freshly bootstrapped region.
func writeInitialState(b engine.Batch, regionID uint64) error {
	hs, err := proto.Marshal(&raftpb.HardState{Term: proto.Uint64(raftInitTerm), Commit: proto.Uint64(raftInitIndex)})
	if err != nil {
		return err
	}
	a := applyState{applied: raftInitIndex, truncIndex: raftInitIndex, truncTerm: raftInitTerm}
	return errors.Join(b.Set(keys.RaftHardStateKey(regionID), hs), b.Set(keys.RaftApplyStateKey(regionID), a.encode()))
}
