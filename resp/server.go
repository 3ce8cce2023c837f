package resp

import (
	"crypto/tls"
	"errors"
	"net"
	"sort"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// ErrServerClosed is returned by Serve and ListenAndServe after Close.
var ErrServerClosed = errors.New("resp: server closed")

const (
	readChunk      = 16 * 1024 // PROTO_IOBUF_LEN: minimum free space per read
	flushThreshold = 64 * 1024 // flush mid-batch when this much output is pending
	maxKeptOut     = 1 << 20   // output buffers above this are not kept between batches
	rejectTimeout  = time.Second
)

// maxClientsReply is what Redis writes to a connection over maxclients.
const maxClientsReply = "-ERR max number of clients reached\r\n"

// Stats are the server counters Redis's INFO reports (the names in
// parentheses are INFO's).
type Stats struct {
	TotalConnectionsReceived int64 // total_connections_received: accepted, not rejected
	RejectedConnections      int64 // rejected_connections: over MaxClients
	ConnectedClients         int64 // connected_clients
	TotalCommandsProcessed   int64 // total_commands_processed: Handler calls
	TotalNetInputBytes       int64 // total_net_input_bytes
	TotalNetOutputBytes      int64 // total_net_output_bytes
}

// Server accepts RESP connections and runs each one's requests through a
// Handler. Every connection has one goroutine that reads, parses, calls the
// Handler for each request in order and writes the replies; the replies of a
// pipelined batch (everything one read delivered) go out in one write.
type Server struct {
	cfg Config
	h   Handler

	mu        sync.Mutex
	closed    bool
	lns       []net.Listener
	conns     map[*conn]struct{}
	rejecting map[net.Conn]struct{}
	wg        sync.WaitGroup // Serve loops, connection and rejection goroutines

	nextID     atomic.Int64
	totalConns atomic.Int64
	rejected   atomic.Int64
	commands   atomic.Int64
	netIn      atomic.Int64
	netOut     atomic.Int64
}

// NewServer returns a Server for cfg (zero fields take their defaults)
// calling h. Serve reports an invalid cfg.
func NewServer(cfg Config, h Handler) *Server {
	return &Server{
		cfg:       cfg.withDefaults(),
		h:         h,
		conns:     make(map[*conn]struct{}),
		rejecting: make(map[net.Conn]struct{}),
	}
}

// ListenAndServe listens on Config.Addr (":6379" when empty) and serves.
func (s *Server) ListenAndServe() error {
	if err := s.cfg.Validate(); err != nil {
		return err
	}
	addr := s.cfg.Addr
	if addr == "" {
		addr = ":6379"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	return s.Serve(ln)
}

// Serve accepts connections on ln until Close, then returns ErrServerClosed.
// ln is wrapped in TLS when Config.TLSConfig is set, and is closed by Serve
// or Close. Serve may be called for several listeners.
func (s *Server) Serve(ln net.Listener) error {
	if err := s.cfg.Validate(); err != nil {
		ln.Close()
		return err
	}
	if s.cfg.TLSConfig != nil {
		ln = tls.NewListener(ln, s.cfg.TLSConfig)
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		ln.Close()
		return ErrServerClosed
	}
	s.lns = append(s.lns, ln)
	s.wg.Add(1)
	s.mu.Unlock()
	defer s.wg.Done()

	var backoff time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			if s.isClosed() {
				return ErrServerClosed
			}
			if !retryableAccept(err) {
				ln.Close()
				return err
			}
			// Out of file descriptors and the like: wait, as net/http does.
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			time.Sleep(backoff)
			continue
		}
		backoff = 0
		s.accept(nc)
	}
}

func retryableAccept(err error) bool {
	if errors.Is(err, net.ErrClosed) {
		return false
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return true
	}
	return errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE) ||
		errors.Is(err, syscall.ECONNABORTED) || errors.Is(err, syscall.ENOBUFS)
}

func (s *Server) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

func (s *Server) accept(nc net.Conn) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		nc.Close()
		return
	}
	if len(s.conns) >= s.cfg.MaxClients {
		// Written from a goroutine: a TLS handshake must not stall Accept.
		s.rejecting[nc] = struct{}{}
		s.wg.Add(1)
		s.mu.Unlock()
		s.rejected.Add(1)
		go s.reject(nc)
		return
	}
	c := s.newConn(nc)
	s.conns[c] = struct{}{}
	s.wg.Add(1)
	s.mu.Unlock()
	s.totalConns.Add(1)
	go c.serve()
}

