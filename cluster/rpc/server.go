package rpc

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
	"net"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/status"

	"github.com/skerrydb/skerry/regionraft"
)

// Handler serves the RPCs on the receiving node. Its methods are called
// concurrently from many gRPC goroutines.
type Handler interface {
	// Step delivers one raft message to the local store, in the order the
	// sending store's raft goroutine sent it (per sending store). It may
	// block briefly (back-pressure reaches the sender's queue, which then
	// drops). An error ends the sender's stream; it reconnects.
	Step(m regionraft.RaftMessage) error
	// ReceiveSnapshot applies the snapshot m (a MsgSnap) whose data is read
	// from data. data yields io.EOF only after every byte arrived and
	// matched the sender's size and CRC-32C; otherwise its Read fails with
	// ErrSnapshotTruncated, ErrSnapshotChecksum, or the stream's error.
	// ctx ends when the sender goes away or the server stops. The returned
	// error reaches the sender's done callback as a *RemoteError. It need
	// not read data to the end (a refusal may return at once).
	ReceiveSnapshot(ctx context.Context, m regionraft.RaftMessage, data io.Reader) error
	// Forward runs a command forwarded by another node. The request and its
	// Args alias a buffer owned by this call: copy what must outlive it.
	// A returned error reaches the caller as a *RemoteError carrying its
	// Coder code.
	Forward(ctx context.Context, req *ForwardRequest) (*ForwardResponse, error)
}

// ForwardRequest is one Redis command forwarded to the node that leads its
// region. The sender is a cluster peer authenticated by (m)TLS, so User is
// trusted as the already authenticated connection user.
type ForwardRequest struct {
	// DB is the connection's selected database.
	DB int
	// Proto is the connection's RESP version: 2 or 3.
	Proto int
	// User is the connection's authenticated ACL user.
	User string
	// Args is the command: Args[0] is its name.
	Args [][]byte
	// Hops counts how many times the command was forwarded already; the
	// Handler refuses loops beyond its limit.
	Hops int
	// State is the rest of the connection's state, opaque to this package
	// (the node encodes it: MULTI queue, watched keys).
	State []byte
}

// ForwardResponse is the reply to a ForwardRequest.
type ForwardResponse struct {
	// Reply is the raw RESP reply, written to the client as-is.
	Reply []byte
	// State is the connection's state after the command, opaque to this
	// package.
	State []byte
}

// Defaults of ServerOptions.
const (
	DefaultMaxMsgSize  = 128 << 20
	DefaultStopTimeout = 5 * time.Second
)

// ServerOptions configures a Server.
type ServerOptions struct {
	// TLS, if set, serves TLS with this config (cloned). For mTLS set
	// ClientAuth to tls.RequireAndVerifyClientCert and ClientCAs. Default
	// nil: plaintext.
	TLS *tls.Config
	// AllowedCommonNames, if non-empty, accepts only client certificates
	// whose subject CN is listed (requires TLS with verified client
	// certificates). Default empty: any verified client.
	AllowedCommonNames []string
	// MaxRecvMsgSize bounds one received gRPC message (a raft batch, a
	// snapshot chunk, a forwarded command), in bytes. Default 128 MiB.
	MaxRecvMsgSize int
	// StopTimeout bounds how long Stop waits for in-flight snapshots and
	// forwarded commands before cutting them. Default 5 s.
	StopTimeout time.Duration
	// Logger receives the server's log lines. Default slog.Default().
	Logger *slog.Logger
}

