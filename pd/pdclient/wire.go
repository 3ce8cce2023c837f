package pdclient

import (
	"encoding/json"
	"errors"
	"fmt"
)

// The PD gRPC service. It is served by every PD member on etcd's own
// client port (registered through etcd's embed.Config.ServiceRegister) and
// described by hand, without protoc: each method is unary, and its
// messages are the Go structs below encoded as JSON inside a Frame. JSON is
// enough because the hot call, GetTS, is batched (one RPC serves every
// waiting caller). Frozen: never rename a method or a JSON field; add new
// ones.

// ServiceName is the gRPC service name.
const ServiceName = "skerry.pd.v1.PD"

// Method names of the service (full method: "/" + ServiceName + "/" + name).
const (
	MethodGetClusterID    = "GetClusterID"
	MethodGetTS           = "GetTS"
	MethodAllocID         = "AllocID"
	MethodBootstrap       = "Bootstrap"
	MethodIsBootstrapped  = "IsBootstrapped"
	MethodPutStore        = "PutStore"
	MethodGetStore        = "GetStore"
	MethodGetStores       = "GetStores"
	MethodSetStoreState   = "SetStoreState"
	MethodStoreHeartbeat  = "StoreHeartbeat"
	MethodRegionHeartbeat = "RegionHeartbeat"
	MethodGetRegion       = "GetRegion"
	MethodGetRegionByID   = "GetRegionByID"
	MethodScanRegions     = "ScanRegions"
	MethodAskSplit        = "AskSplit"
	MethodReportSplit     = "ReportSplit"
	MethodAddOperator     = "AddOperator"
	MethodGCSafePoint     = "GCSafePoint"
)

// Request and response bodies of the service.
type (
	// Empty is the body of requests and responses without fields.
	Empty struct{}

	ClusterIDResponse struct {
		ClusterID uint64 `json:"cluster_id"`
	}
	GetTSRequest struct {
		Count uint32 `json:"count"`
	}
	GetTSResponse struct {
		Last uint64 `json:"last"`
	}
	AllocIDResponse struct {
		ID uint64 `json:"id"`
	}
	GCSafePointResponse struct {
		SafePoint uint64 `json:"safe_point"`
	}
	BootstrapRequest struct {
		StoreID uint64 `json:"store_id"`
		Region  []byte `json:"region"`
	}
	BootstrapResponse struct {
		Bootstrapped bool   `json:"bootstrapped"`
		Stored       []byte `json:"stored"`
	}
	IsBootstrappedResponse struct {
		Bootstrapped bool `json:"bootstrapped"`
	}
	PutStoreRequest struct {
		Store Store `json:"store"`
	}
	StoreIDRequest struct {
		ID uint64 `json:"id"`
	}
	StoreResponse struct {
		Store Store `json:"store"`
	}
	StoresResponse struct {
		Stores []Store `json:"stores"`
	}
	SetStoreStateRequest struct {
		ID    uint64     `json:"id"`
		State StoreState `json:"state"`
	}
	RegionHeartbeatResponse struct {
		Operator *Operator `json:"operator,omitempty"`
	}
	GetRegionRequest struct {
		Key []byte `json:"key"`
	}
	GetRegionByIDRequest struct {
		ID uint64 `json:"id"`
	}
	RegionResponse struct {
		Info RegionInfo `json:"info"`
	}
	ScanRegionsRequest struct {
		Start []byte `json:"start,omitempty"`
		End   []byte `json:"end,omitempty"`
		Limit int    `json:"limit"`
	}
	ScanRegionsResponse struct {
		Regions []RegionInfo `json:"regions"`
	}
	AskSplitRequest struct {
		Region Region `json:"region"`
	}
	AskSplitResponse struct {
		NewRegionID uint64   `json:"new_region_id"`
		NewPeerIDs  []uint64 `json:"new_peer_ids"`
	}
	ReportSplitRequest struct {
		Left  Region `json:"left"`
		Right Region `json:"right"`
	}
	AddOperatorRequest struct {
		RegionID uint64   `json:"region_id"`
		Operator Operator `json:"operator"`
	}
)

