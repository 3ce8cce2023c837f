// Package pdclient is how the rest of Skerry talks to the placement driver
// (PD). It is the only PD package other packages may import; it imports
// neither package pd nor etcd.
//
// A Client wraps a Backend: today the in-process *pd.Server, later a gRPC
// stub to a remote PD leader. The Client adds what every caller wants and no
// backend should repeat:
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
// Invariants:
//   - Every timestamp returned by one Client is distinct, and timestamps
//     returned to one goroutine strictly increase (the Backend returns
//     strictly increasing ranges and the dispatcher issues them in order).
//   - A caller whose context ends stops waiting; the timestamp reserved for
//     it, if any, is dropped (never handed to anybody else).
//   - After Close, every call fails with ErrClosed; Close waits for the
//     dispatcher to exit.
package pdclient
