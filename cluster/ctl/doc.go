// Package ctl is the logic of `skerry ctl` (DESIGN.md §10): it shows and
// changes the cluster's placement through PD, and nothing else (no node
// is contacted). cmd/skerry maps flags to a Config and calls it.
//
// Usage:
//
//	c, err := ctl.Dial(ctx, ctl.Config{Endpoints: eps, Out: os.Stdout, Log: os.Stderr})
//	defer c.Close()
//	err = c.Regions(ctx)                      // or Stores, Region, RegionByKey
//	err = c.Split(ctx, 10, at)                // at: SlotSplitKey(n), KeySplitKey(db, key) or nil
//	err = c.TransferLeader(ctx, 10, storeID)
//	err = c.RemoveStore(ctx, storeID)
//	err = ctl.AddStore(cfg)                   // prints how: a store is a node started with --join
//
// New(pd, cfg) runs over any PD (a *pdclient.Client, in-process or not).
//
// Output: results go to Config.Out as aligned columns (FormatTable) or
// indented JSON (FormatJSON; the JSON field names of StoreView and
// RegionView are what scripts read: only add fields). Progress and advice
// for people go to Config.Log, so Out stays parseable. Lists are sorted by
// ID, except the regions printed after a split, which are in key order.
//
// Regions are shown by their slots: every stored key starts with its
// 2-byte Redis Cluster slot, so a region [start, end) covers
// slot(start) .. slot(end-1) (SlotsOf); a slot split between two regions
// (a region bound inside it, at a Redis key) is marked '*'. Bounds are
// described (DescribeKey: "slot 100", `slot 12182 db 0 "foo"`) and given
// raw in hex in JSON.
//
// Operators: Split and TransferLeader queue an administrative operator in
// PD (AddOperator), which hands it to the region's leader with its next
// heartbeat; unless Config.Wait is negative they then poll PD until it
// shows the result (the region's epoch version grown, or the new leader)
// and fail with ErrTimeout after Config.Wait. The operator stays queued
// after a timeout (until PD's operator timeout): ctl never cancels one.
// A split key must lie inside the region and not at its start; prefer
// slot boundaries (SlotSplitKey), which keep each slot's expiry index in
// one region. RemoveStore only marks the store Offline; PD drains it and
// marks it Tombstone itself.
//
// Errors: ErrInvalidArgument, ErrTimeout, and PD's errors wrapped
// (pdclient.ErrRegionNotFound, pdclient.ErrStoreNotFound, ...).
package ctl
