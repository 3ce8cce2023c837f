// Package pd is Skerry's placement driver: an embedded etcd member that
// keeps the cluster's metadata and serves the timestamp oracle (TSO), ID
// allocation, bootstrap and store metadata. Other packages never import pd
// (except the node, which starts it); they use pd/pdclient, whose Backend
// interface *Server implements in-process. A gRPC service over the same
// Server methods comes later; the Server logic does not depend on being
// called in-process.
//
// Lifecycle: Start(ctx, cfg) starts etcd under cfg.DataDir, waits until it
// is ready and this member leads, loads or creates the cluster ID, loads the
// TSO window and the ID allocator, and starts the TSO window keeper. Close
// stops them and etcd. A Server is not restartable; Start a new one on the
// same DataDir instead.
//
// Every etcd key and value format is in keys.go and frozen.
//
// Invariants:
//   - TSO: a timestamp is physical_ms<<18 | logical. Before any timestamp
//     with physical part p is issued, a window end >= p is persisted in
//     etcd; a (re)starting leader begins strictly above the persisted end.
//     So timestamps strictly increase across restarts and leader changes,
//     even when the clock goes backwards. The persisted end only grows and is
//     written with a compare-and-swap on the value this leader last saw, so
//     two would-be leaders cannot both extend it.
//   - GetTS never writes to etcd while the window has room; the keeper
//     extends the window in the background before it runs out.
//   - IDs: allocated in blocks whose end is persisted (compare-and-swap)
//     before any ID of the block is returned; IDs are never 0 and never
//     reused across restarts.
//   - Bootstrap happens at most once per cluster (one etcd transaction).
package pd