// Validate fills zero fields with their defaults and checks the result.
func (o *ServerOptions) Validate() error {
	if o.MaxRecvMsgSize == 0 {
		o.MaxRecvMsgSize = DefaultMaxMsgSize
	}
	if o.StopTimeout == 0 {
		o.StopTimeout = DefaultStopTimeout
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	switch {
	case o.MaxRecvMsgSize < 1<<20:
		return fmt.Errorf("%w: MaxRecvMsgSize %d < 1 MiB", ErrInvalidOptions, o.MaxRecvMsgSize)
	case o.StopTimeout < 0:
		return fmt.Errorf("%w: negative StopTimeout", ErrInvalidOptions)
	case len(o.AllowedCommonNames) > 0 && (o.TLS == nil || o.TLS.ClientAuth != tls.RequireAndVerifyClientCert):
		return fmt.Errorf("%w: AllowedCommonNames needs TLS with ClientAuth RequireAndVerifyClientCert", ErrInvalidOptions)
	}
	return nil
}

// Server serves the internal RPC service for one Handler.
type Server struct {
	h        Handler
	opts     ServerOptions
	log      *slog.Logger
	grpc     *grpc.Server
	metrics  *serverMetrics
	stopping chan struct{} // closed by Stop: ends raft streams
	stopOnce sync.Once
}

// NewServer returns a Server for h; call Serve to accept connections.
func NewServer(h Handler, opts ServerOptions) (*Server, error) {
	if h == nil {
		return nil, fmt.Errorf("%w: nil Handler", ErrInvalidOptions)
	}
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	s := &Server{h: h, opts: opts, log: opts.Logger, metrics: newServerMetrics(), stopping: make(chan struct{})}
	gopts := []grpc.ServerOption{
		grpc.ForceServerCodec(codec{}),
		// Stop returns only after every Handler call returned.
		grpc.WaitForHandlers(true),
		grpc.MaxRecvMsgSize(opts.MaxRecvMsgSize),
		grpc.MaxSendMsgSize(opts.MaxRecvMsgSize),
		// Clients ping idle connections every DefaultKeepaliveTime.
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: 5 * time.Second, PermitWithoutStream: true}),
		grpc.KeepaliveParams(keepalive.ServerParameters{Time: DefaultKeepaliveTime, Timeout: DefaultKeepaliveTimeout}),
	}
	if opts.TLS != nil {
		cfg := opts.TLS.Clone()
		if len(opts.AllowedCommonNames) > 0 {
			allowed, prev := slices.Clone(opts.AllowedCommonNames), cfg.VerifyConnection
			cfg.VerifyConnection = func(cs tls.ConnectionState) error {
				if prev != nil {
					if err := prev(cs); err != nil {
						return err
					}
				}
				return checkCommonName(cs.PeerCertificates, allowed)
			}
		}
		gopts = append(gopts, grpc.Creds(credentials.NewTLS(cfg)))
	}
	s.grpc = grpc.NewServer(gopts...)
	s.grpc.RegisterService(&serviceDesc, s)
	return s, nil
}

// errCommonName is the handshake error for a client certificate whose CN is
// not allowed.
var errCommonName = errors.New("rpc: client certificate common name not allowed")

func checkCommonName(chain []*x509.Certificate, allowed []string) error {
	if len(chain) == 0 || !slices.Contains(allowed, chain[0].Subject.CommonName) {
		return errCommonName
	}
	return nil
}

// Serve accepts connections on ln until Stop; it returns nil after Stop and
// the accept error otherwise. It takes ownership of ln.
func (s *Server) Serve(ln net.Listener) error {
	return s.grpc.Serve(ln)
}

// Stop ends the raft streams, waits up to StopTimeout for in-flight
// snapshots and forwarded commands, then closes every connection and
// cancels the contexts of the calls still running. It returns when every
// Handler call has returned: Handlers must honour their ctx.
func (s *Server) Stop() {
	s.stopOnce.Do(func() {
		close(s.stopping)
		done := make(chan struct{})
		go func() {
			s.grpc.GracefulStop()
			close(done)
		}()
		t := time.NewTimer(s.opts.StopTimeout)
		defer t.Stop()
		select {
		case <-done:
		case <-t.C:
			s.grpc.Stop()
			<-done
		}
	})
}

// Kill stops the server at once, as a crash would: the listener and every
// connection close without waiting for calls in flight (Stop drains them
// first, for up to StopTimeout; peers' raft streams never end by
// themselves, so a drain holds the connections open that long, and the
// peers' calls wait on them instead of failing over). Idempotent; after
// Stop or Kill the other does nothing more.
func (s *Server) Kill() {
	s.stopOnce.Do(func() {
		close(s.stopping)
		s.grpc.Stop()
	})
}

// Collectors returns the server's prometheus collectors (skerry_rpc_*),
// for the caller to register.
func (s *Server) Collectors() []prometheus.Collector { return s.metrics.collectors() }