func (s *Server) reject(nc net.Conn) {
	defer s.wg.Done()
	nc.SetWriteDeadline(time.Now().Add(rejectTimeout))
	if n, _ := nc.Write([]byte(maxClientsReply)); n > 0 {
		s.netOut.Add(int64(n))
	}
	nc.Close()
	s.mu.Lock()
	delete(s.rejecting, nc)
	s.mu.Unlock()
}

// Addr returns the address of the first listener being served, or nil.
func (s *Server) Addr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.lns) == 0 {
		return nil
	}
	return s.lns[0].Addr()
}

// Close stops accepting, closes every connection and waits until all the
// server's goroutines have returned (a connection whose Handler call is
// running is waited for). Handler.Closed has been called for every client
// when Close returns. Safe to call more than once and concurrently.
func (s *Server) Close() error {
	s.mu.Lock()
	s.closed = true
	lns := s.lns
	s.lns = nil
	conns := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	for nc := range s.rejecting {
		nc.Close()
	}
	s.mu.Unlock()
	var err error
	for _, ln := range lns {
		if e := ln.Close(); e != nil && !errors.Is(e, net.ErrClosed) && err == nil {
			err = e
		}
	}
	for _, c := range conns {
		c.close()
	}
	s.wg.Wait()
	return err
}

// Clients returns the connected clients ordered by ID.
func (s *Server) Clients() []*Client {
	s.mu.Lock()
	cs := make([]*Client, 0, len(s.conns))
	for c := range s.conns {
		cs = append(cs, c.client)
	}
	s.mu.Unlock()
	sort.Slice(cs, func(i, j int) bool { return cs[i].ID < cs[j].ID })
	return cs
}

// Stats returns the server's counters.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	n := len(s.conns)
	s.mu.Unlock()
	return Stats{
		TotalConnectionsReceived: s.totalConns.Load(),
		RejectedConnections:      s.rejected.Load(),
		ConnectedClients:         int64(n),
		TotalCommandsProcessed:   s.commands.Load(),
		TotalNetInputBytes:       s.netIn.Load(),
		TotalNetOutputBytes:      s.netOut.Load(),
	}
}

// conn is one connection's server-side state; only its goroutine touches
// parser, w and out.
type conn struct {
	s  *Server
	nc net.Conn
	// qbufLimit is the server's query buffer limit when the connection was
	// accepted (SetLimits does not reach running connections).
	qbufLimit int64
	client    *Client
	parser    *Parser
	w         *Writer
	out       []byte

	closeOnce sync.Once
	qbuf      atomic.Int64
	obuf      atomic.Int64
}

func (s *Server) newConn(nc net.Conn) *conn {
	c := &conn{s: s, nc: nc, w: NewWriter(2)}
	cl := &Client{
		ID:      s.nextID.Add(1),
		Addr:    nc.RemoteAddr().String(),
		LAddr:   nc.LocalAddr().String(),
		Created: time.Now(),
		FD:      connFD(nc),
		Proto:   2,
		User:    "default",
	}
	cl.Publish()
	cl.SetCloser(c.close)
	cl.SetBufferSizes(func() (int, int) { return int(c.qbuf.Load()), int(c.obuf.Load()) })
	c.client = cl
	c.qbufLimit = s.cfg.QueryBufferLimit
	c.parser = NewParser(s.cfg.ProtoMaxBulkLen)
	c.parser.MaxMultibulkLen = s.cfg.MaxMultibulkLen
	if ar := s.cfg.AuthRequired; ar != nil {
		c.parser.AuthRequired = func() bool { return ar(cl) }
	}
	return c
}

// SetLimits changes the client limits at run time (CONFIG SET): a zero
// argument leaves that limit as it is. maxClients applies at once;
// the byte limits apply to connections accepted from now on.
func (s *Server) SetLimits(maxClients int, protoMaxBulkLen, queryBufferLimit int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if maxClients > 0 {
		s.cfg.MaxClients = maxClients
	}
	if protoMaxBulkLen > 0 {
		s.cfg.ProtoMaxBulkLen = protoMaxBulkLen
	}
	if queryBufferLimit > 0 {
		s.cfg.QueryBufferLimit = queryBufferLimit
	}
}

