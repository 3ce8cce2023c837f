package pd

import (
	"context"
	"fmt"

	"google.golang.org/grpc"

	"github.com/skerrydb/skerry/pd/pdclient"
)

// serviceDesc is the PD gRPC service (pdclient/wire.go), registered on
// etcd's gRPC server so it shares the client port. Every message is a
// pdclient.Frame holding JSON; errors travel inside the reply.
var serviceDesc = grpc.ServiceDesc{
	ServiceName: pdclient.ServiceName,
	HandlerType: (*any)(nil),
	Methods: []grpc.MethodDesc{
		method(pdclient.MethodGetClusterID, func(s *Server, _ context.Context, _ *pdclient.Empty) (pdclient.ClusterIDResponse, error) {
			if s.closed.Load() {
				return pdclient.ClusterIDResponse{}, pdclient.ErrClosed
			}
			if !s.ready.Load() {
				return pdclient.ClusterIDResponse{}, &pdclient.NotLeaderError{}
			}
			return pdclient.ClusterIDResponse{ClusterID: s.ClusterID()}, nil
		}),
		method(pdclient.MethodGetTS, func(s *Server, ctx context.Context, req *pdclient.GetTSRequest) (pdclient.GetTSResponse, error) {
			last, err := s.GetTS(ctx, req.Count)
			return pdclient.GetTSResponse{Last: last}, err
		}),
		method(pdclient.MethodAllocID, func(s *Server, ctx context.Context, _ *pdclient.Empty) (pdclient.AllocIDResponse, error) {
			id, err := s.AllocID(ctx)
			return pdclient.AllocIDResponse{ID: id}, err
		}),
		method(pdclient.MethodBootstrap, func(s *Server, ctx context.Context, req *pdclient.BootstrapRequest) (pdclient.BootstrapResponse, error) {
			ok, stored, err := s.Bootstrap(ctx, req.StoreID, req.Region)
			return pdclient.BootstrapResponse{Bootstrapped: ok, Stored: stored}, err
		}),
		method(pdclient.MethodIsBootstrapped, func(s *Server, ctx context.Context, _ *pdclient.Empty) (pdclient.IsBootstrappedResponse, error) {
			ok, err := s.IsBootstrapped(ctx)
			return pdclient.IsBootstrappedResponse{Bootstrapped: ok}, err
		}),
		method(pdclient.MethodPutStore, func(s *Server, ctx context.Context, req *pdclient.PutStoreRequest) (pdclient.Empty, error) {
			return pdclient.Empty{}, s.PutStore(ctx, req.Store)
		}),
		method(pdclient.MethodGetStore, func(s *Server, ctx context.Context, req *pdclient.StoreIDRequest) (pdclient.StoreResponse, error) {
			st, err := s.GetStore(ctx, req.ID)
			return pdclient.StoreResponse{Store: st}, err
		}),
		method(pdclient.MethodGetStores, func(s *Server, ctx context.Context, _ *pdclient.Empty) (pdclient.StoresResponse, error) {
			sts, err := s.GetStores(ctx)
			return pdclient.StoresResponse{Stores: sts}, err
		}),
		method(pdclient.MethodSetStoreState, func(s *Server, ctx context.Context, req *pdclient.SetStoreStateRequest) (pdclient.Empty, error) {
			return pdclient.Empty{}, s.SetStoreState(ctx, req.ID, req.State)
		}),
		method(pdclient.MethodStoreHeartbeat, func(s *Server, ctx context.Context, req *pdclient.StoreStats) (pdclient.Empty, error) {
			return pdclient.Empty{}, s.StoreHeartbeat(ctx, *req)
		}),
		method(pdclient.MethodRegionHeartbeat, func(s *Server, ctx context.Context, req *pdclient.RegionHeartbeat) (pdclient.RegionHeartbeatResponse, error) {
			op, err := s.RegionHeartbeat(ctx, *req)
			return pdclient.RegionHeartbeatResponse{Operator: op}, err
		}),
		method(pdclient.MethodGetRegion, func(s *Server, ctx context.Context, req *pdclient.GetRegionRequest) (pdclient.RegionResponse, error) {
			r, leader, err := s.GetRegion(ctx, req.Key)
			return pdclient.RegionResponse{Info: pdclient.RegionInfo{Region: r, Leader: leader}}, err
		}),
		method(pdclient.MethodGetRegionByID, func(s *Server, ctx context.Context, req *pdclient.GetRegionByIDRequest) (pdclient.RegionResponse, error) {
			r, leader, err := s.GetRegionByID(ctx, req.ID)
			return pdclient.RegionResponse{Info: pdclient.RegionInfo{Region: r, Leader: leader}}, err
		}),
		method(pdclient.MethodScanRegions, func(s *Server, ctx context.Context, req *pdclient.ScanRegionsRequest) (pdclient.ScanRegionsResponse, error) {
			rs, err := s.ScanRegions(ctx, req.Start, req.End, req.Limit)
			return pdclient.ScanRegionsResponse{Regions: rs}, err
		}),
		method(pdclient.MethodAskSplit, func(s *Server, ctx context.Context, req *pdclient.AskSplitRequest) (pdclient.AskSplitResponse, error) {
			id, peers, err := s.AskSplit(ctx, req.Region)
			return pdclient.AskSplitResponse{NewRegionID: id, NewPeerIDs: peers}, err
		}),
		method(pdclient.MethodReportSplit, func(s *Server, ctx context.Context, req *pdclient.ReportSplitRequest) (pdclient.Empty, error) {
			return pdclient.Empty{}, s.ReportSplit(ctx, req.Left, req.Right)
		}),
		method(pdclient.MethodGCSafePoint, func(s *Server, ctx context.Context, _ *pdclient.Empty) (pdclient.GCSafePointResponse, error) {
			sp, err := s.GCSafePoint(ctx)
			return pdclient.GCSafePointResponse{SafePoint: sp}, err
		}),
		method(pdclient.MethodAddOperator, func(s *Server, ctx context.Context, req *pdclient.AddOperatorRequest) (pdclient.Empty, error) {
			return pdclient.Empty{}, s.AddOperator(ctx, req.RegionID, req.Operator)
		}),
	},
	Metadata: "skerry/pd/pdclient/wire.go",
}

// method builds the descriptor of one unary method: decode the request
// frame, call, and encode the body and error as a pdclient.Reply frame.
func method[Req, Resp any](name string, call func(*Server, context.Context, *Req) (Resp, error)) grpc.MethodDesc {
	return grpc.MethodDesc{
		MethodName: name,
		Handler: func(srv any, ctx context.Context, dec func(any) error, icpt grpc.UnaryServerInterceptor) (any, error) {
			in := new(pdclient.Frame)
			if err := dec(in); err != nil {
				return nil, err
			}
			handle := func(ctx context.Context, reqAny any) (any, error) {
				req := new(Req)
				if err := reqAny.(*pdclient.Frame).Decode(req); err != nil {
					return pdclient.EncodeFrame(&pdclient.Reply[Resp]{Err: pdclient.ToWireError(fmt.Errorf("%w: %w", pdclient.ErrInvalidArgument, err))})
				}
				body, err := call(srv.(*Server), ctx, req)
				return pdclient.EncodeFrame(&pdclient.Reply[Resp]{Err: pdclient.ToWireError(err), Body: body})
			}
			if icpt == nil {
				return handle(ctx, in)
			}
			return icpt(ctx, in, &grpc.UnaryServerInfo{Server: srv, FullMethod: "/" + pdclient.ServiceName + "/" + name}, handle)
		},
	}
}