// serveRaft receives raft batches until the client goes away or Stop.
func (s *Server) serveRaft(stream grpc.ServerStream) error {
	type received struct {
		b   *raftBatch
		err error
	}
	ctx := stream.Context()
	recvC := make(chan received)
	// RecvMsg cannot be interrupted by Stop: receive on a helper, which
	// ends when the stream does (gRPC cancels it when this method returns).
	go func() {
		for {
			b := &raftBatch{}
			err := stream.RecvMsg(b)
			select {
			case recvC <- received{b, err}:
			case <-ctx.Done():
				return
			}
			if err != nil {
				return
			}
		}
	}()
	for {
		var r received
		select {
		case r = <-recvC:
		case <-s.stopping:
			return status.Error(codes.Unavailable, "rpc: server stopping")
		}
		if r.err == io.EOF {
			return stream.SendMsg(&raftDone{})
		}
		if r.err != nil {
			return r.err
		}
		s.metrics.raftBatches.Inc()
		s.metrics.raftBytes.Add(float64(r.b.size))
		for _, m := range r.b.msgs {
			if err := s.h.Step(m); err != nil {
				return status.Errorf(codes.Unavailable, "rpc: step: %v", err)
			}
		}
		s.metrics.raftReceived.Add(float64(len(r.b.msgs)))
	}
}

// errReceiverDone unblocks the feeding side of a snapshot pipe once
// ReceiveSnapshot returned.
var errReceiverDone = errors.New("rpc: snapshot receiver returned")

// serveSnapshot feeds one snapshot stream to Handler.ReceiveSnapshot.
func (s *Server) serveSnapshot(stream grpc.ServerStream) error {
	first := &snapshotChunk{}
	if err := stream.RecvMsg(first); err != nil {
		return err
	}
	if first.header == nil {
		return status.Error(codes.InvalidArgument, "rpc: snapshot stream without header")
	}
	ctx := stream.Context()
	pr, pw := io.Pipe()
	herrC := make(chan error, 1)
	go func() {
		err := s.h.ReceiveSnapshot(ctx, *first.header, pr)
		pr.CloseWithError(errReceiverDone)
		herrC <- err
	}()
	crc := crc32.New(castagnoli)
	var total uint64
	// feed writes one chunk; it reports whether to keep receiving.
	feed := func(c *snapshotChunk) bool {
		if len(c.data) > 0 {
			crc.Write(c.data)
			total += uint64(len(c.data))
			s.metrics.snapshotBytes.Add(float64(len(c.data)))
			if _, err := pw.Write(c.data); err != nil {
				return false // the receiver returned early
			}
		}
		if t := c.trailer; t != nil {
			if t.size != total || t.crc != crc.Sum32() {
				pw.CloseWithError(fmt.Errorf("%w: got %d bytes crc %08x, sender sent %d bytes crc %08x",
					ErrSnapshotChecksum, total, crc.Sum32(), t.size, t.crc))
			} else {
				pw.Close()
			}
			return false
		}
		return true
	}
	if feed(first) {
		for {
			c := &snapshotChunk{}
			err := stream.RecvMsg(c)
			if err == io.EOF {
				pw.CloseWithError(ErrSnapshotTruncated)
				break
			}
			if err != nil {
				pw.CloseWithError(err)
				herr := <-herrC
				s.metrics.snapshots.WithLabelValues("error").Inc()
				s.log.Warn("rpc: snapshot stream broke", "region", first.header.RegionID, "err", err, "handler_err", herr)
				return err
			}
			if !feed(c) {
				break
			}
		}
	}
	herr := <-herrC
	s.metrics.snapshots.WithLabelValues(result(herr)).Inc()
	if herr != nil {
		s.log.Warn("rpc: snapshot refused", "region", first.header.RegionID, "err", herr)
	}
	return stream.SendMsg(&snapshotDone{err: statusOf(herr)})
}

// serveForward runs one forwarded command.
func (s *Server) serveForward(ctx context.Context, req *ForwardRequest) (*forwardReply, error) {
	resp, err := s.h.Forward(ctx, req)
	s.metrics.forwards.WithLabelValues(result(err)).Inc()
	if err != nil {
		return &forwardReply{err: statusOf(err)}, nil
	}
	if resp == nil {
		resp = &ForwardResponse{}
	}
	return &forwardReply{resp: *resp}, nil
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)
