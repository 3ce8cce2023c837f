package cluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"time"

	"github.com/skerrydb/skerry/cluster/rpc"
	"github.com/skerrydb/skerry/mvcc"
	"github.com/skerrydb/skerry/mvcc/keys"
	"github.com/skerrydb/skerry/pd/pdclient"
	"github.com/skerrydb/skerry/regionraft"
)

// The transactional key-value actions of distributed transactions
// (docs/decisions/0005): each runs on the leader of the region holding its
// keys, under those keys' latches (the same latches as the local fast
// path), on a fresh mvcc.Reader, and replicates its modifications with
// ProposeEpoch. They are served locally when this node leads the region
// and over rpc.TxnKV otherwise.

// TxnKV op codes (rpc.TxnKVRequest.Op). FROZEN: never renumber.
const (
	kvOpGet         uint32 = 1 // Keys at StartTS: one pair per key
	kvOpScan        uint32 = 2 // [Lower, Upper) at StartTS, clamped to the region
	kvOpPrewrite    uint32 = 3 // Mutations, Primary, StartTS, TTLMs
	kvOpCommit      uint32 = 4 // Keys, StartTS, CommitTS
	kvOpResolve     uint32 = 5 // Keys, StartTS, CommitTS (0: roll back)
	kvOpCheckStatus uint32 = 6 // Primary, StartTS, CurrentTS, Flags&kvFlagRollbackIfNotExist
	kvOpLatest      uint32 = 7 // Keys[0] at StartTS: CommitTS = its newest put/delete
	kvOpHeartBeat   uint32 = 8 // Primary, StartTS, TTLMs: raise the primary lock's TTL
)

// TxnKV request flags (rpc.TxnKVRequest.Flags). FROZEN.
const kvFlagRollbackIfNotExist uint64 = 1

// TxnKV mutation kinds (rpc.TxnMutation.Kind). FROZEN.
const (
	kvMutPut    uint32 = 0
	kvMutDelete uint32 = 1
	kvMutLock   uint32 = 2
)

// TxnKV response error codes (rpc.TxnKVResponse.ErrCode). FROZEN.
const (
	kvErrNone         uint32 = 0
	kvErrNotLeader    uint32 = 1 // Leader: the store believed to lead (0: unknown)
	kvErrRegion       uint32 = 2 // the keys are not (all) in one region here, or it split: re-route
	kvErrLocked       uint32 = 3 // ErrKey is locked by Lock (an encoded mvcc.Lock)
	kvErrConflict     uint32 = 4 // ErrKey was committed at ErrTS after StartTS
	kvErrRolledBack   uint32 = 5 // mvcc.ErrTxnRolledBack
	kvErrCommitted    uint32 = 6 // rollback of a committed transaction (ErrTS: its commit ts)
	kvErrLockNotFound uint32 = 7 // mvcc.ErrTxnLockNotFound
	kvErrTxnNotFound  uint32 = 8 // mvcc.ErrTxnNotFound
	kvErrUnknown      uint32 = 9 // the proposal's outcome is unknown
	kvErrOther        uint32 = 10
	kvErrTooOld       uint32 = 11 // a read at a start ts below the GC safe point this node knows
)

// errKVRegion is what a region error becomes once routing gives up.
var errKVRegion = errors.New("cluster: region changed during a transactional action")

// errKVOutcomeUnknown reports an action that may or may not have applied.
var errKVOutcomeUnknown = errors.New("cluster: outcome of a transactional action unknown")

// regionInfo is the part of regionraft.Store the transactional actions
// need beyond raftStore: region ranges.
type regionInfo interface {
	Region(regionID uint64) (regionraft.Region, bool)
}

// latchOf maps a logical key to the latch the local fast path takes for
// its Redis key (latchKeys), so both paths exclude each other.
func latchOf(k []byte) []byte {
	if _, key, _, ok := keys.DecodeMetaKey(k); ok {
		return keys.MetaKey(0, key)
	}
	if _, key, _, ok := keys.DecodeExpiryIndexKey(k); ok {
		return keys.MetaKey(0, key)
	}
	return bytes.Clone(k)
}

