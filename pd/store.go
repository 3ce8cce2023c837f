package pd

import (
	"context"
	"fmt"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// counterStore persists the uint64 counters behind the TSO window and the
// ID allocator. Stored values are never 0, so 0 stands for "absent".
// Implementations are safe for concurrent use.
type counterStore interface {
	// load returns the value at key, or 0 if there is none.
	load(ctx context.Context, key string) (uint64, error)
	// cas stores next at key if its current value is old (0: absent),
	// else fails with ErrWindowConflict.
	cas(ctx context.Context, key string, old, next uint64) error
}

// etcdCounters is the counterStore on etcd.
type etcdCounters struct {
	kv clientv3.KV
}

func (e etcdCounters) load(ctx context.Context, key string) (uint64, error) {
	resp, err := e.kv.Get(ctx, key)
	if err != nil {
		return 0, fmt.Errorf("pd: load %s: %w", key, err)
	}
	if len(resp.Kvs) == 0 {
		return 0, nil
	}
	v, err := decodeUint64(key, resp.Kvs[0].Value)
	if err != nil {
		return 0, err
	}
	if v == 0 {
		return 0, fmt.Errorf("%w: %s holds 0", ErrCorrupt, key)
	}
	return v, nil
}

func (e etcdCounters) cas(ctx context.Context, key string, old, next uint64) error {
	cmp := clientv3.Compare(clientv3.CreateRevision(key), "=", 0)
	if old != 0 {
		cmp = clientv3.Compare(clientv3.Value(key), "=", encodeUint64(old))
	}
	resp, err := e.kv.Txn(ctx).If(cmp).Then(clientv3.OpPut(key, encodeUint64(next))).Commit()
	if err != nil {
		return fmt.Errorf("pd: save %s: %w", key, err)
	}
	if !resp.Succeeded {
		return fmt.Errorf("%w (%s, expected %d)", ErrWindowConflict, key, old)
	}
	return nil
}
