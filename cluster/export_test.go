package cluster

import (
	"context"

	"github.com/skerrydb/skerry/cluster/rpc"
	"github.com/skerrydb/skerry/mvcc/engine"
	"github.com/skerrydb/skerry/mvcc/keys"
)

// SetDTxnHook makes n's distributed transactions call f at each phase
// ("prewritten", "primary-committed"); an error from f stops them there,
// as a coordinator crash would (locks stay behind). Set it while no
// transaction runs.
func SetDTxnHook(n *Node, f func(phase string) error) { n.exec.dtxnHook = f }

// DTxnStats returns n's distributed transactions committed, attempts
// rerun after a conflict, and locks resolved by readers.
func DTxnStats(n *Node) (committed, conflicts, resolved int64) {
	s := &n.exec.dstats
	return s.committed.Load(), s.conflicts.Load(), s.resolved.Load()
}

// SetLockTTL sets the TTL of distributed transactions' locks, for every
// node of the process, and returns the previous one.
func SetLockTTL(ms int64) int64 { return lockTTLMs.Swap(ms) }

// DTxnHeartbeats is how many TxnHeartBeat requests n's coordinator sent.
func DTxnHeartbeats(n *Node) int64 { return n.exec.dstats.heartbeats.Load() }

// DTxnPrefetchHits is how many of n's distributed reads the prefetch
// answered.
func DTxnPrefetchHits(n *Node) int64 { return n.exec.dstats.prefetchHits.Load() }

// Engine returns n's storage engine (tests count MVCC records in it).
func Engine(n *Node) engine.Engine { return n.engine }

// MVCCGCStats returns the write records n's version collector deleted
// and the GC safe point it last used.
func MVCCGCStats(n *Node) (deleted int64, safePoint uint64) {
	return n.vgc.deleted.Load(), n.exec.safePoint.Load()
}

// LeadsAny reports whether n leads some region now.
func LeadsAny(n *Node) bool { return !n.leads().none() }

// ReadAtForTest runs the transactional read of key's meta record at
// startTS on n (it must lead the key's region) as a coordinator would,
// and returns its error as the coordinator sees it.
func ReadAtForTest(ctx context.Context, n *Node, db int, key []byte, startTS uint64) error {
	req := &rpc.TxnKVRequest{Op: kvOpGet, Keys: [][]byte{keys.MetaKey(db, key)}, StartTS: startTS}
	resp, err := n.exec.serveTxnKV(ctx, req)
	if err != nil {
		return err
	}
	return kvResponseError(req, resp)
}

// RaiseUsedSafePoint raises the safe point n's version collector counts
// as used.
func RaiseUsedSafePoint(n *Node, sp uint64) { storeMax(&n.exec.safePoint, sp) }

// SetKVBatchKeys sets how many keys one prewrite or commit request may
// carry; it returns the previous limit.
func SetKVBatchKeys(n int64) int64 { return kvBatchKeys.Swap(n) }

// TxnKV operations, as SetKVRequestHook reports them.
const (
	KVOpPrewrite = kvOpPrewrite
	KVOpCommit   = kvOpCommit
)

// SetKVRequestHook makes n call f with the operation and the key count of
// every TxnKV request it sends as a coordinator (nil: none). Set it while
// no transaction runs.
func SetKVRequestHook(n *Node, f func(op uint32, keys int)) {
	if f == nil {
		n.exec.kvRequestHook.Store(nil)
		return
	}
	h := func(req *rpc.TxnKVRequest) { f(req.Op, len(requestKeys(req))) }
	n.exec.kvRequestHook.Store(&h)
}

// IsPDLeader reports whether n's embedded PD member leads PD now.
func IsPDLeader(n *Node) bool { return n.pd != nil && n.pd.IsLeader() }

// TransferRegionLeader asks n, the leader of every region it leads, to
// hand them to its peers on store to.
func TransferRegionLeader(ctx context.Context, n *Node, to uint64) error {
	for _, r := range n.leads().regions {
		if p, ok := r.PeerOnStore(to); ok {
			if err := n.raft.TransferLeader(ctx, r.ID, p.ID); err != nil {
				return err
			}
		}
	}
	return nil
}
