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
	if _, err := s.leader(ctx); err != nil {
		return false, nil, err
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
	if _, err := s.leader(ctx); err != nil {
		return false, err
	}
	resp, err := s.client.Get(ctx, keyBootstrapStore, clientv3.WithCountOnly())
	if err != nil {
		return false, fmt.Errorf("pd: is bootstrapped: %w", err)
	}
	return resp.Count > 0, nil
}

// PutStore records a store's addresses; see pdclient.Backend.PutStore.
func (s *Server) PutStore(ctx context.Context, store pdclient.Store) error {
	l, err := s.leader(ctx)
	if err != nil {
		return err
	}
	return l.pl.putStore(ctx, store)
}

// GetStore returns store id, or pdclient.ErrStoreNotFound.
func (s *Server) GetStore(ctx context.Context, id uint64) (pdclient.Store, error) {
	l, err := s.leader(ctx)
	if err != nil {
		return pdclient.Store{}, err
	}
	if err := ctx.Err(); err != nil {
		return pdclient.Store{}, err
	}
	return l.pl.getStore(id)
}

// GetStores returns every store by ID.
func (s *Server) GetStores(ctx context.Context) ([]pdclient.Store, error) {
	l, err := s.leader(ctx)
	if err != nil {
		return nil, err
	}
	return l.pl.getStores(), nil
}

// SetStoreState changes a store's state; see pdclient.Backend.SetStoreState.
func (s *Server) SetStoreState(ctx context.Context, id uint64, state pdclient.StoreState) error {
	l, err := s.leader(ctx)
	if err != nil {
		return err
	}
	return l.pl.setStoreState(ctx, id, state)
}

// StoreHeartbeat records a store's statistics and liveness.
func (s *Server) StoreHeartbeat(ctx context.Context, stats pdclient.StoreStats) error {
	l, err := s.leader(ctx)
	if err != nil {
		return err
	}
	if err := l.pl.storeHeartbeat(stats); err != nil {
		return err
	}
	l.gc.report(stats.StoreID, stats.MinStartTS)
	return nil
}

// RegionHeartbeat records a region and returns the step its leader should
// take now, or nil.
func (s *Server) RegionHeartbeat(ctx context.Context, hb pdclient.RegionHeartbeat) (*pdclient.Operator, error) {
	l, err := s.leader(ctx)
	if err != nil {
		return nil, err
	}
	return l.pl.regionHeartbeat(ctx, hb)
}

// GetRegion returns the region holding key and its leader.
func (s *Server) GetRegion(ctx context.Context, key []byte) (pdclient.Region, pdclient.Peer, error) {
	l, err := s.leader(ctx)
	if err != nil {
		return pdclient.Region{}, pdclient.Peer{}, err
	}
	info, err := l.pl.getRegion(key)
	return info.Region, info.Leader, err
}

// GetRegionByID returns region id and its leader.
func (s *Server) GetRegionByID(ctx context.Context, id uint64) (pdclient.Region, pdclient.Peer, error) {
	l, err := s.leader(ctx)
	if err != nil {
		return pdclient.Region{}, pdclient.Peer{}, err
	}
	info, err := l.pl.getRegionByID(id)
	return info.Region, info.Leader, err
}

// ScanRegions returns regions in key order; see pdclient.Backend.ScanRegions.
func (s *Server) ScanRegions(ctx context.Context, start, end []byte, limit int) ([]pdclient.RegionInfo, error) {
	l, err := s.leader(ctx)
	if err != nil {
		return nil, err
	}
	return l.pl.scanRegions(start, end, limit), nil
}

// AskSplit allocates the IDs for splitting region.
func (s *Server) AskSplit(ctx context.Context, region pdclient.Region) (uint64, []uint64, error) {
	l, err := s.leader(ctx)
	if err != nil {
		return 0, nil, err
	}
	return l.pl.askSplit(ctx, region)
}

// ReportSplit records the two halves of a split.
func (s *Server) ReportSplit(ctx context.Context, left, right pdclient.Region) error {
	l, err := s.leader(ctx)
	if err != nil {
		return err
	}
	return l.pl.reportSplit(ctx, left, right)
}

// AddOperator schedules an administrative step for region regionID.
func (s *Server) AddOperator(ctx context.Context, regionID uint64, op pdclient.Operator) error {
	l, err := s.leader(ctx)
	if err != nil {
		return err
	}
	return l.pl.addOperator(ctx, regionID, op)
}
