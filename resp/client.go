package resp

import (
	"sync"
	"sync/atomic"
	"time"
)

// Handler serves commands. It is called from the connection's goroutine, one
// command at a time per client, in arrival order; replies are written to w
// and flushed by the server after the last command of a pipelined batch.
type Handler interface {
	// ServeRESP runs one command. args[0] is the command name as sent; the
	// server never reuses args, so the handler may keep them. w is set to
	// c.Proto before the call; a handler that changes c.Proto (HELLO) and
	// wants its own reply in the new version calls w.SetProto as well.
	ServeRESP(c *Client, args [][]byte, w *Writer)
	// Closed is called once when a client's connection ends.
	Closed(c *Client)
}

// BatchHandler is an optional extension of Handler. When one read
// delivers several complete commands from an authenticated client, the
// server passes them (at most 128 at a time) to ServeRESPBatch instead of
// calling ServeRESP for each, so the handler may commit them together.
// The handler must behave exactly as if ServeRESP had been called for each
// command in order: replies in order, w's protocol switched (SetProto)
// after a command that changes c.Proto, and it stops after a command that
// called CloseAfterReply. It returns how many commands it ran.
type BatchHandler interface {
	Handler
	ServeRESPBatch(c *Client, cmds [][][]byte, w *Writer) int
}

// Client is the per-connection state. Fields documented as "handler-owned"
// are only touched from the connection's goroutine (through the Handler);
// the rest are set by the server. Info() is safe from any goroutine.
type Client struct {
	ID      int64
	Addr    string // remote ip:port
	LAddr   string // local ip:port
	Created time.Time
	FD      int

	// handler-owned
	DB            int        // selected database
	Proto         int        // 2 or 3
	Authenticated bool       // false until AUTH/HELLO succeeds when auth is required
	User          string     // ACL user name, "default" unless authenticated otherwise
	Multi         bool       // inside MULTI
	Queue         [][][]byte // commands queued since MULTI (args as received)
	MultiError    bool       // a command failed to queue: EXEC will abort
	Watched       []WatchedKey
	LibName       string
	LibVer        string
	NoEvict       bool
	ReadOnly      bool // READONLY (cluster follower reads)
	Redirect      bool // cluster redirect mode for this connection
	Forwarded     bool // runs one command forwarded by another node (no connection)

	mu       sync.Mutex
	pub      ClientState // handler-owned fields as of the last Publish
	lastPub  ClientState // the owner's copy of pub, read without the lock
	name     string
	lastCmd  string
	lastUsed time.Time
	closeReq atomic.Bool
	closeFn  func()
	bufs     func() (qbuf, obuf int)
}

// WatchedKey is one key of the client's WATCH set: what the handler saw
// of it when WATCH ran, to be compared at EXEC. The handler owns the
// meaning of the fields.
type WatchedKey struct {
	DB       int
	Key      []byte
	CommitTS uint64 // commit timestamp of the key's newest version (0: none)
	Exists   bool   // the key had a value, possibly expired
	Live     bool   // the key had a value that had not expired
}

// ClientState is the part of the handler-owned fields that other
// connections may show (CLIENT LIST, CLIENT KILL USER).
type ClientState struct {
	DB       int
	Proto    int
	User     string
	Multi    bool
	Queued   int
	NoEvict  bool
	ReadOnly bool
}

// Publish makes the handler-owned fields visible to other connections'
// goroutines. Only the goroutine that owns the client calls it (after each
// command); others read the copy with State, never the fields themselves.
func (c *Client) Publish() {
	st := ClientState{DB: c.DB, Proto: c.Proto, User: c.User, Multi: c.Multi, Queued: len(c.Queue),
		NoEvict: c.NoEvict, ReadOnly: c.ReadOnly}
	if st == c.lastPub {
		return // the common case: the command changed none of it
	}
	c.lastPub = st
	c.mu.Lock()
	c.pub = st
	c.mu.Unlock()
}

// State returns the fields as of the client's last Publish.
func (c *Client) State() ClientState {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.pub
}

// Name returns the client name set with CLIENT SETNAME / HELLO SETNAME.
func (c *Client) Name() string { c.mu.Lock(); defer c.mu.Unlock(); return c.name }

// SetName sets the client name.
func (c *Client) SetName(n string) { c.mu.Lock(); c.name = n; c.mu.Unlock() }

// Touch records the last command run by the client.
func (c *Client) Touch(cmd string, now time.Time) {
	c.mu.Lock()
	c.lastCmd, c.lastUsed = cmd, now
	c.mu.Unlock()
}

// LastCommand returns the last command name and when it ran.
func (c *Client) LastCommand() (string, time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lastCmd, c.lastUsed
}

// CloseAfterReply asks the server to close the connection once pending
// replies are flushed (QUIT, CLIENT KILL of self).
func (c *Client) CloseAfterReply() { c.closeReq.Store(true) }

// CloseRequested reports whether CloseAfterReply was called.
func (c *Client) CloseRequested() bool { return c.closeReq.Load() }

// Kill closes the connection from another goroutine (CLIENT KILL).
func (c *Client) Kill() {
	c.closeReq.Store(true)
	c.mu.Lock()
	fn := c.closeFn
	c.mu.Unlock()
	if fn != nil {
		fn()
	}
}

// SetCloser is used by the server to install the function Kill calls.
func (c *Client) SetCloser(fn func()) { c.mu.Lock(); c.closeFn = fn; c.mu.Unlock() }

// SetBufferSizes is used by the server to report query/output buffer sizes.
func (c *Client) SetBufferSizes(fn func() (qbuf, obuf int)) {
	c.mu.Lock()
	c.bufs = fn
	c.mu.Unlock()
}

// BufferSizes returns the query and output buffer sizes, if known.
func (c *Client) BufferSizes() (qbuf, obuf int) {
	c.mu.Lock()
	fn := c.bufs
	c.mu.Unlock()
	if fn == nil {
		return 0, 0
	}
	return fn()
}
