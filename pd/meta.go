package pd

import (
	"context"
	"fmt"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/skerrydb/skerry/pd/pdclient"
)

// Bootstrap records storeID and region (opaque) as the cluster's first
// store and region in one etcd transaction, unless the cluster is already
// bootstrapped. bootstrapped reports whether this call did it; stored is the
// recorded first region (region itself when bootstrapped).
func (s *Server) Bootstrap(ctx context.Context, storeID uint64, region []byte) (bootstrapped bool, stored []byte, err error) {
	if s.closed.Load() {
		return false, nil, pdclient.ErrClosed
	}
	if storeID == 0 || len(region) == 0 {
		return false, nil, fmt.Errorf("%w: bootstrap needs a store ID and a region", pdclient.ErrInvalidArgument)
	}
	resp, err := s.client.Txn(ctx).
		If(clientv3.Compare(clientv3.CreateRevision(keyBootstrapStore), "=", 0)).
		Then(
			clientv3.OpPut(keyBootstrapStore, encodeUint64(storeID)),
			clientv3.OpPut(keyBootstrapRegion, string(region)),
		).
		Else(clientv3.OpGet(keyBootstrapRegion)).
		Commit()
	if err != nil {
		return false, nil, fmt.Errorf("pd: bootstrap: %w", err)
	}
	if resp.Succeeded {
		return true, region, nil
	}
	kvs := resp.Responses[0].GetResponseRange().GetKvs()
	if len(kvs) == 0 {
		return false, nil, fmt.Errorf("%w: bootstrapped cluster has no %s", ErrCorrupt, keyBootstrapRegion)
	}
	return false, kvs[0].Value, nil
}

// IsBootstrapped reports whether Bootstrap has succeeded once.
func (s *Server) IsBootstrapped(ctx context.Context) (bool, error) {
	if s.closed.Load() {
		return false, pdclient.ErrClosed
	}
	resp, err := s.client.Get(ctx, keyBootstrapStore, clientv3.WithCountOnly())
	if err != nil {
		return false, fmt.Errorf("pd: is bootstrapped: %w", err)
	}
	return resp.Count > 0, nil
}

// PutStore records (replaces) store id's opaque metadata.
func (s *Server) PutStore(ctx context.Context, id uint64, meta []byte) error {
	if s.closed.Load() {
		return pdclient.ErrClosed
	}
	if id == 0 || len(meta) == 0 {
		return fmt.Errorf("%w: store needs an ID and metadata", pdclient.ErrInvalidArgument)
	}
	if _, err := s.client.Put(ctx, storeKey(id), string(meta)); err != nil {
		return fmt.Errorf("pd: put store %d: %w", id, err)
	}
	return nil
}

// GetStore returns store id's metadata, or pdclient.ErrStoreNotFound.
func (s *Server) GetStore(ctx context.Context, id uint64) ([]byte, error) {
	if s.closed.Load() {
		return nil, pdclient.ErrClosed
	}
	resp, err := s.client.Get(ctx, storeKey(id))
	if err != nil {
		return nil, fmt.Errorf("pd: get store %d: %w", id, err)
	}
	if len(resp.Kvs) == 0 {
		return nil, fmt.Errorf("%w: %d", pdclient.ErrStoreNotFound, id)
	}
	return resp.Kvs[0].Value, nil
}
