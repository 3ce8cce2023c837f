package cluster

import (
	"github.com/skerrydb/skerry/mvcc"
	"github.com/skerrydb/skerry/mvcc/engine"
	"github.com/skerrydb/skerry/mvcc/keys"
	"github.com/skerrydb/skerry/regionraft"
)

// applier applies committed MVCC modification lists to the engine batch
// (regionraft.Applier). On the way it notes new expiry index entries so the
// active expirer knows which slots have keys coming due, and new garbage
// queue entries so the collector knows which slots have garbage, without
// scanning.
type applier struct {
	expiry *expiryTracker
	gc     *gcTracker
	locks  *mvcc.LockTable
	cache  *mvcc.VersionCache
	// unlocked are keys whose lock deletion was added to a batch that is
	// committed by the time Apply is called again (regionraft commits each
	// round's batch before the next round applies anything); only then may
	// the lock table forget them.
	unlocked [][]byte
}

func (a *applier) Apply(b engine.Batch, _ *regionraft.Region, _ uint64, cmd []byte) error {
	for _, k := range a.unlocked {
		a.locks.Remove(k)
	}
	a.unlocked = a.unlocked[:0]
	return mvcc.DecodeModifies(cmd, func(m mvcc.Modify) error {
		if uk, err := keys.DecodeLockKey(m.Key); err == nil {
			if m.Op == mvcc.OpDelete {
				a.unlocked = append(a.unlocked, uk)
			} else {
				a.locks.Add(uk) // before the lock is committed
			}
		}
		if m.Op == mvcc.OpDelete {
			return b.Delete(m.Key)
		}
		if uk, _, err := keys.DecodeWriteKey(m.Key); err == nil {
			a.cache.Invalidate(uk) // before the new version is visible
			if _, key, at, ok := keys.DecodeExpiryIndexKey(uk); ok {
				a.expiry.note(keys.Slot(key), at)
			} else if _, key, _, ok := keys.DecodeGCQueueKey(uk); ok {
				a.gc.note(keys.Slot(key))
			}
		}
		return b.Set(m.Key, m.Value)
	})
}