// requestKeys returns the logical keys req touches (for routing and
// latches).
func requestKeys(req *rpc.TxnKVRequest) [][]byte {
	switch req.Op {
	case kvOpPrewrite:
		out := make([][]byte, len(req.Mutations))
		for i := range req.Mutations {
			out[i] = req.Mutations[i].Key
		}
		return out
	case kvOpCheckStatus, kvOpHeartBeat:
		return [][]byte{req.Primary}
	case kvOpScan:
		return [][]byte{req.Lower}
	}
	return req.Keys
}

// serveTxnKV runs one transactional action on this node (rpc.TxnKVHandler).
// Outcomes are in the response; a returned error is a malformed request.
func (x *executor) serveTxnKV(ctx context.Context, req *rpc.TxnKVRequest) (*rpc.TxnKVResponse, error) {
	ks := requestKeys(req)
	if len(ks) == 0 {
		return nil, fmt.Errorf("cluster: TxnKV op %d without keys", req.Op)
	}
	lks := make([][]byte, len(ks))
	for i, k := range ks {
		lks[i] = latchOf(k)
	}
	if _, _, _, ok := keys.DecodeMetaKey(req.Lower); req.Op == kvOpScan && !ok {
		lks = nil // a range of no single Redis key: every latch
	}
	g := x.acquire(lks, false)
	defer g.Release()
	region, ok := x.raft.RegionForKeys(ks)
	if !ok {
		return &rpc.TxnKVResponse{ErrCode: kvErrRegion}, nil
	}
	epoch, ok := x.raft.Epoch(region)
	if !ok {
		return &rpc.TxnKVResponse{ErrCode: kvErrRegion}, nil
	}
	// Actions that may write pass the cheaper WriteBarrier (their
	// proposal proves the leadership), and ReadBarrier only when they end
	// up proposing nothing.
	writes := req.Op != kvOpGet && req.Op != kvOpScan && req.Op != kvOpLatest
	barrier := x.raft.ReadBarrier
	if writes {
		barrier = x.raft.WriteBarrier
	}
	if err := barrier(ctx, region); err != nil {
		return x.kvRaftError(region, err), nil
	}
	rd := mvcc.NewReaderWithLocks(x.engine, req.StartTS, x.locks)
	defer rd.Close()
	resp := &rpc.TxnKVResponse{}
	var mods []mvcc.Modify
	var err error
	switch req.Op {
	case kvOpGet:
		for _, k := range req.Keys {
			v, found, gerr := rd.Get(k)
			if gerr != nil {
				err = gerr
				break
			}
			resp.Pairs = append(resp.Pairs, rpc.TxnKVPair{Key: k, Value: bytes.Clone(v), Found: found})
		}
	case kvOpLatest:
		if err = rd.CheckLock(req.Keys[0]); err == nil {
			_, resp.CommitTS, _, err = rd.SeekWrite(req.Keys[0], req.StartTS)
		}
	case kvOpScan:
		err = x.kvScanRegion(rd, region, req, resp)
	case kvOpPrewrite:
		muts := make([]mvcc.Mutation, len(req.Mutations))
		for i, m := range req.Mutations {
			muts[i] = mvcc.Mutation{Key: m.Key, Value: m.Value, Delete: m.Kind == kvMutDelete, Lock: m.Kind == kvMutLock}
		}
		mods, err = mvcc.Prewrite(rd, muts, req.Primary, req.StartTS, req.TTLMs)
		if err == nil && x.plain != nil {
			x.plain.note(muts) // before the locks exist, latched
		}
	case kvOpCommit:
		mods, err = mvcc.Commit(rd, req.Keys, req.StartTS, req.CommitTS)
	case kvOpResolve:
		mods, err = mvcc.ResolveLock(rd, req.StartTS, req.CommitTS, req.Keys)
	case kvOpCheckStatus:
		var st mvcc.TxnStatus
		st, mods, err = mvcc.CheckTxnStatus(rd, req.Primary, req.StartTS, req.CurrentTS, req.Flags&kvFlagRollbackIfNotExist != 0)
		resp.State, resp.Action, resp.CommitTS = uint64(st.State), uint64(st.Action), st.CommitTS
		if st.State == mvcc.TxnLocked {
			resp.Lock = st.Lock.Encode()
		}
	case kvOpHeartBeat:
		_, mods, err = mvcc.TxnHeartBeat(rd, req.Primary, req.StartTS, req.TTLMs)
	default:
		return nil, fmt.Errorf("cluster: unknown TxnKV op %d", req.Op)
	}
	if len(mods) == 0 && writes {
		if berr := x.raft.ReadBarrier(ctx, region); berr != nil {
			return x.kvRaftError(region, berr), nil
		}
	}
	if !writes {
		// A read below the GC safe point may have missed versions GC
		// removed: refused, as TiKV does (a coordinator cut off from PD
		// did not hold the safe point back with its reports). Checked
		// after the reads, against the highest safe point this node knows
		// (the one its collector used, raised before it deletes, and
		// PD's as last read), so deletions this node made during the
		// reads are caught too.
		if sp := max(x.safePoint.Load(), x.pdSafePoint.Load()); req.StartTS < sp {
			return &rpc.TxnKVResponse{ErrCode: kvErrTooOld, ErrMsg: fmt.Sprintf("start ts %d, safe point %d", req.StartTS, sp)}, nil
		}
	}
	if err != nil {
		return kvErrorResponse(err), nil
	}
	if len(mods) == 0 {
		return resp, nil
	}
	if err := rd.Close(); err != nil {
		return nil, err
	}
	if err := x.raft.ProposeEpoch(ctx, region, epoch, mvcc.EncodeModifies(mods)); err != nil {
		return x.kvRaftError(region, err), nil
	}
	return resp, nil
}

