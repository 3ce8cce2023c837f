package ctl

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/skerrydb/skerry/mvcc/keys"
	"github.com/skerrydb/skerry/pd/pdclient"
)

// allRegions returns every region PD knows, in key order.
func (c *Ctl) allRegions(ctx context.Context) ([]pdclient.RegionInfo, error) {
	regions, err := c.pd.ScanRegions(ctx, nil, nil, 0)
	if err != nil {
		return nil, fmt.Errorf("ctl: scan regions: %w", err)
	}
	return regions, nil
}

// Stores prints every store PD knows (Tombstone ones included), sorted by
// ID, with its replica and leader counts in PD's region map.
func (c *Ctl) Stores(ctx context.Context) error {
	stores, err := c.pd.GetStores(ctx)
	if err != nil {
		return fmt.Errorf("ctl: get stores: %w", err)
	}
	regions, err := c.allRegions(ctx)
	if err != nil {
		return err
	}
	return RenderStores(c.cfg.Out, c.cfg.Format, NewStoreViews(stores, regions, c.cfg.Now()))
}

// Regions prints every region PD knows, sorted by ID.
func (c *Ctl) Regions(ctx context.Context) error {
	regions, err := c.allRegions(ctx)
	if err != nil {
		return err
	}
	views := make([]RegionView, 0, len(regions))
	for _, r := range regions {
		views = append(views, NewRegionView(r))
	}
	slices.SortFunc(views, func(a, b RegionView) int { return cmp.Compare(a.ID, b.ID) })
	return RenderRegions(c.cfg.Out, c.cfg.Format, views)
}

// regionByID fetches one region, naming it in the error.
func (c *Ctl) regionByID(ctx context.Context, id uint64) (pdclient.RegionInfo, error) {
	r, leader, err := c.pd.GetRegionByID(ctx, id)
	if err != nil {
		return pdclient.RegionInfo{}, fmt.Errorf("ctl: region %d: %w", id, err)
	}
	return pdclient.RegionInfo{Region: r, Leader: leader}, nil
}

// Region prints region id.
func (c *Ctl) Region(ctx context.Context, id uint64) error {
	info, err := c.regionByID(ctx, id)
	if err != nil {
		return err
	}
	return RenderRegion(c.cfg.Out, c.cfg.Format, NewRegionView(info))
}

// RegionByKey prints the region holding Redis key key of database db.
func (c *Ctl) RegionByKey(ctx context.Context, db int, key string) error {
	k, err := KeySplitKey(db, key)
	if err != nil {
		return err
	}
	r, leader, err := c.pd.GetRegion(ctx, k)
	if err != nil {
		return fmt.Errorf("ctl: region of key %q (db %d, slot %d): %w", key, db, keys.Slot([]byte(key)), err)
	}
	return RenderRegion(c.cfg.Out, c.cfg.Format, NewRegionView(pdclient.RegionInfo{Region: r, Leader: leader}))
}

// Split asks PD to split region id at splitKey (nil: the leader picks a
// key near the middle; see KeySplitKey and SlotSplitKey) and, unless
// Config.Wait is negative, waits until PD shows the region's version
// grown, then prints the regions now covering the old range, in key
// order.
func (c *Ctl) Split(ctx context.Context, id uint64, splitKey []byte) error {
	info, err := c.regionByID(ctx, id)
	if err != nil {
		return err
	}
	old := info.Region
	at := "a key the leader picks"
	if splitKey != nil {
		if !old.Contains(splitKey) || bytes.Equal(splitKey, old.StartKey) {
			return fmt.Errorf("%w: split key %s is not inside region %d [%s, %s)", ErrInvalidArgument,
				DescribeKey(splitKey), id, orDash(DescribeKey(old.StartKey)), orDash(DescribeKey(old.EndKey)))
		}
		at = DescribeKey(splitKey)
	}
	op := pdclient.Operator{Kind: pdclient.OpSplit}
	if splitKey != nil {
		op.SplitKeys = [][]byte{splitKey}
	}
	if err := c.pd.AddOperator(ctx, id, op); err != nil {
		return fmt.Errorf("ctl: split region %d: %w", id, err)
	}
	c.logf("split of region %d at %s queued; PD hands it to the region's leader with its next heartbeat", id, at)
	if c.cfg.Wait < 0 {
		return nil
	}
	if _, err := c.waitRegion(ctx, id, fmt.Sprintf("region %d to split", id), func(r pdclient.RegionInfo) bool {
		return r.Region.Epoch.Version > old.Epoch.Version
	}); err != nil {
		return err
	}
	regions, err := c.pd.ScanRegions(ctx, old.StartKey, old.EndKey, 0)
	if err != nil {
		return fmt.Errorf("ctl: scan split regions: %w", err)
	}
	views := make([]RegionView, 0, len(regions))
	for _, r := range regions {
		views = append(views, NewRegionView(r))
	}
	return RenderRegions(c.cfg.Out, c.cfg.Format, views)
}

