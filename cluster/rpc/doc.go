// Package rpc is the node-to-node internal RPC of Skerry (DESIGN.md §2:
// the internal gRPC port, 20160 by default, flag --peer-addr). One gRPC
// service, skerry.rpc.v1.Internal, carries four things between stores:
//
//   - Raft: batched raft messages on one long-lived client stream per
//     (sending store, target store) pair;
//   - Snapshot: a region snapshot (a MsgSnap plus its data stream) on a
//     client stream of chunks, answered once by the receiver;
//   - Forward: one Redis command forwarded to the node that leads its
//     region, answered with the raw RESP reply;
//   - TxnKV: one transactional action of a distributed transaction
//     (read at a timestamp, prewrite, commit, resolve, status check) sent
//     by its coordinator to the leader of the keys' region; the op codes
//     and their meaning are the node's (cluster/txnkv.go), a Handler
//     serves it by also implementing TxnKVHandler.
//
// # What it owns
//
// The wire protocol (service and method names, the codec and every message
// encoding, in wire.go), the Client (regionraft.Transport and Forward), the
// Server that feeds a Handler, and their skerry_rpc_* metrics. It does not
// know PD, regions' contents or commands: the node gives it a Resolver
// (store id -> address, via PD) and a Handler (its regionraft.Store and its
// command executor).
//
// # Wire format (FROZEN)
//
// No protoc: the gRPC ServiceDesc is written by hand and a custom codec
// (forced on both sides, content-subtype "skerry-rpc-v1") encodes this
// package's own message types. Every message starts with a format version
// byte (1) followed by tagged fields (uvarint key tag<<1|kind, then a
// uvarint or a length-prefixed byte string). Tags are never renumbered or
// reused; decoders skip unknown tags, so fields can be added without
// breaking older nodes; a change old nodes must not ignore needs a new
// version byte. testdata/wire_v1.golden pins the encoding of a sample of
// every message: if TestWireGolden fails, the wire format changed. Raft
// messages inside are raftpb.Message protobuf encodings (etcd raft's own
// stable format). All decoders are fuzzed (Fuzz* in wire_test.go).
//
// # Usage
//
//	srv, err := rpc.NewServer(handler, rpc.ServerOptions{TLS: serverTLS})
//	go srv.Serve(ln)                   // ln listens on --peer-addr
//	c, err := rpc.NewClient(storeID, resolver, rpc.ClientOptions{TLS: clientTLS})
//	storeCfg.Transport = c             // regionraft.Transport
//	resp, err := c.Forward(ctx, leaderStoreID, &rpc.ForwardRequest{...})
//	...
//	c.Close()                          // after the regionraft.Store stopped
//	srv.Stop()                         // graceful up to StopTimeout, then hard
//
// Register Client.Collectors() and Server.Collectors() on the node's
// prometheus registry.
//
// # Invariants and guarantees
//
//   - Client.Send never blocks the raft goroutine: each target store has a
//     bounded queue (QueueSize) drained by one sender goroutine into as few
//     stream messages as MaxBatchBytes allows. A full queue drops the
//     message (skerry_rpc_raft_messages_dropped_total{reason="queue_full"});
//     raft retransmits. Messages to one store arrive in Send order, at most
//     once; a broken stream loses what was in flight.
//   - A failed connection makes the Client resolve the store's address again
//     before the next attempt; reconnection backs off exponentially between
//     MinBackoff and MaxBackoff.
//   - SendSnapshot calls done exactly once and always closes data. The
//     receiver's Handler reads io.EOF only after the whole stream arrived
//     and matched the sender's size and CRC-32C. At most
//     MaxSnapshotsPerStore snapshots per target are in flight.
//   - Errors: ErrUnreachable (wrapped) when the store could not be reached,
//     *RemoteError{Code, Msg} when the remote Handler failed (its error's
//     Coder code crosses the wire, its identity does not), ErrClosed after
//     Close, the context's error on cancellation.
//   - Security: with ServerOptions.TLS requiring client certificates (and
//     optionally AllowedCommonNames), only cluster peers connect; a peer is
//     trusted, including the ACL user named in a ForwardRequest.
//   - Fault injection: ClientOptions.Filter (drop or delay per target store
//     and Kind; Partition is a ready-made one) costs one nil check when unset.
//   - Close stops every goroutine of the Client (data.Read of an in-flight
//     snapshot must return for it to finish); Stop returns once every
//     Handler call has returned.
package rpc