// connFD returns the socket's file descriptor, or -1.
func connFD(nc net.Conn) int {
	if tc, ok := nc.(*tls.Conn); ok {
		nc = tc.NetConn()
	}
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return -1
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return -1
	}
	fd := -1
	if err := rc.Control(func(f uintptr) { fd = int(f) }); err != nil {
		return -1
	}
	return fd
}

func (c *conn) close() { c.closeOnce.Do(func() { c.nc.Close() }) }

func (c *conn) serve() {
	defer func() {
		c.close()
		c.s.mu.Lock()
		delete(c.s.conns, c)
		c.s.mu.Unlock()
		c.s.h.Closed(c.client)
		c.s.wg.Done()
	}()
	for !c.client.CloseRequested() {
		n, err := c.nc.Read(c.parser.ReadSpace(readChunk))
		if n > 0 {
			c.parser.Commit(n)
			c.s.netIn.Add(int64(n))
			if int64(c.parser.Buffered()) > c.qbufLimit {
				return // Redis closes such a client without a reply
			}
			if !c.process() {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// maxBatch bounds how many pipelined commands one ServeRESPBatch call gets.
const maxBatch = 128

// process runs every complete request buffered and writes the replies. It
// returns false when the connection must be closed. With a BatchHandler and
// an authenticated client, the commands of one read are handed over
// together (see BatchHandler); otherwise one at a time. An unauthenticated
// client's requests are parsed one by one because AUTH changes the limits
// the next request is parsed under.
func (c *conn) process() bool {
	defer func() { c.qbuf.Store(int64(c.parser.Buffered())) }()
	bh, batching := c.s.h.(BatchHandler)
	for {
		cmds, perr := c.nextRequests(batching)
		if len(cmds) > 0 {
			c.qbuf.Store(int64(c.parser.Buffered()))
			c.w.SetProto(c.client.Proto)
			if len(cmds) == 1 {
				c.s.h.ServeRESP(c.client, cmds[0], c.w)
				c.s.commands.Add(1)
			} else {
				c.s.commands.Add(int64(bh.ServeRESPBatch(c.client, cmds, c.w)))
			}
			if !c.emit() {
				return false
			}
		}
		if perr != nil {
			// After the replies of the complete requests before it,
			// as Redis does; then the connection closes.
			var pe *ProtocolError
			if errors.As(perr, &pe) {
				c.w.Error(pe.Msg)
				c.out = append(c.out, c.w.Bytes()...)
				c.w.Reset()
			}
			c.flush()
			return false
		}
		if len(cmds) == 0 {
			return c.flush()
		}
	}
}

// nextRequests parses the next complete request and, when the handler
// takes batches and the client is authenticated, every further complete
// request buffered (at most maxBatch). An error is a protocol error that
// follows the returned requests.
func (c *conn) nextRequests(batching bool) ([][][]byte, error) {
	args, err := c.parser.Next()
	if err != nil || args == nil {
		return nil, err
	}
	cmds := [][][]byte{args}
	if !batching || (c.s.cfg.AuthRequired != nil && c.s.cfg.AuthRequired(c.client)) {
		return cmds, nil
	}
	for len(cmds) < maxBatch {
		next, err := c.parser.Next()
		if err != nil {
			return cmds, err
		}
		if next == nil {
			break
		}
		cmds = append(cmds, next)
	}
	return cmds, nil
}

// emit moves the replies written so far to the output, flushing when it is
// large. It returns false when the connection must close (the client asked
// to, or a write failed).
func (c *conn) emit() bool {
	c.out = append(c.out, c.w.Bytes()...)
	c.w.Reset()
	c.obuf.Store(int64(len(c.out)))
	if c.client.CloseRequested() {
		c.flush()
		return false
	}
	if len(c.out) >= flushThreshold {
		return c.flush()
	}
	return true
}

// flush writes the pending output; false on a write error.
func (c *conn) flush() bool {
	if len(c.out) == 0 {
		return true
	}
	n, err := c.nc.Write(c.out)
	c.s.netOut.Add(int64(n))
	if cap(c.out) > maxKeptOut {
		c.out = nil
	} else {
		c.out = c.out[:0]
	}
	c.obuf.Store(0)
	return err == nil
}