// TransferLeader asks PD to move region id's leadership to its voter on
// store storeID and, unless Config.Wait is negative, waits until PD shows
// that peer leading, then prints the region.
func (c *Ctl) TransferLeader(ctx context.Context, id, storeID uint64) error {
	info, err := c.regionByID(ctx, id)
	if err != nil {
		return err
	}
	peer, ok := info.Region.StorePeer(storeID)
	if !ok {
		view := NewRegionView(info)
		peers := make([]string, len(view.Peers))
		for i, p := range view.Peers {
			peers[i] = p.String()
		}
		return fmt.Errorf("%w: region %d has no replica on store %d (peers: %s)", ErrInvalidArgument, id, storeID, strings.Join(peers, ","))
	}
	if peer.Learner {
		return fmt.Errorf("%w: region %d's replica on store %d is a learner, which cannot lead", ErrInvalidArgument, id, storeID)
	}
	if info.Leader.ID == peer.ID {
		c.logf("region %d is already led by peer %d on store %d", id, peer.ID, storeID)
		return RenderRegion(c.cfg.Out, c.cfg.Format, NewRegionView(info))
	}
	if err := c.pd.AddOperator(ctx, id, pdclient.Operator{Kind: pdclient.OpTransferLeader, Peer: peer}); err != nil {
		return fmt.Errorf("ctl: transfer leader of region %d: %w", id, err)
	}
	c.logf("leader transfer of region %d to peer %d on store %d queued; PD hands it to the current leader with its next heartbeat", id, peer.ID, storeID)
	if c.cfg.Wait < 0 {
		return nil
	}
	now, err := c.waitRegion(ctx, id, fmt.Sprintf("store %d to lead region %d", storeID, id), func(r pdclient.RegionInfo) bool {
		return r.Leader.StoreID == storeID
	})
	if err != nil {
		return err
	}
	return RenderRegion(c.cfg.Out, c.cfg.Format, NewRegionView(now))
}

// waitRegion polls PD for region id until done holds or Config.Wait runs
// out (ErrTimeout, naming what was awaited).
func (c *Ctl) waitRegion(ctx context.Context, id uint64, what string, done func(pdclient.RegionInfo) bool) (pdclient.RegionInfo, error) {
	wctx, cancel := context.WithTimeout(ctx, c.cfg.Wait)
	defer cancel()
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	for {
		info, err := c.regionByID(wctx, id)
		if err == nil && done(info) {
			return info, nil
		}
		if ctx.Err() != nil {
			return pdclient.RegionInfo{}, ctx.Err()
		}
		if wctx.Err() != nil {
			return pdclient.RegionInfo{}, fmt.Errorf("%w: waited %v for %s; the operator stays queued in PD until it times out (is the region's leader up and heartbeating?)",
				ErrTimeout, c.cfg.Wait, what)
		}
		if err != nil && !errors.Is(err, context.DeadlineExceeded) {
			return pdclient.RegionInfo{}, err
		}
		select {
		case <-wctx.Done():
		case <-tick.C:
		}
	}
}

// RemoveStore marks store id Offline: PD moves its replicas to other
// stores, then marks it Tombstone. It prints the store and, to
// Config.Log, what happens next.
func (c *Ctl) RemoveStore(ctx context.Context, id uint64) error {
	stores, err := c.pd.GetStores(ctx)
	if err != nil {
		return fmt.Errorf("ctl: get stores: %w", err)
	}
	i := slices.IndexFunc(stores, func(s pdclient.Store) bool { return s.ID == id })
	if i < 0 {
		return fmt.Errorf("ctl: store %d: %w", id, pdclient.ErrStoreNotFound)
	}
	switch stores[i].State {
	case pdclient.StoreTombstone:
		return fmt.Errorf("%w: store %d is already a Tombstone (removed)", ErrInvalidArgument, id)
	case pdclient.StoreOffline:
		c.logf("store %d is already Offline (being drained)", id)
	default:
		if err := c.pd.SetStoreState(ctx, id, pdclient.StoreOffline); err != nil {
			return fmt.Errorf("ctl: set store %d Offline: %w", id, err)
		}
		stores[i].State = pdclient.StoreOffline
	}
	regions, err := c.allRegions(ctx)
	if err != nil {
		return err
	}
	view := NewStoreViews(stores[i:i+1], regions, c.cfg.Now())
	if view[0].Regions == 0 {
		c.logf("store %d holds no replica: PD marks it Tombstone at its next scheduling round; then stop the node.", id)
	} else {
		c.logf("store %d is Offline: PD moves its %d replicas (%d of them leaders) to other Up stores, then marks it Tombstone.\n"+
			"Keep the node running until `skerry ctl stores` shows it Tombstone, then stop it. A Tombstone store never\n"+
			"comes back; to reuse the machine start a node with an empty --data-dir and --join.", id, view[0].Regions, view[0].Leaders)
	}
	return RenderStores(c.cfg.Out, c.cfg.Format, view)
}

// AddStore prints how to add a store: a store is a node, so adding one is
// starting `skerry server --join` with cfg.Endpoints; ctl cannot start a
// process on another machine. Nothing is sent to PD.
func AddStore(cfg Config) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	cfg = cfg.withDefaults()
	join := strings.Join(cfg.Endpoints, ",")
	command := "skerry server --pd=false --join " + join +
		" --addr HOST:6379 --peer-addr HOST:20160 --status-addr HOST:20180 --data-dir DIR"
	if cfg.Format == FormatJSON {
		return writeJSON(cfg.Out, struct {
			Join    []string `json:"join"`
			Command string   `json:"command"`
		}{cfg.Endpoints, command})
	}
	_, err := fmt.Fprintf(cfg.Out, "A store is a node: to add one, start a node that joins this cluster's PD.\n"+
		"On the new machine (HOST: its address reachable by the other nodes; DIR: an empty directory) run:\n\n"+
		"  %s\n\n"+
		"It registers itself with PD as a new Up store, and PD moves replicas and leaders onto it.\n"+
		"Watch it with `skerry ctl --pd %s stores`.\n", command, join)
	return err
}