// kvScanRegion scans [Lower, Upper) clamped to the region's end, at most
// kvScanPage pairs, and sets ResumeKey to where the next page starts: the
// first key not sent, or the region's end when the range goes on past it.
func (x *executor) kvScanRegion(rd *mvcc.Reader, region uint64, req *rpc.TxnKVRequest, resp *rpc.TxnKVResponse) error {
	ri, ok := x.raft.(regionInfo)
	if !ok {
		return errKVRegion
	}
	r, ok := ri.Region(region)
	if !ok {
		return errKVRegion
	}
	upper := req.Upper
	if len(r.EndKey) > 0 && (upper == nil || bytes.Compare(upper, r.EndKey) > 0) {
		upper = r.EndKey
		resp.ResumeKey = bytes.Clone(r.EndKey)
	}
	err := rd.Scan(req.Lower, upper, false, func(k, v []byte) error {
		if len(resp.Pairs) == kvScanPage {
			// k is the first key not sent: the next page starts there.
			resp.ResumeKey = bytes.Clone(k)
			return errPageFull
		}
		resp.Pairs = append(resp.Pairs, rpc.TxnKVPair{Key: bytes.Clone(k), Value: bytes.Clone(v), Found: true})
		return nil
	})
	if errors.Is(err, errPageFull) {
		return nil
	}
	return err
}

// kvScanPage bounds the pairs of one scan response, so a whole-keyspace
// walk (KEYS, DBSIZE, SCAN) holds neither the serving leader's memory nor
// the reply to the size of a region, and a walk stopped early reads little.
const kvScanPage = 512

var errPageFull = errors.New("cluster: scan page full")