// Reply is every response message: Body, or Err if the call failed. Errors
// travel in the body (not as gRPC status) so that typed errors such as
// *NotLeaderError survive the trip.
type Reply[T any] struct {
	Err  *WireError `json:"err,omitempty"`
	Body T          `json:"body"`
}

// WireError is an error as it travels: Code names the sentinel, Message is
// the full text, LeaderURL is set for CodeNotLeader.
type WireError struct {
	Code      string `json:"code"`
	Message   string `json:"message"`
	LeaderURL string `json:"leader_url,omitempty"`
}

// Frozen error codes; never reuse one.
var errorCodes = []struct {
	code string
	err  error
}{
	{"closed", ErrClosed},
	{"invalid_count", ErrInvalidCount},
	{"store_not_found", ErrStoreNotFound},
	{"region_not_found", ErrRegionNotFound},
	{"stale_region", ErrStaleRegion},
	{"invalid_argument", ErrInvalidArgument},
	{"not_leader", ErrNotLeader},
}

// ToWireError converts err for the wire (nil for nil). Errors that are
// none of this package's sentinels get code "internal".
func ToWireError(err error) *WireError {
	if err == nil {
		return nil
	}
	w := &WireError{Code: "internal", Message: err.Error()}
	var nl *NotLeaderError
	if errors.As(err, &nl) {
		w.LeaderURL = nl.LeaderURL
	}
	for _, c := range errorCodes {
		if errors.Is(err, c.err) {
			w.Code = c.code
			break
		}
	}
	return w
}

// remoteError is an error received from a PD member.
type remoteError struct {
	msg      string
	sentinel error // nil for "internal"
}

func (e *remoteError) Error() string { return "pd: " + e.msg }
func (e *remoteError) Unwrap() error { return e.sentinel }

// Err converts w back into an error for which errors.Is holds with the
// original sentinel; CodeNotLeader becomes a *NotLeaderError.
func (w *WireError) Err() error {
	if w == nil {
		return nil
	}
	if w.Code == "not_leader" {
		return &NotLeaderError{LeaderURL: w.LeaderURL}
	}
	for _, c := range errorCodes {
		if c.code == w.Code {
			return &remoteError{msg: w.Message, sentinel: c.err}
		}
	}
	return &remoteError{msg: w.Message}
}

// Frame is every request and response message as gRPC sees it: the JSON
// encoding of a request struct or a Reply. etcd's gRPC server (which the
// PD service shares) forces a protobuf codec on every service; Frame
// passes through it because it implements the legacy protobuf message
// methods (Reset, String, ProtoMessage) and marshals itself (Marshal,
// Unmarshal), which protobuf's legacy support calls as they are.
type Frame struct {
	Data []byte
}

// Reset clears f (protobuf message method).
func (f *Frame) Reset() { f.Data = nil }

// String returns the JSON text (protobuf message method).
func (f *Frame) String() string { return string(f.Data) }

// ProtoMessage marks Frame as a protobuf message.
func (*Frame) ProtoMessage() {}

// Marshal returns the frame's bytes as they go on the wire.
func (f *Frame) Marshal() ([]byte, error) { return f.Data, nil }

// Unmarshal takes the wire bytes (copied: gRPC reuses its buffers).
func (f *Frame) Unmarshal(b []byte) error {
	f.Data = append([]byte(nil), b...)
	return nil
}

// EncodeFrame JSON-encodes v into a Frame.
func EncodeFrame(v any) (*Frame, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("pdclient: encode %T: %w", v, err)
	}
	return &Frame{Data: b}, nil
}

// Decode JSON-decodes f into v.
func (f *Frame) Decode(v any) error {
	if err := json.Unmarshal(f.Data, v); err != nil {
		return fmt.Errorf("pdclient: decode %T: %w", v, err)
	}
	return nil
}
