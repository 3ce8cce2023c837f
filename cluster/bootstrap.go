package cluster

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/skerrydb/skerry/pd/pdclient"
	"github.com/skerrydb/skerry/regionraft"
)

// register records this store's addresses in PD, so that other nodes can
// reach it (internal RPC) and show it (CLUSTER NODES, skerry ctl).
func (n *Node) register(ctx context.Context) error {
	st := pdclient.Store{ID: n.storeID, PeerAddr: n.cfg.PeerAddr, RESPAddr: n.cfg.Addr}
	if n.cfg.StatusAddr != "off" {
		st.StatusAddr = n.cfg.StatusAddr
	}
	if err := n.pdc.PutStore(ctx, st); err != nil {
		return fmt.Errorf("cluster: register store %d: %w", n.storeID, err)
	}
	return nil
}

// bootstrapCluster gives a new multi-node cluster its first region,
// replicated from the start on the first `replicas` stores to register
// (lowest ids), so no snapshot is needed to reach full replication. Every
// such store builds the same descriptor from PD's record; PD's Bootstrap
// is atomic, so when two stores race the first one's descriptor wins and
// the other adopts it. A store outside that set starts with no region and
// is given replicas later by PD. It returns at once on a store that is not
// fresh (a restart; regionraft.Store.Fresh).
func (n *Node) bootstrapCluster(ctx context.Context, replicas int) error {
	// Not only published regions: a quarantined replica, or the tombstone
	// of a removed one, means this store was in the cluster already.
	if fresh, err := n.raft.Fresh(); err != nil || !fresh {
		return err
	}
	if replicas < 1 {
		replicas = 1
	}
	for {
		done, err := n.pdc.IsBootstrapped(ctx)
		if err != nil {
			return fmt.Errorf("cluster: bootstrap: %w", err)
		}
		var proposal []byte
		if done {
			// Recorded already: Bootstrap only returns the record.
			proposal = []byte{0}
		} else if proposal, err = n.firstRegion(ctx, replicas); err != nil {
			return err
		}
		if proposal != nil {
			_, stored, err := n.pdc.Bootstrap(ctx, n.storeID, proposal)
			if err != nil {
				return fmt.Errorf("cluster: bootstrap: %w", err)
			}
			r, err := regionraft.DecodeRegion(stored)
			if err != nil {
				return fmt.Errorf("cluster: bootstrap region from pd: %w", err)
			}
			if _, ok := r.PeerOnStore(n.storeID); !ok {
				return nil // PD will place replicas here
			}
			return n.raft.BootstrapRegion(r)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("cluster: waiting for %d stores to bootstrap the cluster: %w", replicas, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// firstRegion returns the encoded first region when this store is one of
// the first `replicas` stores to register, or nil when it must wait (too
// few stores yet, or another store's turn).
func (n *Node) firstRegion(ctx context.Context, replicas int) ([]byte, error) {
	stores, err := n.pdc.GetStores(ctx)
	if err != nil {
		return nil, fmt.Errorf("cluster: bootstrap: %w", err)
	}
	var ids []uint64
	for _, s := range stores {
		if s.State == pdclient.StoreUp {
			ids = append(ids, s.ID)
		}
	}
	slices.Sort(ids)
	if len(ids) < replicas || !slices.Contains(ids[:replicas], n.storeID) {
		return nil, nil
	}
	regionID, err := n.pdc.AllocID(ctx)
	if err != nil {
		return nil, err
	}
	r := regionraft.Region{ID: regionID, Epoch: regionraft.Epoch{ConfVer: 1, Version: 1}}
	for _, store := range ids[:replicas] {
		peerID, err := n.pdc.AllocID(ctx)
		if err != nil {
			return nil, err
		}
		r.Peers = append(r.Peers, regionraft.Peer{ID: peerID, StoreID: store})
	}
	return regionraft.EncodeRegion(&r), nil
}
