// Package pdclient is how every other package talks to the placement
// driver. It imports only the standard library and gRPC (never package pd
// or etcd), so anything may import it.
//
// It defines the wire types (Region, Peer, Epoch, Store, Operator, ...),
// the errors every transport returns (sentinels and *NotLeaderError), the
// Backend interface, and the Client. A Backend is either an in-process
// *pd.Server (pdclient.New(server): the single-node default) or the gRPC
// stub that Dial returns a Client over:
//
//	c, err := pdclient.Dial(ctx, []string{"http://10.0.0.1:2379", "http://10.0.0.2:2379"})
//	ts, err := c.GetTS(ctx)
//
// Dial's Backend sends each call to the PD leader it last saw; a member
// that is not the leader answers *NotLeaderError with the leader's URL,
// which is recorded (so later attempts go there, even if the URL is not
// among the endpoints) and followed at once (a bounded number of hops per
// backoff round); elections in progress (including a new leader still
// loading, which answers "leader unknown") and unreachable members are
// retried against the others with exponential backoff (10 ms to 500 ms)
// for at most WithRetryTimeout (default 10 s) per call. Each attempt is
// bounded by a quarter of that (at least 1 s), so a hung member cannot
// eat the whole budget. Errors
// keep their identity over the wire (errors.Is with the sentinels works).
// The service's messages and method names are in wire.go (frozen).
//
// The Client adds what every caller wants and no backend should repeat:
//
//   - Timestamp batching. GetTS is called for every command, so it must be
//     cheap alone and coalesce under concurrency. At most one Backend.GetTS
//     call per Client runs at a time. A caller that finds none running
//     makes its own call (count 1) on its own goroutine: no hand-off, which
//     is what keeps the in-process path near 100 ns. Callers arriving while a
//     call runs join a queue; when the running call returns, the single
//     dispatcher goroutine takes the role over and serves the whole queue
//     with one Backend.GetTS(count=len(queue)) per batch (at most MaxBatch),
//     handing timestamps out in arrival order, until the queue is empty.
//     With nothing queued the dispatcher is parked on a channel receive.
//   - Timestamp helpers: a timestamp is physical_ms<<LogicalBits | logical
//     (ComposeTS, PhysicalMs, Logical).
//
// Operators: RegionHeartbeat answers with at most one step
// (Operator) for the region's leader. PD repeats a step in every answer
// until a heartbeat shows it done, so the leader must treat a step it has
// already done or started as a no-op, and ignore a step whose Epoch is
// older than its region's. New peers come with their ID allocated; a
// split step leaves the split key to the leader (unless SplitKeys are
// given), which gets the new IDs from AskSplit and reports the halves
// with ReportSplit.
//
// Invariants:
//   - Every timestamp returned by one Client is distinct, and timestamps
//     returned to one goroutine strictly increase (the Backend returns
//     strictly increasing ranges and the dispatcher issues them in order).
//   - A caller whose context ends stops waiting; the timestamp reserved for
//     it, if any, is dropped (never handed to anybody else).
//   - After Close, every call fails with ErrClosed; Close waits for the
//     dispatcher to exit and closes Dial's connections.
package pdclient