// kvRaftError maps a ReadBarrier or proposal error to a response.
func (x *executor) kvRaftError(region uint64, err error) *rpc.TxnKVResponse {
	var nl *regionraft.NotLeaderError
	switch {
	case errors.As(err, &nl):
		return &rpc.TxnKVResponse{ErrCode: kvErrNotLeader, Leader: nl.Leader.StoreID}
	case errors.Is(err, regionraft.ErrOutcomeUnknown):
		return &rpc.TxnKVResponse{ErrCode: kvErrUnknown, ErrMsg: err.Error()}
	case errors.Is(err, regionraft.ErrProposalDropped), errors.Is(err, regionraft.ErrReadDropped):
		leader, _ := x.raft.Leader(region)
		return &rpc.TxnKVResponse{ErrCode: kvErrNotLeader, Leader: leader.StoreID}
	case errors.As(err, new(*regionraft.EpochNotMatchError)), errors.Is(err, regionraft.ErrRegionNotFound):
		return &rpc.TxnKVResponse{ErrCode: kvErrRegion}
	}
	return &rpc.TxnKVResponse{ErrCode: kvErrOther, ErrMsg: err.Error()}
}

// kvErrorResponse maps an mvcc action error to a response.
func kvErrorResponse(err error) *rpc.TxnKVResponse {
	var le *mvcc.KeyLockedError
	var wc *mvcc.WriteConflictError
	var ce *mvcc.CommittedError
	switch {
	case errors.As(err, &le):
		return &rpc.TxnKVResponse{ErrCode: kvErrLocked, ErrKey: le.Key, Lock: le.Lock.Encode()}
	case errors.As(err, &wc):
		return &rpc.TxnKVResponse{ErrCode: kvErrConflict, ErrKey: wc.Key, ErrTS: wc.ConflictCommitTS}
	case errors.As(err, &ce):
		return &rpc.TxnKVResponse{ErrCode: kvErrCommitted, ErrKey: ce.Key, ErrTS: ce.CommitTS}
	case errors.Is(err, mvcc.ErrTxnRolledBack):
		return &rpc.TxnKVResponse{ErrCode: kvErrRolledBack, ErrMsg: err.Error()}
	case errors.Is(err, mvcc.ErrTxnLockNotFound):
		return &rpc.TxnKVResponse{ErrCode: kvErrLockNotFound, ErrMsg: err.Error()}
	case errors.Is(err, mvcc.ErrTxnNotFound):
		return &rpc.TxnKVResponse{ErrCode: kvErrTxnNotFound, ErrMsg: err.Error()}
	}
	return &rpc.TxnKVResponse{ErrCode: kvErrOther, ErrMsg: err.Error()}
}

// kvResponseError turns a response's outcome into the typed error the
// mvcc action returned (nil when it succeeded). Region errors are
// handled by routing before this.
func kvResponseError(req *rpc.TxnKVRequest, resp *rpc.TxnKVResponse) error {
	switch resp.ErrCode {
	case kvErrNone:
		return nil
	case kvErrLocked:
		l, err := mvcc.DecodeLock(bytes.Clone(resp.Lock))
		if err != nil {
			return err
		}
		return &mvcc.KeyLockedError{Key: bytes.Clone(resp.ErrKey), Lock: l}
	case kvErrConflict:
		return &mvcc.WriteConflictError{Key: bytes.Clone(resp.ErrKey), StartTS: req.StartTS, ConflictCommitTS: resp.ErrTS}
	case kvErrCommitted:
		return &mvcc.CommittedError{Key: bytes.Clone(resp.ErrKey), StartTS: req.StartTS, CommitTS: resp.ErrTS}
	case kvErrRolledBack:
		return fmt.Errorf("%w (%s)", mvcc.ErrTxnRolledBack, resp.ErrMsg)
	case kvErrLockNotFound:
		return fmt.Errorf("%w (%s)", mvcc.ErrTxnLockNotFound, resp.ErrMsg)
	case kvErrTxnNotFound:
		return fmt.Errorf("%w (%s)", mvcc.ErrTxnNotFound, resp.ErrMsg)
	case kvErrUnknown:
		return fmt.Errorf("%w: %s", errKVOutcomeUnknown, resp.ErrMsg)
	case kvErrNotLeader, kvErrRegion:
		return errKVRegion
	case kvErrTooOld:
		return fmt.Errorf("%w: %s", ErrTxnTooOld, resp.ErrMsg)
	}
	return fmt.Errorf("cluster: transactional action failed: %s", resp.ErrMsg)
}

