package cluster

import (
	"github.com/skerrydb/skerry/mvcc"
	"github.com/skerrydb/skerry/mvcc/engine"
	"github.com/skerrydb/skerry/mvcc/keys"
	"github.com/skerrydb/skerry/regionraft"
)

// applier applies committed MVCC modification lists to the engine batch
// (regionraft.Applier). On the way it notes new expiry index entries so the
// active expirer knows which slots have keys coming due, without scanning.
type applier struct {
	expiry *expiryTracker
}

func (a *applier) Apply(b engine.Batch, _ *regionraft.Region, _ uint64, cmd []byte) error {
	return mvcc.DecodeModifies(cmd, func(m mvcc.Modify) error {
		if m.Op == mvcc.OpDelete {
			return b.Delete(m.Key)
		}
		if a.expiry != nil {
			if uk, _, err := keys.DecodeWriteKey(m.Key); err == nil {
				if _, key, at, ok := keys.DecodeExpiryIndexKey(uk); ok {
					a.expiry.note(keys.Slot(key), at)
				}
			}
		}
		return b.Set(m.Key, m.Value)
	})
}
