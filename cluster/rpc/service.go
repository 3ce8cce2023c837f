package rpc

import (
	"context"

	"google.golang.org/grpc"
)

// The service and method names are part of the wire protocol. FROZEN.
const (
	serviceName    = "skerry.rpc.v1.Internal"
	methodRaft     = "/" + serviceName + "/Raft"
	methodSnapshot = "/" + serviceName + "/Snapshot"
	methodForward  = "/" + serviceName + "/Forward"
	methodTxnKV    = "/" + serviceName + "/TxnKV"
)

// internalService is what serviceDesc dispatches to (*Server implements it).
type internalService interface {
	serveRaft(stream grpc.ServerStream) error
	serveSnapshot(stream grpc.ServerStream) error
	serveForward(ctx context.Context, req *ForwardRequest) (*forwardReply, error)
	serveTxnKV(ctx context.Context, req *TxnKVRequest) (*txnKVReply, error)
}

// Stream descriptors, shared by client and server.
var (
	// Raft: client stream of raftBatch; one raftDone when the server ends it.
	raftStreamDesc = grpc.StreamDesc{
		StreamName:    "Raft",
		ClientStreams: true,
		Handler: func(srv any, stream grpc.ServerStream) error {
			return srv.(internalService).serveRaft(stream)
		},
	}
	// Snapshot: client stream of snapshotChunk (header first, trailer
	// last); one snapshotDone.
	snapshotStreamDesc = grpc.StreamDesc{
		StreamName:    "Snapshot",
		ClientStreams: true,
		Handler: func(srv any, stream grpc.ServerStream) error {
			return srv.(internalService).serveSnapshot(stream)
		},
	}
)

// serviceDesc is written by hand (no protoc): the codec, not protobuf,
// defines the messages.
var serviceDesc = grpc.ServiceDesc{
	ServiceName: serviceName,
	HandlerType: (*internalService)(nil),
	Methods: []grpc.MethodDesc{{
		MethodName: "Forward",
		Handler: func(srv any, ctx context.Context, dec func(any) error, icpt grpc.UnaryServerInterceptor) (any, error) {
			req := new(ForwardRequest)
			if err := dec(req); err != nil {
				return nil, err
			}
			if icpt == nil {
				return srv.(internalService).serveForward(ctx, req)
			}
			info := &grpc.UnaryServerInfo{Server: srv, FullMethod: methodForward}
			return icpt(ctx, req, info, func(ctx context.Context, req any) (any, error) {
				return srv.(internalService).serveForward(ctx, req.(*ForwardRequest))
			})
		},
	}, {
		MethodName: "TxnKV",
		Handler: func(srv any, ctx context.Context, dec func(any) error, icpt grpc.UnaryServerInterceptor) (any, error) {
			req := new(TxnKVRequest)
			if err := dec(req); err != nil {
				return nil, err
			}
			if icpt == nil {
				return srv.(internalService).serveTxnKV(ctx, req)
			}
			info := &grpc.UnaryServerInfo{Server: srv, FullMethod: methodTxnKV}
			return icpt(ctx, req, info, func(ctx context.Context, req any) (any, error) {
				return srv.(internalService).serveTxnKV(ctx, req.(*TxnKVRequest))
			})
		},
	}},
	Streams:  []grpc.StreamDesc{raftStreamDesc, snapshotStreamDesc},
	Metadata: "skerry/cluster/rpc",
}