// ---- routing (the coordinator's side) ----

// kvLocation is where a key's region is served.
type kvLocation struct {
	region uint64
	store  uint64 // its leader's store; 0: unknown (try here)
}

// locate finds the region of logical key k and its leader: from the local
// store when this node has a peer of it, else from PD.
func (x *executor) locate(ctx context.Context, k []byte) (kvLocation, error) {
	if id, ok := x.raft.RegionForKeys([][]byte{k}); ok {
		leader, _ := x.raft.Leader(id)
		return kvLocation{region: id, store: leader.StoreID}, nil
	}
	if x.pdRegion == nil {
		return kvLocation{}, ErrNoRegion
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	r, leader, err := x.pdRegion(ctx, k)
	if err != nil {
		return kvLocation{}, fmt.Errorf("cluster: locate key: %w", err)
	}
	return kvLocation{region: r.ID, store: leader.StoreID}, nil
}

// kvGroup is keys of one region and where it is served.
type kvGroup struct {
	loc  kvLocation
	keys [][]byte
}

// kvBatchKeys bounds the keys of one prewrite, commit or rollback request
// (and so of one raft proposal): a transaction over a whole keyspace
// (FLUSHDB on a split keyspace, a big DEL) is sent in many requests, not
// one message of every key of a region. Percolator allows it: locks may be
// taken, and secondaries committed, in any number of pieces; the
// primary's commit alone decides. Atomic for tests.
var kvBatchKeys atomic.Int64

func init() { kvBatchKeys.Store(4096) }

// kvParallelRequests bounds the requests of one parallel sendKeys in
// flight at once.
const kvParallelRequests = 16

// chunkGroups splits every group of more than limit keys into groups of
// at most limit keys, in order.
func chunkGroups(groups []kvGroup, limit int) []kvGroup {
	if limit <= 0 || !slices.ContainsFunc(groups, func(g kvGroup) bool { return len(g.keys) > limit }) {
		return groups
	}
	var out []kvGroup
	for _, g := range groups {
		for len(g.keys) > limit {
			out = append(out, kvGroup{loc: g.loc, keys: g.keys[:limit:limit]})
			g.keys = g.keys[limit:]
		}
		out = append(out, g)
	}
	return out
}

// group splits ks by region, in order of first appearance.
func (x *executor) group(ctx context.Context, ks [][]byte) ([]kvGroup, error) {
	var out []kvGroup
	idx := map[uint64]int{}
	for _, k := range ks {
		loc, err := x.locate(ctx, k)
		if err != nil {
			return nil, err
		}
		i, ok := idx[loc.region]
		if !ok {
			i = len(out)
			idx[loc.region] = i
			out = append(out, kvGroup{loc: loc})
		}
		out[i].keys = append(out[i].keys, k)
	}
	return out, nil
}

// send runs req on store (here when store is this node or unknown).
func (x *executor) send(ctx context.Context, store uint64, req *rpc.TxnKVRequest) (*rpc.TxnKVResponse, error) {
	if h := x.kvRequestHook.Load(); h != nil {
		(*h)(req)
	}
	if store == 0 || store == x.self || x.remote == nil {
		return x.serveTxnKV(ctx, req)
	}
	ctx, cancel := context.WithTimeout(ctx, forwardTimeout)
	defer cancel()
	return x.remote(ctx, store, req)
}

// kvRouteAttempts bounds how often one action is re-routed.
const kvRouteAttempts = 30

// errRegroup asks the caller to split a group whose keys no longer share
// a region.
var errRegroup = errors.New("cluster: keys span regions now")

// sendGroup runs mk(g.keys) on the leader of g's region, following leader
// hints and re-locating on region errors, and returns the response of
// the action (whose ErrCode is not a routing one) or an error.
func (x *executor) sendGroup(ctx context.Context, g kvGroup, mk func([][]byte) *rpc.TxnKVRequest) (*rpc.TxnKVResponse, *rpc.TxnKVRequest, error) {
	delay := 2 * time.Millisecond
	for attempt := 0; ; attempt++ {
		req := mk(g.keys)
		resp, err := x.send(ctx, g.loc.store, req)
		code := kvErrRegion
		if err == nil {
			code = resp.ErrCode
		}
		if code != kvErrNotLeader && code != kvErrRegion {
			return resp, req, err
		}
		if attempt == kvRouteAttempts {
			if err == nil {
				err = errKVRegion
			}
			return nil, req, err
		}
		if code == kvErrNotLeader && resp.Leader != 0 && resp.Leader != g.loc.store && attempt%2 == 0 {
			g.loc.store = resp.Leader // follow the hint at once
			continue
		}
		if err := sleepCtx(ctx, delay); err != nil {
			return nil, req, err
		}
		delay = min(2*delay, 100*time.Millisecond)
		groups, err := x.group(ctx, g.keys)
		if err != nil {
			continue // PD may not know the region yet
		}
		if len(groups) > 1 {
			return nil, req, errRegroup
		}
		g = groups[0]
	}
}

// sendKeys runs mk on every region of ks (in parallel when parallel) and
// returns the first action error; onResp sees each successful response.
func (x *executor) sendKeys(ctx context.Context, ks [][]byte, parallel bool, mk func([][]byte) *rpc.TxnKVRequest) error {
	return x.sendKeysDepth(ctx, ks, parallel, mk, 0)
}

func (x *executor) sendKeysDepth(ctx context.Context, ks [][]byte, parallel bool, mk func([][]byte) *rpc.TxnKVRequest, depth int) error {
	groups, err := x.group(ctx, ks)
	if err != nil {
		return err
	}
	groups = chunkGroups(groups, int(kvBatchKeys.Load()))
	run := func(g kvGroup) error {
		resp, req, err := x.sendGroup(ctx, g, mk)
		if errors.Is(err, errRegroup) && depth < 4 {
			return x.sendKeysDepth(ctx, g.keys, false, mk, depth+1)
		}
		if err != nil {
			return err
		}
		return kvResponseError(req, resp)
	}
	if !parallel || len(groups) == 1 {
		var first error
		for _, g := range groups {
			if err := run(g); err != nil && first == nil {
				first = err
			}
		}
		return first
	}
	errs := make(chan error, len(groups))
	slots := make(chan struct{}, kvParallelRequests)
	for _, g := range groups {
		go func() {
			slots <- struct{}{}
			defer func() { <-slots }()
			errs <- run(g)
		}()
	}
	var first error
	for range groups {
		if err := <-errs; err != nil && first == nil {
			first = err
		}
	}
	return first
}

// sendKey runs a single-key action (the key decides the route).
func (x *executor) sendKey(ctx context.Context, k []byte, req *rpc.TxnKVRequest) (*rpc.TxnKVResponse, error) {
	loc, err := x.locate(ctx, k)
	if err != nil {
		return nil, err
	}
	resp, _, err := x.sendGroup(ctx, kvGroup{loc: loc, keys: [][]byte{k}}, func([][]byte) *rpc.TxnKVRequest { return req })
	if err != nil {
		return nil, err
	}
	return resp, kvResponseError(req, resp)
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// pdRegionFunc looks a key's region up in PD.
type pdRegionFunc func(ctx context.Context, key []byte) (pdclient.Region, pdclient.Peer, error)
